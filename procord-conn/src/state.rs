//! The state of a connection and why it ended.

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// The state of a connection at its last [`update`](crate::Connection::update) (or at the
/// last call that changed it: [`close`](crate::Connection::close),
/// [`close_nicely`](crate::Connection::close_nicely)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Waiting for a non-blocking `connect(2)` to complete.
    Connecting,
    /// Established and alive. The input may have ended while the output stays open: see
    /// [`input_ended`](crate::Connection::input_ended).
    Connected,
    /// [`close_nicely`](crate::Connection::close_nicely) was called: finishing sending, then
    /// half-closing, then reading to the peer's end of stream. The only way to this state.
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
    /// The input ended (`read(2)` returned 0) on a connection without output, which has
    /// nothing left to do then. On a connection with an output the end of the input does
    /// not disconnect: see [`input_ended`](crate::Connection::input_ended). (The original
    /// disconnected, and reported a reset.)
    Eof,
    /// Nothing was received for the idle timeout, a connect did not complete within it, or a
    /// `close_nicely` timeout expired with data still unsent.
    Timeout,
    /// Name resolution in [`Connection::connect`](crate::Connection::connect) failed or gave
    /// no address.
    Resolve {
        /// The host name that was looked up.
        host: String,
        /// What the resolver said (left out of the reason's `Display`).
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

    /// What the reason's `Display` leaves out: the OS error of [`Os`](DisconnectReason::Os),
    /// the resolver's message of [`Resolve`](DisconnectReason::Resolve).
    pub(crate) fn cause(&self) -> Option<io::Error> {
        match self {
            DisconnectReason::Os(e) => Some(e.to_io_error()),
            DisconnectReason::Resolve { message, .. } => Some(io::Error::other(message.clone())),
            _ => None,
        }
    }
}

/// Says why at its own level only: an [`Os`](DisconnectReason::Os) reason names the call
/// that failed, not its error code; a [`Resolve`](DisconnectReason::Resolve) reason names
/// the host, not the resolver's message. Those are in the variants' fields, and are the
/// [`source`](std::error::Error::source) of the [`Error`](crate::Error) made from the reason.
impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ClosedLocally => f.write_str("closed locally"),
            DisconnectReason::Eof => f.write_str("end of stream from the peer"),
            DisconnectReason::Timeout => f.write_str("timed out"),
            DisconnectReason::Resolve { host, .. } => write!(f, "cannot resolve {host:?}"),
            DisconnectReason::Os(e) => e.fmt(f),
        }
    }
}

/// A failed system call: which call, its argument, and the OS error code (the original's
/// `Unix_error (code, call, argument)`).
///
/// The operation is the name of the call as in its man page (`"connect"`, `"read"`,
/// `"send"`, `"write"`, `"shutdown"`, `"socket"`, `"getsockopt"`, `"accept"`...). Its
/// `Display` names the call and its argument (`connect(127.0.0.1:9) failed`); the OS error
/// is its [`source`](StdError::source), an [`io::Error`].
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
/// use camlnet_procord_conn::{Connection, DisconnectReason, Options, State};
///
/// let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?; // closed at once
/// let mut conn = Connection::connect_addr(addr, (), Options::new());
/// while conn.alive() {
///     conn.waiter().wait(Some(std::time::Duration::from_secs(5)));
///     conn.update();
/// }
/// let State::Disconnected(DisconnectReason::Os(e)) = conn.state() else {
///     panic!("{:?}", conn.state());
/// };
/// assert_eq!((e.operation(), e.argument()), ("connect", &*addr.to_string()));
/// assert_eq!(e.to_string(), format!("connect({addr}) failed"));
/// assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
/// assert!(e.source().is_some());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct OsError {
    operation: &'static str,
    argument: String,
    code: i32,
    /// `code` as an `io::Error`, for `source`.
    error: io::Error,
}

impl OsError {
    /// `operation` failed with `errno`; `argument` says on what (empty when the call has no
    /// argument worth naming).
    pub(crate) fn new(
        operation: &'static str,
        argument: impl Into<String>,
        errno: rustix::io::Errno,
    ) -> Self {
        let code = errno.raw_os_error();
        OsError {
            operation,
            argument: argument.into(),
            code,
            error: io::Error::from_raw_os_error(code),
        }
    }

    /// The system call that failed.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// What the call was given, as text: the address of a `connect`, the option of a
    /// `setsockopt`, the listening address of an `accept`; empty when there is nothing
    /// worth naming (a `read` or `send` on the connection's own fd).
    pub fn argument(&self) -> &str {
        &self.argument
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
        self.error.kind()
    }
}

impl Clone for OsError {
    fn clone(&self) -> Self {
        OsError {
            operation: self.operation,
            argument: self.argument.clone(),
            code: self.code,
            error: self.to_io_error(),
        }
    }
}

/// Equal when the call, its argument and the error code are.
impl PartialEq for OsError {
    fn eq(&self, other: &Self) -> bool {
        (self.operation, &self.argument, self.code)
            == (other.operation, &other.argument, other.code)
    }
}

impl Eq for OsError {}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.argument.is_empty() {
            write!(f, "{} failed", self.operation)
        } else {
            write!(f, "{}({}) failed", self.operation, self.argument)
        }
    }
}

impl StdError for OsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.error)
    }
}
