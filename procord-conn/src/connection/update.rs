//! How `update` moves bytes and keeps time, and what a connection asks a `Waiter` to
//! wait for.

use std::time::Instant;

use rustix::event::PollFlags;
use rustix::io::Errno;

use super::{Connection, Io};
use crate::address::RemoteAddress;
use crate::connect::{self, Started};
use crate::fd::{DISCARD_CHUNK, Endpoint};
use crate::resolver::Outcome;
use crate::state::{DisconnectReason, OsError, State};
use crate::waiter::Waiter;

/// The most reads of one `update`, so that a fast input cannot keep it from returning (each
/// read fills the buffer up to its target, so this only bounds dropping while closing).
const MAX_READS_PER_UPDATE: usize = 64;

impl<D> Connection<D> {
    /// Moves bytes between the buffers and the fds, and keeps time.
    ///
    /// In order: completes a pending connect (checked with a zero-timeout `poll(2)` and
    /// `SO_ERROR`); reads what the input has (`read(2)`, until it would block or the
    /// receive buffer reaches its soft limit, see
    /// [`Options::receive_soft_limit`](crate::Options::receive_soft_limit)); applies the
    /// idle [`timeout`](crate::Options::timeout) and queues the
    /// [`ping`](crate::Options::ping); writes what the output takes; and advances a
    /// [`close_nicely`](Connection::close_nicely).
    /// Never blocks. Does nothing once [`Disconnected`](State::Disconnected).
    ///
    /// The end of the input leaves the connection [`Connected`](State::Connected) with its
    /// output open (see [`input_ended`](Connection::input_ended)); only a connection
    /// without output then disconnects, with [`DisconnectReason::Eof`]. A failed system
    /// call disconnects with [`DisconnectReason::Os`]. Received data stays in the buffer
    /// either way.
    pub fn update(&mut self) {
        let now = Instant::now();
        match self.state {
            State::Disconnected(_) => return,
            State::Connecting => {
                self.update_connecting(now);
                if self.state != State::Connected {
                    return;
                }
                if self.closing {
                    self.state = State::Disconnecting;
                }
            }
            State::Connected | State::Disconnecting => {}
        }
        self.read(now);
        if !self.alive() {
            return;
        }
        self.check_idle(now);
        if !self.alive() {
            return;
        }
        self.write_out();
        if self.state == State::Disconnecting {
            self.advance_close(now);
        }
    }

    fn update_connecting(&mut self, now: Instant) {
        let Some(attempt) = &self.attempt else { return };
        if let Some(timeout) = self.options.timeout {
            if now.duration_since(attempt.started) >= timeout {
                self.disconnect(DisconnectReason::Timeout);
                return;
            }
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.disconnect(DisconnectReason::Timeout);
            return;
        }
        if let Some(lookup) = &attempt.lookup {
            if let Some(outcome) = lookup.outcome().cloned() {
                let host = lookup.host().to_owned();
                self.finish_lookup(now, outcome, host);
            }
            return;
        }
        let Io::Socket(socket) = &self.io else {
            self.start_next(now);
            return;
        };
        match connect::check(socket, &self.remote) {
            None => {}
            Some(Ok(())) => self.established(now),
            Some(Err(e)) => {
                tracing::debug!(
                    remote = %self.remote,
                    error = %e,
                    cause = %e.to_io_error(),
                    "connect attempt failed"
                );
                if let Some(attempt) = &mut self.attempt {
                    attempt.last_error = Some(e);
                }
                self.io = Io::None;
                self.start_next(now);
            }
        }
    }

    /// Starts connecting to the addresses of a lookup that is over, or disconnects with the
    /// resolver's message.
    fn finish_lookup(&mut self, now: Instant, outcome: Outcome, host: String) {
        let Some(attempt) = &mut self.attempt else {
            return;
        };
        attempt.lookup = None;
        match outcome {
            Ok(addrs) => {
                tracing::debug!(host, addresses = addrs.len(), "resolved");
                attempt.remaining = addrs.into();
                self.start_next(now);
            }
            Err(message) => self.disconnect(DisconnectReason::Resolve { host, message }),
        }
    }

    /// Starts connecting to the next address, or disconnects with the last error.
    pub(super) fn start_next(&mut self, now: Instant) {
        let nodelay = self.options.nodelay;
        let Some(attempt) = &mut self.attempt else {
            return;
        };
        while let Some(addr) = attempt.remaining.pop_front() {
            self.remote = RemoteAddress::Inet(addr);
            match connect::start(addr, nodelay) {
                Ok(Started::Pending(socket)) => {
                    self.io = Io::Socket(socket);
                    return;
                }
                Ok(Started::Connected(socket)) => {
                    self.io = Io::Socket(socket);
                    self.established(now);
                    return;
                }
                Err(e) => attempt.last_error = Some(e),
            }
        }
        let reason = match attempt.last_error.take() {
            Some(e) => DisconnectReason::Os(e),
            None => DisconnectReason::Timeout,
        };
        self.disconnect(reason);
    }

