//! The disk side of a log: counting an existing file, the thread that appends, and the
//! catch-up reads of readers behind the in-memory window.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};

use crate::protocol::{self, Layout, MAX_MESSAGE};
use crate::server::log::{Cursor, DiskWait, INDEX_EVERY, Log, LogState, Status};
use crate::server::options::{LineEnding, SyncPolicy};

/// The disk thread writes at once when this much is pending...
pub(crate) const DISK_BATCH: usize = 64 * 1024;
/// ...and otherwise waits this long for more, unless a `flushed` or a close is waiting.
const GATHER: Duration = Duration::from_millis(1);

/// What a scan of an existing file found.
#[derive(Debug, Default)]
pub(crate) struct DiskScan {
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
    pub(crate) index: Vec<u64>,
    /// The file is empty or ends with a newline.
    pub(crate) terminated: bool,
    /// Where the last line starts.
    last_line: u64,
}

impl DiskScan {
    /// Forgets the last line when it has no newline: a write torn by a crash. Returns its
    /// length in bytes (0 when the file was whole); the file must be cut to `bytes`.
    pub(crate) fn cut_torn_line(&mut self) -> u64 {
        if self.terminated {
            return 0;
        }
        let torn = self.bytes - self.last_line;
        self.bytes = self.last_line;
        self.lines -= 1;
        self.terminated = true;
        if self.index.last() == Some(&self.bytes) {
            // It pointed at the torn line, which the next append writes again.
            self.index.pop();
        }
        torn
    }
}

/// Counts the lines of `file` (a last line without a newline counts) and indexes them.
pub(crate) fn scan(file: &mut File) -> io::Result<DiskScan> {
    let mut scan = DiskScan {
        terminated: true,
        ..DiskScan::default()
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if scan.bytes == 0 {
            scan.index.push(0);
        }
        for newline in memchr::memchr_iter(b'\n', &buf[..n]) {
            scan.lines += 1;
            scan.last_line = scan.bytes + newline as u64 + 1;
            if scan.lines % INDEX_EVERY == 0 {
                scan.index.push(scan.last_line);
            }
        }
        scan.bytes += n as u64;
        scan.terminated = buf[n - 1] == b'\n';
    }
    if !scan.terminated {
        scan.lines += 1;
    } else if scan.index.last() == Some(&scan.bytes) && scan.bytes > 0 {
        // The last entry points at the end: a line that does not exist yet, which the
        // first append will index.
        scan.index.pop();
    }
    Ok(scan)
}

