//! Poll-driven buffered connections for programs without an async runtime: game loops,
//! worker processes talking over pipes or stdin/stdout, small servers.
//!
//! This is the model of Procord's `Procord_connection`: a [`Connection`] has a send
//! buffer and a receive buffer, and nothing happens until [`Connection::update`] moves
//! bytes between them and the file descriptors, never blocking. A [`Waiter`] says what to
//! wait for (`poll(2)`), so a loop sleeps until an update is worth it. [`Set`] holds the
//! connections of a server; [`sync`] is a blocking interface on top.
//!
//! Differences from the original, which are bug fixes: the end of the input leaves the
//! output open, so that a peer that half-closed gets its answer
//! ([`Connection::input_ended`]; the original disconnected, reporting a reset);
//! [`Set::accept_into_set`] gives its options to every connection it accepts, and pauses
//! rather than fails when out of file descriptors; a message larger than the receive
//! buffer's soft limit never stalls (see [`Options::receive_soft_limit`]);
//! [`Connection::close_nicely`] half-closes before closing, then reads to the end of
//! stream; and [`Connection::connect`] resolves names without blocking, within its timeout.
//!
//! # A client loop
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::{Duration, Instant};
//! use camlnet_procord_conn::{Connection, Options, State};
//!
//! // An echo server to talk to.
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let port = listener.local_addr()?.port();
//! let server = std::thread::spawn(move || -> std::io::Result<()> {
//!     let (mut stream, _) = listener.accept()?;
//!     let mut buf = [0; 1024];
//!     loop {
//!         let n = stream.read(&mut buf)?;
//!         if n == 0 {
//!             return Ok(());
//!         }
//!         stream.write_all(&buf[..n])?;
//!     }
//! });
//!
//! let options = Options::new().timeout(Duration::from_secs(10));
//! let mut conn = Connection::connect("127.0.0.1", port, "my data", options);
//! conn.send(b"hello"); // queued while connecting
//! let deadline = Instant::now() + Duration::from_secs(10);
//! let mut echoed = None;
//! while conn.alive() && Instant::now() < deadline {
//!     conn.waiter().wait(Some(Duration::from_millis(100)));
//!     conn.update();
//!     if echoed.is_none() {
//!         echoed = conn.receive(5);
//!         if echoed.is_some() {
//!             conn.close_nicely(Some(Duration::from_secs(5)));
//!         }
//!     }
//! }
//! assert_eq!(echoed.as_deref(), Some(&b"hello"[..]));
//! assert!(matches!(conn.state(), State::Disconnected(_)));
//! server.join().expect("server thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # A server loop
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::{Duration, Instant};
//! use camlnet_procord_conn::{Options, Set, Waiter};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! listener.set_nonblocking(true)?;
//! let addr = listener.local_addr()?;
//! let client = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
//!     let mut stream = std::net::TcpStream::connect(addr)?;
//!     stream.write_all(b"ping")?;
//!     let mut reply = vec![0; 4];
//!     stream.read_exact(&mut reply)?;
//!     Ok(reply) // and close
//! });
//!
//! let mut set: Set<usize> = Set::new();
//! let mut served = 0;
//! let deadline = Instant::now() + Duration::from_secs(10);
//! while served < 1 && Instant::now() < deadline {
//!     Waiter::from_list([set.accept_waiter(&listener), set.waiter()])
//!         .sleep(Some(Duration::from_millis(100)));
//!     set.accept_into_set(&listener, |_peer| Some(0), &Options::new())?;
//!     // Update, then act on what the update brought before waiting again (what is left
//!     // for after the next wait waits for an event that may not come). Connections that
//!     // are closed leave the set here.
//!     let before = set.len();
//!     set.update_set();
//!     served += before - set.len();
//!     for conn in set.iter_mut() {
//!         let bytes = conn.receive_all();
//!         *conn.data_mut() += bytes.len();
//!         conn.send(&bytes); // echo
//!         if conn.input_ended() {
//!             // The client is done: finish sending, then close.
//!             conn.close_nicely(Some(Duration::from_secs(5)));
//!         }
//!     }
//! }
//! assert_eq!(client.join().expect("client thread")?, b"ping");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Platforms
//!
//! Unix only (Linux, macOS, the BSDs): it is built on file descriptors, non-blocking
//! system calls and `poll(2)`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

mod accept_pause;
mod address;
mod buffer;
mod connect;
mod connection;
mod error;
mod fd;
mod options;
mod resolver;
mod set;
mod state;
pub mod sync;
mod waiter;

pub use address::{RemoteAddress, make_address};
pub use connection::Connection;
pub use error::Error;
pub use fd::Fd;
pub use options::{DEFAULT_RECEIVE_SOFT_LIMIT, Options};
pub use set::Set;
pub use state::{DisconnectReason, OsError, State};
pub use waiter::Waiter;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
