//! The log of one file: every message written, the newest in a bounded in-memory window,
//! all of them on disk. Readers pull from it with a [`Cursor`].

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::file_error::FileError;
use crate::protocol::{self, Layout, OpenBatch};
use crate::server::appender::{self, Appender, DISK_BATCH};
use crate::server::catch_up::{self, LongLines};
use crate::server::options::{FileOptions, LineEnding, SyncPolicy};
use crate::server::outgoing::Outgoing;
use crate::server::scan::DiskScan;
use crate::server::window::Window;

/// Memory the window of recent messages may hold; older ones are read back from disk.
pub(crate) const WINDOW_BYTES: usize = 4 * 1024 * 1024;
/// Past this many bytes waiting for the disk, a writer waits and writes them (see
/// `Log::pushed`).
const DISK_LAG_LIMIT: usize = 8 * 1024 * 1024;
/// A writer writes what is pending itself once this much is: the disk thread, woken at a
/// full batch, has not taken it while a second one filled.
const WRITER_TAKES_OVER: usize = 2 * DISK_BATCH;
/// Readers write pending lines themselves once the oldest has waited this long for the disk
/// thread (see `Log::readers_write`).
const READERS_TAKE_OVER: Duration = Duration::from_micros(100);
/// A run of the window's lines this long is sent shared; a shorter one is copied.
const SHARE_FROM: usize = 16 * 1024;
/// One index entry (a byte offset) every this many lines: for `read_from`, and for
/// catch-up, which sends whole intervals of them without reading or counting them (see
/// [`LogState::indexed_run`]). An interval of 100-byte lines is about 25 KiB, so that
/// two fit in a frame; the index costs 8 bytes per interval.
pub(crate) const INDEX_EVERY: u64 = 256;

/// Wakes one connection's sender when a file it reads changes.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    pub(crate) notify: Notify,
    /// Set by the sender just before it looks for work; a writer notifies only then. The
    /// sender's last look before it sleeps takes each log's lock (see [`Log::pull`]), and
    /// a writer reads this under the same lock, so one of the two sees the other.
    pub(crate) armed: AtomicBool,
}

impl Wake {
    /// Arms the wake: called by the sender before it looks for work.
    pub(crate) fn arm(&self) {
        self.armed.store(true, Ordering::Release);
    }

    pub(crate) fn wake(&self) {
        if self.armed.load(Ordering::Relaxed) && self.armed.swap(false, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }
}

/// What the disk thread waits for, so that writers wake it only when that helps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DiskWait {
    /// Writing, or about to look at the state again.
    Busy,
    /// Nothing pending: any write wakes it.
    Idle,
    /// A few bytes pending: only a full batch, a flush, a close or a reader that waits
    /// wakes it early.
    Gathering,
    /// Gathering behind a writer that streams (full batches come one after another),
    /// whose readers write the lines they wait for themselves when they wait too long: a
    /// reader that waits does not wake it either, since the next batch comes soon.
    Streaming,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Open,
    Closed,
}

/// What the log holds, under one lock: the count, the window, the disk's progress.
#[derive(Debug)]
pub(crate) struct LogState {
    lines: u64,
    bytes: u64,
    window: Window,
    /// `index[k]` is the byte offset of line `k * INDEX_EVERY`.
    index: Vec<u64>,
    /// Bytes of lines the disk thread has not taken yet (they are in the window), and how
    /// many lines.
    pending_bytes: usize,
    /// Bytes the disk thread took and is writing now.
    writing: usize,
    pending_lines: u64,
    /// When the oldest pending line was recorded.
    pending_since: Option<Instant>,
    disk_lines: u64,
    synced_lines: u64,
    disk_wait: DiskWait,
    /// How many full batches were taken for a write, by anyone: the disk thread watches
    /// the count to learn that the writer streams.
    full_batches: u64,
    /// A `flushed` or a close waits: the disk thread writes without gathering more.
    flush_requested: bool,
    /// Readers keep up with the writer: one found no line it could have, and none fell
    /// behind the window since. The disk thread then writes at once; when readers are
    /// behind, it gathers (their lines are on disk already), as when there are none.
    reader_waits: bool,
    status: Status,
    /// The file is deleted ([`FileHandle::unlink`](crate::FileHandle::unlink)): every
    /// stream ends where it is.
    unlinked: bool,
    /// The disk thread has ended and closed the file (so its lock is free).
    file_closed: bool,
    disk_error: Option<Arc<std::io::Error>>,
    subscribers: Vec<Arc<Wake>>,
}

/// One file of the server: its name, where it lives, and its log.
#[derive(Debug)]
pub(crate) struct Log {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    /// The file opened read-only, shared by every reader catching up from disk (`pread`
    /// or `sendfile` at offsets): one file descriptor per log, not one per stream. Its own open file
    /// description, so it never holds the writer's lock.
    pub(crate) reader: Arc<File>,
    /// Long lines read back from disk, shared by the readers that have them now.
    pub(crate) long_lines: LongLines,
    /// Readers receive only synced lines (`FileOptions::durable`), not every written one.
    durable: bool,
    /// When the file is synced (the policy in force).
    pub(crate) sync: SyncPolicy,
    pub(crate) ending: LineEnding,
    /// The file's write end, while it is open for writing: taken before `state`, or only
    /// tried under it (which never waits).
    pub(crate) appender: Mutex<Option<Appender>>,
    pub(crate) state: Mutex<LogState>,
    /// Wakes the disk thread.
    pub(crate) disk_signal: Condvar,
    /// Woken when the disk makes progress or fails: `flushed` waits on it.
    pub(crate) disk_progress: Notify,
    /// How many lines readers may have ([`LogState::readable`]), readable without the
    /// lock: a hint (it may lag), so that a sender busy with other streams does not take
    /// this lock only to find nothing new. `u64::MAX` once the file is closed or failed:
    /// there is always something to look at.
    published: AtomicU64,
}

