//! The disk side of a log: counting an existing file, the thread that appends, and the
//! catch-up reads of readers behind the in-memory window.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::protocol::{MAX_MESSAGE, MessagesEncoder};
use crate::server::log::{Cursor, DiskWait, INDEX_EVERY, Log, Status};
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
            if scan.lines % INDEX_EVERY == 0 {
                scan.index.push(scan.bytes + newline as u64 + 1);
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
/// and drained. Runs on a thread of its own.
pub(crate) fn run_disk_thread(log: Arc<Log>, mut file: File, sync: SyncPolicy) {
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
                    if full || gathered || state.flush_requested || state.status == Status::Closed {
                        break;
                    }
                    // A few bytes: wait a moment for more, so that a busy writer costs one
                    // wake-up per batch and not one per message.
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
                if state.status == Status::Closed || state.disk_error.is_some() {
                    if unsynced && sync != SyncPolicy::Never && state.disk_error.is_none() {
                        drop(state);
                        let _ = file.sync_data();
                        state = log.lock();
                        state.synced_lines = state.disk_lines;
                    }
                    if state.disk_error.is_none() {
                        // All on disk: a closed file is served from there.
                        state.window.clear();
                        state.window_bytes = 0;
                    }
                    drop(state);
                    log.disk_progress.notify_waiters();
                    log.wake_readers();
                    return;
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
                        match synced {
                            Ok(()) => state.synced_lines = state.disk_lines,
                            Err(e) => state.disk_error = Some(Arc::new(e)),
                        }
                    }
                }
            }
            state.flush_requested = false;
            let lines = state.pending_lines;
            state.pending_lines = 0;
            // Swap buffers: the writer appends to the one written last time, which keeps
            // its capacity, so neither side allocates.
            std::mem::swap(&mut state.pending, &mut batch);
            lines
        };
        let mut result = file.write_all(&batch);
        batch.clear();
        if result.is_ok() && sync == SyncPolicy::Always {
            result = file.sync_data();
        }
        unsynced = true;
        {
            let mut state = log.lock();
            match result {
                Ok(()) => {
                    state.disk_lines += lines;
                    if sync == SyncPolicy::Always {
                        state.synced_lines = state.disk_lines;
                        unsynced = false;
                    }
                    state.evict();
                }
                Err(e) => {
                    tracing::error!(file = %log.name, path = %log.path.display(), error = %e, "disk write failed");
                    state.disk_error = Some(Arc::new(e));
                }
            }
        }
        log.disk_progress.notify_waiters();
    }
}

/// Encodes messages read back from disk, from the cursor up to (not including) line
/// `until.0`, which starts at byte `until.1`. Returns how many were encoded.
pub(crate) fn pull_disk(
    log: &Log,
    cursor: &mut Cursor,
    until: (u64, u64),
    stream: u32,
    out: &mut BytesMut,
    max_messages: u32,
    max_bytes: usize,
) -> io::Result<u32> {
    let (until_line, until_offset) = until;
    if cursor.file.is_none() {
        cursor.file = Some(File::open(&log.path)?);
    }
    let Some(file) = cursor.file.as_ref() else {
        return Ok(0);
    };
    let buf = &mut cursor.disk_buf;
    let frame_start = out.len();
    let mut batch = MessagesEncoder::start(out, stream, cursor.next);
    let mut sent = 0u32;
    let mut bytes = 0usize;
    let mut chunk = 256 * 1024;
    while cursor.scan_line < until_line && sent < max_messages && bytes < max_bytes {
        let want = chunk.min((until_offset - cursor.scan_offset) as usize);
        buf.resize(want, 0);
        file.read_exact_at(buf, cursor.scan_offset)?;
        let mut pos = 0;
        while cursor.scan_line < until_line && sent < max_messages && bytes < max_bytes {
            let rest = &buf[pos..];
            let (line, consumed) = match memchr::memchr(b'\n', rest) {
                Some(nl) => (&rest[..nl], nl + 1),
                // The file's last line, without a newline.
                None if cursor.scan_offset + want as u64 == until_offset && !rest.is_empty() => {
                    (rest, rest.len())
                }
                None => break,
            };
            let line = match log.ending {
                LineEnding::CrLf => line.strip_suffix(b"\r").unwrap_or(line),
                LineEnding::Lf => line,
            };
            if cursor.scan_line >= cursor.next {
                batch.push(out, line);
                bytes += line.len() + 4;
                sent += 1;
                cursor.next += 1;
            }
            cursor.scan_line += 1;
            cursor.scan_offset += consumed as u64;
            pos += consumed;
        }
        if pos == 0 {
            // A line longer than the chunk: read more at once.
            if chunk > MAX_MESSAGE + 2 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a line longer than the message limit",
                ));
            }
            chunk *= 2;
        }
    }
    if sent == 0 {
        out.truncate(frame_start);
    } else {
        batch.finish(out);
    }
    Ok(sent)
}
