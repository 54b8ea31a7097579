//! The receive buffer (with its soft limit and demand) and the send buffer.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Smallest read: below it a read is not worth a system call.
const MIN_READ: usize = 16 * 1024;
/// Largest single reservation, so that a huge `receive(n)` does not allocate `n` bytes
/// before the peer has sent them.
const MAX_RESERVE: usize = 1024 * 1024;

/// Received bytes not yet taken by the application: `bytes[start..]`, contiguous so that
/// [`receive_poll`](crate::Connection::receive_poll) can lend a slice.
#[derive(Debug)]
pub(crate) struct ReceiveBuffer {
    bytes: Vec<u8>,
    start: usize,
    soft_limit: usize,
    /// The end (from `start`) of the largest request that failed for want of bytes. Atomic
    /// only so that the `&self` peeking calls can record it and `Connection` stays `Sync`.
    demand: AtomicUsize,
}

impl ReceiveBuffer {
    pub(crate) fn new(soft_limit: usize) -> Self {
        ReceiveBuffer {
            bytes: Vec::new(),
            start: 0,
            soft_limit,
            demand: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// How many bytes the buffer is willing to hold: `max(soft limit, demand)`.
    fn target(&self) -> usize {
        self.soft_limit.max(self.demand.load(Ordering::Relaxed))
    }

    /// Whether `update` should read: the buffer holds less than its target.
    pub(crate) fn wants_more(&self) -> bool {
        self.len() < self.target()
    }

    fn record_demand(&self, end: usize) {
        self.demand.fetch_max(end, Ordering::Relaxed);
    }

    /// Prepares spare capacity for one read and returns the vector to read into.
    pub(crate) fn spare(&mut self) -> &mut Vec<u8> {
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
        let want = self
            .target()
            .saturating_sub(self.len())
            .clamp(MIN_READ, MAX_RESERVE);
        if self.bytes.capacity() - self.bytes.len() < want {
            if self.start > 0 {
                // Move the unread bytes to the front before growing.
                self.bytes.drain(..self.start);
                self.start = 0;
            }
            self.bytes.reserve(want);
        }
        &mut self.bytes
    }

    /// Removes `n` bytes from the front (`n <= len`).
    fn consume(&mut self, n: usize) {
        self.start += n;
        let demand = self.demand.get_mut();
        *demand = demand.saturating_sub(n);
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
    }

    pub(crate) fn receive(&mut self, n: usize) -> Option<Vec<u8>> {
        if self.len() < n {
            self.record_demand(n);
            return None;
        }
        let out = self.as_slice()[..n].to_vec();
        self.consume(n);
        Some(out)
    }

    pub(crate) fn receive_poll(&self, offset: usize, n: usize) -> Option<&[u8]> {
        let end = offset.saturating_add(n);
        if self.len() < end {
            self.record_demand(end);
            return None;
        }
        Some(&self.as_slice()[offset..end])
    }

    pub(crate) fn receive_poll_part(&self, offset: usize, n: usize) -> &[u8] {
        let slice = self.as_slice();
        let from = offset.min(slice.len());
        let to = offset.saturating_add(n).min(slice.len());
        &slice[from..to]
    }

    pub(crate) fn receive_part(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.len());
        let out = self.as_slice()[..n].to_vec();
        self.consume(n);
        out
    }

    pub(crate) fn receive_all(&mut self) -> Vec<u8> {
        let out = self.as_slice().to_vec();
        self.consume(self.len());
        out
    }

    pub(crate) fn receive_forget(&mut self, n: usize) -> usize {
        let n = n.min(self.len());
        self.consume(n);
        n
    }
}

/// Bytes queued by `send`, not yet accepted by the OS: `bytes[start..]`.
#[derive(Debug, Default)]
pub(crate) struct SendBuffer {
    bytes: Vec<u8>,
    start: usize,
}

impl SendBuffer {
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.bytes.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.is_empty() {
            self.bytes.clear();
            self.start = 0;
        } else if self.start > 0 && self.start >= self.bytes.len() / 2 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        self.bytes.extend_from_slice(data);
    }

    pub(crate) fn pending(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.start = (self.start + n).min(self.bytes.len());
        if self.is_empty() {
            self.bytes.clear();
            self.start = 0;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.bytes = Vec::new();
        self.start = 0;
    }
}
