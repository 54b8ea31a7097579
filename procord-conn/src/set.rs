//! `Set<D>`: the connections of a server, accepted and updated together.

use std::os::fd::AsFd;
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::net::SocketFlags;

use crate::accept_pause::AcceptPause;
use crate::address::RemoteAddress;
use crate::connection::Connection;
use crate::error::Error;
use crate::options::Options;
use crate::waiter::Waiter;

/// At most this many connections are accepted per call, so that a flood of clients cannot
/// starve the ones already connected.
const MAX_ACCEPT_PER_CALL: usize = 1024;

/// A set of connections, for servers: [`accept_into_set`](Set::accept_into_set) adds to it,
/// [`update_set`](Set::update_set) updates them all and removes the dead ones,
/// [`waiter`](Set::waiter) waits for any of them and [`accept_waiter`](Set::accept_waiter)
/// for a listening socket.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use camlnet_procord_conn::{Connection, Options, Set, Waiter};
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// listener.set_nonblocking(true)?;
/// let mut client = Connection::connect_addr(listener.local_addr()?, (), Options::new());
/// client.send(b"hi");
///
/// let mut set: Set<u32> = Set::new();
/// let deadline = Instant::now() + Duration::from_secs(10);
/// while set.iter().all(|c| c.receive_buffer_length() < 2) && Instant::now() < deadline {
///     Waiter::from_list([set.accept_waiter(&listener), set.waiter(), client.waiter()])
///         .sleep(Some(Duration::from_millis(100)));
///     set.accept_into_set(&listener, |_peer| Some(7), &Options::new())?;
///     set.update_set();
///     client.update();
/// }
/// let conn = set.iter_mut().next().expect("accepted");
/// assert_eq!(*conn.data(), 7);
/// assert_eq!(conn.receive_all(), b"hi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Set<D> {
    connections: Vec<Connection<D>>,
    pause: AcceptPause,
}

impl<D> Default for Set<D> {
    fn default() -> Self {
        Set::new()
    }
}

impl<D> Set<D> {
    /// An empty set.
    pub fn new() -> Self {
        Set {
            connections: Vec::new(),
            pause: AcceptPause::default(),
        }
    }

    /// Adds a connection made elsewhere (a client from
    /// [`Connection::connect`], a [`Connection::custom`]...).
    pub fn insert(&mut self, connection: Connection<D>) {
        self.connections.push(connection);
    }

