//! `Writer`: Async's writer. `write` returns at once; a background task flushes.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::sync::Notify;

use crate::{Error, SocketIo};

/// The most buffers handed to one `writev(2)`.
const MAX_IOVECS: usize = 64;
/// Copied writes are gathered into chunks of about this size.
const CHUNK_SIZE: usize = 64 * 1024;

/// How old the oldest unwritten byte of a [`Writer`] may get before the writer fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferAgeLimit {
    /// Fail once a byte has waited this long (checked about once a second, or four times
    /// per limit when the limit is shorter).
    AtMost(Duration),
    /// Wait for the peer forever.
    Unlimited,
}

impl Default for BufferAgeLimit {
    /// Two minutes, as Async's default for sockets.
    fn default() -> Self {
        BufferAgeLimit::AtMost(Duration::from_secs(120))
    }
}

/// The settings of a [`Writer`].
#[derive(Debug, Clone)]
pub struct WriterOptions {
    buffer_age_limit: BufferAgeLimit,
    high_water_mark: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            buffer_age_limit: BufferAgeLimit::default(),
            high_water_mark: 1 << 20,
        }
    }
}

impl WriterOptions {
    /// Sets the age limit (default two minutes).
    ///
    /// It is not a write timeout and does not cap the buffer: it fails the writer once the
    /// oldest unwritten byte is older than the limit, which ends the connection under the
    /// connect and server crates. To bound memory, producers wait on
    /// [`Writer::wait_for_room`], which the high-water mark governs.
    pub fn buffer_age_limit(mut self, limit: BufferAgeLimit) -> Self {
        self.buffer_age_limit = limit;
        self
    }

    /// Sets the high-water mark in bytes (default 1 MiB): [`Writer::wait_for_room`] waits
    /// while more than this many bytes are waiting to be written.
    pub fn high_water_mark(mut self, bytes: usize) -> Self {
        self.high_water_mark = bytes;
        self
    }
}

/// Async's `Writer.t`: [`write`](Writer::write) appends to a buffer and returns at once.
///
/// A write goes straight to the socket when the socket takes the bytes; what it does not
/// take is buffered and written by a background task with vectored writes.
/// [`flushed`](Writer::flushed) waits for the bytes to reach the kernel. Nothing caps the
/// buffer by itself: a producer that may outrun the peer waits on
/// [`wait_for_room`](Writer::wait_for_room), which holds it while more than the
/// high-water mark is pending.
///
/// The writer fails, once, on an I/O error or when a byte has waited longer than the
/// [`BufferAgeLimit`]; [`failed`](Writer::failed) reports it, and every later write returns
/// it. Clones share one buffer. The background task needs a tokio runtime.
///
/// # Examples
///
/// ```
/// use tokio::io::AsyncReadExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (a, mut b) = tokio::net::UnixStream::pair()?;
/// let (_socket, _reader, writer) = camlnet_flow::reader_writer(a, 4096, camlnet_flow::WriterOptions::default());
/// writer.write(b"hello ")?;
/// writer.write(b"world")?;
/// writer.close().await?;
/// let mut received = String::new();
/// b.read_to_string(&mut received).await?;
/// assert_eq!(received, "hello world");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Writer {
    shared: Arc<Shared>,
}

struct Shared {
    socket: Arc<dyn SocketIo>,
    options: WriterOptions,
    state: Mutex<State>,
    /// Woken whenever bytes are written, the writer fails or it is shut down.
    progress: Notify,
}

#[derive(Default)]
struct State {
    /// Pending chunks with the time their first byte was appended, oldest first.
    queue: VecDeque<(Bytes, Instant)>,
    /// Copied writes not yet sealed into the queue, and when its first byte came.
    tail: BytesMut,
    tail_since: Option<Instant>,
    pending: usize,
    appended: u64,
    written: u64,
    flusher_running: bool,
    closing: bool,
    shut_down: bool,
    error: Option<Error>,
}

impl State {
    fn seal_tail(&mut self) {
        if let Some(since) = self.tail_since.take() {
            self.queue.push_back((self.tail.split().freeze(), since));
        }
    }

    fn oldest(&self) -> Option<Instant> {
        self.queue
            .front()
            .map(|(_, since)| *since)
            .or(self.tail_since)
    }

