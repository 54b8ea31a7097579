//! The errors of the file server and of its clients.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Why a stream of messages ended with an error. Sent as the stream's last item.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The server serves no file of this name (never registered, stopped, or a name that
    /// could only be a path: those are never looked up on disk).
    FileNotFound(String),
    /// The server failed to serve the file, with its reason (for example a disk error).
    Unknown(String),
    /// The connection failed or spoke something other than this protocol.
    Transport(TransportError),
    /// The connection has [`MAX_STREAMS`](crate::MAX_STREAMS) streams open already: this
    /// one was not opened (the others go on).
    TooManyStreams,
}

/// A failed connection: I/O, a refused handshake, or a malformed frame.
#[derive(Debug, Clone)]
pub struct TransportError {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

#[cfg(feature = "client")]
impl TransportError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        TransportError {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        TransportError {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::FileNotFound(name) => write!(f, "file not found: {name:?}"),
            Error::Unknown(text) => write!(f, "server error: {text}"),
            Error::Transport(e) => write!(f, "connection failed: {e}"),
            Error::TooManyStreams => write!(
                f,
                "too many streams: a connection has at most {} open at once",
                crate::MAX_STREAMS
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(e) => Some(e),
            _ => None,
        }
    }
}

/// An error of the server side: opening, writing, flushing or serving a file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FileError {
    /// A file of this name is open already.
    AlreadyOpen(String),
    /// The file at this path is open for writing already (its lock is taken), by this
    /// server or another process: a file has one writer.
    Locked(std::path::PathBuf),
    /// The file exists and is not empty, and `append` was not asked for (writing over it
    /// in place, as the original did, would corrupt it).
    NotEmpty(std::path::PathBuf),
    /// The message breaks the one-line rule, or is larger than the limit.
    InvalidMessage(&'static str),
    /// The file was closed.
    Closed(String),
    /// The disk refused a write or a sync (disk full, file too large, I/O error). Every
    /// later write and `flushed` returns it.
    Disk(Arc<io::Error>),
    /// Opening or reading the file failed.
    Io(Arc<io::Error>),
    /// `serve` was called a second time on the same server.
    AlreadyServing,
    /// The server could not listen.
    #[cfg(feature = "server")]
    Listen(Arc<tcp_server::Error>),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::AlreadyOpen(name) => write!(f, "a file named {name:?} is open already"),
            FileError::Locked(path) => write!(
                f,
                "{} is open for writing already, by this server or another process",
                path.display()
            ),
            FileError::NotEmpty(path) => write!(
                f,
                "{} exists and is not empty: open it with append, or remove it",
                path.display()
            ),
            FileError::InvalidMessage(why) => write!(f, "invalid message: {why}"),
            FileError::Closed(name) => write!(f, "file {name:?} is closed"),
            FileError::Disk(e) => write!(f, "disk write failed: {e}"),
            FileError::Io(e) => write!(f, "{e}"),
            FileError::AlreadyServing => f.write_str("this server is serving already"),
            #[cfg(feature = "server")]
            FileError::Listen(e) => write!(f, "cannot listen: {e}"),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Disk(e) | FileError::Io(e) => Some(&**e),
            #[cfg(feature = "server")]
            FileError::Listen(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<io::Error> for FileError {
    fn from(e: io::Error) -> Self {
        FileError::Io(Arc::new(e))
    }
}
