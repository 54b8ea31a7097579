//! The options of a file opened with [`Server::open_file`](crate::Server::open_file).

use std::time::Duration;

/// How lines end on disk. Clients receive messages without it either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnding {
    /// `\n`.
    #[default]
    Lf,
    /// `\r\n`.
    CrLf,
}

impl LineEnding {
    pub(crate) fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
        }
    }

    pub(crate) fn len(self) -> usize {
        self.as_bytes().len()
    }
}

/// When the server calls `fsync(2)` (`fdatasync`) on a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// Never: the page cache decides (fastest; a power cut may lose recent lines).
    #[default]
    Never,
    /// At most this long after a write.
    Interval(Duration),
    /// After every batch of writes; [`FileHandle::flushed`](crate::FileHandle::flushed)
    /// completes only once the data is synced.
    Always,
}

/// How [`Server::open_file`](crate::Server::open_file) opens a file.
#[derive(Debug, Clone, Default)]
pub struct FileOptions {
    pub(crate) append: bool,
    pub(crate) line_ending: LineEnding,
    pub(crate) sync: SyncPolicy,
    pub(crate) durable: bool,
}

impl FileOptions {
    /// Default options: no append, `\n` endings, no fsync.
    pub fn new() -> Self {
        FileOptions::default()
    }

    /// Appends to an existing file: its lines are counted and served first. A last line
    /// without a newline is a write torn by a crash: it is cut off the file (with a
    /// warning in the log), never served. Without `append`, an existing non-empty file is
    /// an error.
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }

    /// Sets the line ending written on disk.
    pub fn line_ending(mut self, ending: LineEnding) -> Self {
        self.line_ending = ending;
        self
    }

    /// Sets when the file is synced to disk.
    pub fn sync(mut self, sync: SyncPolicy) -> Self {
        self.sync = sync;
        self
    }

    /// With `true`, readers receive only lines synced to disk (`fdatasync`), so that not
    /// even a crash of the machine takes back a line a reader was told; under
    /// [`SyncPolicy::Never`] the file is then synced as under `Always`. By default readers
    /// receive every line that reached the file (`write(2)` returned): a crash of the
    /// process never takes one back, a power cut may.
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// The sync policy in force: `durable` needs syncs.
    pub(crate) fn effective_sync(&self) -> SyncPolicy {
        match self.sync {
            SyncPolicy::Never if self.durable => SyncPolicy::Always,
            sync => sync,
        }
    }
}
