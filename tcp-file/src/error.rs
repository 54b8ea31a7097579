//! The client's error: opaque, cheap to clone, asked with queries. Its message says what
//! went wrong at its own level; the cause is its source.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Why a stream of messages ended with an error (sent as the stream's last item), or why
/// a [`Client`](crate::Client) could not connect.
///
/// Opaque on purpose: ask it what happened with
/// [`is_file_not_found`](Error::is_file_not_found), [`is_server_error`](Error::is_server_error),
/// [`is_transport`](Error::is_transport) and
/// [`is_too_many_streams`](Error::is_too_many_streams), and which file with
/// [`file_name`](Error::file_name). Its [`Display`](fmt::Display) says what went wrong,
/// and only that: the cause, when there is one (the connection's error, for example), is
/// its [`source`](std::error::Error::source).
///
/// Cheap to clone: when a connection fails, each of its streams gets the same error.
#[derive(Clone)]
pub struct Error {
    inner: Arc<ErrorInner>,
}

struct ErrorInner {
    kind: ErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

#[derive(Debug)]
enum ErrorKind {
    /// The server serves no file of this name.
    FileNotFound(String),
    /// The server failed to serve the file, for this reason (its own words).
    Server(String),
    /// The connection failed, or spoke something other than this protocol: what failed.
    Transport(String),
    /// The connection has `MAX_STREAMS` streams open already.
    TooManyStreams,
}

impl Error {
    fn new(kind: ErrorKind, source: Option<Box<dyn StdError + Send + Sync>>) -> Self {
        Error {
            inner: Arc::new(ErrorInner { kind, source }),
        }
    }

    pub(crate) fn file_not_found(name: String) -> Self {
        Error::new(ErrorKind::FileNotFound(name), None)
    }

    pub(crate) fn server(reason: String) -> Self {
        Error::new(ErrorKind::Server(reason), None)
    }

    pub(crate) fn too_many_streams() -> Self {
        Error::new(ErrorKind::TooManyStreams, None)
    }

    /// A transport failure described by `what`, with no cause beyond it.
    pub(crate) fn transport(what: impl Into<String>) -> Self {
        Error::new(ErrorKind::Transport(what.into()), None)
    }

    /// A transport failure described by `what`, caused by `source`.
    pub(crate) fn transport_caused(
        what: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Error::new(ErrorKind::Transport(what.into()), Some(Box::new(source)))
    }
}

impl Error {
    /// True when the server serves no file of the name asked for: never registered,
    /// stopped, or a name that could only be a path (those are never looked up on disk).
    /// The name is [`file_name`](Error::file_name).
    pub fn is_file_not_found(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::FileNotFound(_))
    }

    /// True when the server failed to serve the file (a disk error, for example); the
    /// message gives the server's reason.
    pub fn is_server_error(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Server(_))
    }

    /// True when the connection failed (to connect, the handshake, or later), broke the
    /// protocol, or was closed by [`Client::disconnect`](crate::Client::disconnect).
    pub fn is_transport(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Transport(_))
    }

    /// True when the connection had [`MAX_STREAMS`](crate::MAX_STREAMS) streams open
    /// already: this one was not opened (the others go on).
    pub fn is_too_many_streams(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::TooManyStreams)
    }

    /// The name of the file the server does not serve, for a
    /// [`is_file_not_found`](Error::is_file_not_found) error.
    pub fn file_name(&self) -> Option<&str> {
        match &self.inner.kind {
            ErrorKind::FileNotFound(name) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.kind {
            ErrorKind::FileNotFound(name) => write!(f, "file not found: {name:?}"),
            ErrorKind::Server(reason) => write!(f, "server error: {reason}"),
            ErrorKind::Transport(what) => f.write_str(what),
            ErrorKind::TooManyStreams => write!(
                f,
                "too many streams: a connection has at most {} open at once",
                crate::MAX_STREAMS
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let source = self.inner.source.as_deref()?;
        Some(source)
    }
}
