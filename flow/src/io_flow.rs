//! `IoFlow`: a [`Flow`] over any `AsyncRead + AsyncWrite`, and the TCP, Unix and in-memory
//! flows built on it.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::net::{TcpStream, UnixStream};
use tokio_util::io::poll_read_buf;

use crate::spare;
use crate::transport::SocketIo;
use crate::{Error, Flow, Read, Shutdown};

/// The size of an [`IoFlow`]'s read buffer, unless set otherwise.
pub const DEFAULT_READ_SIZE: usize = 64 * 1024;

/// How many bytes `close` keeps for later reads while it waits for the peer, unless set
/// otherwise.
pub const DEFAULT_CLOSE_BUFFER_LIMIT: usize = 4 * 1024 * 1024;

/// A flow over a TCP stream.
pub type TcpFlow = IoFlow<TcpStream>;
/// A flow over a Unix stream socket.
pub type UnixFlow = IoFlow<UnixStream>;
/// One end of an in-memory flow made by [`pair`].
pub type MemoryFlow = IoFlow<DuplexStream>;

/// Two connected in-memory flows, each end buffering at most `capacity` bytes written to
/// it and not yet read by the other.
///
/// Back-pressure is real: a write of more than `capacity` bytes completes only as the
/// other end reads. `shutdown(Write)` and `close` half-close as a socket does: the other end
/// reads the data already written, then `Eof`. Dropping an end closes both directions.
///
/// # Panics
///
/// If `capacity` is zero.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use camlnet_flow::{FlowExt, Read};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), camlnet_flow::Error> {
/// let (mut client, mut server) = camlnet_flow::pair(64 * 1024);
/// let echo = tokio::spawn(async move {
///     while let Read::Data(bytes) = server.read().await? {
///         server.write(bytes).await?;
///     }
///     server.close().await
/// });
/// client.write(Bytes::from_static(b"ping")).await?;
/// assert_eq!(client.read().await?, Read::Data(Bytes::from_static(b"ping")));
/// client.close().await?;
/// echo.await.expect("echo task")?;
/// # Ok(())
/// # }
/// ```
pub fn pair(capacity: usize) -> (MemoryFlow, MemoryFlow) {
    assert!(
        capacity > 0,
        "camlnet_flow::pair needs a capacity of at least one byte"
    );
    let (a, b) = tokio::io::duplex(capacity);
    (IoFlow::new(a), IoFlow::new(b))
}

/// A [`Flow`] over any `AsyncRead + AsyncWrite`: the TCP, Unix and in-memory flows, and an
/// adapter for anything else (a TLS stream, a child's pipes joined with
/// `tokio::io::join`).
///
/// Reads hand out chunks of one buffer (no copy once read): successive reads fill it while
/// at least a quarter of the [read size](IoFlow::set_read_size) is left, and once every
/// chunk of it was dropped it is filled again from its start, so a caller that drops what
/// it read is served without allocating. While the transport has nothing to read, the flow
/// holds no read buffer: it gives it back to a few kept per thread, which the next reads
/// on that thread take (with a buffer filled while its reads were held, so that a
/// consumer that lags by a few buffers does not make each read allocate). While
/// [`close`](crate::FlowExt::close) waits for the peer, data that arrives is kept for later
/// reads, up to the [close buffer limit](IoFlow::set_close_buffer_limit).
///
/// Build one with [`IoFlow::new`], or with `From` for a `TcpStream` or `UnixStream` (which
/// also makes `Shutdown::Read` call `shutdown(2)` with `SHUT_RD`, and lets
/// [`send_file`](crate::FlowExt::send_file) use `sendfile(2)`).
pub struct IoFlow<T> {
    io: T,
    read_buf: BytesMut,
    read_size: usize,
    /// Data that arrived while `close` waited for the peer, served before anything else.
    stash: VecDeque<Bytes>,
    stash_len: usize,
    close_buffer_limit: usize,
    /// `None` while reads are open; then the answer every later read repeats.
    read_end: Option<Result<(), Error>>,
    write_end: Option<Error>,
    shutdown_read: Option<fn(&T) -> io::Result<()>>,
    send_file: Option<SendFile<T>>,
}

/// How an [`IoFlow`] over a socket sends a range of a file: see [`Flow::poll_send_file`].
type SendFile<T> =
    fn(&T, &mut Context<'_>, &[IoSlice<'_>], &File, u64, usize) -> Poll<io::Result<usize>>;

