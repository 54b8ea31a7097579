//! Remote addresses, and [`make_address`].

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::net::{SocketAddrAny, SocketAddrUnix};

use crate::error::Error;

/// The address of a connection's peer, as [`Connection::remote_address`](crate::Connection::remote_address)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemoteAddress {
    /// An IPv4 or IPv6 peer.
    Inet(SocketAddr),
    /// A Unix-domain peer, with its path when it has one (clients usually have none).
    Unix(Option<PathBuf>),
    /// Not known: a [`custom`](crate::Connection::custom) connection over pipes or stdin,
    /// unless given one with [`with_remote_address`](crate::Connection::with_remote_address).
    /// The original used the dummy `ADDR_UNIX ""` here.
    Unknown,
}

impl RemoteAddress {
    /// The IP address and port, for an [`Inet`](RemoteAddress::Inet) peer.
    pub fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            RemoteAddress::Inet(addr) => Some(*addr),
            _ => None,
        }
    }

    pub(crate) fn from_any(addr: Option<SocketAddrAny>) -> Self {
        let Some(addr) = addr else {
            return RemoteAddress::Unix(None);
        };
        if let Ok(inet) = SocketAddr::try_from(addr.clone()) {
            return RemoteAddress::Inet(inet);
        }
        match SocketAddrUnix::try_from(addr) {
            Ok(unix) => RemoteAddress::Unix(
                unix.path_bytes()
                    .map(|p| PathBuf::from(std::ffi::OsStr::from_bytes(p))),
            ),
            Err(_) => RemoteAddress::Unknown,
        }
    }
}

impl From<SocketAddr> for RemoteAddress {
    fn from(addr: SocketAddr) -> Self {
        RemoteAddress::Inet(addr)
    }
}

impl fmt::Display for RemoteAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteAddress::Inet(addr) => addr.fmt(f),
            RemoteAddress::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            RemoteAddress::Unix(None) => f.write_str("unix:(unnamed)"),
            RemoteAddress::Unknown => f.write_str("(unknown)"),
        }
    }
}

/// Makes an IP address from an IPv4 or IPv6 literal or a DNS name (the first address the
/// resolver gives).
///
/// A literal is parsed without any lookup; a name goes through the system resolver
/// (`getaddrinfo(3)`), which **blocks**.
///
/// # Errors
///
/// When the resolver fails or gives no address.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv6Addr};
///
/// assert_eq!(camlnet_procord_conn::make_address("::1")?, IpAddr::V6(Ipv6Addr::LOCALHOST));
/// assert!(camlnet_procord_conn::make_address("localhost")?.is_loopback());
/// # Ok::<(), camlnet_procord_conn::Error>(())
/// ```
pub fn make_address(host: &str) -> Result<IpAddr, Error> {
    match resolve(host, 0) {
        Ok(addrs) => Ok(addrs[0].ip()),
        Err(e) => Err(Error::resolve(host, e)),
    }
}

/// `host` and `port` as a socket address when `host` is an IP literal (`::1` or `[::1]`).
pub(crate) fn literal(host: &str, port: u16) -> Option<SocketAddr> {
    bare(host)
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// `host` without the brackets of `[::1]`.
fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Resolves `host` (a literal or a name) and `port` to socket addresses: at least one, or
/// an error. Blocks for a name.
pub(crate) fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    if let Some(addr) = literal(host, port) {
        return Ok(vec![addr]);
    }
    let addrs: Vec<SocketAddr> = (bare(host), port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(std::io::Error::other("no address"));
    }
    Ok(addrs)
}
