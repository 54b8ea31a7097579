//! `Server`: the handle of a listening server (Async's `Tcp.Server.t`).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use camlnet_flow::{Reader, Writer, WriterOptions};

use crate::accept_loop::{self, ExitGuard};
use crate::connection::{self, ConnectionGuard, CreateSettings};
use crate::error::BoxError;
use crate::shared::{Shared, lock};
use crate::where_to_listen::Listen;
use crate::{Error, ServerOptions, WhereToListen};

/// A server listening on a socket, calling a handler for each connection.
///
/// It is a handle: clones share one server. The server stops accepting when
/// [`close`](Server::close) is called, when a handler error stops it (see
/// [`OnHandlerError`](crate::OnHandlerError)), or when the last clone is dropped, which
/// closes it as `close(false)` does.
///
/// Its `Debug` shows its state at a glance: where it listens, whether it accepts, is at
/// its connection limit, is closing or closed, its counts and what stopped it.
///
/// # Examples
///
/// See the [crate documentation](crate).
pub struct Server<T: Listen> {
    handle: Arc<Handle<T>>,
}

/// Closes the server when the last `Server` clone goes.
struct Handle<T: Listen> {
    shared: Arc<Shared<T>>,
}

impl<T: Listen> Drop for Handle<T> {
    fn drop(&mut self) {
        self.shared.start_close(false);
    }
}

impl<T: Listen> Clone for Server<T> {
    fn clone(&self) -> Self {
        Server {
            handle: self.handle.clone(),
        }
    }
}

impl<T: Listen> Server<T> {
    /// Listens as `where_to_listen` says and calls `handler(peer, stream)` for each
    /// connection, in a task of its own. Returns once the socket listens.
    ///
    /// The connection ends when the future that `handler` returns completes, returns an
    /// `Err`, or panics; the last two are handler errors, which
    /// [`ServerOptions::on_handler_error`] decides about.
    ///
    /// Until the connection ends, the server keeps a handle of its own on the socket (a
    /// duplicate descriptor, through which `close(true)` shuts it down): the socket closes
    /// once the handler has dropped the stream *and* the connection has ended. A handler
    /// that wants the peer to see the end sooner shuts the stream down (`shutdown`). A
    /// stream the handler hands elsewhere is no longer the server's once the handler
    /// returns.
    ///
    /// # Errors
    ///
    /// An [`Error::is_listen`] error when the socket cannot be created, bound or made to
    /// listen ([`Error::is_address_in_use`] when the address is taken).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O and time enabled.
    pub async fn create_sock<H, Fut, E>(
        where_to_listen: WhereToListen<T>,
        options: ServerOptions<T>,
        handler: H,
    ) -> Result<Self, Error>
    where
        H: Fn(T::Address, T::Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Server::start(&where_to_listen, &options, move |guard, stream, peer| {
            connection::spawn_sock(guard, &handler, stream, peer);
        })
    }