impl<T> IoFlow<T>
where
    T: AsyncRead + AsyncWrite + Send + Unpin,
{
    /// Wraps `io`.
    pub fn new(io: T) -> Self {
        IoFlow {
            io,
            read_buf: BytesMut::new(),
            read_size: DEFAULT_READ_SIZE,
            stash: VecDeque::new(),
            stash_len: 0,
            close_buffer_limit: DEFAULT_CLOSE_BUFFER_LIMIT,
            read_end: None,
            write_end: None,
            shutdown_read: None,
            send_file: None,
        }
    }

    /// Sets the size of the read buffer (at least 1): one read asks the transport for the
    /// room left in it, from a quarter of this to all of it. Default [`DEFAULT_READ_SIZE`].
    pub fn set_read_size(&mut self, bytes: usize) {
        self.read_size = bytes.max(1);
    }

    /// Sets how many bytes `close` keeps for later reads while it waits for the peer to
    /// close. Past it, `close` fails with an [`Error::is_close_overflow`] error (the data
    /// kept so far stays readable) instead of holding unbounded memory. Default
    /// [`DEFAULT_CLOSE_BUFFER_LIMIT`].
    pub fn set_close_buffer_limit(&mut self, bytes: usize) {
        self.close_buffer_limit = bytes;
    }

    /// The wrapped transport.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The wrapped transport, mutably. Reading from it directly bypasses the flow's
    /// buffers.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Gives back the transport. Data kept by an unfinished `close` is lost.
    pub fn into_inner(self) -> T {
        self.io
    }

    /// Reads once into the read buffer. Every byte read is handed out at once, so the
    /// buffer is empty between reads; while the transport has nothing it is given back.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, Error>> {
        let least = self.read_size.div_ceil(4);
        if self.read_buf.capacity() < least {
            self.read_buf = spare::take(least, self.read_size);
        }
        let Poll::Ready(result) = poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read_buf)
        else {
            spare::give(std::mem::take(&mut self.read_buf), self.read_size);
            return Poll::Pending;
        };
        Poll::Ready(match result {
            Ok(0) => {
                self.read_end = Some(Ok(()));
                Ok(Read::Eof)
            }
            Ok(_) => {
                let read = self.read_buf.split().freeze();
                // The rest of the buffer stays for the next reads, unless it is too little:
                // then the thread keeps the buffer, to fill it again once its reads are
                // dropped.
                if self.read_buf.capacity() < least {
                    spare::give(std::mem::take(&mut self.read_buf), self.read_size);
                }
                Ok(Read::Data(read))
            }
            Err(e) => {
                let error = Error::from_io(e);
                self.read_end = Some(Err(error.clone()));
                Err(error)
            }
        })
    }

    fn poll_shutdown_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.write_end.is_some() {
            return Poll::Ready(Ok(()));
        }
        let result = ready!(Pin::new(&mut self.io).poll_shutdown(cx)).map_err(Error::from_io);
        match result {
            Ok(()) => {
                self.write_end = Some(Error::closed());
                Poll::Ready(Ok(()))
            }
            // The peer is gone already: nothing more can be written either way.
            Err(e) if e.is_closed() => {
                self.write_end = Some(e);
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn shutdown_read_now(&mut self) -> Result<(), Error> {
        if self.read_end.is_none() {
            self.read_end = Some(Ok(()));
            self.stash.clear();
            self.stash_len = 0;
            if let Some(shutdown_read) = self.shutdown_read {
                shutdown_read(&self.io).map_err(Error::from_io)?;
            }
        }
        Ok(())
    }
}

impl<T> Flow for IoFlow<T>
where
    T: AsyncRead + AsyncWrite + Send + Unpin,
{
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, Error>> {
        let this = self;
        if let Some(bytes) = this.stash.pop_front() {
            this.stash_len -= bytes.len();
            return Poll::Ready(Ok(Read::Data(bytes)));
        }
        match &this.read_end {
            Some(Ok(())) => Poll::Ready(Ok(Read::Eof)),
            Some(Err(e)) => Poll::Ready(Err(e.clone())),
            None => this.poll_fill(cx),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize, Error>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<Result<usize, Error>> {
        let this = self;
        if let Some(e) = &this.write_end {
            return Poll::Ready(Err(e.clone()));
        }
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let io = Pin::new(&mut this.io);
        let result = if io.is_write_vectored() {
            ready!(io.poll_write_vectored(cx, bufs))
        } else {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            ready!(io.poll_write(cx, first))
        };
        Poll::Ready(match result {
            Ok(0) => {
                let e = Error::closed_by(io::ErrorKind::WriteZero.into());
                this.write_end = Some(e.clone());
                Err(e)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                let e = Error::from_io(e);
                this.write_end = Some(e.clone());
                Err(e)
            }
        })
    }

    fn poll_send_file(
        &mut self,
        cx: &mut Context<'_>,
        head: &[IoSlice<'_>],
        file: &File,
        offset: u64,
        len: usize,
    ) -> Poll<Result<usize, Error>> {
        if let Some(e) = &self.write_end {
            return Poll::Ready(Err(e.clone()));
        }
        let Some(send_file) = self.send_file else {
            return Poll::Ready(Err(Error::from_io(io::ErrorKind::Unsupported.into())));
        };
        if len == 0 && head.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let sent = ready!(send_file(&self.io, cx, head, file, offset, len)).and_then(|sent| {
            if sent == 0 && len > 0 && head.iter().all(|b| b.is_empty()) {
                // What went before is on the wire with nothing after it: the peer's
                // stream cannot go on, so the flow's writes end here too.
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ends before the range to send",
                ));
            }
            Ok(sent)
        });
        Poll::Ready(sent.map_err(|e| {
            let e = Error::from_io(e);
            self.write_end = Some(e.clone());
            e
        }))
    }

    fn can_send_file(&self) -> bool {
        self.send_file.is_some()
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.io)
            .poll_flush(cx)
            .map_err(Error::from_io)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>, how: Shutdown) -> Poll<Result<(), Error>> {
        let this = self;
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            ready!(this.poll_shutdown_write(cx))?;
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            this.shutdown_read_now()?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self;
        if this.write_end.is_none() {
            ready!(Pin::new(&mut this.io).poll_flush(cx)).map_err(Error::from_io)?;
            ready!(this.poll_shutdown_write(cx))?;
        }
        while this.read_end.is_none() {
            if this.stash_len > this.close_buffer_limit {
                return Poll::Ready(Err(Error::close_overflow(this.close_buffer_limit)));
            }
            // A read error means the peer is gone: close is complete, and later reads
            // report the error.
            if let Ok(Read::Data(bytes)) = ready!(this.poll_fill(cx)) {
                this.stash_len += bytes.len();
                this.stash.push_back(bytes);
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// A flow over a TCP or Unix socket: `Shutdown::Read` calls `shutdown(2)` with `SHUT_RD`,
/// and [`send_file`](crate::FlowExt::send_file) uses `sendfile(2)` where the socket
/// [can](SocketIo::can_send_file).
impl<S> From<S> for IoFlow<S>
where
    S: SocketIo + AsyncRead + AsyncWrite + Send + Unpin,
{
    fn from(stream: S) -> Self {
        let mut flow = IoFlow::new(stream);
        flow.shutdown_read = Some(|s| socket2::SockRef::from(s).shutdown(std::net::Shutdown::Read));
        if flow.io.can_send_file() {
            flow.send_file = Some(crate::transport::poll_send_file);
        }
        flow
    }
}

impl<T: fmt::Debug> fmt::Debug for IoFlow<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoFlow")
            .field("io", &self.io)
            .field("kept_by_close", &self.stash_len)
            .field("read_end", &self.read_end)
            .field("write_end", &self.write_end)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use tokio::io::AsyncWriteExt;

    use super::*;

    async fn read(flow: &mut IoFlow<UnixStream>) -> Bytes {
        match poll_fn(|cx| flow.poll_read(cx)).await.expect("read") {
            Read::Data(data) => data,
            Read::Eof => panic!("the peer is still open"),
        }
    }

    #[tokio::test]
    async fn a_flow_that_waits_for_data_holds_no_read_buffer() {
        let (socket, mut peer) = UnixStream::pair().expect("a socket pair");
        let mut flow = IoFlow::new(socket);
        peer.write_all(b"hello").await.expect("write");
        assert_eq!(read(&mut flow).await, "hello");

        let waits = poll_fn(|cx| Poll::Ready(flow.poll_read(cx).is_pending())).await;
        assert!(waits, "the socket has nothing more");
        assert_eq!(flow.read_buf.capacity(), 0, "the read buffer is given back");

        peer.write_all(b"again").await.expect("write");
        assert_eq!(read(&mut flow).await, "again");
    }
}
