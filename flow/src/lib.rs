//! Mirage-style byte flows on tokio.
//!
//! A [`Flow`] is a reliable, ordered byte stream connected to one peer, with the semantics
//! of Mirage's `FLOW` signature: [`read`](FlowExt::read) returns [`Read::Data`] (never
//! empty) or [`Read::Eof`]; [`write`](FlowExt::write) and [`writev`](FlowExt::writev)
//! complete once the flow has accepted the data, or fail with a [closed](Error::is_closed)
//! error; [`close`](FlowExt::close) flushes, half-closes, and completes once the peer has
//! closed too, while data that arrived meanwhile can still be read; and
//! [`shutdown`](FlowExt::shutdown) ends one direction at once.
//!
//! Flows exist over TCP ([`TcpFlow`]), Unix sockets ([`UnixFlow`]), in memory
//! ([`pair`]) and over any `AsyncRead + AsyncWrite` ([`IoFlow`]); the other way round, a
//! flow is `AsyncRead + AsyncWrite` through [`FlowIo`] and a `Stream` + `Sink` through
//! [`FlowStream`]. [`FlowExt::split`] gives halves for a reader task and a writer task.
//! Flows over sockets also [send a file's bytes](FlowExt::send_file) straight from the
//! page cache (`sendfile(2)`), after a head that leaves with them.
//!
//! For sockets there is also Async's buffered [`Reader`] and background-flushing
//! [`Writer`], which share one socket ([`reader_writer`]), and the typed transports
//! [`Inet`] and [`Unix`] that the `tcp-connect` and `tcp-server` crates share.
//!
//! # Examples
//!
//! An echo over loopback TCP:
//!
//! ```
//! use bytes::Bytes;
//! use camlnet_flow::{FlowExt, Read, TcpFlow};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(async move {
//!     let (stream, _) = listener.accept().await?;
//!     let mut flow = TcpFlow::from(stream);
//!     while let Read::Data(bytes) = flow.read().await? {
//!         flow.write(bytes).await?;
//!     }
//!     flow.close().await?;
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! });
//!
//! let mut client = TcpFlow::from(TcpStream::connect(addr).await?);
//! client.writev(vec![Bytes::from_static(b"hello, "), Bytes::from_static(b"flow")]).await?;
//! client.shutdown(camlnet_flow::Shutdown::Write).await?;
//! let mut echoed = Vec::new();
//! while let Read::Data(bytes) = client.read().await? {
//!     echoed.extend_from_slice(&bytes);
//! }
//! assert_eq!(echoed, b"hello, flow");
//! server.await?.map_err(|e| e.to_string())?;
//! # Ok(())
//! # }
//! ```
//!
//! # Platforms
//!
//! Unix only (Linux, macOS, the BSDs): Unix sockets are one of its transports, and the
//! `Reader` and `Writer` share one socket through its file descriptor.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod compat;
mod error;
mod ext;
mod flow;
mod io_flow;
mod reader;
mod spare;
mod split;
mod transport;
mod writer;

use std::sync::Arc;

pub use crate::compat::{FlowIo, FlowStream};
pub use crate::error::Error;
pub use crate::ext::FlowExt;
pub use crate::flow::{Flow, Read, Shutdown};
pub use crate::io_flow::{
    DEFAULT_CLOSE_BUFFER_LIMIT, DEFAULT_READ_SIZE, IoFlow, MemoryFlow, TcpFlow, UnixFlow, pair,
};
pub use crate::reader::{DEFAULT_READER_BUFFER_SIZE, Reader};
pub use crate::split::{ReadHalf, WriteHalf};
pub use crate::transport::{Inet, SocketIo, Transport, Unix};
pub use crate::writer::{BufferAgeLimit, Writer, WriterOptions};

/// Shares `socket` between a [`Reader`] with a buffer of `reader_buffer_size` bytes and a
/// [`Writer`], and hands back the socket too (for its addresses and options). The socket
/// closes when all three, and the writer's background flush, are gone.
pub fn reader_writer<S: SocketIo + 'static>(
    socket: S,
    reader_buffer_size: usize,
    writer_options: WriterOptions,
) -> (Arc<S>, Reader, Writer) {
    let socket = Arc::new(socket);
    let reader = Reader::new(socket.clone(), reader_buffer_size);
    let writer = Writer::new(socket.clone(), writer_options);
    (socket, reader, writer)
}

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