    /// Accepts the connections waiting on `listener` and adds them to the set, each with a
    /// clone of `options` (the original applied them to the first of a batch only).
    ///
    /// `make_data` gets the peer's address and returns the connection's data, or `None` to
    /// close the connection at once. Accepted sockets are non-blocking and close-on-exec
    /// (`accept4(2)` with `SOCK_NONBLOCK | SOCK_CLOEXEC`). Accepts until none is waiting,
    /// at most 1024 per call; a blocking listener is polled before each `accept` so that the
    /// call never blocks (a non-blocking listener saves that `poll`, and avoids blocking
    /// when a client vanishes between the two). `ECONNABORTED` and `EINTR` are skipped.
    /// Returns how many connections were accepted (including those refused by
    /// `make_data`).
    ///
    /// # Out of file descriptors
    ///
    /// When `accept(2)` fails with `EMFILE` or `ENFILE` (out of file descriptors), or
    /// `ENOBUFS` or `ENOMEM`, the waiting clients cannot be taken now, and the listener
    /// stays readable: a loop that waited for it again would spin. So the set pauses
    /// accepting instead of failing, as TCP servers do: for 10 ms at first, doubling up to a
    /// second while the failures go on, and until a connection of the set is closed (which
    /// frees a descriptor, see [`update_set`](Set::update_set)). The call logs a warning and
    /// returns what it accepted; meanwhile calls return `Ok(0)` without trying, and
    /// [`accept_waiter`](Set::accept_waiter) waits for the end of the pause rather than for
    /// the listener. The clients wait in the listen backlog.
    ///
    /// # Errors
    ///
    /// When `accept(2)` (or `poll(2)`, `fcntl(2)`) fails otherwise: `EBADF`, `EINVAL` for a
    /// socket that is not listening... The connections accepted before the error stay in
    /// the set.
    pub fn accept_into_set<L, F>(
        &mut self,
        listener: &L,
        mut make_data: F,
        options: &Options,
    ) -> Result<usize, Error>
    where
        L: AsFd,
        F: FnMut(&RemoteAddress) -> Option<D>,
    {
        if self.pause.until(Instant::now()).is_some() {
            return Ok(0);
        }
        let blocking = !rustix::fs::fcntl_getfl(listener)
            .map_err(|e| Error::os("fcntl", "F_GETFL", e))?
            .contains(OFlags::NONBLOCK);
        let mut accepted = 0;
        while accepted < MAX_ACCEPT_PER_CALL {
            if blocking && !readable(listener)? {
                break;
            }
            match rustix::net::acceptfrom_with(
                listener,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            ) {
                Ok((fd, peer)) => {
                    accepted += 1;
                    self.pause.reset();
                    let remote = RemoteAddress::from_any(peer);
                    match make_data(&remote) {
                        Some(data) => self.connections.push(Connection::accepted(
                            fd,
                            remote,
                            data,
                            options.clone(),
                        )),
                        None => tracing::debug!(%remote, "refused by make_data"),
                    }
                }
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR | Errno::CONNABORTED) => {}
                Err(e @ (Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)) => {
                    let pause = self.pause.start(Instant::now());
                    tracing::warn!(
                        error = %e,
                        pause_ms = pause.as_millis() as u64,
                        "accept: out of resources, pausing"
                    );
                    break;
                }
                Err(e) => return Err(Error::os("accept", local_address(listener), e)),
            }
        }
        Ok(accepted)
    }

    /// Updates every connection (see [`Connection::update`]) and removes those that are
    /// disconnected.
    ///
    /// A connection whose peer ended its stream is not disconnected by that: it stays, open
    /// for sending, until the application closes it (see [`Connection::input_ended`]) or
    /// its idle timeout runs out.
    ///
    /// Removed connections that still hold received data are handed back, so that data is
    /// not lost (the original dropped it); the others are dropped. The order of the
    /// remaining connections is kept. A disconnection frees a descriptor, so it ends a
    /// pause of [`accept_into_set`](Set::accept_into_set).
    pub fn update_set(&mut self) -> Vec<Connection<D>> {
        let mut any_dead = false;
        for connection in &mut self.connections {
            connection.update();
            any_dead |= !connection.alive();
        }
        let mut handed_back = Vec::new();
        if any_dead {
            self.pause.lift();
            let all = std::mem::take(&mut self.connections);
            self.connections.reserve(all.len());
            for connection in all {
                if connection.alive() {
                    self.connections.push(connection);
                } else if !connection.receive_buffer_empty() {
                    handed_back.push(connection);
                }
            }
        }
        handed_back
    }

    /// The connections, in the order they were added.
    pub fn iter(&self) -> std::slice::Iter<'_, Connection<D>> {
        self.connections.iter()
    }

    /// The connections, mutably (to send, receive, close).
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Connection<D>> {
        self.connections.iter_mut()
    }

    /// How many connections the set holds (dead ones included until the next
    /// [`update_set`](Set::update_set)).
    pub fn len(&self) -> usize {
        self.connections.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }

    /// A [`Waiter`] for all connections of the set; see [`Waiter::from_set`].
    pub fn waiter(&self) -> Waiter<'_> {
        Waiter::from_set(self)
    }

    /// A [`Waiter`] until [`accept_into_set`](Set::accept_into_set) is worth calling on
    /// `listener`: [`Waiter::from_listener`], except while accepting is paused for want of
    /// file descriptors, when it waits for the end of the pause instead (see
    /// [`accept_into_set`](Set::accept_into_set)), so that a server loop sleeps rather than
    /// spins. Make a new one for each turn of the loop.
    pub fn accept_waiter<'a, L: AsFd>(&self, listener: &'a L) -> Waiter<'a> {
        match self.pause.until(Instant::now()) {
            Some(until) => {
                let mut waiter = Waiter::new();
                waiter.due(Some(until));
                waiter
            }
            None => Waiter::from_listener(listener),
        }
    }
}

/// Takes the connections out of the set.
impl<D> IntoIterator for Set<D> {
    type Item = Connection<D>;
    type IntoIter = std::vec::IntoIter<Connection<D>>;

    fn into_iter(self) -> Self::IntoIter {
        self.connections.into_iter()
    }
}

impl<'a, D> IntoIterator for &'a Set<D> {
    type Item = &'a Connection<D>;
    type IntoIter = std::slice::Iter<'a, Connection<D>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, D> IntoIterator for &'a mut Set<D> {
    type Item = &'a mut Connection<D>;
    type IntoIter = std::slice::IterMut<'a, Connection<D>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

/// Whether `listener` has a connection waiting (a zero-timeout `poll(2)`).
fn readable(listener: &impl AsFd) -> Result<bool, Error> {
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        let mut fds = [PollFd::new(listener, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(n) => return Ok(n > 0),
            Err(Errno::INTR) => {}
            Err(e) => return Err(Error::os("poll", "", e)),
        }
    }
}

/// The address `listener` listens on, as text for an error; empty when unknown.
fn local_address(listener: &impl AsFd) -> String {
    rustix::net::getsockname(listener)
        .map(|addr| RemoteAddress::from_any(Some(addr)).to_string())
        .unwrap_or_default()
}
