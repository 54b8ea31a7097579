//! The disk thread of an open file: it appends what writers hand over, syncs as the
//! policy says, and tells readers when lines reached the file.

use std::fs::File;
use std::io::{self, Write};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::server::log::{DiskWait, Log, LogState, Status};
use crate::server::options::SyncPolicy;

/// The disk thread writes at once when this much is pending...
pub(crate) const DISK_BATCH: usize = 64 * 1024;
/// ...and otherwise waits this long for more, unless a `flushed` or a close is waiting.
const GATHER: Duration = Duration::from_millis(1);

/// What the disk thread sees of its log when it decides what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DiskView {
    /// Bytes waiting for the disk.
    pending: usize,
    /// A write or sync failed: nothing more is written.
    failed: bool,
    closed: bool,
    /// A `flushed` or a close waits.
    flush_requested: bool,
    /// Someone reads the file: readers wait for lines to reach it.
    readers: bool,
    /// The thread waited for more bytes once already.
    gathered: bool,
    /// Lines were written since the last sync.
    unsynced: bool,
    sync: SyncPolicy,
    since_sync: Duration,
}

/// What the disk thread does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Write what is pending (and sync after it, if the policy says so).
    Write,
    /// Wait this long for more bytes: a few are pending, and nobody waits for them.
    Gather(Duration),
    /// Sync what was written: the interval is over.
    Sync,
    /// The file is closed and drained: sync first if `sync`, then close it and end.
    Finish { sync: bool },
    /// Failed: keep the file (and its lock) and wait for the close.
    Hold,
    /// Nothing to do: wait for a writer, at most this long (an interval's sync).
    Wait(Option<Duration>),
}

/// The disk thread's decision, a pure function of what it sees.
fn next_step(view: &DiskView) -> Step {
    if view.pending > 0 && !view.failed {
        let now = view.pending >= DISK_BATCH
            || view.gathered
            || view.readers
            || view.flush_requested
            || view.closed;
        return if now {
            Step::Write
        } else {
            Step::Gather(GATHER)
        };
    }
    if view.closed {
        let sync = view.unsynced && view.sync != SyncPolicy::Never && !view.failed;
        return Step::Finish { sync };
    }
    if view.failed {
        return Step::Hold;
    }
    match view.sync {
        SyncPolicy::Interval(every) if view.unsynced => match every.checked_sub(view.since_sync) {
            Some(left) if !left.is_zero() => Step::Wait(Some(left)),
            _ => Step::Sync,
        },
        _ => Step::Wait(None),
    }
}

/// Appends what the log hands over, syncing as the policy says, until the log is closed
/// and drained. Runs on a thread of its own. `on_disk` is the file's length at the start.
///
/// Its lock discipline: it takes only the log's lock, decides with [`next_step`] under it,
/// and never holds it across a write or a sync.
pub(crate) fn run_disk_thread(log: Arc<Log>, mut file: File, sync: SyncPolicy, mut on_disk: u64) {
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    let mut batch = BytesMut::new();
    loop {
        let mut state = log.lock();
        let mut gathered = false;
        let lines = loop {
            let view = DiskView {
                pending: state.pending_len(),
                failed: state.disk_error().is_some(),
                closed: state.status() == Status::Closed,
                flush_requested: state.flush_requested(),
                readers: state.has_readers(),
                gathered,
                unsynced,
                sync,
                since_sync: last_sync.elapsed(),
            };
            match next_step(&view) {
                Step::Write => break state.take_pending(&mut batch),
                Step::Gather(limit) => {
                    state = wait(&log, state, DiskWait::Gathering, Some(limit));
                    gathered = true;
                }
                Step::Sync => {
                    drop(state);
                    let synced = file.sync_data();
                    last_sync = Instant::now();
                    unsynced = false;
                    state = log.lock();
                    record_sync(&log, &mut state, synced);
                }
                Step::Finish { sync } => {
                    if sync {
                        drop(state);
                        let synced = file.sync_data();
                        state = log.lock();
                        record_sync(&log, &mut state, synced);
                    }
                    drop(state);
                    // Closed (and unlocked) before anyone hears of it: once `close`
                    // returns, the path can be opened for writing again.
                    drop(file);
                    log.lock().finished();
                    log.disk_progress.notify_waiters();
                    log.wake_readers();
                    return;
                }
                Step::Hold => {
                    drop(state);
                    log.disk_progress.notify_waiters();
                    log.wake_readers();
                    state = log.lock();
                    // The close may have come while the lock was let go.
                    if state.status() != Status::Closed {
                        state = wait(&log, state, DiskWait::Idle, None);
                    }
                }
                Step::Wait(limit) => state = wait(&log, state, DiskWait::Idle, limit),
            }
        };
        drop(state);
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
            log.disk_room.notify_all();
            match result {
                Ok(()) => {
                    state.write_ended(lines, sync_due, None);
                    unsynced &= !sync_due;
                    log.disk_advanced(&state);
                    // No eviction here: the writer evicts on its next message, so memory is
                    // freed by the thread that allocated it.
                }
                Err(e) => {
                    tracing::error!(file = %log.name, path = %log.path.display(), error = %e, "disk write failed");
                    state.write_ended(lines, sync_due, Some(e));
                    log.settle();
                }
            }
        }
        log.disk_progress.notify_waiters();
    }
}

