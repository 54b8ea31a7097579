//! `Reader`: Async's buffered reader over a shared socket.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

use crate::SocketIo;
use crate::spare;

/// The buffer size of a [`Reader`] unless set otherwise.
pub const DEFAULT_READER_BUFFER_SIZE: usize = 64 * 1024;

/// A buffered reader over a socket that a [`Writer`](crate::Writer) may share, as Async's
/// `Reader.t`. Use it through tokio's `AsyncReadExt` and `AsyncBufReadExt` (`read_line`,
/// `read_exact`, `lines`, ...).
///
/// The buffer is allocated only when data arrives, and given back when it is empty and the
/// socket has nothing more: an idle connection holds no read buffer.
///
/// # Examples
///
/// ```
/// use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let (a, mut b) = tokio::net::UnixStream::pair()?;
/// let (_socket, reader, _writer) = camlnet_flow::reader_writer(a, 4096, camlnet_flow::WriterOptions::default());
/// b.write_all(b"one\ntwo\n").await?;
/// let mut lines = reader.lines();
/// assert_eq!(lines.next_line().await?.as_deref(), Some("one"));
/// assert_eq!(lines.next_line().await?.as_deref(), Some("two"));
/// # Ok(())
/// # }
/// ```
pub struct Reader {
    socket: Arc<dyn SocketIo>,
    buf: BytesMut,
    buffer_size: usize,
    eof: bool,
}

impl Reader {
    /// A reader of `socket` whose buffer holds up to `buffer_size` bytes (at least 1).
    pub fn new(socket: Arc<dyn SocketIo>, buffer_size: usize) -> Self {
        Reader {
            socket,
            buf: BytesMut::new(),
            buffer_size: buffer_size.max(1),
            eof: false,
        }
    }

    /// The buffer size this reader was made with.
    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// The bytes read from the socket and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }
}

impl AsyncBufRead for Reader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.buf.is_empty() && !this.eof {
            if this.socket.poll_read_ready(cx)?.is_pending() {
                // Nothing to read: give the buffer back while we wait, so that an idle
                // connection holds none.
                if this.buf.capacity() > 0 {
                    spare::give(std::mem::take(&mut this.buf), this.buffer_size);
                }
                return Poll::Pending;
            }
            if this.buf.capacity() < this.buffer_size {
                this.buf = spare::take(this.buffer_size, this.buffer_size);
            }
            match this.socket.try_read_buf(&mut this.buf) {
                Ok(0) => this.eof = true,
                Ok(_) => {}
                // Nothing after all: wait for the socket again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(&this.buf))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.buf.advance(amt.min(this.buf.len()));
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(out.remaining());
        out.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("socket", &self.socket)
            .field("buffered", &self.buf.len())
            .field("buffer_size", &self.buffer_size)
            .field("eof", &self.eof)
            .finish()
    }
}
