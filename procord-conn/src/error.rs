//! The crate's error type, for the calls that return `Result`.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::state::{DisconnectReason, OsError};

/// An error of [`make_address`](crate::make_address),
/// [`Set::accept_into_set`](crate::Set::accept_into_set) or the blocking
/// [`sync`](crate::sync) functions.
///
/// Opaque: ask it with [`is_timeout`](Error::is_timeout), [`is_closed`](Error::is_closed),
/// [`is_eof`](Error::is_eof), [`disconnect_reason`](Error::disconnect_reason),
/// [`os_error`](Error::os_error).
///
/// Its `Display` says what went wrong at its own level only (`connection ended:
/// connect(127.0.0.1:9) failed`, `accept(127.0.0.1:8080) failed`, `cannot resolve "host"`);
/// the cause, where there is one, is its [`source`](StdError::source): the [`io::Error`] of
/// the failed call or of the resolver. Print the chain to see both.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// The connection ended before the operation could complete; `cause` is what the
    /// reason's `Display` leaves out.
    Disconnected {
        reason: DisconnectReason,
        cause: Option<io::Error>,
    },
    /// A system call outside any connection failed (`accept`).
    Os(OsError),
    /// The input ended before the operation could complete; the connection is still open
    /// for sending.
    InputEnded,
    /// Name resolution failed.
    Resolve { host: String, source: io::Error },
    /// Waiting could never end: the connection has nothing to wait for.
    Stalled(&'static str),
}

impl Error {
    pub(crate) fn disconnected(reason: DisconnectReason) -> Self {
        Error {
            kind: Kind::Disconnected {
                cause: reason.cause(),
                reason,
            },
        }
    }

    pub(crate) fn os(
        operation: &'static str,
        argument: impl Into<String>,
        errno: rustix::io::Errno,
    ) -> Self {
        Error {
            kind: Kind::Os(OsError::new(operation, argument, errno)),
        }
    }

    pub(crate) fn resolve(host: &str, source: io::Error) -> Self {
        Error {
            kind: Kind::Resolve {
                host: host.to_owned(),
                source,
            },
        }
    }

    pub(crate) fn input_ended() -> Self {
        Error {
            kind: Kind::InputEnded,
        }
    }

    pub(crate) fn stalled(why: &'static str) -> Self {
        Error {
            kind: Kind::Stalled(why),
        }
    }

    /// `true` when a timeout ended the connection (idle, connect or `close_nicely` timeout).
    pub fn is_timeout(&self) -> bool {
        self.disconnect_reason()
            .is_some_and(|reason| *reason == DisconnectReason::Timeout)
    }

    /// `true` when the connection, or its input, was closed, locally or by the peer's end of
    /// stream, rather than failing.
    pub fn is_closed(&self) -> bool {
        self.is_eof()
            || matches!(
                self.disconnect_reason(),
                Some(DisconnectReason::ClosedLocally)
            )
    }

    /// `true` when the peer ended the stream: the input ended (the connection may still be
    /// open for sending, see [`Connection::input_ended`](crate::Connection::input_ended)),
    /// or a connection without output ended with it.
    pub fn is_eof(&self) -> bool {
        matches!(self.kind, Kind::InputEnded)
            || matches!(self.disconnect_reason(), Some(DisconnectReason::Eof))
    }

    /// Why the connection ended, when that is what the error is about.
    pub fn disconnect_reason(&self) -> Option<&DisconnectReason> {
        match &self.kind {
            Kind::Disconnected { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The failed system call, when the error is one.
    pub fn os_error(&self) -> Option<&OsError> {
        match &self.kind {
            Kind::Os(os)
            | Kind::Disconnected {
                reason: DisconnectReason::Os(os),
                ..
            } => Some(os),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Disconnected { reason, .. } => write!(f, "connection ended: {reason}"),
            Kind::Os(os) => os.fmt(f),
            Kind::InputEnded => f.write_str("the input ended"),
            Kind::Resolve { host, .. } => write!(f, "cannot resolve {host:?}"),
            Kind::Stalled(why) => write!(f, "cannot make progress: {why}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.kind {
            Kind::Disconnected { cause, .. } => cause.as_ref().map(|e| e as _),
            Kind::Os(os) => os.source(),
            Kind::Resolve { source, .. } => Some(source),
            Kind::InputEnded | Kind::Stalled(_) => None,
        }
    }
}
