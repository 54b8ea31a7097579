//! The file descriptors a connection reads from and writes to, owned or borrowed.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::state::OsError;

/// The most [`Endpoint::discard`] reads at once.
pub(crate) const DISCARD_CHUNK: usize = 16 * 1024;

/// A file descriptor given to a connection: owned (closed when the connection is done with
/// it) or borrowed for the life of the program (left open, as for stdin and stdout).
///
/// The connection puts the fd in non-blocking mode (`O_NONBLOCK`, with `fcntl(2)`). That
/// flag belongs to the open file description, which other processes may share (a terminal
/// on stdin, for instance); for a *borrowed* fd the connection puts the original mode back
/// when it lets go of the fd.
///
/// # Examples
///
/// ```
/// use camlnet_procord_conn::Fd;
///
/// let input = Fd::stdin();
/// let output = Fd::stdout();
/// # drop((input, output));
/// ```
#[derive(Debug)]
pub struct Fd {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Owned(OwnedFd),
    Borrowed(BorrowedFd<'static>),
}

impl Fd {
    /// Takes ownership of `fd` (a `TcpStream`, `UnixStream`, `ChildStdin`, `ChildStdout`,
    /// a pipe end, ...); it is closed when the connection closes.
    pub fn owned(fd: impl Into<OwnedFd>) -> Self {
        Fd {
            inner: Inner::Owned(fd.into()),
        }
    }

    /// Borrows `fd`, which stays open after the connection is done with it.
    pub fn borrowed(fd: BorrowedFd<'static>) -> Self {
        Fd {
            inner: Inner::Borrowed(fd),
        }
    }

    /// Borrows the process's standard input (fd 0).
    pub fn stdin() -> Self {
        Fd::borrowed(rustix::stdio::stdin())
    }

    /// Borrows the process's standard output (fd 1).
    pub fn stdout() -> Self {
        Fd::borrowed(rustix::stdio::stdout())
    }

    /// Borrows the process's standard error (fd 2).
    pub fn stderr() -> Self {
        Fd::borrowed(rustix::stdio::stderr())
    }
}

impl AsFd for Fd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Owned(fd) => fd.as_fd(),
            Inner::Borrowed(fd) => *fd,
        }
    }
}

impl From<OwnedFd> for Fd {
    fn from(fd: OwnedFd) -> Self {
        Fd::owned(fd)
    }
}

/// An fd in use by a connection: non-blocking, and knowing whether it is a socket (written
/// with `send(2)` and `MSG_NOSIGNAL`, half-closed with `shutdown(2)`) or not (written with
/// `write(2)`, half-closed by closing it).
#[derive(Debug)]
pub(crate) struct Endpoint {
    fd: Fd,
    socket: bool,
    /// For a borrowed fd that was blocking: clear `O_NONBLOCK` again on drop.
    restore_blocking: bool,
}

impl Endpoint {
    /// Makes `fd` non-blocking and finds out whether it is a socket.
    pub(crate) fn new(fd: Fd) -> Result<Self, OsError> {
        let flags =
            rustix::fs::fcntl_getfl(&fd).map_err(|e| OsError::new("fcntl", "F_GETFL", e))?;
        let restore_blocking =
            matches!(fd.inner, Inner::Borrowed(_)) && !flags.contains(OFlags::NONBLOCK);
        if !flags.contains(OFlags::NONBLOCK) {
            rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)
                .map_err(|e| OsError::new("fcntl", "F_SETFL O_NONBLOCK", e))?;
        }
        let stat = rustix::fs::fstat(&fd).map_err(|e| OsError::new("fstat", "", e))?;
        let socket = rustix::fs::FileType::from_raw_mode(stat.st_mode).is_socket();
        Ok(Endpoint {
            fd,
            socket,
            restore_blocking,
        })
    }

    /// An fd known to be a non-blocking socket (from `socket(2)` or `accept4(2)` with
    /// `SOCK_NONBLOCK`).
    pub(crate) fn nonblocking_socket(fd: OwnedFd) -> Self {
        Endpoint {
            fd: Fd::owned(fd),
            socket: true,
            restore_blocking: false,
        }
    }

    pub(crate) fn is_socket(&self) -> bool {
        self.socket
    }

    /// Reads into the spare capacity of `buf`: `Ok(0)` is end of stream.
    pub(crate) fn read(&self, buf: &mut Vec<u8>) -> Result<usize, Errno> {
        rustix::io::read(&self.fd, rustix::buffer::spare_capacity(buf))
    }

    /// Reads up to [`DISCARD_CHUNK`] bytes and throws them away: `Ok(0)` is end of stream.
    pub(crate) fn discard(&self) -> Result<usize, Errno> {
        let mut sink = [0; DISCARD_CHUNK];
        rustix::io::read(&self.fd, &mut sink)
    }

    /// Writes what it can of `bytes` without blocking and without `SIGPIPE` for sockets.
    /// Pipes still raise `SIGPIPE` when the reader is gone; Rust programs ignore it by
    /// default, and the write then fails with `EPIPE`.
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<usize, Errno> {
        if self.socket {
            rustix::net::send(&self.fd, bytes, rustix::net::SendFlags::NOSIGNAL)
        } else {
            rustix::io::write(&self.fd, bytes)
        }
    }

    /// Ends the writing direction of a socket (`shutdown(2)` with `SHUT_WR`); nothing for
    /// other fds, which are half-closed by dropping them.
    pub(crate) fn shutdown_write(&self) -> Result<(), Errno> {
        if self.socket {
            rustix::net::shutdown(&self.fd, rustix::net::Shutdown::Write)
        } else {
            Ok(())
        }
    }
}

impl AsFd for Endpoint {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if self.restore_blocking {
            if let Ok(flags) = rustix::fs::fcntl_getfl(&self.fd) {
                // Nothing to do about a failure here: the fd is not ours.
                let _ = rustix::fs::fcntl_setfl(&self.fd, flags - OFlags::NONBLOCK);
            }
        }
    }
}
