//! Name resolution on a helper thread, so that [`Connection::connect`](crate::Connection::connect)
//! never blocks and its timeout covers the lookup.

use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use rustix::pipe::PipeFlags;

/// What a lookup gives: at least one address, or the resolver's message.
pub(crate) type Outcome = Result<Vec<SocketAddr>, String>;

/// A lookup running on its own thread.
///
/// The thread closes its end of a pipe once the outcome is stored, which makes the other
/// end readable (hang-up) for a [`Waiter`](crate::Waiter). A lookup given up on (the
/// connection timed out or was closed) finishes on its own and is thrown away:
/// `getaddrinfo(3)` cannot be cancelled.
#[derive(Debug)]
pub(crate) struct Lookup {
    host: String,
    outcome: Arc<OnceLock<Outcome>>,
    done: OwnedFd,
}

impl Lookup {
    /// Runs `lookup` of `host` on a new thread.
    pub(crate) fn spawn(
        host: &str,
        lookup: impl FnOnce() -> Outcome + Send + 'static,
    ) -> std::io::Result<Self> {
        let (done, signal) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        let outcome = Arc::new(OnceLock::new());
        let slot = Arc::clone(&outcome);
        std::thread::Builder::new()
            .name("procord-resolve".to_owned())
            .spawn(move || {
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(lookup))
                    .unwrap_or_else(|_| Err("the resolver panicked".to_owned()));
                let _ = slot.set(outcome);
                // The outcome is there before the waiter wakes up.
                drop(signal);
            })?;
        Ok(Lookup {
            host: host.to_owned(),
            outcome,
            done,
        })
    }

    /// The host being looked up.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The outcome, once the lookup is over.
    pub(crate) fn outcome(&self) -> Option<&Outcome> {
        self.outcome.get()
    }
}

/// The end of the pipe that hangs up when the lookup is over.
impl AsFd for Lookup {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.done.as_fd()
    }
}
