//! The flow error: opaque, cloneable, with queries instead of a public enum.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// An error from a [`Flow`](crate::Flow), a [`Reader`](crate::Reader) or a
/// [`Writer`](crate::Writer).
///
/// Opaque on purpose: ask it what happened with [`is_closed`](Error::is_closed),
/// [`is_buffer_age_exceeded`](Error::is_buffer_age_exceeded),
/// [`is_close_overflow`](Error::is_close_overflow) and [`io_kind`](Error::io_kind). Its
/// [`Display`](fmt::Display) says what happened to the flow, and only that: the operating
/// system's error, if any, is its [`source`](std::error::Error::source), for whoever prints
/// the chain of causes.
///
/// It is cheap to clone, because a flow that failed keeps answering every later call with
/// the same error.
#[derive(Clone)]
pub struct Error {
    kind: Kind,
    source: Option<Arc<io::Error>>,
}

#[derive(Clone, Debug)]
enum Kind {
    Closed,
    Io,
    CloseOverflow { limit: usize },
    BufferAge { age: Duration, pending: usize },
}

impl Error {
    /// The flow is closed (locally, or the peer is gone) and the data could not be written.
    pub fn closed() -> Self {
        Error {
            kind: Kind::Closed,
            source: None,
        }
    }

    pub(crate) fn closed_by(source: io::Error) -> Self {
        Error {
            kind: Kind::Closed,
            source: Some(Arc::new(source)),
        }
    }

    pub(crate) fn close_overflow(limit: usize) -> Self {
        Error {
            kind: Kind::CloseOverflow { limit },
            source: None,
        }
    }

    pub(crate) fn buffer_age(age: Duration, pending: usize) -> Self {
        Error {
            kind: Kind::BufferAge { age, pending },
            source: None,
        }
    }

    /// Wraps an I/O error. Errors that mean the connection is gone (broken pipe, reset,
    /// aborted, not connected) become [`is_closed`](Error::is_closed) errors that keep the
    /// I/O error as their source.
    pub fn from_io(error: io::Error) -> Self {
        use io::ErrorKind::*;
        match error.kind() {
            BrokenPipe | ConnectionReset | ConnectionAborted | NotConnected => {
                Error::closed_by(error)
            }
            _ => Error {
                kind: Kind::Io,
                source: Some(Arc::new(error)),
            },
        }
    }

    /// True when the flow is closed, locally or by the peer: Mirage's `` `Closed ``.
    pub fn is_closed(&self) -> bool {
        matches!(self.kind, Kind::Closed)
    }

    /// True when data arriving while `close` waited for the peer went past the flow's
    /// close buffer limit (see [`IoFlow::set_close_buffer_limit`](crate::IoFlow::set_close_buffer_limit)).
    pub fn is_close_overflow(&self) -> bool {
        matches!(self.kind, Kind::CloseOverflow { .. })
    }

    /// True when a [`Writer`](crate::Writer) held bytes longer than its
    /// [`BufferAgeLimit`](crate::BufferAgeLimit).
    pub fn is_buffer_age_exceeded(&self) -> bool {
        matches!(self.kind, Kind::BufferAge { .. })
    }

    /// The kind of the underlying I/O error, if the error came from the operating system.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.source.as_ref().map(|e| e.kind())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Closed => f.write_str("flow closed"),
            Kind::Io => f.write_str("flow I/O error"),
            Kind::CloseOverflow { limit } => write!(
                f,
                "close gave up: the peer sent more than {limit} bytes while close waited for it to close"
            ),
            Kind::BufferAge { age, pending } => write!(
                f,
                "writer buffer age limit exceeded: {pending} bytes pending, the oldest for {:.1}s",
                age.as_secs_f64()
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::from_io(error)
    }
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match error.kind {
            Kind::Closed => io::ErrorKind::BrokenPipe,
            Kind::BufferAge { .. } => io::ErrorKind::TimedOut,
            Kind::CloseOverflow { .. } => io::ErrorKind::OutOfMemory,
            Kind::Io => error.io_kind().unwrap_or(io::ErrorKind::Other),
        };
        io::Error::new(kind, error)
    }
}
