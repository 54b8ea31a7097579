//! The pause of [`Set::accept_into_set`](crate::Set::accept_into_set) after `accept(2)`
//! ran out of file descriptors or memory, as TCP servers do: 10 ms at first, doubling up
//! to one second.

use std::time::{Duration, Instant};

/// The first pause.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause: the pauses double up to it.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// Whether accepting is paused, and for how long the next pause lasts.
#[derive(Debug)]
pub(crate) struct AcceptPause {
    until: Option<Instant>,
    next: Duration,
}

impl Default for AcceptPause {
    fn default() -> Self {
        AcceptPause {
            until: None,
            next: FIRST_PAUSE,
        }
    }
}

impl AcceptPause {
    /// When the pause ends, if accepting is paused at `now`.
    pub(crate) fn until(&self, now: Instant) -> Option<Instant> {
        self.until.filter(|&until| now < until)
    }

    /// Pauses from `now`, twice as long as the last pause (up to a second); returns for
    /// how long.
    pub(crate) fn start(&mut self, now: Instant) -> Duration {
        let pause = self.next;
        self.until = Some(now + pause);
        self.next = (pause * 2).min(LONGEST_PAUSE);
        pause
    }

    /// Ends the pause at once: descriptors were freed.
    pub(crate) fn lift(&mut self) {
        self.until = None;
    }

    /// An accept succeeded: the next pause is short again.
    pub(crate) fn reset(&mut self) {
        self.next = FIRST_PAUSE;
    }
}