impl Log {
    /// A log whose first `scan.lines` lines are on disk already, at `path`, opened read-only
    /// as `reader`; open for writing through `appender`, or closed (a static file) without.
    pub(crate) fn new(
        name: String,
        (path, reader): (PathBuf, File),
        options: &FileOptions,
        scan: DiskScan,
        appender: Option<Appender>,
    ) -> Self {
        let status = match appender {
            Some(_) => Status::Open,
            None => Status::Closed,
        };
        Log {
            name,
            path,
            reader: Arc::new(reader),
            long_lines: LongLines::default(),
            durable: options.durable,
            sync: options.effective_sync(),
            ending: options.line_ending,
            appender: Mutex::new(appender),
            state: Mutex::new(LogState {
                lines: scan.lines,
                bytes: scan.bytes,
                window: Window::new(scan.lines, options.line_ending.as_bytes()),
                index: scan.index,
                pending_bytes: 0,
                writing: 0,
                pending_lines: 0,
                pending_since: None,
                disk_lines: scan.lines,
                synced_lines: scan.lines,
                disk_wait: DiskWait::Busy,
                full_batches: 0,
                flush_requested: false,
                reader_waits: false,
                status,
                unlinked: false,
                file_closed: false,
                disk_error: None,
                subscribers: Vec::new(),
            }),
            disk_signal: Condvar::new(),
            disk_progress: Notify::new(),
            published: AtomicU64::new(match status {
                // What was on disk at the start is readable, synced or not.
                Status::Open => scan.lines,
                Status::Closed => u64::MAX,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The write end, waiting while someone else writes. Never under `state`.
    pub(crate) fn appender(&self) -> MutexGuard<'_, Option<Appender>> {
        self.appender
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The write end if nobody writes now; never waits, so it may be tried under `state`.
    fn try_appender(&self) -> Option<MutexGuard<'_, Option<Appender>>> {
        match self.appender.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Appends a copy of one message (already checked, without its line ending) and wakes
    /// readers.
    ///
    /// # Errors
    ///
    /// The file is closed, or the disk failed: nothing is appended.
    pub(crate) fn append_copy(&self, message: &[u8]) -> Result<(), FileError> {
        let mut state = self.lock();
        self.check_open(&state)?;
        let offset = self.record(&mut state, message);
        state.window.push_copy(message, offset);
        self.pushed(state);
        Ok(())
    }

    /// Appends `message` as it is. Errors as [`append_copy`](Log::append_copy).
    pub(crate) fn append(&self, message: Bytes) -> Result<(), FileError> {
        let mut state = self.lock();
        self.check_open(&state)?;
        let offset = self.record(&mut state, &message);
        state.window.push_given(message, offset);
        self.pushed(state);
        Ok(())
    }

    fn check_open(&self, state: &LogState) -> Result<(), FileError> {
        if let Some(e) = &state.disk_error {
            return Err(FileError::disk(&self.path, e.clone()));
        }
        if state.status == Status::Closed {
            return Err(FileError::closed(&self.name));
        }
        Ok(())
    }

    /// Counts a new line for the disk thread; returns where it starts on disk. The caller
    /// puts it in the window, where the disk thread takes it from.
    fn record(&self, state: &mut LogState, message: &[u8]) -> u64 {
        let offset = state.bytes;
        if state.lines % INDEX_EVERY == 0 {
            state.index.push(offset);
        }
        state.pending_bytes += message.len() + self.ending.len();
        if state.pending_lines == 0 {
            state.pending_since = Some(Instant::now());
        }
        state.pending_lines += 1;
        state.bytes += (message.len() + self.ending.len()) as u64;
        state.lines += 1;
        offset
    }

    /// After a line is recorded and in the window: trims the window, wakes the readers
    /// that may write what they wait for, and the disk thread if it waits for this line
    /// (a full batch wakes it).
    ///
    /// The disk thread writes each full batch on a core of its own while the writer goes
    /// on. When it is late (on a busy machine it may not be scheduled for milliseconds)
    /// and [`WRITER_TAKES_OVER`] bytes are pending, the writer writes them itself if
    /// nobody else writes, unless each write is synced, which is the disk thread's work.
    ///
    /// When more than [`DISK_LAG_LIMIT`] bytes wait for the disk (a slow disk, or a long
    /// sync), it holds the writer until the write under way ends, then writes them: the
    /// window keeps every line until it is on disk, so a disk that falls behind would
    /// otherwise grow memory without limit.
    fn pushed<'a>(&'a self, mut state: MutexGuard<'a, LogState>) {
        state.evict(self.durable);
        if cfg!(debug_assertions) {
            state.invariant(self.durable);
        }
        let always = self.sync == SyncPolicy::Always;
        if state.pending_len() + state.writing > DISK_LAG_LIMIT {
            drop(state);
            tracing::debug!(file = %self.name, "writer waits for the disk to catch up");
            appender::write_pending(self, self.appender(), always);
            state = self.lock();
        } else if state.pending_len() >= WRITER_TAKES_OVER && !always {
            if let Some(appender) = self.try_appender() {
                drop(state);
                appender::write_pending(self, appender, false);
                state = self.lock();
            }
        }
        if state.pending_lines.is_power_of_two() && self.readers_write(&state) {
            // Readers waiting for lines look again at the 1st, 2nd, 4th... line pending:
            // once the disk thread is late, they write them (a few looks per batch).
            for wake in &state.subscribers {
                wake.wake();
            }
        }
        self.wake_disk(state, false);
    }

    /// Whether readers may write the pending lines they wait for themselves. The disk
    /// thread writes them at once when readers wait, on a core of its own if one is free;
    /// but on a busy machine it may not be scheduled for milliseconds. So a reader that
    /// caught up with the file writes the lines itself, on its own task, once the oldest
    /// has waited [`READERS_TAKE_OVER`]. Not when each write is synced, or readers wait
    /// for syncs (`durable`): that is the disk thread's work.
    fn readers_write(&self, state: &LogState) -> bool {
        state.pending_lines > 0 && self.readers_may_write()
    }

    /// Whether readers may ever write the lines they wait for (see
    /// [`readers_write`](Log::readers_write)).
    pub(crate) fn readers_may_write(&self) -> bool {
        !self.durable && self.sync != SyncPolicy::Always
    }

    /// Lets go of the lock, then wakes the disk thread if it waits for what is there now:
    /// any bytes when idle, a full batch when gathering, anything at all when `urgent` (a
    /// flush or a close). The signal goes after the lock is let go, so the woken thread
    /// does not wake only to wait for the lock.
    pub(crate) fn wake_disk(&self, mut state: MutexGuard<'_, LogState>, urgent: bool) {
        let wake = match state.disk_wait {
            DiskWait::Busy => false,
            DiskWait::Idle => true,
            DiskWait::Gathering | DiskWait::Streaming => {
                urgent || state.pending_bytes >= DISK_BATCH
            }
        };
        if wake {
            state.disk_wait = DiskWait::Busy;
        }
        drop(state);
        if wake {
            self.disk_signal.notify_one();
        }
    }

    /// Whether there may be lines from `next` on, or an end to tell: `false` can be late
    /// (a line written a moment ago), never wrong for long. Only [`pull`](Log::pull), under
    /// the lock, is sure: a sender must pull before it sleeps.
    pub(crate) fn may_have_news(&self, next: u64) -> bool {
        next < self.published.load(Ordering::Relaxed)
    }

    /// Called under the lock when the file closes or fails: every reader must look at
    /// the state from now on.
    pub(crate) fn settle(&self) {
        self.published.store(u64::MAX, Ordering::Relaxed);
    }

    /// Records the outcome of a write of `lines` lines (and of the sync after it, when
    /// `synced`): readers may have them now, or the file has failed. No eviction here: the
    /// writer evicts on its next message (a run that a reader's batch still shares is
    /// freed by whichever drops it last).
    pub(crate) fn write_ended(&self, lines: u64, synced: bool, result: std::io::Result<()>) {
        self.disk_ended("write", result, |state, error| {
            state.write_ended(lines, synced, error);
        });
    }

    /// Records the outcome of an `fsync`: progress, or the error that stops the file.
    pub(crate) fn sync_ended(&self, result: std::io::Result<()>) {
        self.disk_ended("sync", result, LogState::sync_ended);
    }

    /// Records the outcome of a disk operation (`what`) with `record`, under the lock, then
    /// tells readers of the progress or settles the failed file, and wakes `flushed`.
    fn disk_ended(
        &self,
        what: &str,
        result: std::io::Result<()>,
        record: impl FnOnce(&mut LogState, Option<std::io::Error>),
    ) {
        {
            let mut state = self.lock();
            match result {
                Ok(()) => {
                    record(&mut state, None);
                    self.disk_advanced(&state);
                }
                Err(e) => {
                    tracing::error!(file = %self.name, path = %self.path.display(), error = %e, "disk {what} failed");
                    record(&mut state, Some(e));
                    self.settle();
                }
            }
        }
        self.disk_progress.notify_waiters();
    }

    /// Called under the lock once lines reached the file (or were synced): readers may
    /// have them now.
    fn disk_advanced(&self, state: &LogState) {
        if cfg!(debug_assertions) {
            state.invariant(self.durable);
        }
        if self.published.load(Ordering::Relaxed) != u64::MAX {
            self.published
                .store(state.readable(self.durable), Ordering::Relaxed);
        }
        // Cheap when a reader's sender is busy: `wake` is one atomic load then. Under the
        // lock, as the sender's last look before it sleeps (see `Wake::armed`).
        for wake in &state.subscribers {
            wake.wake();
        }
    }

    pub(crate) fn wake_readers(&self) {
        let subscribers = self.lock().subscribers.clone();
        for wake in &subscribers {
            wake.wake();
        }
    }

    pub(crate) fn subscribe(&self, wake: &Arc<Wake>) {
        let mut state = self.lock();
        if !state.subscribers.iter().any(|w| Arc::ptr_eq(w, wake)) {
            state.subscribers.push(wake.clone());
        }
    }

    pub(crate) fn unsubscribe(&self, wake: &Arc<Wake>) {
        let mut state = self.lock();
        state.subscribers.retain(|w| !Arc::ptr_eq(w, wake));
        if state.subscribers.is_empty() {
            state.reader_waits = false;
        }
    }

    /// A cursor at line `line` (one not written yet is waited for), or at the end for a tail.
    pub(crate) fn cursor(&self, line: Option<u64>) -> Cursor {
        let state = self.lock();
        let next = line.unwrap_or(state.lines);
        let (scan_line, scan_offset) = state.position_before(next);
        Cursor {
            next,
            scan_line,
            scan_offset,
        }
    }
}

impl LogState {
    /// How many lines were written (counted; maybe not on disk yet).
    pub(crate) fn lines(&self) -> u64 {
        self.lines
    }

    /// The bytes those lines take on disk.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// How many lines reached the file (`write(2)` returned).
    pub(crate) fn disk_lines(&self) -> u64 {
        self.disk_lines
    }

    /// How many lines were synced.
    pub(crate) fn synced_lines(&self) -> u64 {
        self.synced_lines
    }

    /// Whether lines reached the file since the last sync.
    pub(crate) fn unsynced(&self) -> bool {
        self.synced_lines < self.disk_lines
    }

    /// How many lines the window holds in memory.
    pub(crate) fn lines_in_memory(&self) -> u64 {
        self.window.len()
    }

    pub(crate) fn status(&self) -> Status {
        self.status
    }

    /// Why the disk failed, once it did: the file takes no more writes.
    pub(crate) fn disk_error(&self) -> Option<&Arc<std::io::Error>> {
        self.disk_error.as_ref()
    }

    /// Bytes waiting for the disk thread.
    pub(crate) fn pending_len(&self) -> usize {
        self.pending_bytes
    }

    pub(crate) fn flush_requested(&self) -> bool {
        self.flush_requested
    }

    /// Whether readers keep up with the writer and wait for its lines to reach the file.
    pub(crate) fn reader_waits(&self) -> bool {
        self.reader_waits
    }

    /// Whether the disk thread ended and closed the file.
    pub(crate) fn file_closed(&self) -> bool {
        self.file_closed
    }

    /// Asks the disk thread to write what is pending without gathering more; returns the
    /// line count the write will reach.
    pub(crate) fn request_flush(&mut self) -> u64 {
        self.flush_requested = true;
        self.lines
    }

    /// Closes the log for writing; `false` if it was closed already.
    pub(crate) fn close(&mut self) -> bool {
        let was_open = self.status == Status::Open;
        self.status = Status::Closed;
        was_open
    }

    /// The file is deleted: every stream ends where it is.
    pub(crate) fn unlink(&mut self) {
        self.unlinked = true;
    }

    /// The disk thread takes what is pending for a write: appends the bytes to `batch`
    /// (shared with the window, not copied), and learns how many lines they end.
    pub(crate) fn take_pending(&mut self, batch: &mut Vec<Bytes>) -> u64 {
        if self.pending_bytes >= DISK_BATCH {
            self.full_batches += 1;
        }
        self.flush_requested = false;
        let lines = self.pending_lines;
        self.pending_lines = 0;
        self.pending_since = None;
        self.window.take_unwritten(batch);
        self.writing = self.pending_bytes;
        self.pending_bytes = 0;
        lines
    }

    /// The disk thread's write of `lines` lines ended: they are on disk (and synced, if
    /// `synced`), or the disk failed with `error`.
    pub(crate) fn write_ended(&mut self, lines: u64, synced: bool, error: Option<std::io::Error>) {
        self.writing = 0;
        match error {
            None => {
                self.disk_lines += lines;
                if synced {
                    self.synced_lines = self.disk_lines;
                }
            }
            Some(e) => self.disk_error = Some(Arc::new(e)),
        }
    }

    /// An `fsync` ended: every line on disk is synced, or the disk failed with `error`.
    pub(crate) fn sync_ended(&mut self, error: Option<std::io::Error>) {
        match error {
            None => self.synced_lines = self.disk_lines,
            Some(e) => self.disk_error = Some(Arc::new(e)),
        }
    }

    /// How many full batches were taken for a write.
    pub(crate) fn full_batches(&self) -> u64 {
        self.full_batches
    }

    /// What the disk thread waits for now.
    pub(crate) fn set_disk_wait(&mut self, waits_for: DiskWait) {
        self.disk_wait = waits_for;
    }

    /// The disk thread finished: every line is on disk (unless it failed), so the window
    /// is let go and a closed file is served from disk; the file is closed.
    pub(crate) fn finished(&mut self) {
        if self.disk_error.is_none() {
            self.window.clear();
        }
        self.file_closed = true;
    }

    /// How many lines readers may have: those that reached the file (`write(2)` returned),
    /// so that a crash of the process never takes back a line a reader was sent; or, for a
    /// `durable` file, those synced, so that a crash of the machine never does either.
    pub(crate) fn readable(&self, durable: bool) -> u64 {
        if durable {
            self.synced_lines
        } else {
            self.disk_lines
        }
    }

    /// Checks what always holds of a log, whatever the writers, the disk thread and the
    /// readers do; called at each change in builds with debug assertions (tests).
    ///
    /// - synced ≤ on disk ≤ written: a line is written to the file before it is synced,
    ///   and counted before it is written;
    /// - the window holds the newest lines, up to the last one written;
    /// - it never dropped a line that is not readable yet, which readers could then find
    ///   neither in memory nor (readably) on disk.
    pub(crate) fn invariant(&self, durable: bool) {
        assert!(
            self.synced_lines <= self.disk_lines && self.disk_lines <= self.lines,
            "synced {} <= on disk {} <= written {}",
            self.synced_lines,
            self.disk_lines,
            self.lines
        );
        assert!(
            self.disk_lines + self.pending_lines <= self.lines,
            "on disk {} + pending {} <= written {}",
            self.disk_lines,
            self.pending_lines,
            self.lines
        );
        assert_eq!(
            self.window.start() + self.window.len(),
            self.lines,
            "the window ends at the last line written"
        );
        assert!(
            self.window.start() <= self.readable(durable),
            "the window dropped line {} before it was readable ({})",
            self.window.start() - 1,
            self.readable(durable)
        );
    }

    /// Drops the oldest window messages past the limit, but only readable ones, so a reader
    /// that falls behind the window finds them on disk and may have them.
    pub(crate) fn evict(&mut self, durable: bool) {
        let readable = self.readable(durable);
        self.window.evict(WINDOW_BYTES, readable);
    }

    /// Where the longest run of whole index intervals from the cursor ends (its line and
    /// byte), at line `until` at most, of at most
    /// `max_lines` lines and `max_bytes` bytes: lines that can be sent without being read,
    /// since the index says how many there are. `None` unless the cursor is at an index
    /// entry and at least one interval fits.
    fn indexed_run(
        &self,
        cursor: &Cursor,
        until: (u64, u64),
        max_lines: u32,
        max_bytes: u64,
    ) -> Option<(u64, u64)> {
        if cursor.scan_line != cursor.next || cursor.next % INDEX_EVERY != 0 {
            return None;
        }
        let first = cursor.next / INDEX_EVERY;
        debug_assert_eq!(self.index.get(first as usize), Some(&cursor.scan_offset));
        let most = (u64::from(max_lines) / INDEX_EVERY)
            .min(until.0.saturating_sub(cursor.next) / INDEX_EVERY);
        let mut end = None;
        for k in first + 1..=first + most {
            let Some(offset) = self.entry_offset(k * INDEX_EVERY, until) else {
                break;
            };
            if offset - cursor.scan_offset > max_bytes {
                break;
            }
            end = Some((k * INDEX_EVERY, offset));
        }
        end
    }

    /// Whether the index interval from line `entry` (an index entry's) fits in `max_bytes`
    /// and ends by `until` (a line and where it starts): whether a run can start there.
    fn interval_fits(&self, entry: u64, until: (u64, u64), max_bytes: u64) -> bool {
        let start = self.entry_offset(entry, until);
        let end = self.entry_offset(entry + INDEX_EVERY, until);
        matches!((start, end), (Some(start), Some(end)) if end - start <= max_bytes)
    }

    /// Where index entry `line` starts, known if the line is before `until`, or is
    /// `until` (a line and where it starts: the end of what may be sent).
    fn entry_offset(&self, line: u64, until: (u64, u64)) -> Option<u64> {
        if line == until.0 {
            return Some(until.1);
        }
        if line > until.0 {
            return None;
        }
        // An entry exists only for a line that does: the lines before it end.
        self.index
            .get(usize::try_from(line / INDEX_EVERY).ok()?)
            .copied()
    }

    /// A line at or before `line` whose byte offset is known, and that offset.
    fn position_before(&self, line: u64) -> (u64, u64) {
        if line >= self.lines {
            return (self.lines, self.bytes);
        }
        if let Some(offset) = self.window.offset(line) {
            return (line, offset);
        }
        let k = (line / INDEX_EVERY) as usize;
        match self.index.get(k) {
            Some(offset) => (k as u64 * INDEX_EVERY, *offset),
            None => (0, 0),
        }
    }
}

/// A reader's place in a log: the next line to send, and a line at or before it whose byte
/// offset is known (catching up from disk scans from there). It holds no file and no
/// buffer: catch-up reads the log's shared [`Log::reader`] into the sender's batch.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Cursor {
    pub(crate) next: u64,
    pub(crate) scan_line: u64,
    pub(crate) scan_offset: u64,
}

/// What one pull from a log gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pulled {
    /// This many messages were encoded.
    Sent(u32),
    /// Nothing new yet.
    Nothing,
    /// Every message was sent and the file is closed.
    End,
    /// The file failed; the reason.
    Failed(String),
    /// The next lines must be read from the disk, up to (not including) line `until.0`,
    /// which starts at byte `until.1`: read them with a
    /// [`DiskRead`](crate::server::catch_up::DiskRead), off the async workers.
    Disk { until: (u64, u64) },
}

impl Log {
    /// Encodes the messages after the cursor into `out`, as one frame of up to
    /// `max_messages` messages and about `max_bytes` bytes (a long message comes alone,
    /// shared), from the window or from the page cache; or says that they must be read
    /// from the disk, which an async worker must not wait for.
    pub(crate) fn pull(
        &self,
        cursor: &mut Cursor,
        stream: u32,
        out: &mut Outgoing,
        max_messages: u32,
        max_bytes: usize,
    ) -> Pulled {
        let (until, run, read_to_entry) = {
            let mut state = self.lock();
            if cursor.next >= state.readable(self.durable)
                && self.readers_write(&state)
                && state
                    .pending_since
                    .is_some_and(|t| t.elapsed() >= READERS_TAKE_OVER)
            {
                // Caught up with the file, and lines waited too long for the disk thread:
                // write them, unless someone is writing now (whose write then wakes this
                // reader).
                if let Some(appender) = self.try_appender() {
                    drop(state);
                    appender::write_pending(self, appender, false);
                    state = self.lock();
                }
            }
            if state.unlinked {
                return Pulled::End;
            }
            let readable = state.readable(self.durable);
            if cursor.next >= readable {
                return match (&state.disk_error, state.status) {
                    (Some(e), _) => Pulled::Failed(format!("disk write failed: {e}")),
                    (None, Status::Closed) if cursor.next >= state.lines => Pulled::End,
                    _ => {
                        // The disk thread writes at once for a reader that waits, unless
                        // the writer streams, and gathers otherwise: tell it, and wake it
                        // if it is gathering for a few bytes.
                        state.reader_waits = true;
                        if state.pending_lines > 0 && state.disk_wait != DiskWait::Streaming {
                            self.wake_disk(state, true);
                        }
                        Pulled::Nothing
                    }
                };
            }
            if max_messages == 0 {
                return Pulled::Nothing;
            }
            let start = state.window.start();
            if cursor.next >= start {
                // Readable lines only: the window holds lines not on disk yet too.
                let until = readable.min(cursor.next + u64::from(max_messages));
                return Pulled::Sent(
                    self.pull_window(&state, cursor, until, stream, out, max_bytes),
                );
            }
            // Behind the window: readers do not keep up with the writer, so the disk thread
            // may gather. Everything before the window is on disk.
            state.reader_waits = false;
            let until = (start, state.window.offset(start).unwrap_or(state.bytes));
            let files =
                out.takes_files(self.ending == LineEnding::CrLf) && catch_up::page_cache_visible();
            let run = files
                .then(|| state.indexed_run(cursor, until, max_messages, catch_up::FILE_RUN_BYTES))
                .flatten();
            // Without a run here, a read stops at the next index entry if a run can start
            // there, so that the lines from it go without being read.
            let entry = (cursor.next / INDEX_EVERY + 1) * INDEX_EVERY;
            let read_to_entry = (files
                && state.interval_fits(entry, until, catch_up::FILE_RUN_BYTES))
            .then(|| u32::try_from(entry - cursor.next).unwrap_or(u32::MAX));
            (until, run, read_to_entry)
        };
        let sent = match run {
            Some(end) => catch_up::pull_file(self, cursor, end, stream, out),
            None => {
                let max_messages = read_to_entry.map_or(max_messages, |n| n.min(max_messages));
                let budget = (max_messages, max_bytes);
                catch_up::pull_cached(self, cursor, until, stream, out, budget)
            }
        };
        match sent {
            Ok(sent) => Pulled::Sent(sent),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Pulled::Disk { until },
            Err(e) => Pulled::Failed(format!("reading {} failed: {e}", self.path.display())),
        }
    }

