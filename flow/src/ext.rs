//! `FlowExt`: the `async` methods that every [`Flow`] has.

use std::fs::File;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
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

    /// Writes the buffers of `head`, then sends the `len` bytes of `file` from byte
    /// `offset` straight from the kernel's page cache, without copying them through this
    /// process, on flows that [can](Flow::can_send_file) (see [`Flow::poll_send_file`]).
    ///
    /// # Errors
    ///
    /// The flow cannot send files (`Unsupported`), the file ends before the range does
    /// (`UnexpectedEof`), or as [`write`](FlowExt::write).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`write`](FlowExt::write).
    fn send_file<'a>(
        &'a mut self,
        head: Vec<Bytes>,
        file: &'a File,
        offset: u64,
        len: usize,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a
    where
        Self: Sized,
    {
        let mut pending = PendingFile::new(head, offset, len);
        poll_fn(move |cx| {
            pending.poll_send_all(cx, |cx, head, offset, len| {
                self.poll_send_file(cx, head, file, offset, len)
            })
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

    /// Whether every buffer was written.
    fn is_done(&mut self) -> bool {
        while self.first < self.data.len() && self.data[self.first].is_empty() {
            self.first += 1;
        }
        self.first == self.data.len()
    }

    /// The next buffers to write, at most [`MAX_IOVECS`].
    fn slices(&self) -> Vec<IoSlice<'_>> {
        self.data[self.first..]
            .iter()
            .take(MAX_IOVECS)
            .map(|b| IoSlice::new(b))
            .collect()
    }

    /// Counts `written` bytes as written.
    fn advance(&mut self, mut written: usize) {
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

    /// Feeds the remaining buffers to `write`, vectored, until all are accepted.
    pub(crate) fn poll_write_all(
        &mut self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&mut Context<'_>, &[IoSlice<'_>]) -> Poll<Result<usize, Error>>,
    ) -> Poll<Result<(), Error>> {
        while !self.is_done() {
            let written = ready!(write(cx, &self.slices()))?;
            self.advance(written);
        }
        Poll::Ready(Ok(()))
    }
}

/// Buffers and then a range of a file on their way into a flow, and how far they got: the
/// state of a `send_file`.
#[derive(Debug)]
pub(crate) struct PendingFile {
    head: PendingWrites,
    offset: u64,
    len: usize,
}

impl PendingFile {
    pub(crate) fn new(head: Vec<Bytes>, offset: u64, len: usize) -> Self {
        PendingFile {
            head: PendingWrites::new(head),
            offset,
            len,
        }
    }

    /// Feeds the rest of the head, then of the range, to `send` until all is sent.
    pub(crate) fn poll_send_all(
        &mut self,
        cx: &mut Context<'_>,
        mut send: impl FnMut(&mut Context<'_>, &[IoSlice<'_>], u64, usize) -> Poll<Result<usize, Error>>,
    ) -> Poll<Result<(), Error>> {
        while !self.head.is_done() {
            let written = ready!(send(cx, &self.head.slices(), self.offset, self.len))?;
            self.head.advance(written);
        }
        while self.len > 0 {
            let sent = ready!(send(cx, &[], self.offset, self.len))?;
            if sent == 0 {
                return Poll::Ready(Err(Error::from_io(io::ErrorKind::UnexpectedEof.into())));
            }
            self.offset += sent as u64;
            self.len -= sent;
        }
        Poll::Ready(Ok(()))
    }
}
