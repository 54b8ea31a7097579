//! `WhereToListen`: the socket a server listens on (Async's `Where_to_listen`), and the
//! `Listen` trait that ties it to a transport.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use camlnet_flow::{Inet, Transport, Unix};
use tokio::net::{TcpListener, UnixListener};

/// The addresses an [`Inet`] server listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindToAddress {
    /// Every IPv4 interface: `0.0.0.0`, as Async's `All_addresses`.
    AllAddresses,
    /// The IPv4 loopback interface: `127.0.0.1`.
    Localhost,
    /// One address, IPv4 or IPv6 (`::` listens on every IPv6 interface, and on IPv4 too
    /// unless the system sets `net.ipv6.bindv6only`).
    Address(IpAddr),
}

impl BindToAddress {
    pub(crate) fn ip(self) -> IpAddr {
        match self {
            BindToAddress::AllAddresses => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            BindToAddress::Localhost => IpAddr::V4(Ipv4Addr::LOCALHOST),
            BindToAddress::Address(ip) => ip,
        }
    }
}

/// The port an [`Inet`] server listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindToPort {
    /// This port.
    OnPort(u16),
    /// A free port that the operating system picks; [`Server::listening_on`] tells which.
    ///
    /// [`Server::listening_on`]: crate::Server::listening_on
    OnPortChosenByOs,
}