    /// As [`create_sock`](Server::create_sock), but `handler(peer, reader, writer)` gets
    /// a buffered [`Reader`] and a [`Writer`] of the connection (Async's `create`).
    ///
    /// When the handler returns (or fails), the server flushes what it left in the
    /// writer, half-closes the connection and closes the socket. When the writer fails
    /// (an I/O error, or a peer that leaves bytes unread beyond
    /// [`ServerOptions::buffer_age_limit`]), the connection ends at once: the handler's
    /// future is dropped. That is logged, not a handler error, since a peer causes it.
    ///
    /// An idle connection holds no read buffer and no flush task: the reader allocates its
    /// buffer when data arrives and gives it back once consumed, and the writer starts its
    /// background flush only when the socket does not take a write whole.
    ///
    /// # Errors
    ///
    /// As [`create_sock`](Server::create_sock).
    ///
    /// # Panics
    ///
    /// As [`create_sock`](Server::create_sock).
    pub async fn create<H, Fut, E>(
        where_to_listen: WhereToListen<T>,
        options: ServerOptions<T>,
        handler: H,
    ) -> Result<Self, Error>
    where
        H: Fn(T::Address, Reader, Writer) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let handler = Arc::new(handler);
        let settings = CreateSettings {
            reader_buffer_size: options.reader_buffer_size,
            writer_options: WriterOptions::default().buffer_age_limit(options.buffer_age_limit),
        };
        Server::start(&where_to_listen, &options, move |guard, stream, peer| {
            connection::spawn_create(guard, handler.clone(), &settings, stream, peer);
        })
    }

    fn start<S>(
        where_to_listen: &WhereToListen<T>,
        options: &ServerOptions<T>,
        spawn_connection: S,
    ) -> Result<Self, Error>
    where
        S: Fn(ConnectionGuard<T>, T::Stream, T::Address) + Send + Sync + 'static,
    {
        let bound = crate::bind::listen(&where_to_listen.spec, options.backlog)?;
        let describe = || format!("{where_to_listen:?}");
        let listener = T::from_socket(bound.socket).map_err(|e| Error::listen(describe(), e))?;
        let address = T::listener_address(&listener).map_err(|e| Error::listen(describe(), e))?;
        let listener = Arc::new(listener);
        let shared = Arc::new(Shared::new(options, listener.clone(), address));
        tracing::info!(
            listening_on = ?shared.listening_on,
            max_connections = shared.max_connections,
            backlog = options.backlog,
            "listening"
        );
        let exit = ExitGuard::new(shared.clone(), listener, bound.unix_file);
        accept_loop::spawn(exit, spawn_connection);
        Ok(Server {
            handle: Arc::new(Handle { shared }),
        })
    }

    fn shared(&self) -> &Arc<Shared<T>> {
        &self.handle.shared
    }

    /// Starts closing: stops accepting and closes the listening socket (removing a Unix
    /// socket file), and returns a future that completes once it is closed.
    ///
    /// No handler is called after `close`: a connection accepted but not yet handed to
    /// its handler is dropped. Handlers that are running go on. With
    /// `close_existing_connections`, the sockets of the open connections are shut down
    /// (`shutdown(2)`, both directions): their handlers' reads end and their writes fail,
    /// and the future completes once every connection has ended and its socket is
    /// closed. A handler owns its socket, so one that neither reads, writes nor returns
    /// keeps that future waiting: bound it with `tokio::time::timeout` if need be.
    ///
    /// Calling it again has no effect beyond that (a later `close(true)` still shuts down
    /// the open connections) and returns a future of the same completion, as does
    /// [`close_finished`](Server::close_finished).
    ///
    /// # Errors
    ///
    /// The future gives the [`Error::is_handler`] error that stopped the server before
    /// `close`, if one did.
    ///
    /// # Cancel safety
    ///
    /// Closing starts when `close` is called, not when the future is polled; dropping
    /// the future does not stop it.
    pub fn close(
        &self,
        close_existing_connections: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.shared().start_close(close_existing_connections);
        self.shared().close_finished()
    }

    /// The completion that [`close`](Server::close) returns, without starting to close:
    /// completes once the listening socket is closed, after `close` or after a handler
    /// error stopped the server (and once the open connections have ended, if the first
    /// `close` asked to close them).
    ///
    /// # Errors
    ///
    /// The [`Error::is_handler`] error that stopped the server, if one did.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub fn close_finished(&self) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.shared().close_finished()
    }

    /// Completes once the listening socket is closed and every handler has returned, or
    /// failed, or been dropped with its connection.
    ///
    /// # Errors
    ///
    /// As [`close_finished`](Server::close_finished).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub fn close_finished_and_handlers_determined(
        &self,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.shared().handlers_determined()
    }

    /// True once [`close`](Server::close) was called (Async's `is_closed`), and only
    /// then: a server that a handler error stopped is not closed until `close` is
    /// called. See [`is_stopped`](Server::is_stopped).
    pub fn is_closed(&self) -> bool {
        self.shared().close_called()
    }

    /// True once the server has stopped accepting for good, for whatever reason: after
    /// [`close`](Server::close), after a handler error stopped it (see
    /// [`OnHandlerError`](crate::OnHandlerError)), or after its accept loop ended with
    /// the runtime. The listening socket may still be closing: await
    /// [`close_finished`](Server::close_finished) for that.
    pub fn is_stopped(&self) -> bool {
        self.shared().closing.is_cancelled()
    }

    /// The connections open now: accepted, and whose task has not ended.
    pub fn num_connections(&self) -> usize {
        self.shared().num_connections()
    }

    /// The most connections served at once.
    pub fn max_connections(&self) -> usize {
        self.shared().max_connections
    }

    /// The port (for [`Inet`](camlnet_flow::Inet)) or the socket file (for
    /// [`Unix`](camlnet_flow::Unix)) the server listens on: the port the system chose, for
    /// [`BindToPort::OnPortChosenByOs`](crate::BindToPort::OnPortChosenByOs).
    pub fn listening_on(&self) -> T::ListeningOn {
        self.shared().listening_on.clone()
    }

    /// The address the server listens on (`getsockname(2)` of its socket).
    pub fn listening_on_address(&self) -> &T::Address {
        &self.shared().address
    }

    /// The listening socket, until the server closes; for socket options, say. Accepting
    /// on it would bypass `max_connections` and `on_handler_error`. The socket is closed
    /// when the last reference goes: keeping this one keeps it open after `close`.
    pub fn listening_socket(&self) -> Option<Arc<T::Listener>> {
        lock(&self.shared().listener).clone()
    }

    /// Checks the server's internal consistency: `num_connections` within
    /// `max_connections`, one connection permit for each open connection, and a closed
    /// server closed all the way.
    ///
    /// # Panics
    ///
    /// When one of these does not hold (a bug in this crate), naming it.
    pub fn invariant(&self) {
        self.shared().invariant();
    }
}

impl<T: Listen> fmt::Debug for Server<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.shared(), f)
    }
}
