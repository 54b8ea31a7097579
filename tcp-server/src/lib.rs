//! A TCP and Unix-socket server with real limits and a clean close: Async's `Tcp.Server`
//! on tokio and [`camlnet_flow`].
//!
//! [`Server::create_sock`] listens where a [`WhereToListen`] says and runs a handler for
//! each connection, in a task of its own, giving it the peer's address and the stream;
//! [`Server::create`] gives it a buffered [`camlnet_flow::Reader`] and a [`camlnet_flow::Writer`] instead.
//! Both return once the socket listens.
//!
//! - **Limits.** At [`max_connections`](ServerOptions::max_connections) the server stops
//!   calling `accept(2)`, so clients wait in the listen backlog, which is always passed
//!   explicitly ([`backlog`](ServerOptions::backlog), 1,024 by default).
//! - **Accept errors never stop it, and never make it spin.** Running out of file
//!   descriptors (EMFILE, ENFILE) pauses the accept loop, 10 ms at first and doubling up to
//!   one second, until descriptors free up; errors about one connection (aborted, reset)
//!   are skipped.
//! - **Handler errors.** A handler that returns an `Err` or panics ends its connection;
//!   [`OnHandlerError`] says whether that stops the server (`Raise`, the default), is
//!   ignored, or is passed to a function.
//! - **A clean close.** [`Server::close`] is idempotent and returns the same completion to
//!   every caller; no handler starts after it; `close(true)` shuts down the open
//!   connections too and waits for them. A Unix socket file is removed on close, a stale
//!   one is replaced when binding, a live one is never taken over nor connected to (see
//!   [`WhereToListen::of_file`]).
//! - **Logs that say whose they are.** Each connection's task runs in a `tracing` span
//!   named `connection`, with the connection's number and its peer's address, so that
//!   what a handler logs names its client.
//!
//! # Examples
//!
//! An echo server on a port the system picks, and a client:
//!
//! ```
//! use camlnet_tcp_server::{Server, ServerOptions, WhereToListen, BindToAddress, BindToPort};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::create_sock(
//!     WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
//!     ServerOptions::default().max_connections(100),
//!     |_peer, mut stream: tokio::net::TcpStream| async move {
//!         let (mut reader, mut writer) = stream.split();
//!         tokio::io::copy(&mut reader, &mut writer).await?;
//!         Ok::<_, std::io::Error>(())
//!     },
//! )
//! .await?;
//!
//! let mut client = tokio::net::TcpStream::connect(server.listening_on_address()).await?;
//! client.write_all(b"hello").await?;
//! client.shutdown().await?;
//! let mut echoed = String::new();
//! client.read_to_string(&mut echoed).await?;
//! assert_eq!(echoed, "hello");
//!
//! server.close(true).await?;
//! assert!(server.is_closed());
//! # Ok(())
//! # }
//! ```
//!
//! With a [`camlnet_flow::Reader`] and [`camlnet_flow::Writer`], answering each line:
//!
//! ```
//! use camlnet_tcp_server::{Server, ServerOptions, WhereToListen};
//! use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::create(
//!     WhereToListen::of_address("127.0.0.1:0".parse()?),
//!     ServerOptions::default(),
//!     |peer, reader, writer| async move {
//!         let mut lines = reader.lines();
//!         while let Some(line) = lines.next_line().await? {
//!             writer.write(format!("{peer} said {line}\n").as_bytes())?;
//!         }
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!     },
//! )
//! .await?;
//!
//! let mut client = tokio::net::TcpStream::connect(server.listening_on_address()).await?;
//! let me = client.local_addr()?;
//! client.write_all(b"hi\n").await?;
//! client.shutdown().await?;
//! let mut answer = String::new();
//! client.read_to_string(&mut answer).await?;
//! assert_eq!(answer, format!("{me} said hi\n"));
//! server.close(false).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Platforms
//!
//! Unix only (Linux, macOS, the BSDs): it listens on Unix sockets as well as TCP, tells a
//! live socket file from a stale one with `flock(2)`, and sizes its limits by the
//! file-descriptor limit.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod accept_loop;
mod bind;
mod close;
mod connection;
mod connections;
mod error;
mod options;
mod server;
mod shared;
mod unix_file;
mod where_to_listen;

pub use crate::error::{BoxError, Error, HandlerError};
pub use crate::options::{DEFAULT_BACKLOG, DEFAULT_MAX_CONNECTIONS, OnHandlerError, ServerOptions};
pub use crate::server::Server;
pub use crate::where_to_listen::{BindToAddress, BindToPort, Listen, WhereToListen};
pub use camlnet_flow::{Inet, Unix};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
