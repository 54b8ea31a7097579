//! `ServerOptions` and `OnHandlerError`: the settings of `Server::create`.

use std::fmt;
use std::sync::Arc;

use camlnet_flow::{BufferAgeLimit, DEFAULT_READER_BUFFER_SIZE, Transport};

use crate::HandlerError;

/// The listen backlog unless set otherwise: 1,024.
///
/// Async's default of 64, and the 128 that tokio's `TcpListener::bind` passes without
/// saying so, overflow when many clients connect at once: Linux then drops the extra
/// connection attempts silently, and each costs its client a one-second SYN
/// retransmission. See [`ServerOptions::backlog`].
pub const DEFAULT_BACKLOG: u32 = 1024;

/// The most connections a server serves at once unless set otherwise, whatever the
/// file-descriptor limit allows. See [`ServerOptions::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// What a server does when a handler fails: returns an `Err` or panics.
///
/// The connection ends either way (its socket is closed). Handler errors reported after
/// the server started closing are logged and given to `Call`, but do not change the
/// result of [`close_finished`](crate::Server::close_finished).
pub enum OnHandlerError<T: Transport> {
    /// Stop accepting, close the listening socket, and report the error from
    /// [`close_finished`](crate::Server::close_finished). Connections already open go on.
    /// The default, as Async's.
    Raise,
    /// Log the error (at `debug` level) and go on.
    Ignore,
    /// Call the function with the peer's address and the error, and go on. If the
    /// function panics, the server stops as with `Raise`.
    #[allow(clippy::type_complexity)]
    Call(Arc<dyn Fn(&T::Address, &HandlerError) + Send + Sync>),
}

impl<T: Transport> OnHandlerError<T> {
    /// `Call(Arc::new(f))`.
    pub fn call(f: impl Fn(&T::Address, &HandlerError) + Send + Sync + 'static) -> Self {
        OnHandlerError::Call(Arc::new(f))
    }
}

// Not derived: the derive would require `T: Default`, which the transports are not.
#[allow(clippy::derivable_impls)]
impl<T: Transport> Default for OnHandlerError<T> {
    fn default() -> Self {
        OnHandlerError::Raise
    }
}

impl<T: Transport> Clone for OnHandlerError<T> {
    fn clone(&self) -> Self {
        match self {
            OnHandlerError::Raise => OnHandlerError::Raise,
            OnHandlerError::Ignore => OnHandlerError::Ignore,
            OnHandlerError::Call(f) => OnHandlerError::Call(f.clone()),
        }
    }
}

impl<T: Transport> fmt::Debug for OnHandlerError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnHandlerError::Raise => f.write_str("Raise"),
            OnHandlerError::Ignore => f.write_str("Ignore"),
            OnHandlerError::Call(_) => f.write_str("Call(..)"),
        }
    }
}

/// The settings of [`Server::create`](crate::Server::create) and
/// [`Server::create_sock`](crate::Server::create_sock), built from
/// [`default`](Default::default).
///
/// # Examples
///
/// ```
/// use camlnet_tcp_server::{OnHandlerError, ServerOptions};
///
/// let options: ServerOptions<camlnet_flow::Inet> = ServerOptions::default()
///     .max_connections(100)
///     .backlog(4096)
///     .on_handler_error(OnHandlerError::Ignore);
/// assert_eq!(options.get_max_connections(), 100);
/// ```
pub struct ServerOptions<T: Transport> {
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_accepts_per_batch: usize,
    pub(crate) backlog: u32,
    pub(crate) buffer_age_limit: BufferAgeLimit,
    pub(crate) reader_buffer_size: usize,
    pub(crate) on_handler_error: OnHandlerError<T>,
}

impl<T: Transport> Default for ServerOptions<T> {
    fn default() -> Self {
        ServerOptions {
            max_connections: None,
            max_accepts_per_batch: 1,
            backlog: DEFAULT_BACKLOG,
            buffer_age_limit: BufferAgeLimit::default(),
            reader_buffer_size: DEFAULT_READER_BUFFER_SIZE,
            on_handler_error: OnHandlerError::Raise,
        }
    }
}

