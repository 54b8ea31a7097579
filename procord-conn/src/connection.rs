//! `Connection<D>`: a buffered, poll-driven connection over a socket or a pair of fds.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use crate::address::{RemoteAddress, literal, resolve};
use crate::buffer::{ReceiveBuffer, SendBuffer};
use crate::connect::Attempt;
use crate::fd::{Endpoint, Fd};
use crate::options::Options;
use crate::resolver::Lookup;
use crate::state::{DisconnectReason, State};
use crate::waiter::Waiter;

#[cfg(test)]
mod tests;
mod update;

/// The fds of a connection.
#[derive(Debug)]
enum Io {
    /// Closed, or never opened.
    None,
    /// One fd for both directions (a socket).
    Socket(Endpoint),
    /// Separate fds (pipes, stdin/stdout), either of them optional.
    Split {
        input: Option<Endpoint>,
        output: Option<Endpoint>,
    },
}

/// A connection with user data `D`: buffers in both directions, moved to and from the fds
/// by [`update`](Connection::update), and nothing else happening in between.
///
/// Build one with [`connect`](Connection::connect) (a TCP client),
/// [`custom`](Connection::custom) (any fds: stdin/stdout, pipes, a child process),
/// [`from_socket`](Connection::from_socket) (an accepted or otherwise connected socket), or
/// let [`Set::accept_into_set`](crate::Set::accept_into_set) accept them. Then, in a loop:
/// wait with a [`Waiter`], call `update`, and use [`send`](Connection::send) and the
/// `receive*` family, which only touch the buffers. None of the methods block (`connect`
/// resolves names on a helper thread).
///
/// Dropping a connection closes its owned fds at once, like [`close`](Connection::close).
#[derive(Debug)]
pub struct Connection<D> {
    data: D,
    options: Options,
    state: State,
    io: Io,
    remote: RemoteAddress,
    receive: ReceiveBuffer,
    send: SendBuffer,
    /// When the idle clock last restarted: something received, the connection established,
    /// or, once the input has ended, something sent.
    idle_since: Instant,
    /// Whether the ping of the current idle period went out.
    ping_sent: bool,
    /// Set while connecting.
    attempt: Option<Attempt>,
    /// `close_nicely` was called (possibly while still connecting).
    closing: bool,
    close_deadline: Option<Instant>,
    /// Our writing direction is closed (half-close done).
    write_closed: bool,
    /// The input reached end of stream.
    input_eof: bool,
    /// Closing dropped input that the receive buffer had no room for: all that follows is
    /// dropped too.
    dropping: bool,
}

impl<D> Connection<D> {
    fn blank(data: D, options: Options, now: Instant) -> Self {
        Connection {
            receive: ReceiveBuffer::new(options.receive_soft_limit),
            data,
            options,
            state: State::Connected,
            io: Io::None,
            remote: RemoteAddress::Unknown,
            send: SendBuffer::default(),
            idle_since: now,
            ping_sent: false,
            attempt: None,
            closing: false,
            close_deadline: None,
            write_closed: false,
            input_eof: false,
            dropping: false,
        }
    }