/// Appends what the log hands over, syncing as the policy says, until the log is closed
/// and drained. Runs on a thread of its own. `on_disk` is the file's length at the start.
pub(crate) fn run_disk_thread(log: Arc<Log>, mut file: File, sync: SyncPolicy, mut on_disk: u64) {
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    let mut batch = BytesMut::new();
    loop {
        let lines = {
            let mut state = log.lock();
            let mut gathered = false;
            loop {
                if !state.pending.is_empty() && state.disk_error.is_none() {
                    let full = state.pending.len() >= DISK_BATCH;
                    // Readers wait for lines to reach the file: no gathering for them.
                    let awaited = !state.subscribers.is_empty();
                    if full
                        || gathered
                        || awaited
                        || state.flush_requested
                        || state.status == Status::Closed
                    {
                        break;
                    }
                    // A few bytes and no reader: wait a moment for more, so that a busy
                    // writer costs one wake-up per batch and not one per message.
                    state.disk_wait = DiskWait::Gathering;
                    let (waited, _) = log
                        .disk_signal
                        .wait_timeout(state, GATHER)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    state = waited;
                    state.disk_wait = DiskWait::Busy;
                    gathered = true;
                    continue;
                }
                if state.status == Status::Closed {
                    if unsynced && sync != SyncPolicy::Never && state.disk_error.is_none() {
                        drop(state);
                        let synced = file.sync_data();
                        state = log.lock();
                        record_sync(&log, &mut state, synced);
                    }
                    if state.disk_error.is_none() {
                        // All on disk: a closed file is served from there.
                        state.window.clear();
                    }
                    drop(state);
                    // Closed (and unlocked) before anyone hears of it: once `close`
                    // returns, the path can be opened for writing again.
                    drop(file);
                    log.lock().file_closed = true;
                    log.disk_progress.notify_waiters();
                    log.wake_readers();
                    return;
                }
                if state.disk_error.is_some() {
                    // Failed: nothing more is written, but the file and its lock are kept
                    // until the file is closed, so that no other writer takes it meanwhile.
                    state.disk_wait = DiskWait::Idle;
                    drop(state);
                    log.disk_progress.notify_waiters();
                    log.wake_readers();
                    state = log.lock();
                    if state.status != Status::Closed {
                        state = log
                            .disk_signal
                            .wait(state)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                    state.disk_wait = DiskWait::Busy;
                    continue;
                }
                state.disk_wait = DiskWait::Idle;
                state = match sync {
                    SyncPolicy::Interval(every) if unsynced => {
                        let wait = every.saturating_sub(last_sync.elapsed());
                        let (state, _) = log
                            .disk_signal
                            .wait_timeout(state, wait)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                        state
                    }
                    _ => log
                        .disk_signal
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner()),
                };
                state.disk_wait = DiskWait::Busy;
                if let SyncPolicy::Interval(every) = sync {
                    if unsynced && last_sync.elapsed() >= every {
                        drop(state);
                        let synced = file.sync_data();
                        last_sync = Instant::now();
                        unsynced = false;
                        state = log.lock();
                        record_sync(&log, &mut state, synced);
                    }
                }
            }
            state.flush_requested = false;
            let lines = state.pending_lines;
            state.pending_lines = 0;
            // Swap buffers: the writer appends to the one written last time, which keeps
            // its capacity, so neither side allocates.
            std::mem::swap(&mut state.pending, &mut batch);
            state.writing = batch.len();
            lines
        };
        let mut result = check_length(&file, on_disk).and_then(|()| file.write_all(&batch));
        if result.is_ok() {
            on_disk += batch.len() as u64;
        }
        batch.clear();
        if batch.capacity() > 4 * DISK_BATCH {
            // A burst made it large: do not keep that memory for ever.
            batch = BytesMut::new();
        }
        let sync_due = match sync {
            SyncPolicy::Never => false,
            SyncPolicy::Always => true,
            // Also under a writer that never lets this thread go idle.
            SyncPolicy::Interval(every) => last_sync.elapsed() >= every,
        };
        if result.is_ok() && sync_due {
            result = file.sync_data();
            last_sync = Instant::now();
        }
        unsynced = true;
        {
            let mut state = log.lock();
            state.writing = 0;
            log.disk_room.notify_all();
            match result {
                Ok(()) => {
                    state.disk_lines += lines;
                    if sync_due {
                        state.synced_lines = state.disk_lines;
                        unsynced = false;
                    }
                    log.disk_advanced(&state);
                    // No eviction here: the writer evicts on its next message, so memory is
                    // freed by the thread that allocated it.
                }
                Err(e) => {
                    tracing::error!(file = %log.name, path = %log.path.display(), error = %e, "disk write failed");
                    state.disk_error = Some(Arc::new(e));
                    log.settle();
                }
            }
        }
        log.disk_progress.notify_waiters();
    }
}

/// Checks that the file is as long as this thread left it (one `fstat(2)`): a file that
/// another program wrote to or cut would have its lines counted wrong from here on.
fn check_length(file: &File, expected: u64) -> io::Result<()> {
    let found = file.metadata()?.len();
    if found == expected {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "the file was changed by another program: {expected} bytes expected, {found} found"
    )))
}

/// Records the outcome of an `fsync`: progress, or the error that stops the file.
fn record_sync(log: &Log, state: &mut LogState, synced: io::Result<()>) {
    match synced {
        Ok(()) => {
            state.synced_lines = state.disk_lines;
            log.disk_advanced(state);
        }
        Err(e) => {
            tracing::error!(file = %log.name, error = %e, "disk sync failed");
            state.disk_error = Some(Arc::new(e));
            log.settle();
        }
    }
}

