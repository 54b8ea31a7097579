//! Connecting over TCP: the `Inet` target, bind before connect, and the connect paths
//! (one literal address, a caller's socket, a host name raced with Happy Eyeballs).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use camlnet_flow::Inet;
use socket2::{Domain, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

use crate::error::{Attempt, ConnectError};
use crate::happy_eyeballs;
use crate::options::Options;
use crate::resolve::{Resolve, SystemResolver};
use crate::transport::sealed::Sealed;

/// Where an [`Inet`] connection goes, and from where.
#[derive(Clone)]
pub struct InetTarget {
    remote: Remote,
    local: Local,
    resolver: Option<Arc<dyn Resolve>>,
}

#[derive(Debug, Clone)]
enum Remote {
    HostAndPort { host: Box<str>, port: u16 },
    Address(SocketAddr),
}

/// The local end to bind before connecting, if any part of it is set.
#[derive(Debug, Clone, Copy, Default)]
struct Local {
    ip: Option<IpAddr>,
    port: Option<u16>,
}

/// A checked remote: an address to connect to, or a name to resolve.
enum Checked<'a> {
    Literal(SocketAddr),
    Host(&'a str, u16),
}

impl InetTarget {
    pub(crate) fn host_and_port(host: &str, port: u16) -> Self {
        InetTarget::new(Remote::HostAndPort {
            host: host.into(),
            port,
        })
    }

    pub(crate) fn address(address: SocketAddr) -> Self {
        InetTarget::new(Remote::Address(address))
    }

    fn new(remote: Remote) -> Self {
        InetTarget {
            remote,
            local: Local::default(),
            resolver: None,
        }
    }

    pub(crate) fn set_local_ip(&mut self, ip: IpAddr) {
        self.local.ip = Some(ip);
    }

    pub(crate) fn set_local_port(&mut self, port: u16) {
        self.local.port = Some(port);
    }

    pub(crate) fn set_resolver(&mut self, resolver: Arc<dyn Resolve>) {
        self.resolver = Some(resolver);
    }

    /// The remote, or why it cannot be connected to.
    fn check(&self) -> Result<Checked<'_>, &'static str> {
        match &self.remote {
            Remote::Address(address) if address.port() == 0 => Err("port 0 cannot be connected to"),
            Remote::Address(address) => Ok(Checked::Literal(*address)),
            Remote::HostAndPort { host, .. } if host.is_empty() => Err("the host name is empty"),
            Remote::HostAndPort { port: 0, .. } => Err("port 0 cannot be connected to"),
            Remote::HostAndPort { host, port } => {
                let bare = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                Ok(match bare.parse::<IpAddr>() {
                    Ok(ip) => Checked::Literal(SocketAddr::new(ip, *port)),
                    Err(_) => Checked::Host(host, *port),
                })
            }
        }
    }
}

impl Local {
    fn is_set(&self) -> bool {
        self.ip.is_some() || self.port.is_some()
    }

    /// The address to bind before connecting to `remote`, if any.
    fn bind_address(&self, remote: SocketAddr) -> io::Result<Option<SocketAddr>> {
        if !self.is_set() {
            return Ok(None);
        }
        let ip = match self.ip {
            Some(ip) if ip.is_ipv4() != remote.is_ipv4() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the local interface {ip} and the address {remote} are not of the same IP version"
                    ),
                ));
            }
            Some(ip) => ip,
            None if remote.is_ipv4() => IpAddr::from([0, 0, 0, 0]),
            None => IpAddr::from([0u16; 8]),
        };
        Ok(Some(SocketAddr::new(ip, self.port.unwrap_or(0))))
    }

    /// Binds `socket` before it connects to `remote`, with `SO_REUSEADDR` when a port is
    /// given (so that a port whose last connection is in `TIME_WAIT` can be used again).
    fn bind(&self, socket: &Socket, remote: SocketAddr) -> io::Result<()> {
        if let Some(local) = self.bind_address(remote)? {
            if local.port() != 0 {
                socket.set_reuse_address(true)?;
            }
            socket.bind(&local.into())?;
        }
        Ok(())
    }
}

/// One attempt on a new socket: `socket(2)`, `bind(2)` if a local end is set, `connect(2)`.
async fn connect_one(remote: SocketAddr, local: Local) -> io::Result<TcpStream> {
    if !local.is_set() {
        // Exactly what `TcpStream::connect` does for one address: nothing more.
        return TcpStream::connect(remote).await;
    }
    let socket = Socket::new(Domain::for_address(remote), Type::STREAM, None)?;
    local.bind(&socket, remote)?;
    connect_socket(socket, remote).await
}

/// Connects a prepared socket (made non-blocking here) to `remote`.
async fn connect_socket(socket: Socket, remote: SocketAddr) -> io::Result<TcpStream> {
    socket.set_nonblocking(true)?;
    TcpSocket::from_std_stream(socket.into())
        .connect(remote)
        .await
}

/// Checks that the caller's socket is a stream socket and says whether it is IPv6.
fn caller_socket_is_v6(socket: &Socket) -> io::Result<bool> {
    let invalid = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the socket is not {what}"),
        )
    };
    if socket.r#type()? != Type::STREAM {
        return Err(invalid("a stream socket"));
    }
    match socket.domain()? {
        Domain::IPV4 => Ok(false),
        Domain::IPV6 => Ok(true),
        _ => Err(invalid("an IPv4 or IPv6 socket")),
    }
}

