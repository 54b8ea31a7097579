//! Closing: the first `close` (or an error that stops the server) decides how, later calls
//! share its completion.

use std::future::Future;
use std::sync::Arc;

use crate::Error;
use crate::error::Chain;
use crate::shared::{Shared, lock};
use crate::where_to_listen::Listen;

impl<T: Listen> Shared<T> {
    /// Stops accepting; with `close_existing_connections`, shuts down the sockets of the
    /// open connections too (a later call with `true` still does, after a first `false`).
    pub(crate) fn start_close(&self, close_existing_connections: bool) {
        {
            let mut state = lock(&self.close_state);
            state.close_called = true;
            if state.close_existing.is_none() {
                state.close_existing = Some(close_existing_connections);
                tracing::info!(
                    listening_on = ?self.listening_on,
                    close_existing_connections,
                    "closing the server"
                );
            }
        }
        self.closing.cancel();
        if close_existing_connections {
            lock(&self.connections).shut_down_all();
        }
    }

    /// Stops the server because of `error` (`Raise`, or a `Call` function that panicked),
    /// unless it is already closing: `close_finished` then reports `error`.
    pub(crate) fn stop_with(&self, error: Error) {
        let mut state = lock(&self.close_state);
        if state.close_existing.is_some() {
            tracing::warn!(error = %Chain(&error), "handler error while the server closes");
            return;
        }
        tracing::error!(error = %Chain(&error), "stopping the server");
        state.close_existing = Some(false);
        state.stopped_by = Some(error);
        drop(state);
        self.closing.cancel();
    }

    /// True once `close` was called.
    pub(crate) fn close_called(&self) -> bool {
        lock(&self.close_state).close_called
    }

    fn result(&self) -> Result<(), Error> {
        match &lock(&self.close_state).stopped_by {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Completes once the listening socket is closed, and, when the first close asked
    /// for it, once every connection has ended too.
    pub(crate) fn close_finished(
        self: &Arc<Self>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let shared = self.clone();
        async move {
            shared.listener_closed.cancelled().await;
            let close_existing = lock(&shared.close_state).close_existing == Some(true);
            if close_existing {
                shared.tracker.wait().await;
            }
            shared.result()
        }
    }

    /// Completes once the listening socket is closed and every handler has returned.
    pub(crate) fn handlers_determined(
        self: &Arc<Self>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let shared = self.clone();
        async move {
            shared.listener_closed.cancelled().await;
            shared.tracker.wait().await;
            shared.result()
        }
    }
}
