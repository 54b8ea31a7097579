//! `FileHandle`: the writer's side of one served file.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::file_error::FileError;
use crate::protocol::MAX_MESSAGE;
use crate::server::Registry;
use crate::server::log::{Log, LogState};
use crate::server::options::SyncPolicy;

/// The writer's handle on a file opened with [`Server::open_file`](crate::Server::open_file).
///
/// Each message is one line: it may end with one `\n` (or `\r\n`) and contains no other;
/// the line ending is added on disk when missing, and readers receive messages without it.
/// Writes go to memory and to the file's disk thread at once; readers get them as soon as
/// they are written to the file (or synced, for a [`durable`](crate::FileOptions::durable)
/// file), so a line a reader was told is never taken back by a crash;
/// [`flushed`](FileHandle::flushed) says when they are on disk. A write that completes a
/// 128 KiB batch wakes the disk thread, which writes it on a core of its own while the
/// writer goes on; if that thread has not taken it by the time a second batch is complete
/// (on a busy machine it may not be scheduled for milliseconds), the write writes both
/// itself (one `writev(2)` into the page cache).
///
/// Writing never waits for readers. It waits for the disk only when more than 8 MiB are
/// not written yet (lines are kept in memory until they are on disk, so a disk that falls
/// far behind would otherwise grow memory without limit): then `write_message` blocks the
/// calling thread until the write under way ends, and writes them itself.
///
/// A disk failure reaches writers, `flushed` and, after the lines that reached the file,
/// readers; lines accepted but never written are never sent.
///
/// Dropping the handle closes the file as [`close`](FileHandle::close) does, without
/// waiting.
pub struct FileHandle {
    log: Arc<Log>,
    registry: Arc<Registry>,
}

impl FileHandle {
    pub(crate) fn new(log: Arc<Log>, registry: Arc<Registry>) -> Self {
        FileHandle { log, registry }
    }

    /// The name clients read the file by.
    pub fn name(&self) -> &str {
        &self.log.name
    }

    /// How many messages the file holds (those there before an `append` included).
    pub fn lines(&self) -> u64 {
        self.log.lock().lines()
    }

    /// Writes a copy of `message`.
    ///
    /// # Errors
    ///
    /// A [`FileError`] that [`is_invalid_message`](FileError::is_invalid_message) for a
    /// message with an inner newline, or larger than [`MAX_MESSAGE`](crate::MAX_MESSAGE)
    /// (nothing is written); [`is_closed`](FileError::is_closed) after `close`;
    /// [`is_disk`](FileError::is_disk) once a disk write failed.
    pub fn write_message(&self, message: &[u8]) -> Result<(), FileError> {
        self.log.append_copy(check(message)?)
    }

    /// Writes `message`; one of 64 KiB or more is kept as it is, not copied, and shared by
    /// its readers (a shorter one is copied with the lines around it). Errors as
    /// [`write_message`](FileHandle::write_message).
    pub fn schedule_message(&self, message: Bytes) -> Result<(), FileError> {
        let len = check(&message)?.len();
        self.log.append(message.slice(..len))
    }

