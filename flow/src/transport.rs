//! Typed transports: the `Inet` and `Unix` markers that make an address, a listener and a
//! stream agree at compile time (the `'addr` type parameter of Async's `Tcp`).

use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// Internet sockets: TCP over IPv4 or IPv6, addressed by [`std::net::SocketAddr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Inet {}

/// Unix-domain stream sockets, addressed by [`std::os::unix::net::SocketAddr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unix {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Inet {}
    impl Sealed for super::Unix {}
}

/// A kind of stream socket: [`Inet`] or [`Unix`]. Sealed: the two are all there is.
///
/// The connect and server crates are generic over it, so that `WhereToConnect<Inet>`
/// gives a `TcpStream` and a `std::net::SocketAddr`, and `WhereToListen<Unix>` a
/// `UnixStream` and a Unix socket address, with no runtime check.
pub trait Transport: sealed::Sealed + fmt::Debug + Send + Sync + 'static {
    /// A socket address of this transport.
    type Address: Clone + fmt::Debug + Send + Sync + 'static;
    /// A connected stream.
    type Stream: SocketIo + AsyncRead + AsyncWrite + Unpin + 'static;
    /// A listening socket.
    type Listener: AsFd + fmt::Debug + Send + Sync + 'static;

    /// `getpeername(2)` of `stream`.
    fn peer_address(stream: &Self::Stream) -> io::Result<Self::Address>;

    /// `getsockname(2)` of `stream`.
    fn local_address(stream: &Self::Stream) -> io::Result<Self::Address>;

    /// `getsockname(2)` of `listener`.
    fn listener_address(listener: &Self::Listener) -> io::Result<Self::Address>;

    /// Accepts one connection (`accept4(2)`), registering the stream with tokio.
    fn poll_accept(
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::Stream, Self::Address)>>;
}

impl Transport for Inet {
    type Address = std::net::SocketAddr;
    type Stream = TcpStream;
    type Listener = TcpListener;

    fn peer_address(stream: &TcpStream) -> io::Result<Self::Address> {
        stream.peer_addr()
    }

    fn local_address(stream: &TcpStream) -> io::Result<Self::Address> {
        stream.local_addr()
    }

    fn listener_address(listener: &TcpListener) -> io::Result<Self::Address> {
        listener.local_addr()
    }

    fn poll_accept(
        listener: &TcpListener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(TcpStream, Self::Address)>> {
        listener.poll_accept(cx)
    }
}

impl Transport for Unix {
    type Address = std::os::unix::net::SocketAddr;
    type Stream = UnixStream;
    type Listener = UnixListener;

    fn peer_address(stream: &UnixStream) -> io::Result<Self::Address> {
        stream.peer_addr().map(Into::into)
    }

    fn local_address(stream: &UnixStream) -> io::Result<Self::Address> {
        stream.local_addr().map(Into::into)
    }

    fn listener_address(listener: &UnixListener) -> io::Result<Self::Address> {
        listener.local_addr().map(Into::into)
    }

