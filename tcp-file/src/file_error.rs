//! The file server's error: opaque, cheap to clone, asked with queries. Its message says
//! what went wrong at its own level; the cause is its source.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An error of the server side: opening, writing, flushing or serving a file.
///
/// Opaque on purpose: ask it what happened with [`is_already_open`](FileError::is_already_open),
/// [`is_locked`](FileError::is_locked), [`is_not_empty`](FileError::is_not_empty),
/// [`is_invalid_message`](FileError::is_invalid_message), [`is_closed`](FileError::is_closed),
/// [`is_disk`](FileError::is_disk), [`is_io`](FileError::is_io),
/// [`is_already_serving`](FileError::is_already_serving) and
/// [`is_listen`](FileError::is_listen), and about what with
/// [`file_name`](FileError::file_name) and [`path`](FileError::path). Its
/// [`Display`](fmt::Display) says what went wrong, and only that: the cause, when there is
/// one (the system's I/O error, the listener's error), is its
/// [`source`](std::error::Error::source).
///
/// Cheap to clone: after a disk error, every later write returns the same one.
#[derive(Clone)]
pub struct FileError {
    inner: Arc<FileErrorInner>,
}

struct FileErrorInner {
    kind: FileErrorKind,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

#[derive(Debug)]
enum FileErrorKind {
    AlreadyOpen(String),
    Locked(PathBuf),
    NotEmpty(PathBuf),
    InvalidMessage(&'static str),
    Closed(String),
    Disk(PathBuf),
    Io(Option<PathBuf>),
    AlreadyServing,
    Listen,
}

impl FileError {
    fn new(kind: FileErrorKind, source: Option<Arc<dyn StdError + Send + Sync>>) -> Self {
        FileError {
            inner: Arc::new(FileErrorInner { kind, source }),
        }
    }

    pub(crate) fn already_open(name: &str) -> Self {
        FileError::new(FileErrorKind::AlreadyOpen(name.to_string()), None)
    }

    pub(crate) fn locked(path: &Path) -> Self {
        FileError::new(FileErrorKind::Locked(path.to_path_buf()), None)
    }

    pub(crate) fn not_empty(path: &Path) -> Self {
        FileError::new(FileErrorKind::NotEmpty(path.to_path_buf()), None)
    }

    pub(crate) fn invalid_message(why: &'static str) -> Self {
        FileError::new(FileErrorKind::InvalidMessage(why), None)
    }

    pub(crate) fn closed(name: &str) -> Self {
        FileError::new(FileErrorKind::Closed(name.to_string()), None)
    }

    /// The disk refused a write or a sync of the file at `path`.
    pub(crate) fn disk(path: &Path, source: Arc<std::io::Error>) -> Self {
        FileError::new(FileErrorKind::Disk(path.to_path_buf()), Some(source))
    }

    /// Opening, reading or deleting the file at `path` (if one applies) failed.
    pub(crate) fn io(path: Option<&Path>, source: std::io::Error) -> Self {
        let path = path.map(Path::to_path_buf);
        FileError::new(FileErrorKind::Io(path), Some(Arc::new(source)))
    }

    pub(crate) fn already_serving() -> Self {
        FileError::new(FileErrorKind::AlreadyServing, None)
    }

    pub(crate) fn listen(source: camlnet_tcp_server::Error) -> Self {
        FileError::new(FileErrorKind::Listen, Some(Arc::new(source)))
    }
}

impl FileError {
    /// True when a file of this name ([`file_name`](FileError::file_name)) is open
    /// already.
    pub fn is_already_open(&self) -> bool {
        matches!(self.inner.kind, FileErrorKind::AlreadyOpen(_))
    }

    /// True when the file at [`path`](FileError::path) is open for writing already (its
    /// lock is taken), by this server or another process: a file has one writer.
    pub fn is_locked(&self) -> bool {
        matches!(self.inner.kind, FileErrorKind::Locked(_))
    }