impl<T: Transport> ServerOptions<T> {
    /// The most connections served at once (at least 1).
    ///
    /// While that many are open the server does not call `accept(2)`: it never refuses a
    /// client, who waits in the listen backlog until a connection ends. Each connection
    /// takes two file descriptors: the handler's socket, and the server's own handle on
    /// it (for [`close(true)`](crate::Server::close)). The default is 10,000 or 45% of
    /// the soft file-descriptor limit (`RLIMIT_NOFILE`), whichever is smaller, read when
    /// the server is created. Past the descriptor limit the server waits for descriptors
    /// to free up, and clients wait meanwhile too.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max.max(1));
        self
    }

    /// The most connections accepted one after the other before the accept loop lets
    /// other tasks run (at least 1; default 1, as Async): a burst of clients then does not
    /// hold back the connections already open.
    pub fn max_accepts_per_batch(mut self, max: usize) -> Self {
        self.max_accepts_per_batch = max.max(1);
        self
    }

    /// The backlog passed to `listen(2)`: how many connections the kernel completes and
    /// queues for `accept` (default [`DEFAULT_BACKLOG`], 1,024).
    ///
    /// It is always passed explicitly. Linux caps it at `net.core.somaxconn` (4,096 on
    /// recent kernels) without an error, and when the queue is full it drops new
    /// connection attempts silently: each dropped SYN costs its client a retransmission
    /// one second later (then 3 s, 7 s...). A small backlog therefore turns a burst of
    /// connections into seconds of latency; this is why the default is larger than Async's
    /// 64 and tokio's implicit 128.
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// The writer's buffer age limit under [`Server::create`](crate::Server::create)
    /// (default two minutes): a connection whose peer leaves written bytes unread for
    /// longer ends. Not used by `create_sock`.
    pub fn buffer_age_limit(mut self, limit: BufferAgeLimit) -> Self {
        self.buffer_age_limit = limit;
        self
    }

    /// The reader's buffer size under [`Server::create`](crate::Server::create) (default
    /// [`DEFAULT_READER_BUFFER_SIZE`]). The buffer is allocated only while data is
    /// waiting to be read. Not used by `create_sock`.
    pub fn reader_buffer_size(mut self, size: usize) -> Self {
        self.reader_buffer_size = size.max(1);
        self
    }

    /// What to do when a handler fails (default [`OnHandlerError::Raise`]).
    pub fn on_handler_error(mut self, policy: OnHandlerError<T>) -> Self {
        self.on_handler_error = policy;
        self
    }

    /// The connection limit these options give, the default resolved now.
    pub fn get_max_connections(&self) -> usize {
        self.max_connections.unwrap_or_else(default_max_connections)
    }
}

impl<T: Transport> Clone for ServerOptions<T> {
    fn clone(&self) -> Self {
        ServerOptions {
            max_connections: self.max_connections,
            max_accepts_per_batch: self.max_accepts_per_batch,
            backlog: self.backlog,
            buffer_age_limit: self.buffer_age_limit,
            reader_buffer_size: self.reader_buffer_size,
            on_handler_error: self.on_handler_error.clone(),
        }
    }
}

impl<T: Transport> fmt::Debug for ServerOptions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerOptions")
            .field("max_connections", &self.max_connections)
            .field("max_accepts_per_batch", &self.max_accepts_per_batch)
            .field("backlog", &self.backlog)
            .field("buffer_age_limit", &self.buffer_age_limit)
            .field("reader_buffer_size", &self.reader_buffer_size)
            .field("on_handler_error", &self.on_handler_error)
            .finish()
    }
}

/// 10,000, or 45% of the soft `RLIMIT_NOFILE` if that is smaller (at least 1): two
/// descriptors a connection, and a tenth of the limit left for everything else.
fn default_max_connections() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    match limit.current {
        Some(soft) => {
            let share = usize::try_from(soft.saturating_mul(9) / 20).unwrap_or(usize::MAX);
            share.clamp(1, DEFAULT_MAX_CONNECTIONS)
        }
        None => DEFAULT_MAX_CONNECTIONS,
    }
}
