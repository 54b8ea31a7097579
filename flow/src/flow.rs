//! The `Flow` trait: the poll-based core that every transport implements.

use std::fs::File;
use std::io::{self, IoSlice};
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::Error;

/// What a read returns: data, or the end of the peer's writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Some bytes; never empty.
    Data(Bytes),
    /// The peer closed its side and every byte it sent before has been read. Every later
    /// read returns `Eof` again.
    Eof,
}

/// Which direction [`shutdown`](crate::FlowExt::shutdown) ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// No more reads: later reads return [`Read::Eof`] (for sockets, `shutdown(SHUT_RD)`).
    Read,
    /// No more writes: the peer reads `Eof` after the data already written (a half-close,
    /// `shutdown(SHUT_WR)` for sockets).
    Write,
    /// Both directions.
    Both,
}

/// A reliable, ordered byte stream connected to one peer: the Mirage `FLOW` signature.
///
/// This is the poll-based core that transports implement; code that uses a flow calls the
/// `async` methods of [`FlowExt`](crate::FlowExt), which every `Flow` has. The trait is
/// object safe: `Box<dyn Flow>` is a flow too, and its futures are `Send`. Flows are
/// `Unpin`, so the poll methods take `&mut self`.
///
/// The contract every implementation keeps:
///
/// * [`poll_read`](Flow::poll_read) returns [`Read::Data`] with at least one byte, or
///   [`Read::Eof`] once the peer has closed and all in-flight data has been read. After
///   `Eof` or an error, every later call returns the same.
/// * [`poll_write`](Flow::poll_write) accepts a non-empty prefix of the buffer, or fails with
///   an [`Error::is_closed`] error once the flow is closed.
/// * [`poll_close`](Flow::poll_close) flushes, ends this side's writes, and completes once the
///   peer has closed its side too. Data the peer sends meanwhile is kept, up to a bound, for
///   later reads.
pub trait Flow: Send + Unpin {
    /// Reads the next chunk of data.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, Error>>;

    /// Writes a prefix of `buf` and returns its length (at least 1 for a non-empty `buf`).
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize, Error>>;

    /// Writes a prefix of the concatenation of `bufs`. The default writes from the first
    /// non-empty buffer only; transports with a real `writev` override it.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<Result<usize, Error>> {
        let buf = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(cx, buf)
    }

    /// Writes `head` and then the `len` bytes of `file` from byte `offset`, the file's
    /// straight from the kernel's page cache without copying them through this process
    /// (`sendfile(2)`). One call writes a prefix of `head` while `head` is not empty (held
    /// back until the file's bytes follow, so that they leave together: `MSG_MORE`), else a
    /// prefix of the range, and returns its length: at least 1, or 0 when the file ends at
    /// `offset`. Only flows whose [`can_send_file`](Flow::can_send_file) is `true` can; the
    /// default fails with an [`io::ErrorKind::Unsupported`] error.
    ///
    /// The read from `file` may wait for the disk, on the calling thread: send ranges that
    /// are in the page cache. An error ends the flow's writes, as a failed write does; the
    /// head and a prefix of the range may have been sent. On a socket whose peer has gone,
    /// `sendfile(2)` raises `SIGPIPE` (it has no `MSG_NOSIGNAL`): Rust programs ignore it
    /// unless they ask otherwise, and a program that does not must ignore it to use this.
    fn poll_send_file(
        &mut self,
        cx: &mut Context<'_>,
        head: &[IoSlice<'_>],
        file: &File,
        offset: u64,
        len: usize,
    ) -> Poll<Result<usize, Error>> {
        let _ = (cx, head, file, offset, len);
        Poll::Ready(Err(Error::from_io(io::ErrorKind::Unsupported.into())))
    }

    /// Whether [`poll_send_file`](Flow::poll_send_file) works: `false` unless the flow says
    /// otherwise (TCP and Unix socket flows made with `IoFlow::from` do).
    fn can_send_file(&self) -> bool {
        false
    }

    /// Pushes written data down to the transport.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;

    /// Ends one or both directions at once, without waiting for the peer.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>, how: Shutdown) -> Poll<Result<(), Error>>;

    /// Flushes, ends writes, and completes once the peer has closed too.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;
}

macro_rules! deref_flow {
    () => {
        fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, Error>> {
            (**self).poll_read(cx)
        }

        fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize, Error>> {
            (**self).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<Result<usize, Error>> {
            (**self).poll_write_vectored(cx, bufs)
        }

        fn poll_send_file(
            &mut self,
            cx: &mut Context<'_>,
            head: &[IoSlice<'_>],
            file: &File,
            offset: u64,
            len: usize,
        ) -> Poll<Result<usize, Error>> {
            (**self).poll_send_file(cx, head, file, offset, len)
        }

        fn can_send_file(&self) -> bool {
            (**self).can_send_file()
        }

        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            (**self).poll_flush(cx)
        }

        fn poll_shutdown(
            &mut self,
            cx: &mut Context<'_>,
            how: Shutdown,
        ) -> Poll<Result<(), Error>> {
            (**self).poll_shutdown(cx, how)
        }

        fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            (**self).poll_close(cx)
        }
    };
}

impl<F: Flow + ?Sized> Flow for Box<F> {
    deref_flow!();
}

impl<F: Flow + ?Sized> Flow for &mut F {
    deref_flow!();
}
