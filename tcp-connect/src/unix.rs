//! Connecting over Unix-domain stream sockets: the `Unix` target and its connect path.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use camlnet_flow::Unix;
use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::UnixStream;

use crate::error::ConnectError;
use crate::options::Options;
use crate::transport::sealed::Sealed;

/// Where a [`Unix`] connection goes.
#[derive(Debug, Clone)]
pub struct UnixTarget {
    remote: Remote,
}

#[derive(Debug, Clone)]
enum Remote {
    File(PathBuf),
    Address(SocketAddr),
}

/// `EINPROGRESS` (`io::ErrorKind::InProgress` is not stable yet).
#[cfg(any(target_os = "linux", target_os = "android"))]
const EINPROGRESS: i32 = 115;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const EINPROGRESS: i32 = 36;

/// The longest pause between two tries while the listener's backlog is full.
const MAX_BACKLOG_PAUSE: Duration = Duration::from_millis(100);

impl UnixTarget {
    pub(crate) fn file(path: PathBuf) -> Self {
        UnixTarget {
            remote: Remote::File(path),
        }
    }

    pub(crate) fn address(address: SocketAddr) -> Self {
        UnixTarget {
            remote: Remote::Address(address),
        }
    }

    /// The address in socket2's form, or why it cannot be connected to.
    fn sock_addr(&self) -> Result<SockAddr, &'static str> {
        let invalid = "the address is not a valid Unix socket address";
        match &self.remote {
            Remote::File(path) if path.as_os_str().is_empty() => Err("the path is empty"),
            Remote::File(path) => SockAddr::unix(path).map_err(|_| invalid),
            Remote::Address(address) => {
                if let Some(path) = address.as_pathname() {
                    return SockAddr::unix(path).map_err(|_| invalid);
                }
                #[cfg(target_os = "linux")]
                {
                    use std::os::linux::net::SocketAddrExt;
                    if let Some(name) = address.as_abstract_name() {
                        // A leading NUL byte names the abstract namespace.
                        let mut path = Vec::with_capacity(name.len() + 1);
                        path.push(0);
                        path.extend_from_slice(name);
                        let path = Path::new(
                            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&path),
                        );
                        return SockAddr::unix(path).map_err(|_| invalid);
                    }
                }
                Err("an unnamed Unix socket address cannot be connected to")
            }
        }
    }
}

impl Sealed for Unix {
    type Target = UnixTarget;

    fn connect(
        target: &UnixTarget,
        options: &Options,
        socket: Option<Socket>,
    ) -> impl Future<Output = Result<UnixStream, ConnectError>> + Send {
        connect(target, options, socket)
    }
}

async fn connect(
    target: &UnixTarget,
    options: &Options,
    socket: Option<Socket>,
) -> Result<UnixStream, ConnectError> {
    let address = target
        .sock_addr()
        .map_err(|why| ConnectError::invalid_target(target, why))?;
    let socket = match socket {
        Some(socket) => {
            check_caller_socket(&socket).map_err(|e| ConnectError::socket(target, e))?;
            socket
        }
        None => Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)
            .map_err(|e| ConnectError::socket(target, e))?,
    };
    match options.bound(connect_socket(socket, &address)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => {
            tracing::debug!(%target, %error, "connect failed");
            Err(ConnectError::failed(target, error))
        }
        Err(stop) => Err(ConnectError::stopped(target, stop, false, Vec::new())),
    }
}

fn check_caller_socket(socket: &Socket) -> io::Result<()> {
    if socket.domain()? != Domain::UNIX || socket.r#type()? != Type::STREAM {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the socket is not a Unix stream socket",
        ));
    }
    socket.set_nonblocking(true)
}

/// Connects the non-blocking `socket`. A Unix socket connects at once or fails at once,
/// except when the listener's backlog is full (`EAGAIN`): then it tries again, pausing a
/// little longer each time, until the caller's timeout or interrupt stops it, as a
/// blocking `connect(2)` would wait.
async fn connect_socket(socket: Socket, address: &SockAddr) -> io::Result<UnixStream> {
    let mut pause = Duration::from_millis(1);
    let in_progress = loop {
        match socket.connect(address) {
            Ok(()) => break false,
            // Linux never says `EINPROGRESS` for a Unix socket; other systems may.
            Err(e) if e.raw_os_error() == Some(EINPROGRESS) => break true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tracing::trace!(?pause, "backlog full, trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_BACKLOG_PAUSE);
            }
            Err(e) => return Err(e),
        }
    };
    let stream = UnixStream::from_std(socket.into())?;
    if in_progress {
        stream.writable().await?;
        if let Some(error) = stream.take_error()? {
            return Err(error);
        }
    }
    Ok(stream)
}

impl fmt::Display for UnixTarget {
    /// The path, `@name` for an abstract address, or `(unnamed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.remote {
            Remote::File(path) => write!(f, "{}", path.display()),
            Remote::Address(address) => {
                if let Some(path) = address.as_pathname() {
                    return write!(f, "{}", path.display());
                }
                #[cfg(target_os = "linux")]
                {
                    use std::os::linux::net::SocketAddrExt;
                    if let Some(name) = address.as_abstract_name() {
                        return write!(f, "@{}", String::from_utf8_lossy(name));
                    }
                }
                f.write_str("(unnamed)")
            }
        }
    }
}
