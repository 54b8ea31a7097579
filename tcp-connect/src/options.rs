//! The settings of a connection attempt shared by both transports, and how the timeout and
//! the interrupt bound an attempt.

use std::future::Future;
use std::time::Duration;

use camlnet_flow::{BufferAgeLimit, DEFAULT_READER_BUFFER_SIZE, WriterOptions};
use tokio_util::sync::CancellationToken;

use crate::error::Stop;

/// How long a connection attempt may take, name resolution included, unless set otherwise
/// with [`WhereToConnect::timeout`](crate::WhereToConnect::timeout): ten seconds, as Async.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The options of a [`WhereToConnect`](crate::WhereToConnect); set through its builder
/// methods.
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) timeout: Duration,
    pub(crate) interrupt: Option<CancellationToken>,
    pub(crate) reader_buffer_size: usize,
    pub(crate) buffer_age_limit: BufferAgeLimit,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: DEFAULT_TIMEOUT,
            interrupt: None,
            reader_buffer_size: DEFAULT_READER_BUFFER_SIZE,
            buffer_age_limit: BufferAgeLimit::default(),
        }
    }
}

impl Options {
    /// The settings of the writer that [`connect`](crate::connect) makes.
    pub(crate) fn writer_options(&self) -> WriterOptions {
        WriterOptions::default().buffer_age_limit(self.buffer_age_limit)
    }

    /// Runs `attempt` until it completes, the interrupt fires or the timeout passes,
    /// whichever comes first. An interrupt that fired before the call wins at once.
    pub(crate) async fn bound<F: Future>(&self, attempt: F) -> Result<F::Output, Stop> {
        let interrupted = async {
            match &self.interrupt {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        // `sleep` saturates a deadline past the end of time instead of overflowing.
        let timed_out = tokio::time::sleep(self.timeout);
        tokio::select! {
            biased;
            () = interrupted => Err(Stop::Interrupted),
            output = attempt => Ok(output),
            () = timed_out => Err(Stop::TimedOut(self.timeout)),
        }
    }
}
