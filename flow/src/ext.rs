//! `FlowExt`: the `async` methods that every [`Flow`] has.

use std::future::{Future, poll_fn};
use std::io::IoSlice;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};

use crate::split::{ReadHalf, WriteHalf};
use crate::{Error, Flow, Read, Shutdown};

/// The most buffers handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// The `async` face of a [`Flow`], implemented for every flow.
///
/// ```
/// use bytes::Bytes;
/// use camlnet_flow::{FlowExt, Read};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), camlnet_flow::Error> {
/// let (mut a, mut b) = camlnet_flow::pair(1024);
/// a.write(Bytes::from_static(b"hello")).await?;
/// a.shutdown(camlnet_flow::Shutdown::Write).await?;
/// assert_eq!(b.read().await?, Read::Data(Bytes::from_static(b"hello")));
/// assert_eq!(b.read().await?, Read::Eof);
/// # Ok(())
/// # }
/// ```
pub trait FlowExt: Flow {
    /// Waits for the next chunk of data, or [`Read::Eof`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: when the future is dropped before it completes, no data was taken from
    /// the flow.
    fn read(&mut self) -> impl Future<Output = Result<Read, Error>> + Send + '_
    where
        Self: Sized,
    {
        poll_fn(move |cx| self.poll_read(cx))
    }

    /// Writes all of `data`; completes once the flow has accepted every byte (not once the
    /// peer has read them).
    ///
    /// # Errors
    ///
    /// An [`Error::is_closed`] error after the flow, or the connection, was closed.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped early, a prefix of `data` may have been
    /// written.
    fn write(&mut self, data: Bytes) -> impl Future<Output = Result<(), Error>> + Send + '_
    where
        Self: Sized,
    {
        let mut data = data;
        poll_fn(move |cx| {
            while !data.is_empty() {
                let n = ready!(self.poll_write(cx, &data))?;
                data.advance(n);
            }
            Poll::Ready(Ok(()))
        })
    }

    /// Writes the buffers one after the other, in order, with vectored writes where the
    /// transport has them.
    ///
    /// # Errors
    ///
    /// As [`write`](FlowExt::write).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`write`](FlowExt::write).
    fn writev(&mut self, data: Vec<Bytes>) -> impl Future<Output = Result<(), Error>> + Send + '_
    where
        Self: Sized,
    {
        let mut pending = PendingWrites::new(data);
        poll_fn(move |cx| {
            pending.poll_write_all(cx, |cx, slices| self.poll_write_vectored(cx, slices))
        })
    }

    /// Pushes written data down to the transport.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    fn flush(&mut self) -> impl Future<Output = Result<(), Error>> + Send + '_
    where
        Self: Sized,
    {
        poll_fn(move |cx| self.poll_flush(cx))
    }

    /// Ends reads, writes or both at once, without waiting for the peer (the modern Mirage
    /// `shutdown`). After `Shutdown::Write` the peer reads `Eof`; after `Shutdown::Read`
    /// this side's reads return `Eof`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe; call it again to finish.
    fn shutdown(&mut self, how: Shutdown) -> impl Future<Output = Result<(), Error>> + Send + '_
    where
        Self: Sized,
    {
        poll_fn(move |cx| self.poll_shutdown(cx, how))
    }

    /// Flushes pending writes, tells the peer there will be no more (a half-close), and
    /// completes once the peer has closed its side too. Data that the peer sends meanwhile
    /// stays readable with [`read`](FlowExt::read).
    ///
    /// # Errors
    ///
    /// The flush's error, or an [`Error::is_close_overflow`] error when the peer sends more
    /// than the flow's close buffer holds while close waits for it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: calling it again resumes where the dropped call stopped, and data that
    /// arrived meanwhile stays readable.
    fn close(&mut self) -> impl Future<Output = Result<(), Error>> + Send + '_
    where
        Self: Sized,
    {
        poll_fn(move |cx| self.poll_close(cx))
    }

    /// Splits the flow into a read half and a write half that can be used from two tasks
    /// at once: a reader never waits for a writer.
    fn split(self) -> (ReadHalf<Self>, WriteHalf<Self>)
    where
        Self: Sized,
    {
        crate::split::split(self)
    }
}

impl<F: Flow + ?Sized> FlowExt for F {}

/// Buffers on their way into a flow, and how far they got: the state of a `writev`.
#[derive(Debug)]
pub(crate) struct PendingWrites {
    data: Vec<Bytes>,
    first: usize,
}

impl PendingWrites {
    pub(crate) fn new(data: Vec<Bytes>) -> Self {
        PendingWrites { data, first: 0 }
    }

    /// Feeds the remaining buffers to `write`, vectored, until all are accepted.
    pub(crate) fn poll_write_all(
        &mut self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&mut Context<'_>, &[IoSlice<'_>]) -> Poll<Result<usize, Error>>,
    ) -> Poll<Result<(), Error>> {
        loop {
            while self.first < self.data.len() && self.data[self.first].is_empty() {
                self.first += 1;
            }
            if self.first == self.data.len() {
                return Poll::Ready(Ok(()));
            }
            let slices: Vec<IoSlice<'_>> = self.data[self.first..]
                .iter()
                .take(MAX_IOVECS)
                .map(|b| IoSlice::new(b))
                .collect();
            let mut written = ready!(write(cx, &slices))?;
            drop(slices);
            while written > 0 && self.first < self.data.len() {
                let chunk = &mut self.data[self.first];
                let step = written.min(chunk.len());
                chunk.advance(step);
                written -= step;
                if chunk.is_empty() {
                    self.first += 1;
                }
            }
        }
    }
}