    /// Connects to `host` (an IPv4 or IPv6 literal, or a DNS name) on TCP `port`.
    ///
    /// Never fails and never blocks: a failure shows as [`State::Disconnected`] with its
    /// reason ([`Resolve`](DisconnectReason::Resolve), or [`Os`](DisconnectReason::Os)
    /// naming `connect`, `socket`...). The state is [`Connecting`](State::Connecting) until
    /// an [`update`](Connection::update) sees the connection established.
    ///
    /// A literal is used as it is. A name is resolved (`getaddrinfo(3)`) on a helper thread,
    /// whose end wakes the connection's [`Waiter`]; when it gives several addresses they are
    /// tried in turn, each with a non-blocking `connect(2)`. The
    /// [`timeout`](Options::timeout) bounds the whole attempt, resolution included: if it
    /// runs out during the lookup the connection ends in
    /// [`Timeout`](DisconnectReason::Timeout), and the thread, which nothing can cancel,
    /// finishes on its own and is forgotten. Without a timeout only the resolver's own
    /// settings (`resolv.conf`) bound the lookup. If no thread can be started the connection
    /// ends with [`Resolve`](DisconnectReason::Resolve). Use
    /// [`connect_addr`](Connection::connect_addr) to skip resolution.
    ///
    /// Data given to [`send`](Connection::send) meanwhile is sent once connected.
    ///
    /// # Examples
    ///
    /// ```
    /// use camlnet_procord_conn::{Connection, Options, State};
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let port = listener.local_addr()?.port();
    /// let mut conn = Connection::connect("127.0.0.1", port, (), Options::new());
    /// conn.send(b"hello");
    /// while *conn.state() == State::Connecting {
    ///     conn.waiter().wait(Some(std::time::Duration::from_secs(5)));
    ///     conn.update();
    /// }
    /// assert_eq!(*conn.state(), State::Connected);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(host: &str, port: u16, data: D, options: Options) -> Self {
        let started = Instant::now();
        if let Some(addr) = literal(host, port) {
            return Self::connect_addrs(VecDeque::from([addr]), started, data, options);
        }
        let name = host.to_owned();
        let lookup = Lookup::spawn(host, move || {
            resolve(&name, port).map_err(|e| e.to_string())
        });
        match lookup {
            Ok(lookup) => Self::resolving(lookup, started, data, options),
            Err(e) => {
                let mut conn = Self::blank(data, options, started);
                conn.disconnect(DisconnectReason::Resolve {
                    host: host.to_owned(),
                    message: format!("cannot start a resolver thread: {e}"),
                });
                conn
            }
        }
    }

    /// Connects to the addresses that `lookup` will give.
    pub(crate) fn resolving(lookup: Lookup, started: Instant, data: D, options: Options) -> Self {
        let mut conn = Self::blank(data, options, started);
        conn.state = State::Connecting;
        conn.attempt = Some(Attempt {
            started,
            lookup: Some(lookup),
            remaining: VecDeque::new(),
            last_error: None,
        });
        conn
    }

    /// Connects to `addr` without name resolution; otherwise as [`connect`](Connection::connect).
    pub fn connect_addr(addr: SocketAddr, data: D, options: Options) -> Self {
        Self::connect_addrs(VecDeque::from([addr]), Instant::now(), data, options)
    }

    fn connect_addrs(
        remaining: VecDeque<SocketAddr>,
        started: Instant,
        data: D,
        options: Options,
    ) -> Self {
        let mut conn = Self::blank(data, options, started);
        conn.state = State::Connecting;
        conn.attempt = Some(Attempt {
            started,
            lookup: None,
            remaining,
            last_error: None,
        });
        conn.start_next(started);
        conn
    }

    /// Wraps arbitrary fds: `input` is read from, `output` written to.
    ///
    /// Without `input` nothing is ever received; without `output` whatever is sent is
    /// dropped. The connection starts [`Connected`](State::Connected). Both fds are put in
    /// non-blocking mode (see [`Fd`] about borrowed fds such as stdin). Output sockets are
    /// written with `send(2)` and `MSG_NOSIGNAL`; other fds with `write(2)`, where a reader
    /// that went away raises `SIGPIPE`: Rust programs ignore that signal by default, and
    /// the write then fails with `EPIPE`, a disconnection. For one socket used in both
    /// directions prefer [`from_socket`](Connection::from_socket).
    ///
    /// If an fd cannot be made non-blocking or examined (`fcntl(2)` or `fstat(2)` fails,
    /// for instance with `EBADF`) the connection starts
    /// [`Disconnected`](State::Disconnected) with that error.
    ///
    /// # Examples
    ///
    /// A child process spoken to over its stdin and stdout:
    ///
    /// ```
    /// use std::process::{Command, Stdio};
    /// use camlnet_procord_conn::{Connection, Fd, Options};
    ///
    /// let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let input = child.stdout.take().map(Fd::owned);
    /// let output = child.stdin.take().map(Fd::owned);
    /// let mut conn = Connection::custom(input, output, (), Options::new());
    /// conn.send(b"ping");
    /// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    /// while conn.receive_buffer_length() < 4 && std::time::Instant::now() < deadline {
    ///     conn.waiter().wait(Some(std::time::Duration::from_secs(1)));
    ///     conn.update();
    /// }
    /// assert_eq!(conn.receive(4).as_deref(), Some(&b"ping"[..]));
    /// conn.close(); // cat sees end of stream and exits
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn custom(input: Option<Fd>, output: Option<Fd>, data: D, options: Options) -> Self {
        let mut conn = Self::blank(data, options, Instant::now());
        let input = input.map(Endpoint::new).transpose();
        let output = output.map(Endpoint::new).transpose();
        match (input, output) {
            (Ok(input), Ok(output)) => {
                conn.io = Io::Split { input, output };
                tracing::debug!("custom connection created");
            }
            (Err(e), _) | (_, Err(e)) => {
                conn.disconnect(DisconnectReason::Os(e));
            }
        }
        conn
    }

    /// Wraps a connected socket (TCP, Unix-domain, or one end of a `socketpair`) used in
    /// both directions; its remote address comes from `getpeername(2)`.
    ///
    /// As [`custom`](Connection::custom) otherwise; [`close_nicely`](Connection::close_nicely)
    /// half-closes it with `shutdown(2)`. Applies [`Options::nodelay`] when set (ignored on
    /// sockets that are not TCP).
    pub fn from_socket(socket: Fd, data: D, options: Options) -> Self {
        let mut conn = Self::blank(data, options, Instant::now());
        match Endpoint::new(socket) {
            Ok(endpoint) => {
                if let Ok(peer) = rustix::net::getpeername(&endpoint) {
                    conn.remote = RemoteAddress::from_any(peer);
                }
                if conn.options.nodelay && endpoint.is_socket() {
                    let _ = rustix::net::sockopt::set_tcp_nodelay(&endpoint, true);
                }
                conn.io = Io::Socket(endpoint);
            }
            Err(e) => conn.disconnect(DisconnectReason::Os(e)),
        }
        conn
    }

    /// A socket from `accept4(2)` with `SOCK_NONBLOCK`.
    pub(crate) fn accepted(fd: OwnedFd, remote: RemoteAddress, data: D, options: Options) -> Self {
        let mut conn = Self::blank(data, options, Instant::now());
        if conn.options.nodelay {
            // Fails on Unix-domain sockets, where there is no Nagle to disable.
            let _ = rustix::net::sockopt::set_tcp_nodelay(&fd, true);
        }
        conn.io = Io::Socket(Endpoint::nonblocking_socket(fd));
        conn.remote = remote;
        tracing::debug!(remote = %conn.remote, "accepted");
        conn
    }

    /// Sets the address that [`remote_address`](Connection::remote_address) reports (for a
    /// [`custom`](Connection::custom) connection, whose default is
    /// [`RemoteAddress::Unknown`]).
    pub fn with_remote_address(mut self, remote: RemoteAddress) -> Self {
        self.remote = remote;
        self
    }

    /// The state at the last [`update`](Connection::update) (or `close`/`close_nicely`).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// `true` unless [`Disconnected`](State::Disconnected).
    pub fn alive(&self) -> bool {
        self.state.is_alive()
    }

    /// Queues `bytes` for sending; the next [`update`](Connection::update)s write them.
    ///
    /// Queued while [`Connecting`](State::Connecting) and sent once connected; still sent
    /// after the input has ended (see [`input_ended`](Connection::input_ended)). Ignored,
    /// as in the original, once [`Disconnected`](State::Disconnected), after
    /// [`close_nicely`](Connection::close_nicely), and on a connection without output. The
    /// send buffer has no limit: watch [`send_buffer_length`](Connection::send_buffer_length)
    /// to push back.
    pub fn send(&mut self, bytes: &[u8]) {
        let open = matches!(self.state, State::Connecting | State::Connected) && !self.closing;
        let has_output = self.state == State::Connecting || self.output().is_some();
        if open && has_output {
            self.send.push(bytes);
        }
    }

    /// Writes what the output takes of the send buffer now, without blocking: the writing
    /// half of [`update`](Connection::update), without reading or timers.
    ///
    /// Saves a request/response loop a system call: `send` then `flush` puts the request
    /// on the wire, where `update` would also try a read that finds nothing yet. Does
    /// nothing while connecting or once disconnected; a failed write disconnects as in
    /// `update`.
    pub fn flush(&mut self) {
        if matches!(self.state, State::Connected | State::Disconnecting) {
            self.write_out();
        }
    }

    /// Bytes queued by [`send`](Connection::send) that the OS has not taken yet.
    pub fn send_buffer_length(&self) -> usize {
        self.send.len()
    }

    /// Takes exactly `n` bytes from the front of the receive buffer, or nothing (`None`)
    /// when it holds fewer.
    ///
    /// A `None` tells the buffer that `n` bytes are wanted, so it keeps reading beyond its
    /// soft limit until they are there (see [`Options::receive_soft_limit`]). Works after a
    /// disconnect, on what was received before.
    pub fn receive(&mut self, n: usize) -> Option<Vec<u8>> {
        self.receive.receive(n)
    }

    /// Lends the `n` bytes at `offset` in the receive buffer without taking them, or `None`
    /// when the buffer holds fewer than `offset + n` (which, as for
    /// [`receive`](Connection::receive), lets it read beyond its soft limit).
    pub fn receive_poll(&self, offset: usize, n: usize) -> Option<&[u8]> {
        self.receive.receive_poll(offset, n)
    }

    /// Lends at most `n` bytes at `offset` without taking them; possibly none.
    pub fn receive_poll_part(&self, offset: usize, n: usize) -> &[u8] {
        self.receive.receive_poll_part(offset, n)
    }

    /// Takes at most `n` bytes from the front; possibly none.
    pub fn receive_part(&mut self, n: usize) -> Vec<u8> {
        self.receive.receive_part(n)
    }

    /// Takes everything in the receive buffer; possibly nothing.
    pub fn receive_all(&mut self) -> Vec<u8> {
        self.receive.receive_all()
    }

    /// Drops at most `n` bytes from the front without copying them; returns how many.
    pub fn receive_forget(&mut self, n: usize) -> usize {
        self.receive.receive_forget(n)
    }

    /// How many bytes the receive buffer holds.
    pub fn receive_buffer_length(&self) -> usize {
        self.receive.len()
    }

    /// Whether the receive buffer is empty.
    pub fn receive_buffer_empty(&self) -> bool {
        self.receive.len() == 0
    }

    /// Whether the input reached its end of stream: the peer half-closed or closed its
    /// socket, or the writer of the input pipe closed it. Nothing more will be received;
    /// what came before is in the receive buffer.
    ///
    /// The end of the input does not end the connection: it stays
    /// [`Connected`](State::Connected) with its output open, so that a peer that
    /// half-closed (`shutdown(SHUT_WR)`, `nc -N`) still gets its answer. The application
    /// sends what it has to, then closes, best with
    /// [`close_nicely`](Connection::close_nicely), which then ends as soon as everything
    /// is sent. Until then the idle [`timeout`](Options::timeout) still applies. A
    /// connection without output has nothing left to do at the end of its input and is
    /// [`Disconnected(Eof)`](DisconnectReason::Eof) instead.
    ///
    /// # Examples
    ///
    /// A server answering a request that ends with the client's end of stream:
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// use camlnet_procord_conn::{Connection, Fd, Options, State};
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (accepted, _) = listener.accept()?;
    /// let mut conn = Connection::from_socket(Fd::owned(accepted), (), Options::new());
    /// client.write_all(b"question")?;
    /// client.shutdown(std::net::Shutdown::Write)?;
    /// while !conn.input_ended() {
    ///     conn.waiter().wait(Some(Duration::from_secs(5)));
    ///     conn.update();
    /// }
    /// assert_eq!(*conn.state(), State::Connected);
    /// assert_eq!(conn.receive_all(), b"question");
    /// conn.send(b"answer");
    /// conn.close_nicely(Some(Duration::from_secs(5)));
    /// while conn.alive() {
    ///     conn.waiter().wait(Some(Duration::from_secs(5)));
    ///     conn.update();
    /// }
    /// let mut answer = Vec::new();
    /// client.read_to_end(&mut answer)?;
    /// assert_eq!(answer, b"answer");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn input_ended(&self) -> bool {
        self.input_eof
    }

    /// Closes at once: owned fds are closed (borrowed ones get their blocking mode back),
    /// unsent data is dropped, and the state becomes
    /// [`Disconnected(ClosedLocally)`](DisconnectReason::ClosedLocally). Received data stays
    /// readable. Nothing if already disconnected.
    ///
    /// Closing a socket whose kernel receive queue still holds unread data makes the OS
    /// send a reset, which may destroy data the peer has not read yet; prefer
    /// [`close_nicely`](Connection::close_nicely) when what was sent matters.
    pub fn close(&mut self) {
        if self.alive() {
            self.disconnect(DisconnectReason::ClosedLocally);
        }
    }

    /// Closes gracefully, over the next [`update`](Connection::update)s: sends everything
    /// queued, then half-closes (`shutdown(SHUT_WR)` on a socket, closing the output fd
    /// otherwise) so the peer sees end of stream after the last byte, then keeps reading
    /// until the peer's own end of stream, and closes. Reading to the end avoids the reset
    /// that closing with unread data provokes. What arrives stays in the receive buffer up
    /// to its soft limit (or the demand of a pending `receive`, see
    /// [`Options::receive_soft_limit`]); past that, the rest of the input is read and
    /// dropped, so that an application that no longer reads cannot stall the close, and the
    /// buffer keeps a prefix of the stream.
    ///
    /// The state is [`Disconnecting`](State::Disconnecting) meanwhile (after the connect
    /// completes, if called while connecting) and ends
    /// [`Disconnected(ClosedLocally)`](DisconnectReason::ClosedLocally). If `timeout` runs
    /// out first the connection closes anyway: `ClosedLocally` when everything was sent,
    /// [`Timeout`](DisconnectReason::Timeout) when data was left. The idle timeout of the
    /// options still applies, and it is never paused while closing. A [`Waiter`] of the
    /// connection lists its input until the end of stream arrives. Does nothing once
    /// disconnecting or disconnected.
    pub fn close_nicely(&mut self, timeout: Option<Duration>) {
        if self.closing || !self.alive() {
            return;
        }
        self.closing = true;
        self.close_deadline = timeout.map(|t| Instant::now() + t);
        if self.state == State::Connected {
            self.state = State::Disconnecting;
        }
    }

    /// The user data.
    pub fn data(&self) -> &D {
        &self.data
    }

    /// The user data, mutably.
    pub fn data_mut(&mut self) -> &mut D {
        &mut self.data
    }

    /// Consumes the connection (closing it) and returns the user data.
    pub fn into_data(self) -> D {
        self.data
    }

    /// The idle timeout given in the options.
    pub fn timeout(&self) -> Option<Duration> {
        self.options.timeout
    }

    /// The options the connection was made with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The peer's address: the address connected to (or being tried), the accepted peer,
    /// `getpeername(2)` of a socket, or [`RemoteAddress::Unknown`] (also while the name given
    /// to [`connect`](Connection::connect) is being resolved).
    pub fn remote_address(&self) -> &RemoteAddress {
        &self.remote
    }

    /// A [`Waiter`] for this connection alone; see [`Waiter::from_connection`].
    pub fn waiter(&self) -> Waiter<'_> {
        Waiter::from_connection(self)
    }
}
