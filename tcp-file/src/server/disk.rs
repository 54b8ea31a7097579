//! The disk thread of an open file: it appends what writers hand over (see `appender.rs`
//! for who else writes), syncs as the policy says, and closes the file once it is closed
//! and drained.

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use crate::server::appender::{self, DISK_BATCH};
use crate::server::log::{DiskWait, Log, LogState, Status};
use crate::server::options::SyncPolicy;

/// The disk thread waits this long for more bytes when fewer than a batch are pending and
/// nobody waits for them.
const GATHER: Duration = Duration::from_millis(1);
/// A writer whose last full batch was written this recently streams (see
/// `DiskView::streams`).
const STREAMING: Duration = Duration::from_millis(10);

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
    /// Readers keep up with the writer and wait for its lines to reach the file (see
    /// `LogState::reader_waits`); readers behind it read lines already there.
    reader_waits: bool,
    /// Readers write the lines they wait for themselves once the disk thread is late (not
    /// for a durable file, nor when each write is synced: see `Log::readers_write`).
    readers_write: bool,
    /// The thread waited for more bytes once already.
    gathered: bool,
    /// The writer wrote full batches itself while this thread gathered (it was late). It
    /// goes on doing so, and this thread writes only what is left once it pauses, rather
    /// than contend with it for every few lines.
    writer_wrote: bool,
    /// A full batch was written in the last [`STREAMING`]: the writer streams, and
    /// readers that wait get their lines with the next batch, rather than have this
    /// thread woken for every few lines (which, on a busy machine, takes the writer's core
    /// at each wake).
    streams: bool,
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
    /// Wait [`GATHER`] for more bytes: a few are pending, and nobody waits for them yet;
    /// or behind a writer that streams (`streaming`: readers that wait get its batches,
    /// and write the lines themselves if they wait too long).
    Gather { streaming: bool },
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
    let sync_due = match view.sync {
        SyncPolicy::Interval(every) => view.unsynced && view.since_sync >= every,
        _ => false,
    };
    if view.pending > 0 && !view.failed {
        // Readers wait: write at once (they write themselves only when this thread is
        // late), unless the writer streams and they can. Otherwise gather (a full batch
        // wakes this thread), and keep gathering while the writer writes full batches
        // itself, until a sync is due.
        let streaming = view.streams && view.readers_write;
        let now = view.pending >= DISK_BATCH
            || view.flush_requested
            || view.closed
            || sync_due
            || (view.reader_waits && !streaming)
            || (view.gathered && !view.writer_wrote);
        return if now {
            Step::Write
        } else {
            Step::Gather { streaming }
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
        SyncPolicy::Interval(_) if sync_due => Step::Sync,
        SyncPolicy::Interval(every) if view.unsynced => Step::Wait(Some(every - view.since_sync)),
        _ => Step::Wait(None),
    }
}

