//! `Shared`: the state that the `Server` handle, the accept loop and the connection tasks
//! share, and its consistency check.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::connections::Connections;
use crate::where_to_listen::Listen;
use crate::{Error, OnHandlerError, ServerOptions};

pub(crate) struct Shared<T: Listen> {
    pub(crate) max_connections: usize,
    pub(crate) max_accepts_per_batch: usize,
    pub(crate) on_handler_error: OnHandlerError<T>,
    /// One permit per connection, taken before `accept(2)`: while none is left the
    /// server does not accept, and clients wait in the backlog.
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) connections: Mutex<Connections>,
    /// The connection tasks; closed when the accept loop ends.
    pub(crate) tracker: TaskTracker,
    /// Cancelled by the first `close`, a `Raise`d handler error, or the end of the
    /// accept loop: stop accepting, and start no handler.
    pub(crate) closing: CancellationToken,
    /// Cancelled once the listening socket is closed (and its file removed).
    pub(crate) listener_closed: CancellationToken,
    pub(crate) close_state: Mutex<CloseState>,
    /// The listening socket while it is open.
    pub(crate) listener: Mutex<Option<Arc<T::Listener>>>,
    pub(crate) listening_on: T::ListeningOn,
    pub(crate) address: T::Address,
    pub(crate) accepted: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
    pub(crate) handler_errors: AtomicU64,
}

/// How the server was closed: set once, by the first `close` or the error that stopped it.
#[derive(Debug, Default)]
pub(crate) struct CloseState {
    /// `close` was called (or the last handle dropped): `is_closed`.
    pub(crate) close_called: bool,
    /// `close_existing_connections` of the first close (false when an error stopped it).
    pub(crate) close_existing: Option<bool>,
    pub(crate) stopped_by: Option<Error>,
}

/// Locks `mutex`, using the data even if a thread panicked while holding it: every
/// critical section here leaves the data consistent at each step.
pub(crate) fn lock<D>(mutex: &Mutex<D>) -> MutexGuard<'_, D> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T: Listen> Shared<T> {
    pub(crate) fn new(
        options: &ServerOptions<T>,
        listener: Arc<T::Listener>,
        address: T::Address,
    ) -> Self {
        let max_connections = options.get_max_connections();
        Shared {
            max_connections,
            max_accepts_per_batch: options.max_accepts_per_batch,
            on_handler_error: options.on_handler_error.clone(),
            permits: Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS))),
            connections: Mutex::new(Connections::default()),
            tracker: TaskTracker::new(),
            closing: CancellationToken::new(),
            listener_closed: CancellationToken::new(),
            close_state: Mutex::new(CloseState::default()),
            listener: Mutex::new(Some(listener)),
            listening_on: T::listening_on(&address),
            address,
            accepted: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
            handler_errors: AtomicU64::new(0),
        }
    }

    pub(crate) fn num_connections(&self) -> usize {
        lock(&self.connections).count()
    }

    /// Checks the relations that hold at every instant; panics naming the one broken.
    pub(crate) fn invariant(&self) {
        // Under the lock the count cannot change, and every counted connection holds a
        // permit until after it leaves the count, so the permits out are at least the
        // count whenever they are read.
        let connections = lock(&self.connections);
        let count = connections.count();
        let available = self.permits.available_permits();
        assert!(
            count <= self.max_connections,
            "num_connections {count} > max_connections {}",
            self.max_connections
        );
        assert!(
            count + available <= self.max_connections,
            "num_connections {count} + free permits {available} > max_connections {}",
            self.max_connections
        );
        drop(connections);
        if self.listener_closed.is_cancelled() {
            assert!(
                self.closing.is_cancelled(),
                "listener closed while not closing"
            );
            assert!(
                lock(&self.listener).is_none(),
                "listener closed but still held"
            );
            assert!(
                self.tracker.is_closed(),
                "listener closed but the task tracker is open"
            );
        }
        let state = lock(&self.close_state);
        if state.close_existing.is_some() {
            assert!(self.closing.is_cancelled(), "closed but still accepting");
        }
        if state.close_called {
            assert!(
                state.close_existing.is_some(),
                "close called but not recorded"
            );
        }
        if state.stopped_by.is_some() {
            assert_eq!(
                state.close_existing,
                Some(false),
                "stopped by an error, yet closed first"
            );
        }
    }

    /// What the state is, in a word, for `Debug`.
    pub(crate) fn state(&self) -> &'static str {
        if self.listener_closed.is_cancelled() {
            "closed"
        } else if self.closing.is_cancelled() {
            "closing"
        } else if self.permits.available_permits() == 0 {
            "at max_connections"
        } else {
            "accepting"
        }
    }
}

impl<T: Listen> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.close_state);
        f.debug_struct("Server")
            .field("listening_on", &self.listening_on)
            .field("state", &self.state())
            .field("num_connections", &self.num_connections())
            .field("max_connections", &self.max_connections)
            .field("accepted", &self.accepted.load(Ordering::Relaxed))
            .field("accept_errors", &self.accept_errors.load(Ordering::Relaxed))
            .field(
                "handler_errors",
                &self.handler_errors.load(Ordering::Relaxed),
            )
            .field("on_handler_error", &self.on_handler_error)
            .field("stopped_by", &state.stopped_by)
            .finish()
    }
}