    fn established(&mut self, now: Instant) {
        self.attempt = None;
        self.state = State::Connected;
        self.idle_since = now;
        tracing::debug!(remote = %self.remote, "connected");
    }

    pub(super) fn output(&self) -> Option<&Endpoint> {
        match &self.io {
            Io::Socket(socket) if !self.write_closed => Some(socket),
            Io::Split { output, .. } => output.as_ref(),
            _ => None,
        }
    }

    /// Reads what the input has. While connected, reading pauses once the receive buffer
    /// holds its target; while disconnecting it goes on to the end of stream, and what the
    /// buffer has no room for is dropped, with everything after it, so that the buffer stays
    /// a prefix of the stream.
    fn read(&mut self, now: Instant) {
        if self.input_eof {
            return;
        }
        let input = match &self.io {
            Io::Socket(socket) => socket,
            Io::Split {
                input: Some(input), ..
            } => input,
            _ => return,
        };
        let closing = self.state == State::Disconnecting;
        if !closing && !self.receive.wants_more() {
            // Paused by the soft limit: the peer is not idle, the application is.
            self.idle_since = now;
            return;
        }
        let mut received = false;
        let mut outcome = Ok(());
        for _ in 0..MAX_READS_PER_UPDATE {
            let attempt = if self.receive.wants_more() && !self.dropping {
                let buf = self.receive.spare();
                let room = buf.capacity() - buf.len();
                input.read(buf).map(|n| (n, room))
            } else if closing {
                if !self.dropping {
                    tracing::debug!(remote = %self.remote, "closing: dropping the unread input");
                    self.dropping = true;
                }
                input.discard().map(|n| (n, DISCARD_CHUNK))
            } else {
                break;
            };
            match attempt {
                Ok((0, _)) => {
                    outcome = Err(None);
                    break;
                }
                Ok((n, room)) => {
                    received = true;
                    // A short read means the fd is drained: save the EAGAIN round.
                    if n < room {
                        break;
                    }
                }
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR) => {}
                Err(e) => {
                    outcome = Err(Some(OsError::new("read", "", e)));
                    break;
                }
            }
        }
        if received {
            self.idle_since = now;
            self.ping_sent = false;
        }
        match outcome {
            Ok(()) => {}
            Err(None) => {
                tracing::debug!(remote = %self.remote, "input ended");
                self.input_eof = true;
                if self.state == State::Connected && self.output().is_none() {
                    self.disconnect(DisconnectReason::Eof);
                }
            }
            Err(Some(e)) => self.disconnect(DisconnectReason::Os(e)),
        }
    }

    fn check_idle(&mut self, now: Instant) {
        let Some(timeout) = self.options.timeout else {
            return;
        };
        let idle = now.duration_since(self.idle_since);
        if idle >= timeout {
            self.disconnect(DisconnectReason::Timeout);
            return;
        }
        // Once the input has ended no answer to a ping can come.
        let pinging = self.state == State::Connected && !self.input_eof && !self.ping_sent;
        if pinging && idle >= timeout / 2 {
            if let Some(ping) = &self.options.ping {
                if self.output().is_some() {
                    self.send.push(ping);
                }
                self.ping_sent = true;
            }
        }
    }

    /// Writes what the output takes without blocking.
    pub(super) fn write_out(&mut self) {
        let output = match &self.io {
            Io::Socket(socket) if !self.write_closed => socket,
            Io::Split {
                output: Some(output),
                ..
            } => output,
            _ => return,
        };
        let mut failure = None;
        let mut sent = false;
        while !self.send.is_empty() {
            match output.write(self.send.pending()) {
                Ok(0) | Err(Errno::AGAIN) => break,
                Ok(n) => {
                    self.send.advance(n);
                    sent = true;
                }
                Err(Errno::INTR) => {}
                Err(e) => {
                    let operation = if output.is_socket() { "send" } else { "write" };
                    failure = Some(OsError::new(operation, "", e));
                    break;
                }
            }
        }
        if sent && self.input_eof {
            // Nothing can be received any more: sending is what keeps the connection busy.
            self.idle_since = Instant::now();
        }
        if let Some(e) = failure {
            self.disconnect(DisconnectReason::Os(e));
        }
    }

    fn advance_close(&mut self, now: Instant) {
        if self.send.is_empty() && !self.write_closed {
            if let Err(e) = self.half_close() {
                self.disconnect(DisconnectReason::Os(e));
                return;
            }
        }
        let nothing_to_read = match &self.io {
            Io::Socket(socket) => !socket.is_socket() || self.input_eof,
            Io::Split { input, .. } => input.is_none() || self.input_eof,
            Io::None => true,
        };
        if self.write_closed && nothing_to_read {
            self.disconnect(DisconnectReason::ClosedLocally);
        } else if self.close_deadline.is_some_and(|d| now >= d) {
            // Everything was handed to the OS once the write side is closed.
            let reason = if self.write_closed {
                DisconnectReason::ClosedLocally
            } else {
                DisconnectReason::Timeout
            };
            self.disconnect(reason);
        }
    }

    /// Ends our writing direction: `shutdown(SHUT_WR)` on a socket, closing the output fd
    /// otherwise.
    fn half_close(&mut self) -> Result<(), OsError> {
        self.write_closed = true;
        match &mut self.io {
            Io::Socket(socket) => match socket.shutdown_write() {
                // The peer is gone already: nothing more to half-close.
                Ok(()) | Err(Errno::NOTCONN) => Ok(()),
                Err(e) => Err(OsError::new("shutdown", "SHUT_WR", e)),
            },
            Io::Split { output, .. } => {
                if let Some(output) = output.take() {
                    // A dup of a socket would not send FIN on close alone.
                    let _ = output.shutdown_write();
                }
                Ok(())
            }
            Io::None => Ok(()),
        }
    }

    pub(super) fn disconnect(&mut self, reason: DisconnectReason) {
        self.io = Io::None;
        self.attempt = None;
        self.send.clear();
        let cause = reason.cause().map(|e| e.to_string());
        tracing::debug!(remote = %self.remote, %reason, cause, "disconnected");
        self.state = State::Disconnected(reason);
    }

    /// Adds what is worth waiting for to `waiter`: the input while the receive buffer wants
    /// more, the output while there is something to send or a connect in progress, and the
    /// next moment a timer (connect, idle, ping, `close_nicely`) falls due.
    pub(crate) fn register<'a>(&'a self, waiter: &mut Waiter<'a>) {
        let now_due = || Some(Instant::now());
        match self.state {
            State::Disconnected(_) => {}
            State::Connecting => {
                if let Io::Socket(socket) = &self.io {
                    waiter.push(socket, PollFlags::OUT);
                }
                if let Some(lookup) = self.attempt.as_ref().and_then(|a| a.lookup.as_ref()) {
                    // Hangs up when the lookup is over.
                    waiter.push(lookup, PollFlags::IN);
                }
                if let (Some(attempt), Some(timeout)) = (&self.attempt, self.options.timeout) {
                    waiter.due(Some(attempt.started + timeout));
                }
                waiter.due(self.close_deadline);
            }
            State::Connected | State::Disconnecting => {
                // Closing reads to the end of stream, whatever the buffer holds.
                let reading = !self.input_eof
                    && (self.receive.wants_more() || self.state == State::Disconnecting);
                let writing = !self.send.is_empty();
                match (&self.io, self.output()) {
                    (Io::Socket(socket), _) => {
                        let mut flags = PollFlags::empty();
                        if reading {
                            flags |= PollFlags::IN;
                        }
                        if writing && !self.write_closed {
                            flags |= PollFlags::OUT;
                        }
                        if !flags.is_empty() {
                            waiter.push(socket, flags);
                        }
                    }
                    (Io::Split { input, .. }, output) => {
                        if let (Some(input), true) = (input, reading) {
                            waiter.push(input, PollFlags::IN);
                        }
                        if let (Some(output), true) = (output, writing) {
                            waiter.push(output, PollFlags::OUT);
                        }
                    }
                    (Io::None, _) => {}
                }
                if let Some(timeout) = self.options.timeout {
                    if reading || self.input_eof {
                        waiter.due(Some(self.idle_since + timeout));
                    }
                    if self.state == State::Connected
                        && !self.input_eof
                        && !self.ping_sent
                        && self.options.ping.is_some()
                    {
                        waiter.due(Some(self.idle_since + timeout / 2));
                    }
                }
                if self.state == State::Disconnecting {
                    waiter.due(self.close_deadline);
                    if self.send.is_empty() && !self.write_closed {
                        // The half-close is due now.
                        waiter.due(now_due());
                    }
                }
            }
        }
    }
}