    fn poll_accept(
        listener: &UnixListener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(UnixStream, Self::Address)>> {
        listener
            .poll_accept(cx)
            .map_ok(|(stream, addr)| (stream, addr.into()))
    }
}

/// The readiness-based, shared-reference I/O of a connected socket, which lets a
/// [`Reader`](crate::Reader) and a [`Writer`](crate::Writer) use one socket at the same
/// time (each keeps an `Arc` of it). Implemented for tokio's `TcpStream` and `UnixStream`.
pub trait SocketIo: AsFd + fmt::Debug + Send + Sync {
    /// Waits until the socket may be readable.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Reads into the spare capacity of `buf` without waiting (`WouldBlock` if nothing).
    fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize>;
    /// Waits until the socket may be writable.
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Writes without waiting, vectored (`writev(2)`, or a plain write for one buffer;
    /// `WouldBlock` if no room).
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Whether [`try_send_file`](SocketIo::try_send_file) works: `false` unless the socket
    /// says otherwise (TCP and Unix streams do).
    fn can_send_file(&self) -> bool {
        false
    }
    /// Without waiting (`WouldBlock` if no room): while `head` is not empty, writes a prefix
    /// of it, held back until the range follows (`sendmsg(2)` with `MSG_MORE`, unless `len`
    /// is 0); else sends up to `len` bytes of `file` from byte `offset` (`sendfile(2)`,
    /// whose read from `file` may wait for the disk, and which raises `SIGPIPE` on a
    /// socket whose peer has gone: see [`Flow::poll_send_file`](crate::Flow::poll_send_file)).
    /// The default fails with `Unsupported`, as do TCP and Unix streams off Linux.
    fn try_send_file(
        &self,
        head: &[IoSlice<'_>],
        file: &File,
        offset: u64,
        len: usize,
    ) -> io::Result<usize> {
        let _ = (head, file, offset, len);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// As [`SocketIo::try_send_file`], once the socket has room.
pub(crate) fn poll_send_file<S: SocketIo>(
    socket: &S,
    cx: &mut Context<'_>,
    head: &[IoSlice<'_>],
    file: &File,
    offset: u64,
    len: usize,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(socket.poll_write_ready(cx))?;
        match socket.try_send_file(head, file, offset, len) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            sent => return Poll::Ready(sent),
        }
    }
}

macro_rules! socket_io {
    ($stream:ty) => {
        impl SocketIo for $stream {
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$stream>::poll_read_ready(self, cx)
            }
            fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
                // A read shorter than the room drained the socket (a stream socket gives
                // what it has, up to the room): its readiness is cleared, as tokio's own
                // `poll_read` does, so the next read waits for data instead of costing a
                // `recv(2)` that finds none. `try_io` clears the readiness it saw before
                // the read, so data that came after the read still wakes the reader.
                let mut drained = None;
                let result = self.try_io(tokio::io::Interest::READABLE, || {
                    let room = buf.spare_capacity_mut();
                    let len = room.len();
                    let n = socket2::SockRef::from(self).recv(room)?;
                    // SAFETY: `recv` initialised the first `n` bytes of the spare room.
                    unsafe { buf.set_len(buf.len() + n) };
                    if n > 0 && n < len {
                        drained = Some(n);
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Ok(n)
                });
                drained.map_or(result, Ok)
            }
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$stream>::poll_write_ready(self, cx)
            }
            fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                // One buffer: a plain write (`send(2)` for TCP), a shorter way through the
                // kernel than `writev(2)`.
                match bufs {
                    [one] => <$stream>::try_write(self, one),
                    _ => <$stream>::try_write_vectored(self, bufs),
                }
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            fn can_send_file(&self) -> bool {
                true
            }
            #[cfg(any(target_os = "linux", target_os = "android"))]
            fn try_send_file(
                &self,
                head: &[IoSlice<'_>],
                file: &File,
                offset: u64,
                len: usize,
            ) -> io::Result<usize> {
                use rustix::net::SendFlags;
                self.try_io(tokio::io::Interest::WRITABLE, || {
                    if head.iter().any(|b| !b.is_empty()) {
                        let mut control = rustix::net::SendAncillaryBuffer::default();
                        let flags = if len > 0 {
                            SendFlags::MORE | SendFlags::NOSIGNAL
                        } else {
                            SendFlags::NOSIGNAL
                        };
                        let sent = rustix::io::retry_on_intr(|| {
                            rustix::net::sendmsg(self, head, &mut control, flags)
                        })?;
                        return Ok(sent);
                    }
                    let mut offset = offset;
                    let sent = rustix::io::retry_on_intr(|| {
                        rustix::fs::sendfile(self, file, Some(&mut offset), len)
                    })?;
                    Ok(sent)
                })
            }
        }
    };
}

socket_io!(TcpStream);
socket_io!(UnixStream);
