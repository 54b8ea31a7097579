//! The reverse adapters: a [`Flow`] seen as tokio's `AsyncRead + AsyncWrite`, or as a
//! `Stream` of chunks and a `Sink` of `Bytes`.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{Error, Flow, Read, Shutdown};

/// A [`Flow`] as `AsyncRead + AsyncWrite`, for code written against tokio's I/O traits
/// (codecs, `tokio::io::copy`).
///
/// A read into a buffer with no room left returns `Ok(())` at once, as tokio's own types
/// do, and leaves the flow untouched. `poll_shutdown` half-closes (`Shutdown::Write`); it
/// does not wait for the peer.
#[derive(Debug)]
pub struct FlowIo<F> {
    flow: F,
    /// The rest of a chunk that did not fit the caller's buffer.
    leftover: Bytes,
}

impl<F: Flow> FlowIo<F> {
    /// Wraps `flow`.
    pub fn new(flow: F) -> Self {
        FlowIo {
            flow,
            leftover: Bytes::new(),
        }
    }

    /// Gives the flow back. Bytes read from it but not yet handed out are lost.
    pub fn into_inner(self) -> F {
        self.flow
    }
}

impl<F: Flow> AsyncRead for FlowIo<F> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Nothing fits: taking a chunk now would only move it aside.
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.leftover.is_empty() {
            match ready!(this.flow.poll_read(cx)) {
                Ok(Read::Data(bytes)) => this.leftover = bytes,
                Ok(Read::Eof) => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
        let n = this.leftover.len().min(buf.remaining());
        buf.put_slice(&this.leftover[..n]);
        this.leftover.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<F: Flow> AsyncWrite for FlowIo<F> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().flow.poll_write(cx, buf).map_err(Into::into)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .flow
            .poll_write_vectored(cx, bufs)
            .map_err(Into::into)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().flow.poll_flush(cx).map_err(Into::into)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .flow
            .poll_shutdown(cx, Shutdown::Write)
            .map_err(Into::into)
    }
}

/// A [`Flow`] as a `Stream` of the chunks it reads (ending at `Eof`, or after the first
/// error) and a `Sink<Bytes>` that writes them; the sink's `poll_close` is the flow's
/// [`close`](crate::FlowExt::close), which waits for the peer.
#[derive(Debug)]
pub struct FlowStream<F> {
    flow: F,
    /// The item given to `start_send` and not yet fully written.
    sending: Bytes,
    read_ended: bool,
}

impl<F: Flow> FlowStream<F> {
    /// Wraps `flow`.
    pub fn new(flow: F) -> Self {
        FlowStream {
            flow,
            sending: Bytes::new(),
            read_ended: false,
        }
    }

    /// Gives the flow back. An item accepted by `start_send` and not yet written is lost.
    pub fn into_inner(self) -> F {
        self.flow
    }

    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while !self.sending.is_empty() {
            let n = ready!(self.flow.poll_write(cx, &self.sending))?;
            self.sending.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<F: Flow> Stream for FlowStream<F> {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.read_ended {
            return Poll::Ready(None);
        }
        match ready!(this.flow.poll_read(cx)) {
            Ok(Read::Data(bytes)) => Poll::Ready(Some(Ok(bytes))),
            Ok(Read::Eof) => {
                this.read_ended = true;
                Poll::Ready(None)
            }
            Err(e) => {
                this.read_ended = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

impl<F: Flow> Sink<Bytes> for FlowStream<F> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_send(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Bytes) -> Result<(), Error> {
        self.get_mut().sending = item;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        this.flow.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        this.flow.poll_close(cx)
    }
}
