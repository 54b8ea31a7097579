//! `Connections`: the count of open connections, and the server's own handle on each one's
//! socket, through which `close(true)` shuts them down.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The open connections: how many, and a duplicate of each one's socket descriptor.
///
/// The handler owns its socket and may close it while it runs, and the number then goes
/// to whatever file the process opens next: a number says nothing about which socket it
/// names by the time `close(true)` comes. A duplicate names the connection's socket for
/// as long as the connection lasts, so shutting it down never reaches another socket. It
/// also keeps the socket open until the connection ends, as Async's server does, and it
/// costs a descriptor per connection (see
/// [`max_connections`](crate::ServerOptions::max_connections)).
#[derive(Debug, Default)]
pub(crate) struct Connections {
    /// The socket of each open connection, by connection number.
    sockets: HashMap<u64, OwnedFd>,
    next: u64,
    /// Set by `close(true)`: sockets added later are shut down at once.
    shut_down: bool,
}

impl Connections {
    /// The open connections.
    pub(crate) fn count(&self) -> usize {
        self.sockets.len()
    }

    /// Counts a connection whose socket `socket` duplicates (shut down at once after
    /// `close(true)`), and returns its number.
    pub(crate) fn add(&mut self, socket: OwnedFd) -> u64 {
        if self.shut_down {
            shut_down(socket.as_fd());
        }
        let id = self.next;
        self.next += 1;
        self.sockets.insert(id, socket);
        id
    }

    /// Forgets connection `id`, returning its duplicate for the caller to close (out of
    /// the lock: the last descriptor of a socket closes the connection).
    pub(crate) fn remove(&mut self, id: u64) -> Option<OwnedFd> {
        self.sockets.remove(&id)
    }

    /// `shutdown(2)` with `SHUT_RDWR` on every open connection's socket: reads then end
    /// and writes fail, while the handlers keep their sockets.
    pub(crate) fn shut_down_all(&mut self) {
        self.shut_down = true;
        for socket in self.sockets.values() {
            shut_down(socket.as_fd());
        }
    }
}

fn shut_down(socket: BorrowedFd<'_>) {
    match socket2::SockRef::from(&socket).shutdown(std::net::Shutdown::Both) {
        Ok(()) => {}
        // The peer is gone already.
        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => {}
        Err(e) => tracing::debug!(error = %e, "cannot shut a connection down"),
    }
}
