//! The disk thread of an open file: it appends what writers hand over, syncs as the
//! policy says, and tells readers when lines reached the file.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::server::log::{DiskWait, Log, LogState, Status};
use crate::server::options::SyncPolicy;

/// The disk thread writes at once when this much is pending...
pub(crate) const DISK_BATCH: usize = 64 * 1024;
/// ...and otherwise waits this long for more, unless a `flushed` or a close is waiting.
const GATHER: Duration = Duration::from_millis(1);

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