/// What the slow path got to before a timeout or an interrupt stopped it.
#[derive(Default)]
struct Progress {
    resolving: bool,
    attempts: Vec<Attempt>,
}

impl Sealed for Inet {
    type Target = InetTarget;

    fn connect(
        target: &InetTarget,
        options: &Options,
        socket: Option<Socket>,
    ) -> impl Future<Output = Result<TcpStream, ConnectError>> + Send {
        connect(target, options, socket)
    }
}

async fn connect(
    target: &InetTarget,
    options: &Options,
    socket: Option<Socket>,
) -> Result<TcpStream, ConnectError> {
    let remote = target
        .check()
        .map_err(|why| ConnectError::invalid_target(target, why))?;
    if let (Checked::Literal(address), None) = (&remote, &socket) {
        // The common case, kept lean: one address, no lookup, no race.
        let address = *address;
        return match options.bound(connect_one(address, target.local)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(error)) => {
                tracing::debug!(%address, %error, "connect failed");
                let attempts = vec![Attempt {
                    address,
                    error: Some(error),
                }];
                Err(ConnectError::attempts_failed(target, attempts))
            }
            Err(stop) => {
                let attempts = vec![Attempt {
                    address,
                    error: None,
                }];
                Err(ConnectError::stopped(target, stop, false, attempts))
            }
        };
    }
    let mut progress = Progress::default();
    match options
        .bound(connect_slowly(target, remote, socket, &mut progress))
        .await
    {
        Ok(result) => result,
        Err(stop) => {
            tracing::debug!(%target, ?stop, "connect stopped");
            Err(ConnectError::stopped(
                target,
                stop,
                progress.resolving,
                progress.attempts,
            ))
        }
    }
}

/// Resolves the host if need be, then connects the caller's socket or races the
/// addresses, recording in `progress` what it did.
async fn connect_slowly(
    target: &InetTarget,
    remote: Checked<'_>,
    socket: Option<Socket>,
    progress: &mut Progress,
) -> Result<TcpStream, ConnectError> {
    let caller_v6 = match &socket {
        Some(socket) => {
            Some(caller_socket_is_v6(socket).map_err(|e| ConnectError::socket(target, e))?)
        }
        None => None,
    };
    let mut addresses = match remote {
        Checked::Literal(address) => vec![address],
        Checked::Host(host, port) => {
            progress.resolving = true;
            let resolver: &dyn Resolve = target.resolver.as_deref().unwrap_or(&SystemResolver);
            let mut addresses = resolver
                .resolve(host, port)
                .await
                .map_err(|e| ConnectError::resolve(target, e))?;
            progress.resolving = false;
            for address in &mut addresses {
                if address.port() == 0 {
                    address.set_port(port);
                }
            }
            tracing::debug!(%target, ?addresses, "resolved");
            addresses
        }
    };
    if let (Some(socket), Some(v6)) = (socket, caller_v6) {
        // One socket can make one attempt: the first address of its family.
        addresses.retain(|a| a.is_ipv6() == v6);
        let Some(&address) = addresses.first() else {
            let family = if v6 { "IPv6" } else { "IPv4" };
            let error = io::Error::new(
                io::ErrorKind::NotFound,
                format!("no {family} address, and the socket is {family}"),
            );
            return Err(ConnectError::resolve(target, error));
        };
        progress.attempts.push(Attempt {
            address,
            error: None,
        });
        let local = target.local;
        let connected = async move {
            local.bind(&socket, address)?;
            connect_socket(socket, address).await
        };
        return match connected.await {
            Ok(stream) => Ok(stream),
            Err(error) => {
                progress.attempts[0].error = Some(error);
                Err(ConnectError::attempts_failed(
                    target,
                    std::mem::take(&mut progress.attempts),
                ))
            }
        };
    }
    if addresses.is_empty() {
        let error = io::Error::new(io::ErrorKind::NotFound, "the resolver found no address");
        return Err(ConnectError::resolve(target, error));
    }
    let local = target.local;
    let ordered = happy_eyeballs::interleave(addresses);
    match happy_eyeballs::race(ordered, &mut progress.attempts, |a| connect_one(a, local)).await {
        Some(stream) => Ok(stream),
        None => Err(ConnectError::attempts_failed(
            target,
            std::mem::take(&mut progress.attempts),
        )),
    }
}

impl fmt::Display for InetTarget {
    /// `host:port` (`[host]:port` for an IPv6 literal), then the local end if one is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.remote {
            Remote::Address(address) => write!(f, "{address}")?,
            Remote::HostAndPort { host, port } if host.contains(':') && !host.starts_with('[') => {
                write!(f, "[{host}]:{port}")?
            }
            Remote::HostAndPort { host, port } => write!(f, "{host}:{port}")?,
        }
        match (self.local.ip, self.local.port) {
            (Some(ip), Some(port)) => write!(f, " via {}", SocketAddr::new(ip, port)),
            (Some(ip), None) => write!(f, " via {ip}"),
            (None, Some(port)) => write!(f, " via local port {port}"),
            (None, None) => Ok(()),
        }
    }
}

impl fmt::Debug for InetTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InetTarget")
            .field("remote", &self.remote)
            .field("local", &self.local)
            .field(
                "resolver",
                &if self.resolver.is_some() {
                    "custom"
                } else {
                    "system"
                },
            )
            .finish()
    }
}
