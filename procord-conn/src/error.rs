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
/// [`is_eof`](Error::is_eof), [`disconnect_reason`](Error::disconnect_reason), and follow
/// [`source`](StdError::source) down to the [`io::Error`] where there is one.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// The connection ended before the operation could complete.
    Disconnected(DisconnectReason),
    /// A system call outside any connection failed (`accept`).
    Os(OsError, io::Error),
    /// Name resolution failed.
    Resolve { host: String, source: io::Error },
    /// Waiting could never end: the connection has nothing to wait for.
    Stalled(&'static str),
}

impl Error {
    pub(crate) fn disconnected(reason: DisconnectReason) -> Self {
        Error {
            kind: Kind::Disconnected(reason),
        }
    }

    pub(crate) fn os(operation: &'static str, errno: rustix::io::Errno) -> Self {
        let os = OsError::new(operation, errno);
        Error {
            kind: Kind::Os(os, os.to_io_error()),
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

    pub(crate) fn stalled(why: &'static str) -> Self {
        Error {
            kind: Kind::Stalled(why),
        }
    }

    /// `true` when a timeout ended the connection (idle, connect or `close_nicely` timeout).
    pub fn is_timeout(&self) -> bool {
        matches!(&self.kind, Kind::Disconnected(DisconnectReason::Timeout))
    }

    /// `true` when the connection was closed, locally or by the peer's end of stream, rather
    /// than failing.
    pub fn is_closed(&self) -> bool {
        matches!(
            &self.kind,
            Kind::Disconnected(DisconnectReason::ClosedLocally | DisconnectReason::Eof)
        )
    }

    /// `true` when the peer ended the stream.
    pub fn is_eof(&self) -> bool {
        matches!(&self.kind, Kind::Disconnected(DisconnectReason::Eof))
    }

    /// Why the connection ended, when that is what the error is about.
    pub fn disconnect_reason(&self) -> Option<&DisconnectReason> {
        match &self.kind {
            Kind::Disconnected(reason) => Some(reason),
            _ => None,
        }
    }

    /// The failed system call, when the error is one.
    pub fn os_error(&self) -> Option<OsError> {
        match &self.kind {
            Kind::Os(os, _) | Kind::Disconnected(DisconnectReason::Os(os)) => Some(*os),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Disconnected(reason) => write!(f, "connection ended: {reason}"),
            Kind::Os(os, _) => os.fmt(f),
            Kind::Resolve { host, .. } => write!(f, "cannot resolve {host:?}"),
            Kind::Stalled(why) => write!(f, "cannot make progress: {why}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.kind {
            Kind::Os(_, e) | Kind::Resolve { source: e, .. } => Some(e),
            _ => None,
        }
    }
}
