//! The non-blocking connect: one socket per address tried, in the resolver's order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::address::RemoteAddress;
use crate::fd::Endpoint;
use crate::resolver::Lookup;
use crate::state::OsError;

/// A connect in progress: when it started (the timeout counts from there, name resolution
/// included), the name lookup while it runs, and the addresses not tried yet.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub(crate) started: Instant,
    pub(crate) lookup: Option<Lookup>,
    pub(crate) remaining: VecDeque<SocketAddr>,
    /// The error of the last address that failed, reported if none is left.
    pub(crate) last_error: Option<OsError>,
}

/// What became of starting a connect to one address.
#[derive(Debug)]
pub(crate) enum Started {
    /// `connect(2)` completed at once (rare for TCP).
    Connected(Endpoint),
    /// `connect(2)` said `EINPROGRESS`: poll for write readiness.
    Pending(Endpoint),
}

/// Opens a non-blocking TCP socket and starts connecting it to `addr`.
pub(crate) fn start(addr: SocketAddr, nodelay: bool) -> Result<Started, OsError> {
    let (family, family_name) = if addr.is_ipv4() {
        (AddressFamily::INET, "AF_INET")
    } else {
        (AddressFamily::INET6, "AF_INET6")
    };
    let fd: OwnedFd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| OsError::new("socket", family_name, e))?;
    if nodelay {
        rustix::net::sockopt::set_tcp_nodelay(&fd, true)
            .map_err(|e| OsError::new("setsockopt", "TCP_NODELAY", e))?;
    }
    match rustix::net::connect(&fd, &addr) {
        Ok(()) => Ok(Started::Connected(Endpoint::nonblocking_socket(fd))),
        // EINTR: the connect goes on asynchronously, exactly as with EINPROGRESS.
        Err(Errno::INPROGRESS | Errno::INTR) => {
            Ok(Started::Pending(Endpoint::nonblocking_socket(fd)))
        }
        Err(e) => Err(OsError::new("connect", addr.to_string(), e)),
    }
}

/// Checks a pending connect to `addr` without blocking: `None` while it is still in
/// progress, `Some(Ok(()))` once established, `Some(Err(_))` when it failed.
pub(crate) fn check(socket: &Endpoint, addr: &RemoteAddress) -> Option<Result<(), OsError>> {
    let mut fds = [PollFd::new(socket, PollFlags::OUT)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut fds, Some(&zero)) {
        Ok(0) | Err(Errno::INTR) => return None,
        Ok(_) => {}
        Err(e) => return Some(Err(OsError::new("poll", "", e))),
    }
    // SO_ERROR holds the outcome of the connect once the socket is writable.
    match rustix::net::sockopt::socket_error(socket) {
        Ok(Ok(())) => Some(Ok(())),
        Ok(Err(e)) => Some(Err(OsError::new("connect", addr.to_string(), e))),
        Err(e) => Some(Err(OsError::new("getsockopt", "SO_ERROR", e))),
    }
}
