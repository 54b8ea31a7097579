//! `split`: a read half and a write half of one flow, usable from two tasks at once.

use std::fmt;
use std::fs::File;
use std::future::poll_fn;
use std::io::IoSlice;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;

use crate::ext::{PendingFile, PendingWrites};
use crate::{Error, Flow, Read, Shutdown};

/// The read half of a flow split with [`FlowExt::split`](crate::FlowExt::split).
///
/// Dropping it tells the write half's [`close`](WriteHalf::close) that nobody reads any
/// more, so `close` then waits for the peer's `Eof` itself.
pub struct ReadHalf<F> {
    shared: Arc<Mutex<Shared<F>>>,
}

/// The write half of a flow split with [`FlowExt::split`](crate::FlowExt::split).
pub struct WriteHalf<F> {
    shared: Arc<Mutex<Shared<F>>>,
}

struct Shared<F> {
    flow: F,
    /// The read half saw `Eof` or an error, or shut reads down.
    read_done: bool,
    read_half_dropped: bool,
    /// The write half's `close`, waiting for `read_done`.
    close_waker: Option<Waker>,
}

pub(crate) fn split<F: Flow>(flow: F) -> (ReadHalf<F>, WriteHalf<F>) {
    let shared = Arc::new(Mutex::new(Shared {
        flow,
        read_done: false,
        read_half_dropped: false,
        close_waker: None,
    }));
    (
        ReadHalf {
            shared: shared.clone(),
        },
        WriteHalf { shared },
    )
}

fn lock<F>(shared: &Mutex<Shared<F>>) -> MutexGuard<'_, Shared<F>> {
    // The lock is held only inside one poll call, which never panics while holding it in
    // a way that leaves the flow inconsistent; a poisoned lock is still usable.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<F> Shared<F> {
    fn mark_read_done(&mut self) {
        self.read_done = true;
        if let Some(waker) = self.close_waker.take() {
            waker.wake();
        }
    }
}

impl<F: Flow> ReadHalf<F> {
    /// As [`Flow::poll_read`].
    pub fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, Error>> {
        let mut shared = lock(&self.shared);
        let result = ready!(shared.flow.poll_read(cx));
        if !matches!(result, Ok(Read::Data(_))) {
            shared.mark_read_done();
        }
        Poll::Ready(result)
    }

    /// As [`FlowExt::read`](crate::FlowExt::read); cancel safe.
    pub async fn read(&mut self) -> Result<Read, Error> {
        poll_fn(|cx| self.poll_read(cx)).await
    }

    /// Ends reads (as `shutdown(Shutdown::Read)`): later reads return `Eof`.
    pub async fn shutdown(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            let mut shared = lock(&self.shared);
            ready!(shared.flow.poll_shutdown(cx, Shutdown::Read))?;
            shared.mark_read_done();
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// Gives both halves back when they do not come from the same flow.
    pub fn reunite(self, other: WriteHalf<F>) -> Result<F, (ReadHalf<F>, WriteHalf<F>)> {
        if !Arc::ptr_eq(&self.shared, &other.shared) {
            return Err((self, other));
        }
        let shared = self.shared.clone();
        drop(self);
        drop(other);
        match Arc::try_unwrap(shared) {
            Ok(mutex) => Ok(mutex.into_inner().unwrap_or_else(|p| p.into_inner()).flow),
            Err(_) => unreachable!("both halves were dropped, so the flow has one owner"),
        }
    }
}

impl<F> Drop for ReadHalf<F> {
    fn drop(&mut self) {
        let mut shared = lock(&self.shared);
        shared.read_half_dropped = true;
        if let Some(waker) = shared.close_waker.take() {
            waker.wake();
        }
    }
}

impl<F: Flow> WriteHalf<F> {
    /// As [`Flow::poll_write_vectored`].
    pub fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<Result<usize, Error>> {
        lock(&self.shared).flow.poll_write_vectored(cx, bufs)
    }

    /// As [`FlowExt::write`](crate::FlowExt::write); not cancel safe.
    pub async fn write(&mut self, data: Bytes) -> Result<(), Error> {
        self.writev(vec![data]).await
    }

    /// As [`FlowExt::writev`](crate::FlowExt::writev); not cancel safe.
    pub async fn writev(&mut self, data: Vec<Bytes>) -> Result<(), Error> {
        let mut pending = PendingWrites::new(data);
        poll_fn(|cx| pending.poll_write_all(cx, |cx, slices| self.poll_write_vectored(cx, slices)))
            .await
    }

    /// As [`FlowExt::send_file`](crate::FlowExt::send_file); not cancel safe.
    ///
    /// # Errors
    ///
    /// The flow cannot send files (`Unsupported`), the file ends before the range does
    /// (`UnexpectedEof`), or the write fails.
    pub async fn send_file(
        &mut self,
        head: Vec<Bytes>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Result<(), Error> {
        let mut pending = PendingFile::new(head, offset, len);
        poll_fn(|cx| {
            pending.poll_send_all(cx, |cx, head, offset, len| {
                lock(&self.shared)
                    .flow
                    .poll_send_file(cx, head, file, offset, len)
            })
        })
        .await
    }

    /// As [`Flow::can_send_file`].
    pub fn can_send_file(&self) -> bool {
        lock(&self.shared).flow.can_send_file()
    }

    /// As [`FlowExt::flush`](crate::FlowExt::flush).
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| lock(&self.shared).flow.poll_flush(cx)).await
    }

    /// Ends writes at once (a half-close): the peer reads `Eof` after the data written.
    pub async fn shutdown(&mut self) -> Result<(), Error> {
        poll_fn(|cx| lock(&self.shared).flow.poll_shutdown(cx, Shutdown::Write)).await
    }

    /// Flushes, half-closes, and completes once the peer has closed too: once the read
    /// half has read `Eof` (or failed, or shut reads down). If the read half was dropped,
    /// `close` reads up to the peer's `Eof` itself, as [`FlowExt::close`](crate::FlowExt::close).
    ///
    /// So while the read half lives, somebody must keep reading it for `close` to complete.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe; calling it again resumes.
    pub async fn close(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            let mut shared = lock(&self.shared);
            if shared.read_half_dropped {
                return shared.flow.poll_close(cx);
            }
            ready!(shared.flow.poll_flush(cx))?;
            ready!(shared.flow.poll_shutdown(cx, Shutdown::Write))?;
            if shared.read_done {
                return Poll::Ready(Ok(()));
            }
            shared.close_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

impl<F> fmt::Debug for ReadHalf<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<F> fmt::Debug for WriteHalf<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}