/// Waits on the log's disk signal, at most `limit`, saying what for (writers wake the
/// thread only when that helps).
fn wait<'a>(
    log: &'a Log,
    mut state: MutexGuard<'a, LogState>,
    waits_for: DiskWait,
    limit: Option<Duration>,
) -> MutexGuard<'a, LogState> {
    state.set_disk_wait(waits_for);
    let mut state = match limit {
        Some(limit) => {
            log.disk_signal
                .wait_timeout(state, limit)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0
        }
        None => log
            .disk_signal
            .wait(state)
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    };
    state.set_disk_wait(DiskWait::Busy);
    state
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
            state.sync_ended(None);
            log.disk_advanced(state);
        }
        Err(e) => {
            tracing::error!(file = %log.name, error = %e, "disk sync failed");
            state.sync_ended(Some(e));
            log.settle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log with nothing pending, open, read by nobody, never written.
    fn idle() -> DiskView {
        DiskView {
            pending: 0,
            failed: false,
            closed: false,
            flush_requested: false,
            readers: false,
            gathered: false,
            unsynced: false,
            sync: SyncPolicy::Never,
            since_sync: Duration::ZERO,
        }
    }

    #[test]
    fn the_disk_thread_decides_from_what_it_sees() {
        let second = Duration::from_secs(1);
        let few = DiskView {
            pending: 100,
            ..idle()
        };
        let interval = SyncPolicy::Interval(second);
        let table = [
            ("nothing to do", idle(), Step::Wait(None)),
            ("a few bytes, nobody waits", few, Step::Gather(GATHER)),
            (
                "a few bytes, gathered once",
                DiskView {
                    gathered: true,
                    ..few
                },
                Step::Write,
            ),
            (
                "a few bytes, a reader waits",
                DiskView {
                    readers: true,
                    ..few
                },
                Step::Write,
            ),
            (
                "a few bytes, a flush waits",
                DiskView {
                    flush_requested: true,
                    ..few
                },
                Step::Write,
            ),
            (
                "a few bytes, closing",
                DiskView {
                    closed: true,
                    ..few
                },
                Step::Write,
            ),
            (
                "a full batch",
                DiskView {
                    pending: DISK_BATCH,
                    ..idle()
                },
                Step::Write,
            ),
            (
                "pending but failed",
                DiskView {
                    failed: true,
                    ..few
                },
                Step::Hold,
            ),
            (
                "failed",
                DiskView {
                    failed: true,
                    ..idle()
                },
                Step::Hold,
            ),
            (
                "failed and closed",
                DiskView {
                    failed: true,
                    closed: true,
                    unsynced: true,
                    sync: SyncPolicy::Always,
                    ..idle()
                },
                Step::Finish { sync: false },
            ),
            (
                "closed, all synced",
                DiskView {
                    closed: true,
                    sync: SyncPolicy::Always,
                    ..idle()
                },
                Step::Finish { sync: false },
            ),
            (
                "closed, unsynced, never syncs",
                DiskView {
                    closed: true,
                    unsynced: true,
                    ..idle()
                },
                Step::Finish { sync: false },
            ),
            (
                "closed, unsynced",
                DiskView {
                    closed: true,
                    unsynced: true,
                    sync: interval,
                    ..idle()
                },
                Step::Finish { sync: true },
            ),
            (
                "interval, synced",
                DiskView {
                    sync: interval,
                    ..idle()
                },
                Step::Wait(None),
            ),
            (
                "interval, unsynced, early",
                DiskView {
                    sync: interval,
                    unsynced: true,
                    since_sync: second / 4,
                    ..idle()
                },
                Step::Wait(Some(second * 3 / 4)),
            ),
            (
                "interval, unsynced, due",
                DiskView {
                    sync: interval,
                    unsynced: true,
                    since_sync: second,
                    ..idle()
                },
                Step::Sync,
            ),
            (
                "interval, unsynced, late",
                DiskView {
                    sync: interval,
                    unsynced: true,
                    since_sync: second * 2,
                    ..idle()
                },
                Step::Sync,
            ),
        ];
        for (case, view, step) in table {
            assert_eq!(next_step(&view), step, "{case}: {view:?}");
        }
    }
}