    fn advance(&mut self, mut n: usize) {
        self.pending -= n;
        self.written += n as u64;
        while n > 0 {
            let Some((front, _)) = self.queue.front_mut() else {
                self.tail.advance(n);
                if self.tail.is_empty() {
                    self.tail_since = None;
                }
                return;
            };
            let step = n.min(front.len());
            front.advance(step);
            n -= step;
            if front.is_empty() {
                self.queue.pop_front();
            }
        }
    }
}

impl Writer {
    /// A writer of `socket`.
    pub fn new(socket: Arc<dyn SocketIo>, options: WriterOptions) -> Self {
        Writer {
            shared: Arc::new(Shared {
                socket,
                options,
                state: Mutex::new(State::default()),
                progress: Notify::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Appends a copy of `data` and returns at once.
    ///
    /// # Errors
    ///
    /// The writer's failure (see [`failed`](Writer::failed)), or an [`Error::is_closed`]
    /// error after [`close`](Writer::close).
    pub fn write(&self, data: &[u8]) -> Result<(), Error> {
        self.append(data, |state, rest| {
            if state.tail_since.is_none() {
                state.tail_since = Some(Instant::now());
            }
            state.tail.extend_from_slice(rest);
            if state.tail.len() >= CHUNK_SIZE {
                state.seal_tail();
            }
        })
    }

    /// Appends `data` without copying it and returns at once.
    ///
    /// # Errors
    ///
    /// As [`write`](Writer::write).
    pub fn schedule(&self, data: Bytes) -> Result<(), Error> {
        let whole = data.clone();
        self.append(&data, move |state, rest| {
            state.seal_tail();
            let taken = whole.len() - rest.len();
            state
                .queue
                .push_back((whole.slice(taken..), Instant::now()));
        })
    }

    fn append(&self, data: &[u8], buffer: impl FnOnce(&mut State, &[u8])) -> Result<(), Error> {
        let mut state = self.state();
        if let Some(e) = &state.error {
            return Err(e.clone());
        }
        if state.closing {
            return Err(Error::closed());
        }
        let mut rest = data;
        if state.pending == 0 && !state.flusher_running {
            match self.shared.socket.try_write_vectored(&[IoSlice::new(rest)]) {
                Ok(n) => {
                    state.appended += n as u64;
                    state.written += n as u64;
                    rest = &rest[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(self.shared.fail(&mut state, Error::from_io(e))),
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
        state.pending += rest.len();
        state.appended += rest.len() as u64;
        buffer(&mut state, rest);
        if !state.flusher_running {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    state.flusher_running = true;
                    runtime.spawn(flush(self.shared.clone()));
                }
                Err(e) => {
                    return Err(self
                        .shared
                        .fail(&mut state, Error::from_io(io::Error::other(e))));
                }
            }
        }
        Ok(())
    }

    /// Completes once every byte written before the call has reached the kernel.
    ///
    /// # Errors
    ///
    /// The writer's failure, if it fails first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn flushed(&self) -> Result<(), Error> {
        let target = self.state().appended;
        self.wait_until(|state| state.written >= target).await
    }

    /// Completes once no more than the high-water mark is waiting to be written.
    ///
    /// # Errors
    ///
    /// The writer's failure, if it fails first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_for_room(&self) -> Result<(), Error> {
        let mark = self.shared.options.high_water_mark;
        self.wait_until(|state| state.pending <= mark).await
    }

    /// Flushes what is buffered, then half-closes the socket (`shutdown(2)` with
    /// `SHUT_WR`): the peer reads the data, then end of stream. Later writes fail with an
    /// [`Error::is_closed`] error. Calling it again waits for the same end.
    ///
    /// # Errors
    ///
    /// The writer's failure, if it fails before everything is written.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the close goes on in the background.
    pub async fn close(&self) -> Result<(), Error> {
        {
            let mut state = self.state();
            state.closing = true;
            if !state.flusher_running && !state.shut_down && state.error.is_none() {
                self.shared.shut_down(&mut state);
            }
        }
        self.wait_until(|state| state.shut_down).await
    }

    /// Completes with the writer's failure: an I/O error, or the [`BufferAgeLimit`]
    /// exceeded (naming the age and the pending byte count). A writer fails at most once;
    /// this returns the same error to every caller. Never completes for a writer that does
    /// not fail.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn failed(&self) -> Error {
        loop {
            let notified = self.shared.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(e) = &self.state().error {
                return e.clone();
            }
            notified.await;
        }
    }

    /// Bytes appended and not yet written to the socket.
    pub fn bytes_to_write(&self) -> usize {
        self.state().pending
    }

    /// Bytes written to the socket so far.
    pub fn bytes_written(&self) -> u64 {
        self.state().written
    }

    async fn wait_until(&self, done: impl Fn(&State) -> bool) -> Result<(), Error> {
        // Usually it holds already (a writer with room): no waiter to register then.
        if done(&self.state()) {
            return Ok(());
        }
        loop {
            let notified = self.shared.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.state();
                if done(&state) {
                    return Ok(());
                }
                if let Some(e) = &state.error {
                    return Err(e.clone());
                }
            }
            notified.await;
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned lock is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records the writer's one failure and wakes every waiter.
    fn fail(&self, state: &mut State, error: Error) -> Error {
        if state.error.is_none() {
            tracing::debug!(%error, pending = state.pending, "writer failed");
            state.error = Some(error.clone());
            self.progress.notify_waiters();
        }
        state.error.clone().unwrap_or(error)
    }

    fn shut_down(&self, state: &mut State) {
        let result =
            socket2::SockRef::from(&self.socket.as_fd()).shutdown(std::net::Shutdown::Write);
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => {
                self.fail(state, Error::from_io(e));
            }
        }
        state.shut_down = true;
        self.progress.notify_waiters();
    }

    /// Writes as much as the socket takes now. `Ok(true)` when nothing is left.
    fn write_some(&self, state: &mut State) -> Result<bool, Error> {
        loop {
            if state.pending == 0 {
                return Ok(true);
            }
            let mut slices: Vec<IoSlice<'_>> =
                Vec::with_capacity(MAX_IOVECS.min(state.queue.len() + 1));
            slices.extend(
                state
                    .queue
                    .iter()
                    .take(MAX_IOVECS)
                    .map(|(b, _)| IoSlice::new(b)),
            );
            if slices.len() < MAX_IOVECS && !state.tail.is_empty() {
                slices.push(IoSlice::new(&state.tail));
            }
            let result = self.socket.try_write_vectored(&slices);
            drop(slices);
            match result {
                Ok(n) => {
                    state.advance(n);
                    self.progress.notify_waiters();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(Error::from_io(e)),
            }
        }
    }
}

/// The background flush: runs while bytes are pending, then shuts the socket down if the
/// writer is closing.
async fn flush(shared: Arc<Shared>) {
    let check_every = match shared.options.buffer_age_limit {
        BufferAgeLimit::AtMost(limit) => {
            Some((limit / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)))
        }
        BufferAgeLimit::Unlimited => None,
    };
    loop {
        {
            let mut state = shared.lock();
            match shared.write_some(&mut state) {
                Ok(true) => {
                    state.flusher_running = false;
                    if state.closing && !state.shut_down {
                        shared.shut_down(&mut state);
                    }
                    return;
                }
                Ok(false) => {}
                Err(e) => {
                    state.flusher_running = false;
                    shared.fail(&mut state, e);
                    return;
                }
            }
        }
        // Checked on every round, not only when the socket stays full: a peer that reads
        // a trickle keeps the socket writable now and then, and must still trip the limit.
        if let Some(e) = too_old(&shared) {
            let mut state = shared.lock();
            state.flusher_running = false;
            tracing::warn!(error = %e, "writer gave up on a peer that does not read");
            shared.fail(&mut state, e);
            return;
        }
        let writable = poll_fn(|cx| shared.socket.poll_write_ready(cx));
        let ready = match check_every {
            None => writable.await,
            Some(period) => match tokio::time::timeout(period, writable).await {
                Ok(ready) => ready,
                Err(_elapsed) => continue,
            },
        };
        if let Err(e) = ready {
            let mut state = shared.lock();
            state.flusher_running = false;
            shared.fail(&mut state, Error::from_io(e));
            return;
        }
    }
}

/// The age-limit error, if the oldest pending byte is older than the limit.
fn too_old(shared: &Shared) -> Option<Error> {
    let BufferAgeLimit::AtMost(limit) = shared.options.buffer_age_limit else {
        return None;
    };
    let state = shared.lock();
    let age = state.oldest()?.elapsed();
    (age > limit).then(|| Error::buffer_age(age, state.pending))
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Writer")
            .field("socket", &self.shared.socket)
            .field("pending", &state.pending)
            .field("written", &state.written)
            .field("closing", &state.closing)
            .field("error", &state.error)
            .finish()
    }
}
