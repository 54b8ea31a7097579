//! The log of one file: every message written, the newest in a bounded in-memory window,
//! all of them on disk. Readers pull from it with a [`Cursor`].

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

use crate::file_error::FileError;
use crate::protocol::{self, Layout};
use crate::server::catch_up::LongLines;
use crate::server::options::LineEnding;
use crate::server::outgoing::Outgoing;
use crate::server::scan::DiskScan;
use crate::server::window::Window;

/// Memory the window of recent messages may hold; older ones are read back from disk.
pub(crate) const WINDOW_BYTES: usize = 4 * 1024 * 1024;
/// Past this many bytes waiting for the disk, writers wait (see `Log::wait_for_disk`).
const DISK_LAG_LIMIT: usize = 8 * 1024 * 1024;
/// One index entry (a byte offset) every this many lines, for `read_from`.
pub(crate) const INDEX_EVERY: u64 = 1024;

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
    /// A few bytes pending: only a full batch, a flush or a close wakes it early.
    Gathering,
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
    /// Bytes for the disk thread, and how many lines they end.
    pending: BytesMut,
    /// Bytes the disk thread took and is writing now.
    writing: usize,
    pending_lines: u64,
    disk_lines: u64,
    synced_lines: u64,
    disk_wait: DiskWait,
    /// A `flushed` or a close waits: the disk thread writes without gathering more.
    flush_requested: bool,
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
    /// at offsets): one file descriptor per log, not one per stream. Its own open file
    /// description, so it never holds the writer's lock.
    pub(crate) reader: File,
    /// Long lines read back from disk, shared by the readers that have them now.
    pub(crate) long_lines: LongLines,
    /// Readers receive only synced lines (`FileOptions::durable`), not every written one.
    durable: bool,
    pub(crate) ending: LineEnding,
    pub(crate) state: Mutex<LogState>,
    /// Wakes the disk thread.
    pub(crate) disk_signal: Condvar,
    /// Wakes a writer waiting for the disk to catch up.
    pub(crate) disk_room: Condvar,
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
    /// as `reader`.
    pub(crate) fn new(
        name: String,
        (path, reader): (PathBuf, File),
        (ending, durable): (LineEnding, bool),
        scan: DiskScan,
        status: Status,
    ) -> Self {
        Log {
            name,
            path,
            reader,
            long_lines: LongLines::default(),
            durable,
            ending,
            state: Mutex::new(LogState {
                lines: scan.lines,
                bytes: scan.bytes,
                window: Window::new(scan.lines, ending.len()),
                index: scan.index,
                pending: BytesMut::new(),
                writing: 0,
                pending_lines: 0,
                disk_lines: scan.lines,
                synced_lines: scan.lines,
                disk_wait: DiskWait::Busy,
                flush_requested: false,
                status,
                unlinked: false,
                file_closed: false,
                disk_error: None,
                subscribers: Vec::new(),
            }),
            disk_signal: Condvar::new(),
            disk_room: Condvar::new(),
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

    /// Counts a new line and hands it to the disk thread; returns where it starts on disk.
    /// The caller puts it in the window.
    fn record(&self, state: &mut LogState, message: &[u8]) -> u64 {
        let offset = state.bytes;
        if state.lines % INDEX_EVERY == 0 {
            state.index.push(offset);
        }
        state.pending.extend_from_slice(message);
        state.pending.extend_from_slice(self.ending.as_bytes());
        state.pending_lines += 1;
        state.bytes += (message.len() + self.ending.len()) as u64;
        state.lines += 1;
        offset
    }

    /// After a line is recorded and in the window: trims the window, wakes the disk thread,
    /// and holds the writer while the disk is far behind.
    fn pushed(&self, mut state: MutexGuard<'_, LogState>) {
        state.evict(self.durable);
        if cfg!(debug_assertions) {
            state.invariant(self.durable);
        }
        // Readers hear of the line once it reached the file: the disk thread wakes them.
        self.wake_disk(&mut state, false);
        if state.pending.len() + state.writing > DISK_LAG_LIMIT {
            self.wait_for_disk(state);
        }
    }

    /// Holds the writer while more than [`DISK_LAG_LIMIT`] bytes wait for the disk: the
    /// window keeps every line until it is on disk, so a disk that falls behind would
    /// otherwise grow memory without limit.
    fn wait_for_disk(&self, mut state: MutexGuard<'_, LogState>) {
        tracing::debug!(file = %self.name, "writer waits for the disk to catch up");
        self.wake_disk(&mut state, true);
        while state.pending.len() + state.writing > DISK_LAG_LIMIT / 2 && state.disk_error.is_none()
        {
            let (waited, _) = self
                .disk_room
                .wait_timeout(state, std::time::Duration::from_millis(100))
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state = waited;
            self.wake_disk(&mut state, true);
        }
    }

    /// Wakes the disk thread if it waits for what is there now: any bytes when idle, a
    /// full batch when gathering, anything at all when `urgent` (a flush or a close).
    pub(crate) fn wake_disk(&self, state: &mut LogState, urgent: bool) {
        let wake = match state.disk_wait {
            DiskWait::Busy => false,
            DiskWait::Idle => true,
            DiskWait::Gathering => urgent || state.pending.len() >= crate::server::disk::DISK_BATCH,
        };
        if wake {
            state.disk_wait = DiskWait::Busy;
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

    /// Called by the disk thread, under the lock, once lines reached the file (or were
    /// synced): readers may have them now.
    pub(crate) fn disk_advanced(&self, state: &LogState) {
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
        self.lock().subscribers.retain(|w| !Arc::ptr_eq(w, wake));
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
        self.pending.len()
    }

    pub(crate) fn flush_requested(&self) -> bool {
        self.flush_requested
    }

    /// Whether a connection reads the file now.
    pub(crate) fn has_readers(&self) -> bool {
        !self.subscribers.is_empty()
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

    /// The disk thread takes what is pending for a write, and learns how many lines it
    /// ends. Swaps buffers: the writer appends to the one written last time, which keeps
    /// its capacity, so neither side allocates.
    pub(crate) fn take_pending(&mut self, batch: &mut BytesMut) -> u64 {
        self.flush_requested = false;
        let lines = self.pending_lines;
        self.pending_lines = 0;
        std::mem::swap(&mut self.pending, batch);
        self.writing = batch.len();
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
        let until = {
            let state = self.lock();
            if state.unlinked {
                return Pulled::End;
            }
            let readable = state.readable(self.durable);
            if cursor.next >= readable {
                return match (&state.disk_error, state.status) {
                    (Some(e), _) => Pulled::Failed(format!("disk write failed: {e}")),
                    (None, Status::Closed) if cursor.next >= state.lines => Pulled::End,
                    _ => Pulled::Nothing,
                };
            }
            if max_messages == 0 {
                return Pulled::Nothing;
            }
            let start = state.window.start();
            if cursor.next >= start {
                // Readable lines only: the window holds lines not on disk yet too.
                let max_messages = (max_messages as u64).min(readable - cursor.next) as u32;
                return Pulled::Sent(self.pull_window(
                    &state,
                    cursor,
                    stream,
                    out,
                    max_messages,
                    max_bytes,
                ));
            }
            // Everything before the window is on disk.
            (start, state.window.offset(start).unwrap_or(state.bytes))
        };
        let budget = (max_messages, max_bytes);
        match crate::server::catch_up::pull_cached(self, cursor, until, stream, out, budget) {
            Ok(sent) => Pulled::Sent(sent),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Pulled::Disk { until },
            Err(e) => Pulled::Failed(format!("reading {} failed: {e}", self.path.display())),
        }
    }

    /// Encodes the window's messages after the cursor. Copying them here, under the lock,
    /// is one copy per run of messages, and touches no shared counter; a long message is
    /// not copied but shared.
    fn pull_window(
        &self,
        state: &LogState,
        cursor: &mut Cursor,
        stream: u32,
        out: &mut Outgoing,
        max_messages: u32,
        max_bytes: usize,
    ) -> u32 {
        let sent = if let Some(message) = state.window.long_at(cursor.next) {
            out.push_long(stream, cursor.next, Layout::Framed, message.clone());
            1
        } else {
            let out = out.buf();
            let frame = protocol::begin_batch(out, stream, cursor.next, Layout::Framed);
            let sent = state
                .window
                .encode(cursor.next, out, max_messages, max_bytes);
            frame.finish(out, sent);
            sent
        };
        cursor.next += u64::from(sent);
        cursor.scan_line = cursor.next;
        cursor.scan_offset = state.window.offset(cursor.next).unwrap_or(state.bytes);
        sent
    }
}
