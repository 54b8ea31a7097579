//! Creating the listening socket: `socket(2)`, options, `bind(2)`, `listen(2)` with an
//! explicit backlog; for Unix, on a path claimed through [`UnixFile`].

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::Error;
use crate::unix_file::UnixFile;
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
    let claim = UnixFile::claim(path)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    let addr = SockAddr::unix(path)?;
    match socket.bind(&addr) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            claim.replace_stale_file(e)?;
            socket.bind(&addr)?;
        }
        Err(e) => return Err(e),
    }
    let file = claim.bound();
    if let Err(e) = socket.listen(backlog) {
        file.remove();
        return Err(e);
    }
    Ok((socket, file))
}
