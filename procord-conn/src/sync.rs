//! The blocking interface: each call loops on [`Waiter::wait`] and
//! [`Connection::update`] until its job is done, and reports failures as [`Error`]s.
//!
//! These calls block the thread without limit unless the connection has an idle
//! [`timeout`](crate::Options::timeout) (or, for [`close_nicely`], a timeout of its own).
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use camlnet_procord_conn::{Options, sync};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let port = listener.local_addr()?.port();
//! let server = std::thread::spawn(move || -> std::io::Result<()> {
//!     let (mut stream, _) = listener.accept()?;
//!     let mut buf = [0; 4];
//!     stream.read_exact(&mut buf)?;
//!     stream.write_all(&buf)?;
//!     Ok(())
//! });
//! let options = Options::new().timeout(std::time::Duration::from_secs(10));
//! let mut conn = sync::connect("127.0.0.1", port, (), options)?;
//! sync::send(&mut conn, b"echo")?;
//! assert_eq!(sync::receive(&mut conn, 4)?, b"echo");
//! sync::close_nicely(&mut conn, None)?;
//! server.join().expect("server thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use crate::connection::Connection;
use crate::error::Error;
use crate::options::Options;
use crate::state::{DisconnectReason, State};
use crate::waiter::Waiter;

/// Waits for the connection to be worth an update, then updates it.
fn step<D>(connection: &mut Connection<D>) -> Result<(), Error> {
    let waiter = Waiter::from_connection(connection);
    if waiter.is_empty() {
        return Err(Error::stalled("the connection has nothing to wait for"));
    }
    waiter.wait(None);
    connection.update();
    Ok(())
}

fn ended<D>(connection: &Connection<D>) -> Option<Error> {
    match connection.state() {
        State::Disconnected(reason) => Some(Error::disconnected(reason.clone())),
        _ => None,
    }
}

/// Connects like [`Connection::connect`] and blocks until the connection is established.
///
/// # Errors
///
/// When the connection ends first: resolution failure, refused (an
/// [`OsError`](crate::OsError) naming `connect`), or the options' timeout
/// ([`Error::is_timeout`]).
pub fn connect<D>(
    host: &str,
    port: u16,
    data: D,
    options: Options,
) -> Result<Connection<D>, Error> {
    let mut connection = Connection::connect(host, port, data, options);
    while *connection.state() == State::Connecting {
        step(&mut connection)?;
    }
    match ended(&connection) {
        Some(e) => Err(e),
        None => Ok(connection),
    }
}

/// Queues `bytes` and blocks until everything queued has been handed to the OS (which
/// does not mean the peer has read it).
///
/// # Errors
///
/// When the connection is or becomes disconnected first (the unsent data is lost), or
/// cannot make progress.
pub fn send<D>(connection: &mut Connection<D>, bytes: &[u8]) -> Result<(), Error> {
    if let Some(e) = ended(connection) {
        return Err(e);
    }
    connection.send(bytes);
    connection.update();
    while connection.send_buffer_length() > 0 || *connection.state() == State::Connecting {
        if let Some(e) = ended(connection) {
            return Err(e);
        }
        step(connection)?;
    }
    match ended(connection) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Blocks until `n` bytes are in the receive buffer, and takes them.
///
/// # Errors
///
/// When the input or the connection ends before `n` bytes arrived (what did arrive stays
/// in the buffer; after the end of the input alone the connection is still open for
/// sending, and [`Error::is_eof`] says so), or the connection has no input to wait for.
pub fn receive<D>(connection: &mut Connection<D>, n: usize) -> Result<Vec<u8>, Error> {
    loop {
        if let Some(bytes) = connection.receive(n) {
            return Ok(bytes);
        }
        if let Some(e) = ended(connection) {
            return Err(e);
        }
        if connection.input_ended() {
            return Err(Error::input_ended());
        }
        step(connection)?;
    }
}

/// Calls [`Connection::close_nicely`] and blocks until the connection is closed.
///
/// # Errors
///
/// When it does not end [`ClosedLocally`](DisconnectReason::ClosedLocally): `timeout`
/// expired with data unsent, a system call failed, or the connection had ended already
/// for another reason.
pub fn close_nicely<D>(
    connection: &mut Connection<D>,
    timeout: Option<Duration>,
) -> Result<(), Error> {
    connection.close_nicely(timeout);
    connection.update();
    while connection.alive() {
        step(connection)?;
    }
    match connection.state() {
        State::Disconnected(DisconnectReason::ClosedLocally) => Ok(()),
        _ => ended(connection).map_or(Ok(()), Err),
    }
}