impl BindToPort {
    pub(crate) fn port(self) -> u16 {
        match self {
            BindToPort::OnPort(port) => port,
            BindToPort::OnPortChosenByOs => 0,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Spec {
    Inet {
        address: BindToAddress,
        port: BindToPort,
        reuse_address: bool,
        reuse_port: bool,
    },
    Unix {
        path: PathBuf,
    },
}

/// Where a [`Server`](crate::Server) listens: an address and port for [`Inet`], a file for
/// [`Unix`]. The type parameter makes the listener, the streams and the peer addresses of
/// the server agree with it at compile time.
///
/// # Examples
///
/// ```
/// use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};
///
/// let anywhere = WhereToListen::of_port(8080);
/// let local = WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs)
///     .reuse_port(true);
/// let file = WhereToListen::of_file("/tmp/my-server.sock");
/// # let _ = (anywhere, local, file);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WhereToListen<T> {
    pub(crate) spec: Spec,
    _transport: PhantomData<fn() -> T>,
}

impl<T> WhereToListen<T> {
    fn new(spec: Spec) -> Self {
        WhereToListen {
            spec,
            _transport: PhantomData,
        }
    }
}

impl WhereToListen<Inet> {
    /// Listens on `port` of `address`, with `SO_REUSEADDR` and without `SO_REUSEPORT`.
    pub fn bind_to(address: BindToAddress, port: BindToPort) -> Self {
        WhereToListen::new(Spec::Inet {
            address,
            port,
            reuse_address: true,
            reuse_port: false,
        })
    }

    /// Listens on `port` of every IPv4 interface: `bind_to(AllAddresses, OnPort(port))`.
    pub fn of_port(port: u16) -> Self {
        WhereToListen::bind_to(BindToAddress::AllAddresses, BindToPort::OnPort(port))
    }

    /// Listens on a port the system picks, on every IPv4 interface:
    /// `bind_to(AllAddresses, OnPortChosenByOs)`.
    pub fn on_port_chosen_by_os() -> Self {
        WhereToListen::bind_to(BindToAddress::AllAddresses, BindToPort::OnPortChosenByOs)
    }

    /// Listens on `address` (the port 0 lets the system pick one).
    pub fn of_address(address: SocketAddr) -> Self {
        WhereToListen::bind_to(
            BindToAddress::Address(address.ip()),
            BindToPort::OnPort(address.port()),
        )
    }

    /// Sets `SO_REUSEADDR` (on by default), which lets a restarted server bind its port
    /// while connections of the previous one are still in `TIME_WAIT`.
    pub fn reuse_address(mut self, reuse: bool) -> Self {
        if let Spec::Inet { reuse_address, .. } = &mut self.spec {
            *reuse_address = reuse;
        }
        self
    }

    /// Sets `SO_REUSEPORT` (off by default): several sockets, of this process or of
    /// others of the same user, may then listen on one port, and Linux spreads incoming
    /// connections over them. Every one of them must set it, the first one too.
    pub fn reuse_port(mut self, reuse: bool) -> Self {
        if let Spec::Inet { reuse_port, .. } = &mut self.spec {
            *reuse_port = reuse;
        }
        self
    }

    /// The address to bind.
    pub fn socket_address(&self) -> SocketAddr {
        match &self.spec {
            Spec::Inet { address, port, .. } => SocketAddr::new(address.ip(), port.port()),
            Spec::Unix { .. } => unreachable!("a WhereToListen<Inet> is always an Inet spec"),
        }
    }
}

impl WhereToListen<Unix> {
    /// Listens on the Unix socket file `path`.
    ///
    /// A socket file that nothing listens on any more (left by a server that crashed) is
    /// replaced; a file on which a server listens is never taken over: creating the server
    /// fails with an [address in use](crate::Error::is_address_in_use) error instead, as
    /// it does for a file that is not a socket.
    ///
    /// While it listens, the server holds an exclusive `flock(2)` on the file `PATH.lock`
    /// beside the socket: that is how another server of this crate tells a live socket,
    /// without connecting to it (which would run the live server's handler on a probe).
    /// A socket of a program that takes no such lock is still probed by connecting. The
    /// server removes both files when it closes.
    pub fn of_file(path: impl Into<PathBuf>) -> Self {
        WhereToListen::new(Spec::Unix { path: path.into() })
    }

    /// The socket file's path.
    pub fn path(&self) -> &Path {
        match &self.spec {
            Spec::Unix { path } => path,
            Spec::Inet { .. } => unreachable!("a WhereToListen<Unix> is always a Unix spec"),
        }
    }
}

impl<T> fmt::Debug for WhereToListen<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.spec {
            Spec::Inet {
                address,
                port,
                reuse_address,
                reuse_port,
            } => f
                .debug_struct("WhereToListen")
                .field("address", address)
                .field("port", port)
                .field("reuse_address", reuse_address)
                .field("reuse_port", reuse_port)
                .finish(),
            Spec::Unix { path } => f.debug_struct("WhereToListen").field("path", path).finish(),
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for camlnet_flow::Inet {}
    impl Sealed for camlnet_flow::Unix {}
}

/// A [`Transport`] a server can listen on: [`Inet`] or [`Unix`]. Sealed.
pub trait Listen: Transport + sealed::Sealed {
    /// What [`Server::listening_on`](crate::Server::listening_on) returns: the port for
    /// [`Inet`], the socket file's path for [`Unix`].
    type ListeningOn: Clone + fmt::Debug + Send + Sync + 'static;

    /// Registers a bound, listening, non-blocking socket with tokio.
    #[doc(hidden)]
    fn from_socket(socket: socket2::Socket) -> io::Result<Self::Listener>;

    /// The port or path of a listener's address.
    #[doc(hidden)]
    fn listening_on(address: &Self::Address) -> Self::ListeningOn;
}

impl Listen for Inet {
    type ListeningOn = u16;

    fn from_socket(socket: socket2::Socket) -> io::Result<TcpListener> {
        TcpListener::from_std(socket.into())
    }

    fn listening_on(address: &SocketAddr) -> u16 {
        address.port()
    }
}

impl Listen for Unix {
    type ListeningOn = PathBuf;

    fn from_socket(socket: socket2::Socket) -> io::Result<UnixListener> {
        UnixListener::from_std(socket.into())
    }

    fn listening_on(address: &std::os::unix::net::SocketAddr) -> PathBuf {
        address
            .as_pathname()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}
