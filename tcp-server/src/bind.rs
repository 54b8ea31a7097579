//! Creating the listening socket: `socket(2)`, options, `bind(2)`, `listen(2)` with an
//! explicit backlog, and the Unix socket file (stale ones replaced, live ones kept, ours
//! removed on close).

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::Error;
use crate::error::explained;
use crate::where_to_listen::Spec;

/// A bound, listening, non-blocking socket, and the Unix socket file it made.
pub(crate) struct Bound {
    pub(crate) socket: Socket,
    pub(crate) unix_file: Option<UnixFile>,
}

/// `bind` + `listen` as `spec` says.
pub(crate) fn listen(spec: &Spec, backlog: u32) -> Result<Bound, Error> {
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    match spec {
        Spec::Inet {
            address,
            port,
            reuse_address,
            reuse_port,
        } => {
            let addr = SocketAddr::new(address.ip(), port.port());
            let socket = listen_inet(addr, *reuse_address, *reuse_port, backlog)
                .map_err(|e| Error::listen(addr, e))?;
            Ok(Bound {
                socket,
                unix_file: None,
            })
        }
        Spec::Unix { path } => {
            let (socket, unix_file) =
                listen_unix(path, backlog).map_err(|e| Error::listen(path.display(), e))?;
            Ok(Bound {
                socket,
                unix_file: Some(unix_file),
            })
        }
    }
}

fn listen_inet(
    addr: SocketAddr,
    reuse_address: bool,
    reuse_port: bool,
    backlog: i32,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    // SO_REUSEADDR: a restarted server may bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(reuse_address)?;
    if reuse_port {
        // SO_REUSEPORT: several listening sockets share the port; Linux balances them.
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket)
}

fn listen_unix(path: &Path, backlog: i32) -> io::Result<(Socket, UnixFile)> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    let addr = SockAddr::unix(path)?;
    match socket.bind(&addr) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            replace_stale_file(path, e)?;
            socket.bind(&addr)?;
        }
        Err(e) => return Err(e),
    }
    let file = UnixFile::of(path);
    if let Err(e) = socket.listen(backlog) {
        file.remove();
        return Err(e);
    }
    Ok((socket, file))
}

/// Removes `path` if it is a socket that nothing listens on; otherwise explains why not.
fn replace_stale_file(path: &Path, in_use: io::Error) -> io::Result<()> {
    let metadata = std::fs::symlink_metadata(path)?;
    if !metadata.file_type().is_socket() {
        return Err(explained(
            io::ErrorKind::AddrInUse,
            format!("{} exists and is not a socket", path.display()),
            in_use,
        ));
    }
    // Is anybody listening? A non-blocking connect says so without waiting: a refusal
    // means the file was left by a server that is gone.
    let probe = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    probe.set_nonblocking(true)?;
    match probe.connect(&SockAddr::unix(path)?) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "replacing a stale Unix socket file");
            std::fs::remove_file(path)
        }
        Ok(()) => Err(live_socket(path)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(live_socket(path)),
        Err(e) => Err(explained(
            io::ErrorKind::AddrInUse,
            format!(
                "{} exists, and probing it for a listening server failed",
                path.display()
            ),
            e,
        )),
    }
}

fn live_socket(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("a server is already listening on {}", path.display()),
    )
}

/// The socket file a Unix server created: its path, and its identity, so that only that
/// file is removed (not one that another server put in its place since).
#[derive(Debug)]
pub(crate) struct UnixFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl UnixFile {
    fn of(path: &Path) -> Self {
        let identity = std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        UnixFile {
            path: path.to_path_buf(),
            identity,
        }
    }

    /// Removes the file if it is still ours.
    pub(crate) fn remove(&self) {
        let current = std::fs::symlink_metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if current.is_none() || current != self.identity {
            tracing::debug!(path = %self.path.display(), "the socket file is gone or replaced");
            return;
        }
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the socket file");
        }
    }
}
