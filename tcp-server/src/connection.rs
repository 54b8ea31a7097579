//! One connection: its place among the server's [`Connections`], the task that runs its
//! handler (catching panics), and what happens when the handler fails.
//!
//! [`Connections`]: crate::connections::Connections

use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::AsFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use camlnet_flow::{Reader, Writer, WriterOptions};
use tracing::Instrument;

use crate::error::{BoxError, Chain, panic_message};
use crate::shared::{Shared, lock};
use crate::where_to_listen::Listen;
use crate::{Error, HandlerError, OnHandlerError};

/// A connection's place in the server: counted, its socket duplicated into
/// `Shared::connections`, holding one permit of `Shared::permits` (taken by the accept
/// loop and forgotten there, to keep this small). Dropping it (when the connection task
/// ends) gives all three back: the duplicate closes, then the permit returns.
pub(crate) struct ConnectionGuard<T: Listen> {
    shared: Arc<Shared<T>>,
    id: u64,
}

impl<T: Listen> ConnectionGuard<T> {
    /// Counts the connection of `stream`, which holds a permit that the caller took and
    /// forgot, keeping a duplicate of its socket.
    ///
    /// # Errors
    ///
    /// When the socket cannot be duplicated: out of descriptors (EMFILE, ENFILE).
    pub(crate) fn register(shared: &Arc<Shared<T>>, stream: &T::Stream) -> io::Result<Self> {
        let socket = stream.as_fd().try_clone_to_owned()?;
        let id = lock(&shared.connections).add(socket);
        Ok(ConnectionGuard {
            shared: shared.clone(),
            id,
        })
    }

    /// Runs `handler`'s policy if the connection ended with an error.
    fn finish(&self, peer: &T::Address, outcome: Result<Result<(), BoxError>, HandlerError>) {
        let error = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(error)) => HandlerError::returned(error),
            Err(panic) => panic,
        };
        let shared = &self.shared;
        shared.handler_errors.fetch_add(1, Ordering::Relaxed);
        match &shared.on_handler_error {
            OnHandlerError::Raise => shared.stop_with(Error::handler(peer, error)),
            OnHandlerError::Ignore => {
                tracing::debug!(?peer, error = %Chain(&error), "ignoring a handler error");
            }
            OnHandlerError::Call(f) => {
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(peer, &error))) {
                    let panic = panic_message(&*panic);
                    shared.stop_with(Error::callback(peer, error, panic));
                }
            }
        }
    }
}

impl<T: Listen> Drop for ConnectionGuard<T> {
    fn drop(&mut self) {
        let socket = lock(&self.shared.connections).remove(self.id);
        drop(socket);
        self.shared.permits.add_permits(1);
    }
}

/// Polls `future`, turning a panic into a [`HandlerError`].
async fn catch_panic<F: Future>(future: F) -> Result<F::Output, HandlerError> {
    let mut future = pin!(future);
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(HandlerError::panicked(&*panic))),
        },
    )
    .await
}

pin_project_lite::pin_project! {
    /// The task of a `create_sock` connection, written out by hand rather than as an
    /// `async` block so that it holds nothing twice: an idle connection costs its
    /// handler's future plus this header.
    struct SockConnection<T: Listen, F> {
        guard: ConnectionGuard<T>,
        peer: T::Address,
        started: bool,
        #[pin]
        handler: F,
    }
}

impl<T: Listen, F, E> Future for SockConnection<T, F>
where
    F: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let this = self.project();
        if !*this.started {
            *this.started = true;
            // No handler starts once the server is closing.
            if this.guard.shared.closing.is_cancelled() {
                return Poll::Ready(());
            }
        }
        let mut handler = this.handler;
        let outcome = match catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => Ok(result.map_err(Into::into)),
            Err(panic) => Err(HandlerError::panicked(&*panic)),
        };
        this.guard.finish(this.peer, outcome);
        Poll::Ready(())
    }
}

/// The span of a connection's task, so that what its handler logs says whose it is: the
/// connection's number in this server and its peer.
fn connection_span<T: Listen>(guard: &ConnectionGuard<T>, peer: &T::Address) -> tracing::Span {
    tracing::info_span!("connection", id = guard.id, peer = ?peer)
}

/// Spawns the task of a `create_sock` connection: the handler gets the stream. The
/// handler function is called here, its future polled in the task.
pub(crate) fn spawn_sock<T, H, Fut, E>(
    guard: ConnectionGuard<T>,
    handler: &H,
    stream: T::Stream,
    peer: T::Address,
) where
    T: Listen,
    H: Fn(T::Address, T::Stream) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    let span = connection_span(&guard, &peer);
    // A handler function may panic before it returns its future, too.
    let called = span.in_scope(|| catch_unwind(AssertUnwindSafe(|| handler(peer.clone(), stream))));
    let handler = match called {
        Ok(handler) => handler,
        Err(panic) => return guard.finish(&peer, Err(HandlerError::panicked(&*panic))),
    };
    let tracker = guard.shared.tracker.clone();
    let connection = SockConnection {
        guard,
        peer,
        started: false,
        handler,
    };
    tracker.spawn(connection.instrument(span));
}

/// What a `create` connection needs besides its stream.
#[derive(Debug, Clone)]
pub(crate) struct CreateSettings {
    pub(crate) reader_buffer_size: usize,
    pub(crate) writer_options: WriterOptions,
}

/// Spawns the task of a `create` connection: the handler gets a `Reader` and a `Writer`.
/// The connection ends when the handler returns or fails, or when the writer fails (an
/// I/O error, or the buffer age limit): then the handler is dropped.
pub(crate) fn spawn_create<T, H, Fut, E>(
    guard: ConnectionGuard<T>,
    handler: Arc<H>,
    settings: &CreateSettings,
    stream: T::Stream,
    peer: T::Address,
) where
    T: Listen,
    H: Fn(T::Address, Reader, Writer) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    let tracker = guard.shared.tracker.clone();
    let reader_buffer_size = settings.reader_buffer_size;
    let writer_options = settings.writer_options.clone();
    let span = connection_span(&guard, &peer);
    let connection = async move {
        if guard.shared.closing.is_cancelled() {
            return;
        }
        let (socket, reader, writer) =
            camlnet_flow::reader_writer(stream, reader_buffer_size, writer_options);
        let ours = writer.clone();
        let outcome = tokio::select! {
            biased;
            outcome = catch_panic(async { handler(peer.clone(), reader, writer).await }) => {
                Some(outcome.map(|result| result.map_err(Into::into)))
            }
            error = ours.failed() => {
                tracing::debug!(?peer, error = %Chain(&error), "the writer failed: ending the connection");
                None
            }
        };
        if let Some(outcome) = outcome {
            guard.finish(&peer, outcome);
            // As Async closes the writer when the handler is done: write what it left,
            // then half-close. Bounded by the buffer age limit, and by `close(true)`.
            if let Err(error) = ours.close().await {
                tracing::debug!(?peer, error = %Chain(&error), "cannot flush the connection's writer");
            }
        }
        // The socket closes here, then the connection leaves the count.
        drop(ours);
        drop(socket);
        drop(guard);
    };
    tracker.spawn(connection.instrument(span));
}