/// Sends lines read back from disk, from the cursor up to (not including) line `until.0`,
/// which starts at byte `until.1`: at most `max_messages` lines in one `Lines` frame of
/// about `max_bytes` (more for a single longer line). The file's bytes are read straight
/// into `out` from the log's shared reader; lines are only counted. Returns how many were
/// sent.
pub(crate) fn pull_disk(
    log: &Log,
    cursor: &mut Cursor,
    until: (u64, u64),
    stream: u32,
    out: &mut BytesMut,
    (max_messages, max_bytes): (u32, usize),
) -> io::Result<u32> {
    let file = &log.reader;
    let (until_line, until_offset) = until;
    skip_to_next(file, cursor, until)?;
    if cursor.scan_line >= until_line || max_messages == 0 {
        return Ok(0);
    }
    let available = (until_offset - cursor.scan_offset) as usize;
    let line_limit = u64::from(max_messages).min(until_line - cursor.scan_line);
    let crlf = log.ending == LineEnding::CrLf;
    let layout = Layout::Lines { crlf };
    let budget = max_bytes.max(1);
    let mut want = budget.min(available);
    loop {
        let frame = protocol::begin_batch(out, stream, cursor.next, layout);
        let data = out.len();
        if let Err(e) = read_exact_at_into(file, out, want, cursor.scan_offset) {
            frame.abandon(out);
            return Err(e);
        }
        let read = &out[data..];
        let first = memchr::memchr(b'\n', read);
        // Only a read made longer for a long first line can hold a line over the limit,
        // which no client would take: that fails this stream alone.
        if want > MAX_MESSAGE && first.unwrap_or(want) > MAX_MESSAGE + usize::from(crlf) {
            frame.abandon(out);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {} is longer than the {MAX_MESSAGE}-byte message limit",
                    cursor.next
                ),
            ));
        }
        // A read made longer for a long first line still sends lines up to the budget
        // only, or that one line: a frame never holds more than one line over the budget.
        let span = match first {
            Some(first) if want > budget => budget.max(first + 1),
            _ => want,
        };
        let (mut lines, end) = whole_lines(&read[..span], line_limit);
        let mut consumed = end;
        if lines == 0 {
            if want == available {
                // The file's last line, without a newline: send it terminated.
                out.put_u8(b'\n');
                lines = 1;
                consumed = want;
            } else {
                // A line longer than what was read: read more at once.
                frame.abandon(out);
                want = (want * 2).min(available);
                continue;
            }
        } else {
            out.truncate(data + end);
        }
        frame.finish(out, lines as u32);
        cursor.scan_offset += consumed as u64;
        cursor.scan_line += lines;
        cursor.next = cursor.scan_line;
        return Ok(lines as u32);
    }
}

/// How many whole lines `chunk` starts with, at most `limit`, and where they end. Counts
/// newlines in bulk; walks them one by one only when the limit cuts.
fn whole_lines(chunk: &[u8], limit: u64) -> (u64, usize) {
    let Some(last) = memchr::memrchr(b'\n', chunk) else {
        return (0, 0);
    };
    let count = memchr::memchr_iter(b'\n', &chunk[..last]).count() as u64 + 1;
    if count <= limit {
        return (count, last + 1);
    }
    match memchr::memchr_iter(b'\n', chunk).nth(limit as usize - 1) {
        Some(newline) => (limit, newline + 1),
        None => (0, 0),
    }
}

/// Appends `len` bytes of `file`, from byte `offset`, to `out`, reading them straight into
/// its spare room (not zeroed first: on a catch-up that would write every byte twice).
///
/// # Errors
///
/// The read fails, or the file ends before `len` bytes; what was read stays in `out`.
fn read_exact_at_into(file: &File, out: &mut BytesMut, len: usize, offset: u64) -> io::Result<()> {
    out.reserve(len);
    let mut done = 0;
    while done < len {
        let room = &mut out.spare_capacity_mut()[..len - done];
        let read = match rustix::io::pread(file, room, offset + done as u64) {
            Ok((filled, _)) => filled.len(),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than the lines counted in it",
            ));
        }
        // SAFETY: `pread` initialised the first `read` bytes of the spare room.
        unsafe { out.set_len(out.len() + read) };
        done += read;
    }
    Ok(())
}

