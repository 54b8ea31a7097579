//! The state of a connection and why it ended.

use std::fmt;
use std::io;

/// The state of a connection at its last [`update`](crate::Connection::update) (or at the
/// last call that changed it: [`close`](crate::Connection::close),
/// [`close_nicely`](crate::Connection::close_nicely)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Waiting for a non-blocking `connect(2)` to complete.
    Connecting,
    /// Established and alive.
    Connected,
    /// [`close_nicely`](crate::Connection::close_nicely) was called: finishing sending, then
    /// half-closing, then waiting for the peer's end of stream. The only way to this state.
    Disconnecting,
    /// Over. There may still be received data in the buffer: see
    /// [`receive_buffer_empty`](crate::Connection::receive_buffer_empty).
    Disconnected(DisconnectReason),
}

impl State {
    /// `true` unless [`Disconnected`](State::Disconnected).
    pub fn is_alive(&self) -> bool {
        !matches!(self, State::Disconnected(_))
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// Closed locally: [`close`](crate::Connection::close), or a
    /// [`close_nicely`](crate::Connection::close_nicely) that sent everything.
    ClosedLocally,
    /// The peer ended the stream (`read(2)` returned 0). The original reported this as a
    /// reset; here it is its own reason.
    Eof,
    /// Nothing was received for the idle timeout, a connect did not complete within it, or a
    /// `close_nicely` timeout expired with data still unsent.
    Timeout,
    /// Name resolution in [`Connection::connect`](crate::Connection::connect) failed or gave
    /// no address.
    Resolve {
        /// The host name that was looked up.
        host: String,
        /// What the resolver said.
        message: String,
    },
    /// A system call failed.
    Os(OsError),
}

impl DisconnectReason {
    /// `true` for [`Timeout`](DisconnectReason::Timeout).
    pub fn is_timeout(&self) -> bool {
        matches!(self, DisconnectReason::Timeout)
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ClosedLocally => f.write_str("closed locally"),
            DisconnectReason::Eof => f.write_str("end of stream from the peer"),
            DisconnectReason::Timeout => f.write_str("timed out"),
            DisconnectReason::Resolve { host, message } => {
                write!(f, "cannot resolve {host:?}: {message}")
            }
            DisconnectReason::Os(e) => e.fmt(f),
        }
    }
}

/// A failed system call: which operation, and the OS error code.
///
/// The operation is the name of the call as in its man page (`"connect"`, `"recv"`,
/// `"read"`, `"send"`, `"write"`, `"shutdown"`, `"socket"`, `"getsockopt"`, `"accept"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsError {
    operation: &'static str,
    code: i32,
}

impl OsError {
    pub(crate) fn new(operation: &'static str, errno: rustix::io::Errno) -> Self {
        OsError {
            operation,
            code: errno.raw_os_error(),
        }
    }

    /// The system call that failed.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The `errno` value.
    pub fn raw_os_error(&self) -> i32 {
        self.code
    }

    /// The error as an [`io::Error`], for its [`kind`](io::Error::kind) and message.
    pub fn to_io_error(&self) -> io::Error {
        io::Error::from_raw_os_error(self.code)
    }

    /// The [`io::ErrorKind`] of the error (`ConnectionRefused`, `ConnectionReset`, ...).
    pub fn kind(&self) -> io::ErrorKind {
        self.to_io_error().kind()
    }
}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.to_io_error())
    }
}