    /// Completes once every message written before the call is on disk (and synced, under
    /// [`SyncPolicy::Always`]).
    ///
    /// # Errors
    ///
    /// A [`FileError`] that [`is_disk`](FileError::is_disk) when a disk write or sync
    /// failed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn flushed(&self) -> Result<(), FileError> {
        let target = {
            let mut state = self.log.lock();
            let target = state.request_flush();
            self.log.wake_disk(state, true);
            target
        };
        let always = self.log.sync == SyncPolicy::Always;
        self.disk_reaches(
            |state| {
                let done = if always {
                    state.synced_lines()
                } else {
                    state.disk_lines()
                };
                done >= target
            },
            false,
        )
        .await
    }

    /// Waits until `done` holds of the log, and returns the disk's error if it failed. A
    /// failure ends the wait at once, unless `past_failure`.
    async fn disk_reaches(
        &self,
        done: impl Fn(&LogState) -> bool,
        past_failure: bool,
    ) -> Result<(), FileError> {
        loop {
            let progress = self.log.disk_progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            {
                let state = self.log.lock();
                let done = done(&state);
                match state.disk_error() {
                    Some(e) if done || !past_failure => {
                        return Err(FileError::disk(&self.log.path, e.clone()));
                    }
                    None if done => return Ok(()),
                    _ => {}
                }
            }
            progress.await;
        }
    }

    /// Closes the file and stops serving its name: later writes are errors, readers
    /// receive everything written before and then their stream ends. Completes once
    /// everything is on disk.
    ///
    /// # Errors
    ///
    /// A [`FileError`] that [`is_disk`](FileError::is_disk) when the last writes failed.
    pub async fn close(self) -> Result<(), FileError> {
        self.close_with(true).await
    }

    /// As [`close`](FileHandle::close); with `stop_serving` false the name stays, and the
    /// file is then served as a static file (from the first line to the last, then the
    /// end).
    ///
    /// # Errors
    ///
    /// As [`close`](FileHandle::close).
    pub async fn close_with(self, stop_serving: bool) -> Result<(), FileError> {
        self.mark_closed(stop_serving);
        self.file_closed().await
    }

    /// Completes once the disk thread has written everything and closed the file, which
    /// frees the path for another writer. Call after `mark_closed`.
    async fn file_closed(&self) -> Result<(), FileError> {
        self.disk_reaches(LogState::file_closed, true).await
    }

    /// Closes the file, stops serving its name and deletes it (Async's `unlink`): every
    /// stream of it ends after what it was sent, new requests get a file-not-found error,
    /// and the path is gone once this completes.
    ///
    /// # Errors
    ///
    /// A [`FileError`] that [`is_io`](FileError::is_io) when the file cannot be deleted;
    /// else [`is_disk`](FileError::is_disk) when the last writes failed (the file is
    /// deleted all the same).
    pub async fn unlink(self) -> Result<(), FileError> {
        self.log.lock().unlink();
        self.mark_closed(true);
        let closed = self.file_closed().await;
        std::fs::remove_file(&self.log.path).map_err(|e| FileError::io(Some(&self.log.path), e))?;
        tracing::debug!(name = %self.log.name, path = %self.log.path.display(), "file unlinked");
        closed
    }

    /// Removes the name only: new requests get a file-not-found error, streams already open
    /// go on, and writes go on too.
    pub fn stop_serving(&self) {
        self.registry.remove(&self.log);
    }

    fn mark_closed(&self, stop_serving: bool) {
        {
            let mut state = self.log.lock();
            if !state.close() {
                return;
            }
            self.log.settle();
            self.log.wake_disk(state, true);
        }
        if stop_serving {
            self.registry.remove(&self.log);
        }
        self.log.wake_readers();
    }
}

/// Checks that a message is one line of acceptable size, and returns it without its line
/// ending.
fn check(message: &[u8]) -> Result<&[u8], FileError> {
    let line = message
        .strip_suffix(b"\n")
        .map_or(message, |m| m.strip_suffix(b"\r").unwrap_or(m));
    if memchr::memchr(b'\n', line).is_some() {
        return Err(FileError::invalid_message(
            "a message is one line: it contains a newline before its end",
        ));
    }
    if line.len() > MAX_MESSAGE {
        return Err(FileError::invalid_message(
            "a message is larger than the 16 MiB limit",
        ));
    }
    Ok(line)
}

impl Drop for FileHandle {
    fn drop(&mut self) {
        self.mark_closed(true);
    }
}

impl fmt::Debug for FileHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.log.lock();
        f.debug_struct("FileHandle")
            .field("name", &self.log.name)
            .field("path", &self.log.path)
            .field("lines", &state.lines())
            .field("on_disk", &state.disk_lines())
            .field("status", &state.status())
            .finish()
    }
}