/// Moves the cursor's scan position forward to its next line, reading and counting the
/// lines between (after `read_from` started at an index entry before the line asked for).
fn skip_to_next(file: &File, cursor: &mut Cursor, until: (u64, u64)) -> io::Result<()> {
    let (until_line, until_offset) = until;
    let mut chunk = 256 * 1024;
    let mut buf = Vec::new();
    while cursor.scan_line < cursor.next.min(until_line) {
        let available = (until_offset - cursor.scan_offset) as usize;
        let want = chunk.min(available);
        // A buffer of this call's own: a stream holds none between pulls.
        buf.resize(want, 0);
        file.read_exact_at(&mut buf, cursor.scan_offset)?;
        let mut skipped = 0;
        for newline in memchr::memchr_iter(b'\n', &buf) {
            cursor.scan_line += 1;
            skipped = newline + 1;
            if cursor.scan_line == cursor.next {
                break;
            }
        }
        if skipped == 0 {
            if want == available {
                // Only the last line, without a newline, is left.
                cursor.scan_line += 1;
                skipped = want;
            } else if want > MAX_MESSAGE + 2 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a line longer than the message limit",
                ));
            } else {
                chunk *= 2;
            }
        }
        cursor.scan_offset += skipped as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(content: &[u8]) -> DiskScan {
        let dir = std::env::temp_dir().join(format!("tcp-file-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(format!("f{}", content.len()));
        std::fs::write(&path, content).expect("write");
        let scan = scan(&mut File::open(&path).expect("open")).expect("scan");
        let _ = std::fs::remove_file(&path);
        scan
    }

    #[test]
    fn a_torn_last_line_is_cut_with_its_index_entry() {
        let mut whole = Vec::new();
        for i in 0..INDEX_EVERY {
            whole.extend_from_slice(format!("{i}\n").as_bytes());
        }
        let mut torn = whole.clone();
        torn.extend_from_slice(b"torn");

        let mut scan = scan_of(&torn);
        assert_eq!((scan.lines, scan.terminated), (INDEX_EVERY + 1, false));
        assert_eq!(scan.index, [0, whole.len() as u64]);
        assert_eq!(scan.cut_torn_line(), 4);
        assert_eq!((scan.lines, scan.bytes), (INDEX_EVERY, whole.len() as u64));
        assert_eq!(scan.index, [0], "the entry of the cut line is gone");

        let mut scan = scan_of(&whole);
        assert_eq!(scan.cut_torn_line(), 0);
        assert_eq!(scan.index, [0]);

        let mut scan = scan_of(b"torn");
        assert_eq!(scan.cut_torn_line(), 4);
        assert_eq!((scan.lines, scan.bytes), (0, 0));
        assert!(scan.index.is_empty(), "an empty file has no entry");
    }

    #[test]
    fn whole_lines_stop_at_the_last_newline_or_the_limit() {
        let chunk = b"a\nbb\nccc\ndd";
        assert_eq!(whole_lines(chunk, 10), (3, 9));
        assert_eq!(whole_lines(chunk, 3), (3, 9));
        assert_eq!(whole_lines(chunk, 2), (2, 5));
        assert_eq!(whole_lines(chunk, 1), (1, 2));
        assert_eq!(whole_lines(b"no newline", 5), (0, 0));
        assert_eq!(whole_lines(b"\n\n", 5), (2, 2));
    }

    #[test]
    fn reads_into_spare_room_append_exactly_and_a_short_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("tcp-file-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        let file = File::open(&path).expect("open");
        let mut out = BytesMut::from(&b"head:"[..]);
        read_exact_at_into(&file, &mut out, 4, 3).expect("read");
        assert_eq!(&out[..], b"head:3456");
        let err = read_exact_at_into(&file, &mut out, 8, 5).expect_err("past the end");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(&out[..], b"head:345656789", "what was read stays");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
