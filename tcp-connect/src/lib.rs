//! Connecting done right: the client side of Jane Street Async's `Tcp`, on tokio.
//!
//! Say [where to connect](WhereToConnect), typed by transport (TCP with [`Inet`], Unix
//! sockets with [`Unix`]), and how (timeout, interrupt, local end, resolver, reader and
//! writer settings), then:
//!
//! - [`connect_sock`] gives the connected stream, and [`connect_sock_using`] connects a
//!   socket you made yourself, with its options already set;
//! - [`connect`] gives the stream with Async's buffered [`Reader`](camlnet_flow::Reader) and
//!   background-flushing [`Writer`](camlnet_flow::Writer);
//! - [`with_connection`] runs your code with the three, and closes them when it returns,
//!   fails or panics.
//!
//! A host with several addresses is connected with Happy Eyeballs (RFC 8305), through a
//! pluggable [`Resolve`]r. The [timeout](WhereToConnect::timeout) (ten seconds by
//! default) bounds the whole attempt, name resolution included, unlike Async's, and a
//! [`ConnectError`] names the target and keeps every address tried with its own failure.
//!
//! # Examples
//!
//! A line-based exchange with a server on loopback:
//!
//! ```
//! use std::time::Duration;
//! use camlnet_tcp_connect::{WhereToConnect, with_connection};
//! use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // A server that greets whoever connects by name.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//! tokio::spawn(async move {
//!     let (stream, _) = listener.accept().await?;
//!     let (read, mut write) = stream.into_split();
//!     let mut name = String::new();
//!     BufReader::new(read).read_line(&mut name).await?;
//!     write.write_all(format!("hello, {}\n", name.trim()).as_bytes()).await
//! });
//!
//! let where_to = WhereToConnect::host_and_port("127.0.0.1", port).timeout(Duration::from_secs(5));
//! let greeting = with_connection(&where_to, |_socket, reader, writer| async move {
//!     writer.write(b"world\n")?;
//!     let greeting = reader.lines().next_line().await?;
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(greeting)
//! })
//! .await?;
//! assert_eq!(greeting.as_deref(), Some("hello, world"));
//! # Ok(())
//! # }
//! ```
//!
//! Failures say what happened:
//!
//! ```
//! use camlnet_tcp_connect::{WhereToConnect, connect_sock};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let error = connect_sock(&WhereToConnect::host_and_port("", 80)).await.unwrap_err();
//! assert!(error.is_invalid_target());
//! assert_eq!(error.to_string(), "cannot connect to :80: the host name is empty");
//! # }
//! ```
//!
//! # Platforms
//!
//! Unix only (Linux, macOS, the BSDs): it connects Unix sockets as well as TCP, and sets
//! socket options on the file descriptor before `connect(2)`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

mod connect;
mod error;
mod happy_eyeballs;
mod inet;
mod options;
mod resolve;
mod transport;
mod unix;
mod where_to_connect;
mod with_connection;

pub use crate::connect::{Stream, connect, connect_sock, connect_sock_using};
pub use crate::error::ConnectError;
pub use crate::options::DEFAULT_TIMEOUT;
pub use crate::resolve::{Resolve, Resolving, SystemResolver};
pub use crate::transport::ConnectTransport;
pub use crate::where_to_connect::WhereToConnect;
pub use crate::with_connection::with_connection;
pub use camlnet_flow::{Inet, Unix};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
