//! `debug_snapshot`: what the server holds, as a value that serializes.

use serde::Serialize;

/// Every file and every connection of a [`Server`](crate::Server), at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The files whose names are served, by name.
    pub files: Vec<FileSnapshot>,
    /// The open connections, of binary and of text clients.
    pub connections: Vec<ConnectionSnapshot>,
    /// The limits on every connection (durations in seconds).
    pub limits: crate::Limits,
}

/// One served file.
#[derive(Debug, Clone, Serialize)]
pub struct FileSnapshot {
    /// The name clients read it by.
    pub name: String,
    /// Where it is on disk.
    pub path: String,
    /// Messages in the file.
    pub lines: u64,
    /// Bytes in the file, line endings included.
    pub bytes: u64,
    /// Messages on disk.
    pub lines_on_disk: u64,
    /// Messages synced to disk by the [sync policy](crate::SyncPolicy) (`fdatasync`), so
    /// they survive a power cut; under `Never`, those the file had when it was opened.
    pub lines_synced: u64,
    /// Messages kept in memory for readers that are not far behind.
    pub lines_in_memory: u64,
    /// `"open"` (being written) or `"closed"` (served as it is).
    pub state: &'static str,
    /// The disk error that stopped writes, if any.
    pub disk_error: Option<String>,
    /// The streams reading it.
    pub readers: Vec<ReaderSnapshot>,
}

/// One stream reading a file.
#[derive(Debug, Clone, Serialize)]
pub struct ReaderSnapshot {
    /// The connection it belongs to.
    pub connection: u64,
    /// Its number on that connection.
    pub stream: u32,
    /// The next line it will receive.
    pub next_line: u64,
    /// Messages written and not yet sent to it.
    pub lag: u64,
    /// Messages it may still receive before it gives more credit (absent: no limit).
    pub credit: Option<u32>,
}

/// One client connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionSnapshot {
    /// Its number, as in [`ReaderSnapshot::connection`].
    pub id: u64,
    /// The peer's address.
    pub peer: String,
    /// How many streams it has open.
    pub streams: usize,
}
