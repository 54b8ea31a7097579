//! Files on disk, streamed over TCP while they grow: Async's `Tcp_file` for tokio.
//!
//! A [`Server`] appends newline-terminated messages to files and, at the same time,
//! streams them to any number of clients. A [`Client`] reads a file from its first line
//! ([`Client::read`]: from disk, then live, with no gap and no duplicate), from a given
//! line ([`Client::read_from`], to resume), or only what comes next ([`Client::tail`]).
//!
//! Memory stays bounded whatever clients do: readers that fall behind the in-memory
//! window continue from disk, a client that stops reading costs its socket buffers, and
//! with flow control (on by default) a consumer that stops reading one stream slows only
//! that stream.
//!
//! A stream gives one [`Message`] at a time ([`MessageStream::next`]), or a [`Batch`] of
//! the messages that arrived together ([`MessageStream::next_batch`]), whose
//! [`iter`](Batch::iter) shows them in place: the fastest way through a big file.
//!
//! The features `server` and `client` compile one side each. The default features add
//! `cli`, the `tcp-file` command (so that `cargo install` installs it); as a library,
//! depend with `default-features = false, features = ["server", "client"]` (or one of
//! them), to leave out the command's dependencies (clap, indicatif, tracing-subscriber,
//! tempfile).
//!
//! # Examples
//!
//! A server and a client over an in-memory flow:
//!
//! ```
//! # #[cfg(all(feature = "server", feature = "client"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use camlnet_tcp_file::{Client, FileOptions, Server, StreamOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let server = Server::new();
//! let file = server.open_file("app.log", dir.path().join("app.log"), FileOptions::new())?;
//! file.write_message(b"started")?;
//!
//! let (client_end, server_end) = camlnet_flow::pair(64 * 1024);
//! let serving = server.clone();
//! tokio::spawn(async move { serving.serve_flow(server_end, "in-memory").await });
//! let client = Client::over(client_end).await?;
//!
//! let mut stream = client.read("app.log", StreamOptions::new());
//! let first = stream.next().await.expect("a message")?;
//! assert_eq!((first.line, &first.bytes[..]), (0, &b"started"[..]));
//!
//! // Live messages follow; closing the file ends the stream after the last one.
//! file.write_message(b"running\n")?;
//! file.close().await?;
//! let mut rest = Vec::new();
//! while let Some(message) = stream.next().await {
//!     let message = message?;
//!     rest.push((message.line, String::from_utf8_lossy(&message.bytes).into_owned()));
//! }
//! assert_eq!(rest, [(1, "running".to_string())]);
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "server", feature = "client")))]
//! # fn main() {}
//! ```
//!
//! # Platforms
//!
//! Unix only (Linux, macOS, the BSDs): it locks files with `flock(2)`, reads them back with
//! `pread(2)` (and, on Linux, `preadv2(2)` from the page cache without waiting), and serves
//! over Unix sockets as well as TCP.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod credit;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "server")]
mod file_error;
#[cfg(all(fuzzing, feature = "server", feature = "client"))]
#[doc(hidden)]
pub mod fuzzing;
mod protocol;
#[cfg(feature = "server")]
mod server;

#[cfg(feature = "client")]
pub use crate::client::{
    Batch, BatchIter, Client, Message, MessageRef, MessageStream, StreamOptions,
};
#[cfg(feature = "client")]
pub use crate::error::Error;
#[cfg(feature = "server")]
pub use crate::file_error::FileError;
pub use crate::protocol::{MAX_MESSAGE, MAX_NAME, MAX_STREAMS, VERSION};
#[cfg(feature = "server")]
pub use crate::server::{
    ConnectionSnapshot, DEFAULT_IDLE_TIMEOUT, DEFAULT_WRITE_TIMEOUT, FileHandle, FileOptions,
    FileSnapshot, Limits, LineEnding, ReaderSnapshot, Server, Snapshot, SyncPolicy,
};

/// Turns Nagle's algorithm off (`TCP_NODELAY`): requests and batches are small, and waiting
/// for the peer's delayed acknowledgement would hold them back for tens of milliseconds.
/// Unix sockets have no such option, so the error is ignored.
#[cfg(any(feature = "server", feature = "client"))]
fn set_no_delay(socket: &impl std::os::fd::AsFd) {
    let _ = socket2::SockRef::from(socket).set_tcp_nodelay(true);
}

/// How many bytes of a connection's data the server lets wait unsent in the kernel.
#[cfg(all(feature = "server", any(target_os = "linux", target_os = "android")))]
const UNSENT_BYTES: u32 = 16 * 1024;

/// Keeps at most 16 KiB (`UNSENT_BYTES`) of what the server sends waiting unsent in the
/// kernel (`TCP_NOTSENT_LOWAT`): the sender waits for the socket rather than queue more.
/// A stalled reader's connection then holds little in the server's send buffer, and under
/// a pacing congestion control (BBR) little waits for the pacing timer, which lets a deep
/// queue out about a segment per tick. Only Linux and Android have the option; Unix
/// sockets refuse it, so the error is ignored.
#[cfg(feature = "server")]
fn limit_unsent(socket: &impl std::os::fd::AsFd) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = socket2::SockRef::from(socket).set_tcp_notsent_lowat(UNSENT_BYTES);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = socket;
}

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
