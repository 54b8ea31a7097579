//! The errors: `Error` for the server, `HandlerError` for what one handler failed with.
//!
//! Each error's `Display` says its own level only; the cause is its `source` (as hyper's
//! errors do), so a reporter that walks the chain says each thing once. Logs print the
//! whole chain with [`Chain`].

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

/// The error type a handler's `Err` is turned into.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What a connection handler failed with: the `Err` it returned, or a panic.
///
/// Its `Display` says which, with the panic's message; the returned error is its
/// [`source`](std::error::Error::source).
///
/// Given to [`OnHandlerError::Call`](crate::OnHandlerError::Call) and kept in the
/// server's [`Error`] under [`OnHandlerError::Raise`](crate::OnHandlerError::Raise).
/// Cheap to clone.
#[derive(Clone)]
pub struct HandlerError {
    inner: Arc<HandlerFailure>,
}

enum HandlerFailure {
    Returned(BoxError),
    Panicked(String),
}

impl HandlerError {
    pub(crate) fn returned(error: BoxError) -> Self {
        HandlerError {
            inner: Arc::new(HandlerFailure::Returned(error)),
        }
    }

    pub(crate) fn panicked(payload: &(dyn Any + Send)) -> Self {
        HandlerError {
            inner: Arc::new(HandlerFailure::Panicked(panic_message(payload))),
        }
    }

    /// True when the handler panicked, false when it returned an `Err`.
    pub fn is_panic(&self) -> bool {
        matches!(*self.inner, HandlerFailure::Panicked(_))
    }

    /// The panic's message, when the handler panicked with a string.
    pub fn panic_message(&self) -> Option<&str> {
        match &*self.inner {
            HandlerFailure::Panicked(message) => Some(message),
            HandlerFailure::Returned(_) => None,
        }
    }

    /// The error the handler returned, if it returned one. Downcast it to the handler's
    /// error type with `downcast_ref`.
    pub fn returned_error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match &*self.inner {
            HandlerFailure::Returned(error) => Some(&**error),
            HandlerFailure::Panicked(_) => None,
        }
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic payload that is not a string)".to_owned()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            HandlerFailure::Returned(_) => f.write_str("handler failed"),
            HandlerFailure::Panicked(message) => write!(f, "handler panicked: {message}"),
        }
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            HandlerFailure::Returned(error) => f.debug_tuple("Returned").field(error).finish(),
            HandlerFailure::Panicked(message) => f.debug_tuple("Panicked").field(message).finish(),
        }
    }
}

impl StdError for HandlerError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &*self.inner {
            HandlerFailure::Returned(error) => Some(&**error),
            HandlerFailure::Panicked(_) => None,
        }
    }
}

/// An error of a [`Server`](crate::Server): it could not listen, or (from
/// [`close_finished`](crate::Server::close_finished)) a handler error stopped it.
///
/// Opaque: ask it with [`is_listen`](Error::is_listen),
/// [`is_address_in_use`](Error::is_address_in_use), [`is_handler`](Error::is_handler) and
/// [`handler_error`](Error::handler_error); the cause is its
/// [`source`](std::error::Error::source). Cheap to clone, since every caller of `close`
/// gets the same one.
#[derive(Clone)]
pub struct Error {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Listen {
        address: String,
        source: Arc<io::Error>,
    },
    Handler {
        peer: String,
        error: HandlerError,
    },
    Callback {
        peer: String,
        error: HandlerError,
        panic: String,
    },
}

impl Error {
    pub(crate) fn listen(address: impl fmt::Display, source: io::Error) -> Self {
        Error {
            kind: Kind::Listen {
                address: address.to_string(),
                source: Arc::new(source),
            },
        }
    }

    pub(crate) fn handler(peer: &dyn fmt::Debug, error: HandlerError) -> Self {
        Error {
            kind: Kind::Handler {
                peer: format!("{peer:?}"),
                error,
            },
        }
    }

    pub(crate) fn callback(peer: &dyn fmt::Debug, error: HandlerError, panic: String) -> Self {
        Error {
            kind: Kind::Callback {
                peer: format!("{peer:?}"),
                error,
                panic,
            },
        }
    }

    /// True when the server could not bind or listen.
    pub fn is_listen(&self) -> bool {
        matches!(self.kind, Kind::Listen { .. })
    }

    /// True when the address or socket file is taken by another listening socket.
    pub fn is_address_in_use(&self) -> bool {
        self.io_kind() == Some(io::ErrorKind::AddrInUse)
    }

    /// The kind of the system error, when the server could not listen.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match &self.kind {
            Kind::Listen { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// True when a handler error stopped the server: under
    /// [`OnHandlerError::Raise`](crate::OnHandlerError::Raise), or when the
    /// [`Call`](crate::OnHandlerError::Call) function panicked.
    pub fn is_handler(&self) -> bool {
        matches!(self.kind, Kind::Handler { .. } | Kind::Callback { .. })
    }

    /// True when the [`OnHandlerError::Call`](crate::OnHandlerError::Call) function
    /// panicked, which stopped the server.
    pub fn is_callback_panic(&self) -> bool {
        matches!(self.kind, Kind::Callback { .. })
    }

    /// The handler error that stopped the server.
    pub fn handler_error(&self) -> Option<&HandlerError> {
        match &self.kind {
            Kind::Handler { error, .. } | Kind::Callback { error, .. } => Some(error),
            Kind::Listen { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Listen { address, .. } => write!(f, "cannot listen on {address}"),
            Kind::Handler { peer, .. } => {
                write!(
                    f,
                    "server stopped by a handler error (connection from {peer})"
                )
            }
            Kind::Callback { peer, panic, .. } => write!(
                f,
                "server stopped: the on_handler_error function panicked ({panic}) on a \
                 handler error (connection from {peer})"
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Listen { address, source } => f
                .debug_struct("Listen")
                .field("address", address)
                .field("source", source)
                .finish(),
            Kind::Handler { peer, error } => f
                .debug_struct("Handler")
                .field("peer", peer)
                .field("error", error)
                .finish(),
            Kind::Callback { peer, error, panic } => f
                .debug_struct("Callback")
                .field("peer", peer)
                .field("error", error)
                .field("panic", panic)
                .finish(),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.kind {
            Kind::Listen { source, .. } => Some(&**source),
            Kind::Handler { error, .. } | Kind::Callback { error, .. } => Some(error),
        }
    }
}

/// An `io::Error` of `kind` saying `message`, with `cause` as its source.
pub(crate) fn explained(kind: io::ErrorKind, message: String, cause: io::Error) -> io::Error {
    io::Error::new(kind, Explained { message, cause })
}

/// The payload of [`explained`]: `io::Error` displays it and returns its source.
#[derive(Debug)]
struct Explained {
    message: String,
    cause: io::Error,
}

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Explained {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.cause)
    }
}

/// Displays an error and its sources, `outer: inner: innermost`, for logs.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}
