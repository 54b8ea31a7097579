//! The accept loop: a permit first, then `accept(2)` and the server's handle on the
//! socket, then a task for the connection. Errors never end it: per-connection ones are
//! skipped, others (EMFILE...) pause it.

use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustix::io::Errno;

use crate::connection::ConnectionGuard;
use crate::shared::{Shared, lock};
use crate::unix_file::UnixFile;
use crate::where_to_listen::Listen;

/// The first pause after an accept error that is not about one connection.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause: the pauses double up to it.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// Closes the listening socket and removes its file when the accept loop ends, however
/// it ends (closed, stopped, or dropped with its runtime).
pub(crate) struct ExitGuard<T: Listen> {
    shared: Arc<Shared<T>>,
    listener: Option<Arc<T::Listener>>,
    unix_file: Option<UnixFile>,
}

impl<T: Listen> ExitGuard<T> {
    pub(crate) fn new(
        shared: Arc<Shared<T>>,
        listener: Arc<T::Listener>,
        unix_file: Option<UnixFile>,
    ) -> Self {
        ExitGuard {
            shared,
            listener: Some(listener),
            unix_file,
        }
    }
}

impl<T: Listen> Drop for ExitGuard<T> {
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.closing.cancel();
        // The last two references to the listener, unless a `listening_socket` caller
        // keeps one.
        lock(&shared.listener).take();
        self.listener.take();
        if let Some(file) = self.unix_file.take() {
            file.remove();
        }
        shared.tracker.close();
        tracing::info!(listening_on = ?shared.listening_on, "stopped listening");
        shared.listener_closed.cancel();
    }
}

/// Spawns the accept loop, which calls `spawn_connection` for each connection accepted.
pub(crate) fn spawn<T, S>(exit: ExitGuard<T>, spawn_connection: S)
where
    T: Listen,
    S: Fn(ConnectionGuard<T>, T::Stream, T::Address) + Send + Sync + 'static,
{
    tokio::spawn(async move {
        if let Some(listener) = &exit.listener {
            accept_loop(&exit.shared, listener, &spawn_connection).await;
        }
        drop(exit);
    });
}

async fn accept_loop<T, S>(shared: &Arc<Shared<T>>, listener: &T::Listener, spawn_connection: &S)
where
    T: Listen,
    S: Fn(ConnectionGuard<T>, T::Stream, T::Address),
{
    let mut pause = FIRST_PAUSE;
    let mut in_a_row = 0;
    'accepting: loop {
        // The permit comes before `accept`: at max_connections, clients wait in the
        // backlog instead of being accepted and left waiting.
        let permit = tokio::select! {
            biased;
            () = shared.closing.cancelled() => break,
            permit = shared.permits.acquire() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        loop {
            let mut waited = false;
            let accepted = tokio::select! {
                biased;
                () = shared.closing.cancelled() => break 'accepting,
                accepted = poll_fn(|cx| {
                    let poll = T::poll_accept(listener, cx);
                    waited |= poll.is_pending();
                    poll
                }) => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    if shared.closing.is_cancelled() {
                        break 'accepting;
                    }
                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                    // The server's handle on the socket takes a descriptor too: without
                    // one, the client waits, accepted, as it would in the backlog.
                    let guard = loop {
                        match ConnectionGuard::register(shared, &stream) {
                            Ok(guard) => break guard,
                            Err(error) => {
                                if !back_off(shared, &mut pause, &error).await {
                                    break 'accepting;
                                }
                            }
                        }
                    };
                    pause = FIRST_PAUSE;
                    // The connection keeps the permit; its guard gives it back.
                    permit.forget();
                    spawn_connection(guard, stream, peer);
                    in_a_row = if waited { 1 } else { in_a_row + 1 };
                    if in_a_row >= shared.max_accepts_per_batch {
                        in_a_row = 0;
                        tokio::task::yield_now().await;
                    }
                    break;
                }
                Err(error) if is_about_one_connection(&error) => {
                    tracing::debug!(%error, "a connection failed before it was accepted");
                }
                Err(error) => {
                    if !back_off(shared, &mut pause, &error).await {
                        break 'accepting;
                    }
                }
            }
        }
    }
}

/// After an error that is not about one connection (out of descriptors, say): counts and
/// logs it, sleeps `pause`, and doubles `pause` up to [`LONGEST_PAUSE`]. False when the
/// server closes meanwhile.
async fn back_off<T: Listen>(shared: &Shared<T>, pause: &mut Duration, error: &io::Error) -> bool {
    shared.accept_errors.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(
        %error,
        pause_ms = pause.as_millis() as u64,
        "accepting failed; pausing before the next attempt"
    );
    tokio::select! {
        biased;
        () = shared.closing.cancelled() => return false,
        () = tokio::time::sleep(*pause) => {}
    }
    *pause = (*pause * 2).min(LONGEST_PAUSE);
    true
}

/// Errors that concern the connection being accepted, not the listener: skip it and go
/// on (see accept(2), "Error handling": Linux passes pending network errors of the new
/// connection to `accept`).
fn is_about_one_connection(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    if matches!(
        error.kind(),
        ConnectionAborted
            | ConnectionReset
            | ConnectionRefused
            | Interrupted
            | WouldBlock
            | NetworkDown
            | NetworkUnreachable
            | HostUnreachable
    ) {
        return true;
    }
    matches!(
        Errno::from_io_error(error),
        Some(
            Errno::PROTO
                | Errno::NOPROTOOPT
                | Errno::HOSTDOWN
                | Errno::NONET
                | Errno::OPNOTSUPP
                | Errno::PERM
        )
    )
}