    /// True when the file at [`path`](FileError::path) exists and is not empty, and
    /// `append` was not asked for (writing over it in place would corrupt it).
    pub fn is_not_empty(&self) -> bool {
        matches!(self.inner.kind, FileErrorKind::NotEmpty(_))
    }

    /// True when the message breaks the one-line rule, or is larger than
    /// [`MAX_MESSAGE`](crate::MAX_MESSAGE); the message says which.
    pub fn is_invalid_message(&self) -> bool {
        matches!(self.inner.kind, FileErrorKind::InvalidMessage(_))
    }

    /// True when the file ([`file_name`](FileError::file_name)) was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.inner.kind, FileErrorKind::Closed(_))
    }

    /// True when the disk refused a write or a sync of the file at
    /// [`path`](FileError::path) (disk full, file too large, I/O error); the system's
    /// error is the source. Every later write and `flushed` returns it.
    pub fn is_disk(&self) -> bool {
        matches!(self.inner.kind, FileErrorKind::Disk(_))
    }

    /// True when opening, reading or deleting the file failed; the system's error is the
    /// source, and [`path`](FileError::path) the file, when one applies.
    pub fn is_io(&self) -> bool {
        matches!(self.inner.kind, FileErrorKind::Io(_))
    }

    /// True when `serve` was called while an earlier `serve`'s listener is open.
    pub fn is_already_serving(&self) -> bool {
        matches!(self.inner.kind, FileErrorKind::AlreadyServing)
    }

    /// True when the server could not listen; the source is the listener's
    /// [`camlnet_tcp_server::Error`].
    pub fn is_listen(&self) -> bool {
        matches!(self.inner.kind, FileErrorKind::Listen)
    }

    /// The file's name, for [`is_already_open`](FileError::is_already_open) and
    /// [`is_closed`](FileError::is_closed) errors.
    pub fn file_name(&self) -> Option<&str> {
        match &self.inner.kind {
            FileErrorKind::AlreadyOpen(name) | FileErrorKind::Closed(name) => Some(name),
            _ => None,
        }
    }

    /// The file's path, for [`is_locked`](FileError::is_locked),
    /// [`is_not_empty`](FileError::is_not_empty) and [`is_disk`](FileError::is_disk)
    /// errors, and [`is_io`](FileError::is_io) errors about one file.
    pub fn path(&self) -> Option<&Path> {
        match &self.inner.kind {
            FileErrorKind::Locked(path) | FileErrorKind::NotEmpty(path) => Some(path),
            FileErrorKind::Disk(path) | FileErrorKind::Io(Some(path)) => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.kind {
            FileErrorKind::AlreadyOpen(name) => write!(f, "a file named {name:?} is open already"),
            FileErrorKind::Locked(path) => write!(
                f,
                "{} is open for writing already, by this server or another process",
                path.display()
            ),
            FileErrorKind::NotEmpty(path) => write!(
                f,
                "{} exists and is not empty: open it with append, or remove it",
                path.display()
            ),
            FileErrorKind::InvalidMessage(why) => write!(f, "invalid message: {why}"),
            FileErrorKind::Closed(name) => write!(f, "file {name:?} is closed"),
            FileErrorKind::Disk(path) => write!(f, "writing {} to disk failed", path.display()),
            FileErrorKind::Io(Some(path)) => write!(f, "I/O error on {}", path.display()),
            FileErrorKind::Io(None) => f.write_str("I/O error"),
            FileErrorKind::AlreadyServing => f.write_str("this server is serving already"),
            FileErrorKind::Listen => f.write_str("the file server cannot serve"),
        }
    }
}

impl fmt::Debug for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("FileError");
        d.field("kind", &self.inner.kind);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for FileError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let source = self.inner.source.as_deref()?;
        Some(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_file_is_named() {
        let error = FileError::closed("app");
        assert!(error.is_closed() && !error.is_already_open());
        assert_eq!(error.file_name(), Some("app"));
        assert_eq!(error.to_string(), "file \"app\" is closed");
    }
}