    /// Sends the window's lines from the cursor up to (not including) line `until`, about
    /// `max_bytes` of them (the first always): a run of [`SHARE_FROM`] bytes or more in a
    /// frame of its own that shares the window's bytes; shorter runs copied together into
    /// one frame, so that a file written a few lines at a time is not sent a frame per
    /// write.
    fn pull_window(
        &self,
        state: &LogState,
        cursor: &mut Cursor,
        until: u64,
        stream: u32,
        out: &mut Outgoing,
        max_bytes: usize,
    ) -> u32 {
        let layout = Layout::Lines {
            crlf: self.ending == LineEnding::CrLf,
        };
        let first = cursor.next;
        let mut bytes = 0;
        let mut copied: Option<(OpenBatch, u32)> = None;
        while cursor.next < until && (bytes < max_bytes || cursor.next == first) {
            let Some(run) = state
                .window
                .read(cursor.next, until, max_bytes.saturating_sub(bytes))
            else {
                break;
            };
            bytes += run.bytes.len();
            if !run.given && run.bytes.len() < SHARE_FROM {
                let buf = out.buf();
                let (_, count) = copied.get_or_insert_with(|| {
                    (protocol::begin_batch(buf, stream, cursor.next, layout), 0)
                });
                *count += run.lines;
                buf.extend_from_slice(&run.bytes);
            } else {
                if let Some((frame, count)) = copied.take() {
                    frame.finish(out.buf(), count);
                }
                let layout = if run.given { Layout::Framed } else { layout };
                out.push_shared(stream, cursor.next, run.lines, layout, run.bytes);
            }
            cursor.next += u64::from(run.lines);
        }
        if let Some((frame, count)) = copied {
            frame.finish(out.buf(), count);
        }
        cursor.scan_line = cursor.next;
        cursor.scan_offset = state.window.offset(cursor.next).unwrap_or(state.bytes);
        (cursor.next - first) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of a new file open for writing, with no disk thread: as on a machine too busy
    /// to schedule it.
    fn log_without_disk_thread(dir: &std::path::Path, options: &FileOptions) -> Log {
        let path = dir.join("f");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open for writing");
        let reader = File::open(&path).expect("open for reading");
        let appender = Appender::new(file, 0);
        Log::new(
            "f".to_string(),
            (path, reader),
            options,
            DiskScan::default(),
            Some(appender),
        )
    }

    fn pull_one(log: &Log, cursor: &mut Cursor) -> Pulled {
        let mut out = Outgoing::with_capacity(0);
        log.pull(cursor, 1, &mut out, 100, 64 * 1024)
    }

    #[test]
    fn a_reader_writes_the_lines_it_waits_for_when_the_disk_thread_is_late() {
        let dir = tempfile::tempdir().expect("dir");
        let log = log_without_disk_thread(dir.path(), &FileOptions::new());
        log.append_copy(b"hello").expect("append");
        let mut cursor = log.cursor(Some(0));
        let deadline = Instant::now() + Duration::from_secs(5);
        let pulled = loop {
            match pull_one(&log, &mut cursor) {
                Pulled::Nothing if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                other => break other,
            }
        };
        assert_eq!(pulled, Pulled::Sent(1));
        assert_eq!(log.lock().disk_lines(), 1);
        let on_disk = std::fs::read(dir.path().join("f")).expect("read");
        assert_eq!(on_disk, b"hello\n", "written before it was sent");
    }

    #[test]
    fn readers_that_keep_up_ask_for_writes_at_once_and_readers_behind_do_not() {
        let dir = tempfile::tempdir().expect("dir");
        let log = log_without_disk_thread(dir.path(), &FileOptions::new());
        assert!(!log.lock().reader_waits(), "no reader yet");
        let mut at_end = log.cursor(None);
        assert_eq!(pull_one(&log, &mut at_end), Pulled::Nothing);
        assert!(log.lock().reader_waits(), "a reader at the end waits");
        // More lines than the window keeps, written by the writer itself (full batches).
        let line = vec![b'x'; 1000];
        for _ in 0..WINDOW_BYTES / 1000 + 1000 {
            log.append_copy(&line).expect("append");
        }
        assert!(
            log.lock().window.start() > 0,
            "the first lines left the window"
        );
        let mut behind = log.cursor(Some(0));
        assert!(matches!(
            pull_one(&log, &mut behind),
            Pulled::Sent(_) | Pulled::Disk { .. }
        ));
        assert!(
            !log.lock().reader_waits(),
            "a reader behind the window does not wait"
        );
    }

    #[test]
    fn a_writer_wakes_the_disk_thread_for_a_full_batch_and_writes_only_once_it_is_late() {
        let dir = tempfile::tempdir().expect("dir");
        let log = log_without_disk_thread(dir.path(), &FileOptions::new());
        let line = vec![b'x'; 1000];
        let per_batch = DISK_BATCH / (line.len() + 1);
        log.lock().set_disk_wait(DiskWait::Streaming);
        for _ in 0..per_batch {
            log.append_copy(&line).expect("append");
        }
        assert_eq!(
            log.lock().disk_wait,
            DiskWait::Streaming,
            "not a full batch yet"
        );
        log.append_copy(&line).expect("append");
        assert_eq!(
            log.lock().disk_wait,
            DiskWait::Busy,
            "woken for a full batch"
        );
        // The disk thread does not take it (there is none): the writer goes on, and
        // writes everything itself once a second batch is pending too.
        let before_takeover = WRITER_TAKES_OVER / (line.len() + 1);
        for _ in per_batch + 1..before_takeover {
            log.append_copy(&line).expect("append");
        }
        let state = log.lock();
        assert_eq!(state.disk_lines(), 0, "left to the disk thread");
        assert_eq!(state.full_batches(), 0);
        drop(state);
        log.append_copy(&line).expect("append");
        let state = log.lock();
        assert_eq!(
            state.disk_lines(),
            before_takeover as u64 + 1,
            "all written"
        );
        assert_eq!(state.full_batches(), 1);
    }

    #[test]
    fn a_waiting_reader_wakes_a_gathering_disk_thread_not_one_behind_a_streaming_writer() {
        let dir = tempfile::tempdir().expect("dir");
        // A durable file, whose readers never write the lines themselves: each pull that
        // finds nothing only asks the disk thread (the rule is the same for every file).
        let log = log_without_disk_thread(dir.path(), &FileOptions::new().durable(true));
        log.append_copy(b"hello").expect("append");
        let mut cursor = log.cursor(Some(0));
        log.lock().set_disk_wait(DiskWait::Streaming);
        assert_eq!(pull_one(&log, &mut cursor), Pulled::Nothing);
        assert_eq!(log.lock().disk_wait, DiskWait::Streaming, "not woken");
        log.lock().set_disk_wait(DiskWait::Gathering);
        assert_eq!(pull_one(&log, &mut cursor), Pulled::Nothing);
        assert_eq!(log.lock().disk_wait, DiskWait::Busy, "woken");
    }

    #[test]
    fn a_reader_of_a_durable_file_leaves_the_writing_to_the_disk_thread() {
        let dir = tempfile::tempdir().expect("dir");
        let log = log_without_disk_thread(dir.path(), &FileOptions::new().durable(true));
        log.append_copy(b"hello").expect("append");
        let mut cursor = log.cursor(Some(0));
        std::thread::sleep(READERS_TAKE_OVER * 10);
        assert_eq!(pull_one(&log, &mut cursor), Pulled::Nothing);
        let on_disk = std::fs::read(dir.path().join("f")).expect("read");
        assert!(on_disk.is_empty(), "only the disk thread writes and syncs");
    }

    /// The lines of everything `out` holds, each with its line number; ranges of the file
    /// are read.
    fn sent_lines(out: &mut Outgoing) -> Vec<(u64, Vec<u8>)> {
        use crate::server::outgoing::{Piece, Write};
        let mut wire = Vec::new();
        for write in Piece::into_writes(out.take()) {
            match write {
                Write::Bytes(bytes) => wire.extend_from_slice(&bytes),
                Write::File(range) => wire.extend_from_slice(&range.read().expect("read")),
            }
        }
        let mut wire = Bytes::from(wire);
        let mut lines = Vec::new();
        while !wire.is_empty() {
            let len = u32::from_be_bytes(wire[..4].try_into().expect("4 bytes")) as usize;
            let frame = wire.slice(4..4 + len);
            wire = wire.slice(4 + len..);
            let protocol::Frame::Batch {
                first_line,
                count,
                data,
                ..
            } = protocol::decode(frame).expect("a frame")
            else {
                panic!("a batch");
            };
            let batch: Vec<_> = data.split_inclusive(|b| *b == b'\n').collect();
            assert_eq!(batch.len(), count as usize, "the count says how many lines");
            lines.extend((first_line..).zip(batch.into_iter().map(<[u8]>::to_vec)));
        }
        lines
    }

    #[test]
    fn readers_behind_the_window_get_whole_index_intervals_as_ranges_of_the_file() {
        use crate::server::outgoing::{FileLines, Piece};
        let dir = tempfile::tempdir().expect("dir");
        let log = log_without_disk_thread(dir.path(), &FileOptions::new());
        let line = |i: u64| format!("{i:0>width$}\n", width = 90 + (i % 40) as usize);
        let mut written = 0;
        while log.lock().window.start() < 4 * INDEX_EVERY {
            log.append_copy(line(written).trim_end().as_bytes())
                .expect("append");
            written += 1;
        }
        let start = log.lock().window.start();
        // Before Linux 6.5 (no `cachestat`) the kernel cannot tell what it caches: lines
        // are read then, never sent as ranges.
        catch_up::cached(&log.reader, 0, 1);
        let visible = catch_up::page_cache_visible();
        let mut cursor = log.cursor(Some(5));
        let mut files = 0;
        let mut sent = Vec::new();
        while cursor.next < start {
            let mut out = Outgoing::with_capacity(0).taking_files(FileLines::All);
            let Pulled::Sent(n) = log.pull(&mut cursor, 1, &mut out, 8192, 64 * 1024) else {
                panic!("sent from the page cache");
            };
            let pieces = out.take();
            for piece in &pieces {
                if let Piece::File { .. } = piece {
                    files += 1;
                    assert_eq!(u64::from(n) % INDEX_EVERY, 0, "whole intervals: {n}");
                }
            }
            out.extend(pieces);
            let lines = sent_lines(&mut out);
            assert_eq!(lines.len(), n as usize);
            sent.extend(lines);
        }
        assert_eq!(files > 0, visible, "lines sent as ranges of the file");
        assert_eq!(sent.len() as u64, cursor.next - 5);
        for (number, bytes) in sent {
            assert_eq!(bytes, line(number).into_bytes(), "line {number}");
        }

        // A connection that cannot send files reads and counts.
        let mut cursor = log.cursor(Some(0));
        let mut out = Outgoing::with_capacity(0);
        assert!(matches!(
            log.pull(&mut cursor, 1, &mut out, 8192, 64 * 1024),
            Pulled::Sent(_)
        ));
        assert!(
            out.take()
                .iter()
                .all(|piece| matches!(piece, Piece::Frames(_)))
        );
    }

    #[test]
    fn an_indexed_run_is_whole_intervals_within_the_limits() {
        let dir = tempfile::tempdir().expect("dir");
        let log = log_without_disk_thread(dir.path(), &FileOptions::new());
        // Lines of 9 bytes and a newline: an interval is `INDEX_EVERY * 10` bytes.
        for _ in 0..5 * INDEX_EVERY {
            log.append_copy(b"123456789").expect("append");
        }
        let state = log.lock();
        let at = |line: u64| Cursor {
            next: line,
            scan_line: line,
            scan_offset: line * 10,
        };
        let interval = INDEX_EVERY * 10;
        let until = (4 * INDEX_EVERY, 4 * interval);
        let end = Some(until);
        let run = |cursor: Cursor, lines: u32, bytes: u64| {
            state.indexed_run(&cursor, until, lines, bytes)
        };
        let all = u32::MAX;
        let max = u64::MAX;
        let two = u32::try_from(2 * INDEX_EVERY).expect("small");
        assert_eq!(run(at(0), all, max), end, "up to the window");
        assert_eq!(
            run(at(INDEX_EVERY), two, max),
            Some((3 * INDEX_EVERY, 3 * interval))
        );
        assert_eq!(
            run(at(0), two + 1, max),
            Some((2 * INDEX_EVERY, 2 * interval)),
            "credit"
        );
        assert_eq!(
            run(at(0), all, 2 * interval + 1),
            Some((2 * INDEX_EVERY, 2 * interval))
        );
        assert_eq!(
            run(at(0), two / 2 - 1, max),
            None,
            "less credit than an interval"
        );
        assert_eq!(run(at(0), all, interval - 1), None, "an interval too long");
        assert_eq!(run(at(3 * INDEX_EVERY), all, max), end);
        assert_eq!(run(at(1), all, max), None, "not at an index entry");
        let skipping = Cursor {
            scan_line: 0,
            scan_offset: 0,
            ..at(INDEX_EVERY)
        };
        assert_eq!(run(skipping, all, max), None, "still skipping");
        let within = (4 * INDEX_EVERY - 1, (4 * INDEX_EVERY - 1) * 10);
        assert_eq!(
            state.indexed_run(&at(3 * INDEX_EVERY), within, all, max),
            None,
            "the window starts within the interval"
        );
        let file_end = (5 * INDEX_EVERY, 5 * interval);
        assert_eq!(
            state.indexed_run(&at(3 * INDEX_EVERY), file_end, all, max),
            Some(file_end),
            "a run ends where the window starts, though no line is there yet to index"
        );

        // Whether a read should stop at an entry, for a run to start there.
        assert!(state.interval_fits(INDEX_EVERY, until, interval));
        assert!(
            !state.interval_fits(INDEX_EVERY, until, interval - 1),
            "too long"
        );
        assert!(
            !state.interval_fits(4 * INDEX_EVERY, until, max),
            "past the window"
        );
        assert!(state.interval_fits(4 * INDEX_EVERY, file_end, max));
    }
}
