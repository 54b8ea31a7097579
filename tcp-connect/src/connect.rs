//! The connect entry points: `connect_sock`, `connect_sock_using` and `connect`.

use std::sync::Arc;

use camlnet_flow::{Reader, Writer};
use socket2::Socket;

use crate::error::ConnectError;
use crate::transport::ConnectTransport;
use crate::where_to_connect::WhereToConnect;

/// The connected stream of a transport: [`TcpStream`](tokio::net::TcpStream) for
/// [`Inet`](camlnet_flow::Inet), [`UnixStream`](tokio::net::UnixStream) for [`Unix`](camlnet_flow::Unix).
pub type Stream<T> = <T as camlnet_flow::Transport>::Stream;

/// Opens a connection to `where_to` and returns the connected stream.
///
/// For TCP it makes a new socket per address tried. A host with several addresses is
/// connected with Happy Eyeballs (RFC 8305): the addresses are interleaved by family (the
/// family of the first one first), a new attempt starts every 250 ms while the earlier
/// ones go unanswered, or at once when one fails; the first to succeed wins and the others
/// are closed. The [timeout](WhereToConnect::timeout) bounds it all, name resolution
/// included.
///
/// # Errors
///
/// A [`ConnectError`] that names the target and keeps every address tried
/// ([`attempts`](ConnectError::attempts)): [`is_timeout`](ConnectError::is_timeout), [`is_interrupted`](ConnectError::is_interrupted),
/// [`is_refused`](ConnectError::is_refused) (nothing listens),
/// [`is_resolve`](ConnectError::is_resolve) (the name did not resolve), or another failure
/// of `socket(2)`, `bind(2)` or `connect(2)`.
///
/// # Cancel safety
///
/// Dropping the future abandons the attempt and closes every socket it opened. A system
/// name lookup in progress goes on in the background (see
/// [`SystemResolver`](crate::SystemResolver)).
///
/// # Examples
///
/// ```
/// use camlnet_tcp_connect::{WhereToConnect, connect_sock};
/// use tokio::io::AsyncWriteExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let port = listener.local_addr()?.port();
///
/// let mut stream = connect_sock(&WhereToConnect::host_and_port("127.0.0.1", port)).await?;
/// stream.write_all(b"ping").await?;
/// let (_server_side, peer) = listener.accept().await?;
/// assert_eq!(peer, stream.local_addr()?);
/// # Ok(())
/// # }
/// ```
pub async fn connect_sock<T: ConnectTransport>(
    where_to: &WhereToConnect<T>,
) -> Result<Stream<T>, ConnectError> {
    T::connect(&where_to.target, &where_to.options, None).await
}

/// As [`connect_sock`], through the caller's own unconnected `socket`, so that options can
/// be set before connecting (`SO_RCVBUF`, `TCP_NODELAY`, `SO_MARK`, ...). The socket is
/// made non-blocking here.
///
/// One socket makes one attempt: for a host with several addresses, it is connected to the
/// first address of its own family (IPv4 or IPv6), without Happy Eyeballs. Do not combine
/// a socket you bound yourself with [`via_local_interface`](WhereToConnect::via_local_interface)
/// or [`via_local_port`](WhereToConnect::via_local_port): binding twice fails.
///
/// # Errors
///
/// As [`connect_sock`]; also when the socket is not a stream socket of the transport's
/// domain (`SOCK_STREAM`, `AF_INET`/`AF_INET6` or `AF_UNIX`), and with an
/// [`is_resolve`](ConnectError::is_resolve) error when the host has no address of the
/// socket's family.
///
/// # Cancel safety
///
/// As [`connect_sock`]: dropping the future closes the socket.
///
/// # Examples
///
/// ```
/// use socket2::{Domain, Socket, Type};
/// use camlnet_tcp_connect::{WhereToConnect, connect_sock_using};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
/// socket.set_tcp_nodelay(true)?;
///
/// let stream = connect_sock_using(&WhereToConnect::inet_address(listener.local_addr()?), socket).await?;
/// assert!(stream.nodelay()?);
/// # Ok(())
/// # }
/// ```
pub async fn connect_sock_using<T: ConnectTransport>(
    where_to: &WhereToConnect<T>,
    socket: Socket,
) -> Result<Stream<T>, ConnectError> {
    T::connect(&where_to.target, &where_to.options, Some(socket)).await
}

/// Connects as [`connect_sock`] and shares the stream between a [`Reader`] and a
/// [`Writer`] made with the [reader buffer size](WhereToConnect::reader_buffer_size) and
/// the [buffer age limit](WhereToConnect::buffer_age_limit) of `where_to`.
///
/// The socket closes when the returned `Arc`, the reader, the writer and the writer's
/// background flush are all gone. Close the writer first
/// ([`Writer::close`] flushes it and half-closes the connection), or use
/// [`with_connection`](crate::with_connection), which does it all.
///
/// # Errors
///
/// As [`connect_sock`].
///
/// # Cancel safety
///
/// As [`connect_sock`].
///
/// # Examples
///
/// ```
/// use camlnet_tcp_connect::{WhereToConnect, connect};
/// use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let where_to = WhereToConnect::inet_address(listener.local_addr()?);
/// let server = tokio::spawn(async move {
///     let (mut stream, _) = listener.accept().await?;
///     stream.write_all(b"hello\n").await
/// });
///
/// let (_socket, reader, writer) = connect(&where_to).await?;
/// let mut lines = reader.lines();
/// assert_eq!(lines.next_line().await?.as_deref(), Some("hello"));
/// writer.close().await?;
/// server.await??;
/// # Ok(())
/// # }
/// ```
pub async fn connect<T: ConnectTransport>(
    where_to: &WhereToConnect<T>,
) -> Result<(Arc<Stream<T>>, Reader, Writer), ConnectError> {
    let stream = connect_sock(where_to).await?;
    let options = &where_to.options;
    Ok(camlnet_flow::reader_writer(
        stream,
        options.reader_buffer_size,
        options.writer_options(),
    ))
}
