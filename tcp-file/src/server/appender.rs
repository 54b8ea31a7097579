//! The write end of an open file: whoever holds it writes next, so batches reach the file
//! in the order they were taken. Three kinds of callers write, each for its own reason:
//!
//! - the disk thread writes what is pending (at once when a full batch is or readers
//!   wait, else after gathering a little), and alone syncs and closes the file;
//! - a reader's sender that caught up with the file writes the lines it waits for, on its
//!   own task, once they have waited 100 µs for the disk thread: on a busy machine that
//!   thread may not be scheduled for milliseconds;
//! - a writer writes what is pending when two batches are (the disk thread, woken at the
//!   first, is late) and nobody writes, and one that is more than 8 MiB ahead of the
//!   disk waits its turn and writes.
//!
//! Each of these writes is one `writev(2)` of the window's own bytes into the page cache.
//! Readers and writers only ever try the lock, except a writer far ahead of the disk,
//! which is meant to wait.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::sync::MutexGuard;

use bytes::Bytes;

use crate::server::log::Log;

/// The disk thread writes at once when this much is pending (a writer wakes it for it).
pub(crate) const DISK_BATCH: usize = 128 * 1024;

/// Writes what `log` has pending through its write end `appender` (see
/// [`Appender::write_pending`]), if the file is still open for writing. Returns whether it
/// wrote.
pub(crate) fn write_pending(
    log: &Log,
    mut appender: MutexGuard<'_, Option<Appender>>,
    sync: bool,
) -> bool {
    appender
        .as_mut()
        .is_some_and(|appender| appender.write_pending(log, sync))
}

/// The file opened for appending, and what this process wrote to it.
#[derive(Debug)]
pub(crate) struct Appender {
    file: File,
    /// The file's length as this process left it.
    on_disk: u64,
    /// The runs of lines being written, shared with the log's window.
    batch: Vec<Bytes>,
}

impl Appender {
    /// The write end of `file`, whose length is `on_disk`.
    pub(crate) fn new(file: File, on_disk: u64) -> Self {
        Appender {
            file,
            on_disk,
            batch: Vec::new(),
        }
    }

    /// Writes what `log` has pending, if anything (and syncs after it when `sync`): takes
    /// it under the log's lock, writes with the lock let go, then records the outcome:
    /// readers may have the lines, or the file has failed. Returns whether it wrote.
    pub(crate) fn write_pending(&mut self, log: &Log, sync: bool) -> bool {
        let lines = {
            let mut state = log.lock();
            if state.pending_len() == 0 || state.disk_error().is_some() {
                return false;
            }
            state.take_pending(&mut self.batch)
        };
        let mut result = self
            .check_length()
            .and_then(|()| write_all(&mut self.file, &self.batch));
        if result.is_ok() {
            self.on_disk += self.batch.iter().map(|run| run.len() as u64).sum::<u64>();
        }
        self.batch.clear();
        if result.is_ok() && sync {
            result = self.file.sync_data();
        }
        log.write_ended(lines, sync, result);
        true
    }

    /// Syncs what was written (`fdatasync`) and records it.
    pub(crate) fn sync(&self, log: &Log) {
        log.sync_ended(self.file.sync_data());
    }

    /// Checks that the file is as long as this process left it (one `fstat(2)`): a file
    /// that another program wrote to or cut would have its lines counted wrong from here on.
    fn check_length(&self) -> io::Result<()> {
        let found = self.file.metadata()?.len();
        if found == self.on_disk {
            return Ok(());
        }
        Err(io::Error::other(format!(
            "the file was changed by another program: {} bytes expected, {found} found",
            self.on_disk
        )))
    }
}

/// Writes every byte of `runs`, in order, with as few `writev(2)` calls as the kernel takes.
fn write_all(file: &mut File, runs: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = runs.iter().map(|run| IoSlice::new(run)).collect();
    let mut left = &mut slices[..];
    while !left.is_empty() {
        match file.write_vectored(left) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut left, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
