//! The socket file of a Unix server: claimed through a lock file beside it, replaced when
//! stale, never taken from a live server, removed on close.
//!
//! # Live or stale
//!
//! A server holds an exclusive `flock(2)` on `PATH.lock` for as long as it listens on
//! `PATH`; the kernel drops the lock when the process ends, however it ends. A second
//! server that cannot take the lock knows that the socket is live without touching it.
//! Connecting to find out, as servers often do, would hand the live server a connection
//! that closes at once: its handler would run on it, and a handler that greets first gets
//! a broken pipe, an error that stops a server under `OnHandlerError::Raise`.
//!
//! With the lock held, a socket file at `PATH` was left by a server that is gone, or made
//! by a program that takes no lock. Only such a program is still asked by connecting: a
//! refusal means the file is stale and it is replaced. The lock also makes claiming the
//! path atomic: two servers starting at once never both replace the file.
//!
//! `PATH.lock` is removed with the socket file, while still locked. A server that opened
//! it just before then locks a file that no longer has that name, so it checks, once it
//! holds the lock, that the name still leads to the file it locked, and otherwise starts
//! over.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::error::explained;

/// Attempts at locking `PATH.lock` while other servers remove it under us.
const LOCK_ATTEMPTS: usize = 16;

/// The socket file a Unix server created, and the lock that says it is live: only that
/// file is removed on close (not one that another server put in its place since).
#[derive(Debug)]
pub(crate) struct UnixFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
    lock: Lock,
}

impl UnixFile {
    /// Takes the lock of `path`, so that no other server binds it meanwhile.
    ///
    /// # Errors
    ///
    /// `AddrInUse` when a server holds it; the system's error when the lock file cannot
    /// be opened or locked.
    pub(crate) fn claim(path: &Path) -> io::Result<Claim> {
        Ok(Claim {
            path: path.to_path_buf(),
            lock: Lock::take(path)?,
        })
    }

    /// Removes the socket file if it is still ours, then the lock file, and releases the
    /// lock.
    pub(crate) fn remove(self) {
        let current = identity(&self.path);
        if current.is_none() || current != self.identity {
            tracing::debug!(path = %self.path.display(), "the socket file is gone or replaced");
        } else if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the socket file");
        }
        drop(self.lock);
    }
}

/// The right to bind a Unix socket path: its lock, taken.
#[derive(Debug)]
pub(crate) struct Claim {
    path: PathBuf,
    lock: Lock,
}

impl Claim {
    /// Removes the socket file at the path, when the path is taken (`in_use`, the error
    /// of `bind`) by a socket that nothing listens on.
    ///
    /// # Errors
    ///
    /// `AddrInUse` when the file is not a socket or a program listens on it.
    pub(crate) fn replace_stale_file(&self, in_use: io::Error) -> io::Result<()> {
        let path = &self.path;
        let metadata = std::fs::symlink_metadata(path)?;
        if !metadata.file_type().is_socket() {
            return Err(explained(
                io::ErrorKind::AddrInUse,
                format!("{} exists and is not a socket", path.display()),
                in_use,
            ));
        }
        // We hold the lock, so no server of this crate listens there. A program that
        // takes no lock may: a non-blocking connect says so without waiting, and a
        // refusal means the file was left by a server that is gone.
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
                    "{} exists, and probing it for a listening program failed",
                    path.display()
                ),
                e,
            )),
        }
    }

    /// The socket file now bound at the path: ours, to remove on close.
    pub(crate) fn bound(self) -> UnixFile {
        UnixFile {
            identity: identity(&self.path),
            path: self.path,
            lock: self.lock,
        }
    }
}

fn live_socket(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("a server is already listening on {}", path.display()),
    )
}

/// The device and inode of the file at `path`, not following a symbolic link.
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// An exclusive `flock(2)` on `PATH.lock`, held until dropped; dropping it removes the
/// file first if it is still the one locked.
#[derive(Debug)]
struct Lock {
    path: PathBuf,
    file: OwnedFd,
}

impl Lock {
    fn take(socket_path: &Path) -> io::Result<Lock> {
        let mut path = OsString::from(socket_path);
        path.push(".lock");
        let path = PathBuf::from(path);
        for _ in 0..LOCK_ATTEMPTS {
            // Read-only is enough to lock, and lets the lock file of another user's
            // server be checked too.
            let file = rustix::fs::open(
                &path,
                OFlags::RDONLY | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::from_raw_mode(0o644),
            )?;
            match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(Errno::WOULDBLOCK) => return Err(live_socket(socket_path)),
                Err(e) => return Err(e.into()),
            }
            let locked = file_identity(&file)?;
            if identity(&path) == Some(locked) {
                return Ok(Lock { path, file });
            }
            // Removed (or replaced) by the server that held it, between our open and our
            // lock: lock the file that has the name now.
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{} keeps being replaced", path.display()),
        ))
    }
}

#[allow(clippy::unnecessary_cast)] // st_dev and st_ino are u64 on some targets, not all
fn file_identity(file: impl AsFd) -> io::Result<(u64, u64)> {
    let stat = rustix::fs::fstat(file)?;
    Ok((stat.st_dev as u64, stat.st_ino as u64))
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked; the lock goes when `file` closes, after this.
        let locked = file_identity(&self.file).ok();
        if locked.is_some() && locked == identity(&self.path) {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the lock file");
            }
        }
    }
}