/// Appends what the log hands over, syncing as the policy says, until the log is closed
/// and drained; then closes the file. Runs on a thread of its own.
///
/// Its lock discipline: it decides with [`next_step`] under the log's lock, and writes
/// and syncs holding the write end ([`Log::appender`]) only, taken with the log's lock
/// let go.
pub(crate) fn run_disk_thread(log: Arc<Log>) {
    let sync = log.sync;
    let mut last_sync = Instant::now();
    let mut batches = FullBatches::default();
    loop {
        let mut state = log.lock();
        let mut gathered = false;
        let mut writer_wrote = false;
        loop {
            batches.look(&state);
            let view = DiskView {
                pending: state.pending_len(),
                failed: state.disk_error().is_some(),
                closed: state.status() == Status::Closed,
                flush_requested: state.flush_requested(),
                reader_waits: state.reader_waits(),
                readers_write: log.readers_may_write(),
                gathered,
                writer_wrote,
                streams: batches.streams(),
                unsynced: state.unsynced(),
                sync,
                since_sync: last_sync.elapsed(),
            };
            match next_step(&view) {
                Step::Write => break,
                Step::Gather { streaming } => {
                    let waits_for = if streaming {
                        DiskWait::Streaming
                    } else {
                        DiskWait::Gathering
                    };
                    (state, writer_wrote) = batches.wait(&log, state, waits_for, Some(GATHER));
                    gathered = true;
                }
                Step::Sync => {
                    drop(state);
                    if let Some(appender) = log.appender().as_ref() {
                        appender.sync(&log);
                    }
                    last_sync = Instant::now();
                    state = log.lock();
                }
                Step::Finish { sync } => {
                    drop(state);
                    let appender = log.appender().take();
                    if let Some(appender) = appender.as_ref().filter(|_| sync) {
                        appender.sync(&log);
                    }
                    // Closed (and unlocked) before anyone hears of it: once `close`
                    // returns, the path can be opened for writing again.
                    drop(appender);
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
                Step::Wait(limit) => {
                    (state, _) = batches.wait(&log, state, DiskWait::Idle, limit);
                    writer_wrote = false;
                }
            }
        }
        drop(state);
        let sync_due = match sync {
            SyncPolicy::Never => false,
            SyncPolicy::Always => true,
            // Also under a writer that never lets this thread go idle.
            SyncPolicy::Interval(every) => last_sync.elapsed() >= every,
        };
        // A writer may have written the batch meanwhile: then there is nothing to write.
        let wrote = appender::write_pending(&log, log.appender(), sync_due);
        if wrote && sync_due {
            last_sync = Instant::now();
        }
    }
}

/// When the disk thread last saw a full batch written (by itself, or by the writer).
#[derive(Debug, Default)]
struct FullBatches {
    /// The log's count of full batches when last looked at.
    seen: u64,
    last_seen: Option<Instant>,
}

impl FullBatches {
    /// Looks at the log's count; says whether full batches were written since last time.
    fn look(&mut self, state: &LogState) -> bool {
        let count = state.full_batches();
        let new = count != self.seen;
        if new {
            self.seen = count;
            self.last_seen = Some(Instant::now());
        }
        new
    }

    /// The writer streams: a full batch was written in the last [`STREAMING`]. Call after
    /// [`look`](FullBatches::look).
    fn streams(&self) -> bool {
        self.last_seen.is_some_and(|at| at.elapsed() < STREAMING)
    }

    /// As [`wait`]; also says whether a full batch was written meanwhile (by the writer,
    /// or a reader: not by this thread, which waited). Call after
    /// [`look`](FullBatches::look), under the same lock.
    fn wait<'a>(
        &mut self,
        log: &'a Log,
        state: MutexGuard<'a, LogState>,
        waits_for: DiskWait,
        limit: Option<Duration>,
    ) -> (MutexGuard<'a, LogState>, bool) {
        let state = wait(log, state, waits_for, limit);
        let wrote = self.look(&state);
        (state, wrote)
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
            reader_waits: false,
            readers_write: true,
            gathered: false,
            writer_wrote: false,
            streams: false,
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
            (
                "a few bytes, nobody waits",
                few,
                Step::Gather { streaming: false },
            ),
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
                    reader_waits: true,
                    ..few
                },
                Step::Write,
            ),
            (
                "a few bytes, gathered once while the writer wrote batches",
                DiskView {
                    gathered: true,
                    writer_wrote: true,
                    streams: true,
                    ..few
                },
                Step::Gather { streaming: true },
            ),
            (
                "a few bytes of a durable file, gathered once while the writer wrote batches",
                DiskView {
                    gathered: true,
                    writer_wrote: true,
                    streams: true,
                    readers_write: false,
                    ..few
                },
                Step::Gather { streaming: false },
            ),
            (
                "a few bytes, a reader waits, the writer streams",
                DiskView {
                    reader_waits: true,
                    streams: true,
                    ..few
                },
                Step::Gather { streaming: true },
            ),
            (
                "a few bytes, a reader waits, gathered once while the writer streamed but wrote no batch",
                DiskView {
                    reader_waits: true,
                    gathered: true,
                    streams: true,
                    ..few
                },
                Step::Write,
            ),
            (
                "a few bytes, a reader of a durable file waits, the writer streams",
                DiskView {
                    reader_waits: true,
                    readers_write: false,
                    streams: true,
                    ..few
                },
                Step::Write,
            ),
            (
                "a few bytes behind a writer that streams, the interval's sync due",
                DiskView {
                    gathered: true,
                    writer_wrote: true,
                    streams: true,
                    unsynced: true,
                    sync: interval,
                    since_sync: second,
                    ..few
                },
                Step::Write,
            ),
            (
                "a full batch while the writer writes batches",
                DiskView {
                    pending: DISK_BATCH,
                    gathered: true,
                    writer_wrote: true,
                    ..idle()
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
