//! Per-connection options: idle timeout, ping, receive soft limit, `TCP_NODELAY`.

use std::time::Duration;

/// The receive buffer's default soft limit: 64 KiB, the read limit of the original.
pub const DEFAULT_RECEIVE_SOFT_LIMIT: usize = 64 * 1024;

/// Options of a connection, given to [`Connection::connect`](crate::Connection::connect),
/// [`Connection::custom`](crate::Connection::custom) and
/// [`Set::accept_into_set`](crate::Set::accept_into_set) (which gives them to *every*
/// connection it accepts).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use camlnet_procord_conn::Options;
///
/// let options = Options::new()
///     .timeout(Duration::from_secs(10))
///     .ping(b"PING\n".to_vec())
///     .receive_soft_limit(256 * 1024)
///     .nodelay(true);
/// assert_eq!(options.get_timeout(), Some(Duration::from_secs(10)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub(crate) timeout: Option<Duration>,
    pub(crate) ping: Option<Vec<u8>>,
    pub(crate) receive_soft_limit: usize,
    pub(crate) nodelay: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// No timeout, no ping, the default soft limit ([`DEFAULT_RECEIVE_SOFT_LIMIT`]), and the
    /// operating system's default for `TCP_NODELAY` (Nagle's algorithm on).
    pub fn new() -> Self {
        Options {
            timeout: None,
            ping: None,
            receive_soft_limit: DEFAULT_RECEIVE_SOFT_LIMIT,
            nodelay: false,
        }
    }

    /// Disconnects with [`DisconnectReason::Timeout`](crate::DisconnectReason::Timeout) when
    /// nothing has been received for `timeout`.
    ///
    /// The same duration bounds connecting: a [`Connection::connect`](crate::Connection::connect)
    /// that has not completed `timeout` after the call (name resolution included) ends in
    /// `Timeout` too. The idle clock restarts when the connection is established, at every
    /// received byte, and does not run while reading is paused because the receive buffer is
    /// full (the peer is not idle then, the application is; closing never pauses reading,
    /// see [`close_nicely`](crate::Connection::close_nicely)). The check happens in
    /// [`update`](crate::Connection::update); a [`Waiter`](crate::Waiter) of the connection
    /// wakes up in time for it.
    ///
    /// Once the input has ended (see
    /// [`input_ended`](crate::Connection::input_ended)) nothing more can be received: the
    /// clock then also restarts at every byte sent, so that a long answer to a peer that
    /// half-closed is not cut, while a connection left open with nothing to do still ends.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends `message` when nothing has been received for half the [`timeout`](Self::timeout),
    /// once per idle period (receiving anything re-arms it). Not once the input has ended,
    /// since no answer can come.
    ///
    /// Ignored when no timeout is set, as in the original. The message goes to the end of the
    /// send buffer, after whatever is queued already.
    pub fn ping(mut self, message: impl Into<Vec<u8>>) -> Self {
        self.ping = Some(message.into());
        self
    }

    /// The receive buffer's soft limit in bytes (default [`DEFAULT_RECEIVE_SOFT_LIMIT`]).
    ///
    /// [`update`](crate::Connection::update) stops reading from the input while the buffer
    /// holds at least `max(limit, demand)` bytes, where *demand* is the end of the largest
    /// request that the buffer could not satisfy yet (`n` of a failed `receive(n)`,
    /// `offset + n` of a failed `receive_poll(offset, n)`), counted from the front of the
    /// buffer. So a message larger than the limit never stalls: asking for it raises the
    /// limit until it has arrived. An application that only watches
    /// [`receive_buffer_length`](crate::Connection::receive_buffer_length) for more than
    /// the limit, without asking, does stall. A limit of 0 is treated as 1.
    pub fn receive_soft_limit(mut self, limit: usize) -> Self {
        self.receive_soft_limit = limit.max(1);
        self
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) on the TCP sockets that
    /// [`Connection::connect`](crate::Connection::connect) creates and
    /// [`Set::accept_into_set`](crate::Set::accept_into_set) accepts. Worth it for small
    /// request/response messages. Ignored for other fds.
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// The idle timeout, if any.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The ping message, if any (even when it is ignored for want of a timeout).
    pub fn get_ping(&self) -> Option<&[u8]> {
        self.ping.as_deref()
    }

    /// The receive buffer's soft limit.
    pub fn get_receive_soft_limit(&self) -> usize {
        self.receive_soft_limit
    }

    /// Whether `TCP_NODELAY` is set on TCP sockets.
    pub fn get_nodelay(&self) -> bool {
        self.nodelay
    }
}
