//! `Waiter`: which fds to `poll(2)` and until when, so that a loop sleeps exactly until
//! an `update` is worth calling.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;

use crate::connection::Connection;
use crate::set::Set;

/// How long [`Waiter::wait`] sleeps after `poll(2)` failed, so that a loop cannot spin.
const POLL_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What to wait for: fds with the events of interest, and an optional moment (the next
/// timer of a connection) at which waiting should stop anyway.
///
/// A waiter is a snapshot: it borrows the fds of the connections, sets or sockets it was
/// made from, so make a new one for each turn of the loop (it is cheap), after the last
/// `update`. Combine several with [`from_list`](Waiter::from_list) or
/// [`extend`](Waiter::extend).
///
/// # Examples
///
/// A server loop over a listening socket and a set of connections:
///
/// ```
/// use std::time::Duration;
/// use camlnet_procord_conn::{Options, Set, Waiter};
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// listener.set_nonblocking(true)?;
/// let mut set: Set<()> = Set::new();
/// for _ in 0..3 {
///     let waiter = Waiter::from_list([set.accept_waiter(&listener), set.waiter()]);
///     waiter.wait(Some(Duration::from_millis(10)));
///     set.accept_into_set(&listener, |_| Some(()), &Options::new())?;
///     set.update_set();
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Waiter<'a> {
    fds: Vec<(BorrowedFd<'a>, PollFlags)>,
    deadline: Option<Instant>,
}

impl<'a> Waiter<'a> {
    /// A waiter with nothing to wait for.
    pub fn new() -> Self {
        Waiter {
            fds: Vec::new(),
            deadline: None,
        }
    }

    /// Waits until it is worth calling [`update`](Connection::update) on `connection`: its
    /// input is readable (unless the receive buffer is at its soft limit while connected:
    /// closing reads to the end of stream whatever the buffer holds), its output is
    /// writable *when there is something to send or a connect in progress* (an idle
    /// connection lists no write fd, or the loop would spin), or one of its timers falls
    /// due (connect or idle timeout, ping, `close_nicely` deadline). A disconnected
    /// connection contributes nothing.
    pub fn from_connection<D>(connection: &'a Connection<D>) -> Self {
        let mut waiter = Waiter::new();
        connection.register(&mut waiter);
        waiter
    }

    /// Waits until it is worth calling [`update_set`](Set::update_set): the union of the
    /// waiters of all connections of `set`.
    pub fn from_set<D>(set: &'a Set<D>) -> Self {
        let mut waiter = Waiter::new();
        for connection in set.iter() {
            connection.register(&mut waiter);
        }
        waiter
    }

    /// Waits until `listener` is readable, that is, until `accept(2)` (or
    /// [`accept_into_set`](Set::accept_into_set)) has a connection to take. A server that
    /// accepts into a [`Set`] should use [`Set::accept_waiter`], which honours the set's
    /// pause after running out of file descriptors.
    pub fn from_listener<L: AsFd>(listener: &'a L) -> Self {
        let mut waiter = Waiter::new();
        waiter.push(listener, PollFlags::IN);
        waiter
    }

    /// Waits for any of `read` to be readable (`POLLIN`), any of `write` to be writable
    /// (`POLLOUT`), or any of `except` to have an exceptional condition (`POLLPRI`, such as
    /// TCP urgent data).
    pub fn custom(
        read: &[BorrowedFd<'a>],
        write: &[BorrowedFd<'a>],
        except: &[BorrowedFd<'a>],
    ) -> Self {
        let mut waiter = Waiter::new();
        let lists = [
            (read, PollFlags::IN),
            (write, PollFlags::OUT),
            (except, PollFlags::PRI),
        ];
        for (list, flags) in lists {
            for fd in list {
                waiter.fds.push((*fd, flags));
            }
        }
        waiter
    }

    /// Waits until any of `waiters` would stop waiting.
    pub fn from_list(waiters: impl IntoIterator<Item = Waiter<'a>>) -> Self {
        let mut waiter = Waiter::new();
        for other in waiters {
            waiter.extend(other);
        }
        waiter
    }

    /// Adds the fds and the deadline of `other` to this waiter.
    pub fn extend(&mut self, other: Waiter<'a>) {
        self.fds.extend(other.fds);
        self.due(other.deadline);
    }

    pub(crate) fn push<F: AsFd>(&mut self, fd: &'a F, flags: PollFlags) {
        self.fds.push((fd.as_fd(), flags));
    }

    /// Makes the waiter stop at `deadline` at the latest.
    pub(crate) fn due(&mut self, deadline: Option<Instant>) {
        if let Some(d) = deadline {
            self.deadline = Some(self.deadline.map_or(d, |old| old.min(d)));
        }
    }

    /// The moment at which waiting stops even without any fd event, if any: the earliest
    /// timer of the connections the waiter was made from.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether there is nothing at all to wait for (no fd, no deadline).
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty() && self.deadline.is_none()
    }

    /// The read, write and except fd lists (the original's `instanciate_waiter`), for a
    /// caller's own `poll(2)`, `select(2)` or event loop. Add [`deadline`](Waiter::deadline)
    /// to its timeout. An fd can appear in several lists.
    #[allow(clippy::type_complexity)]
    pub fn instantiate(
        &self,
    ) -> (
        Vec<BorrowedFd<'a>>,
        Vec<BorrowedFd<'a>>,
        Vec<BorrowedFd<'a>>,
    ) {
        let mut lists = (Vec::new(), Vec::new(), Vec::new());
        for (fd, flags) in &self.fds {
            if flags.contains(PollFlags::IN) {
                lists.0.push(*fd);
            }
            if flags.contains(PollFlags::OUT) {
                lists.1.push(*fd);
            }
            if flags.contains(PollFlags::PRI) {
                lists.2.push(*fd);
            }
        }
        lists
    }

    /// Waits with `poll(2)` until an fd is ready (or has an error or hang-up, which
    /// `update` then reports), the waiter's [`deadline`](Waiter::deadline) passes, or
    /// `timeout` runs out (`None`: no limit).
    ///
    /// Returns `true` when something happened (an fd event or the deadline: call `update`),
    /// `false` when `timeout` ran out. Interrupted by a signal (`EINTR`), it polls again
    /// for the remaining time. With nothing to wait for and no timeout it returns `false`
    /// at once instead of blocking forever. Should `poll` fail otherwise (`ENOMEM`, or
    /// `EINVAL` for more fds than `RLIMIT_NOFILE`), it logs the error, sleeps for a short
    /// pause (100 ms, or until the timeout or the deadline if that comes first) so that a
    /// loop cannot spin on an error that lasts, and returns `true`, so that the caller goes
    /// on with its loop.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let start = Instant::now();
        let limit = timeout.and_then(|t| start.checked_add(t));
        let end = match (limit, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if self.fds.is_empty() && end.is_none() {
            return false;
        }
        loop {
            let remaining = end.map(|e| e.saturating_duration_since(Instant::now()));
            match self.poll_once(remaining) {
                Ok(0) => {
                    let now = Instant::now();
                    if end.is_some_and(|e| now >= e) {
                        // The deadline counts as an event, the caller's timeout does not.
                        return self.deadline.is_some_and(|d| d <= now);
                    }
                    // Woken early (timer rounding): poll again for the rest.
                }
                Ok(_) => return true,
                Err(Errno::INTR) => {}
                Err(e) => {
                    tracing::warn!(error = %e, fds = self.fds.len(), "poll failed, pausing");
                    let pause = end.map_or(POLL_ERROR_PAUSE, |end| {
                        end.saturating_duration_since(Instant::now())
                            .min(POLL_ERROR_PAUSE)
                    });
                    std::thread::sleep(pause);
                    return true;
                }
            }
        }
    }

    /// Waits as [`wait`](Waiter::wait) does and drops its answer: the original's `wait'`,
    /// for loops that call `update` after every wake-up, whatever ended the wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use camlnet_procord_conn::{Connection, Fd, Options};
    ///
    /// let (input, feeder) = rustix::pipe::pipe()?;
    /// let mut conn = Connection::custom(Some(Fd::owned(input)), None, (), Options::new());
    /// rustix::io::write(&feeder, b"hi")?;
    /// for _ in 0..100 {
    ///     if conn.receive_buffer_length() == 2 {
    ///         break;
    ///     }
    ///     conn.waiter().sleep(Some(Duration::from_millis(100)));
    ///     conn.update();
    /// }
    /// assert_eq!(conn.receive_all(), b"hi");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sleep(&self, timeout: Option<Duration>) {
        self.wait(timeout);
    }

    fn poll_once(&self, remaining: Option<Duration>) -> Result<usize, Errno> {
        let timespec = remaining.map(|d| Timespec {
            tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: d.subsec_nanos().into(),
        });
        let make =
            |(fd, flags): &(BorrowedFd<'a>, PollFlags)| PollFd::from_borrowed_fd(*fd, *flags);
        // One or two fds (a single connection) are polled without allocating.
        match self.fds.as_slice() {
            [] => rustix::event::poll(&mut [], timespec.as_ref()),
            [a] => rustix::event::poll(&mut [make(a)], timespec.as_ref()),
            [a, b] => rustix::event::poll(&mut [make(a), make(b)], timespec.as_ref()),
            many => {
                let mut fds: Vec<PollFd<'_>> = many.iter().map(make).collect();
                rustix::event::poll(&mut fds, timespec.as_ref())
            }
        }
    }
}
