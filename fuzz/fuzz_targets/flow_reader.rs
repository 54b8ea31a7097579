//! flow's buffered `Reader` (the lines and exact lengths that tokio's `AsyncBufReadExt`
//! and `AsyncReadExt` helpers take out of it) over a socket that returns the bytes in
//! any pieces, with "would block" between them, and any buffer size.
//!
//! Properties: no panic; the bytes the helpers return are exactly the bytes the socket
//! gave, in order, none lost and none twice; a line helper returns up to and with its
//! delimiter, or the rest at the end; the reader never holds more than its buffer size.
#![no_main]

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use arbitrary::Arbitrary;
use bytes::{BufMut, BytesMut};
use camlnet_flow::{Reader, SocketIo};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

#[derive(Debug, Arbitrary)]
enum Piece {
    Data(Vec<u8>),
    WouldBlock,
}

#[derive(Debug, Arbitrary)]
enum Op {
    ReadUntil(u8),
    ReadExact(u16),
    Read(u16),
    FillAndConsume(u16),
}

#[derive(Debug, Arbitrary)]
struct Input {
    buffer_size: u16,
    pieces: Vec<Piece>,
    ops: Vec<Op>,
}

/// A socket that hands out its pieces, then the end of stream.
#[derive(Debug)]
struct Scripted {
    pieces: Mutex<(VecDeque<Piece>, bool)>,
}

impl AsFd for Scripted {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // The reader never uses the descriptor itself; it only needs one to exist.
        static NULL: OnceLock<File> = OnceLock::new();
        NULL.get_or_init(|| File::open("/dev/null").expect("/dev/null"))
            .as_fd()
    }
}

impl SocketIo for Scripted {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.pieces.lock().expect("not poisoned");
        if std::mem::take(&mut state.1) {
            // It blocked once: ready again at the next poll.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        let mut state = self.pieces.lock().expect("not poisoned");
        match state.0.front_mut() {
            None => Ok(0),
            Some(Piece::WouldBlock) => {
                state.0.pop_front();
                state.1 = true;
                Err(io::ErrorKind::WouldBlock.into())
            }
            Some(Piece::Data(data)) => {
                let n = data.len().min(buf.capacity() - buf.len());
                buf.put_slice(&data[..n]);
                data.drain(..n);
                if data.is_empty() {
                    state.0.pop_front();
                }
                Ok(n)
            }
        }
    }

    fn poll_write_ready(&self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }

    fn try_write_vectored(&self, _: &[IoSlice<'_>]) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

fuzz_target!(|input: Input| {
    let buffer_size = usize::from(input.buffer_size).max(1);
    // An empty piece would read as the end of stream: leave it out.
    let pieces: VecDeque<Piece> = input
        .pieces
        .into_iter()
        .filter(|p| !matches!(p, Piece::Data(d) if d.is_empty()))
        .collect();
    let sent: Vec<u8> = pieces
        .iter()
        .flat_map(|p| match p {
            Piece::Data(d) => d.clone(),
            Piece::WouldBlock => Vec::new(),
        })
        .collect();
    let socket = Arc::new(Scripted {
        pieces: Mutex::new((pieces, false)),
    });
    let mut reader = Reader::new(socket, buffer_size);
    let mut got = Vec::new();
    fuzz::runtime().block_on(async {
        for op in input.ops {
            let at = got.len();
            match op {
                Op::ReadUntil(delimiter) => {
                    let n = reader
                        .read_until(delimiter, &mut got)
                        .await
                        .expect("read_until");
                    let line = &got[at..];
                    assert_eq!(n, line.len());
                    let end = line.iter().position(|&b| b == delimiter);
                    assert!(
                        end.is_none_or(|end| end + 1 == line.len()),
                        "a line goes past its delimiter"
                    );
                    if end.is_none() {
                        assert_eq!(
                            got.len(),
                            sent.len(),
                            "a line without its delimiter before the end"
                        );
                    }
                }
                Op::ReadExact(n) => {
                    let mut exact = vec![0; usize::from(n)];
                    match reader.read_exact(&mut exact).await {
                        Ok(_) => got.extend_from_slice(&exact),
                        Err(e) => {
                            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
                            // What it had read is gone with the error: only the end is left.
                            assert!(sent.len() - at < usize::from(n));
                            return;
                        }
                    }
                }
                Op::Read(n) => {
                    let mut some = vec![0; usize::from(n)];
                    let read = reader.read(&mut some).await.expect("read");
                    got.extend_from_slice(&some[..read]);
                    if n > 0 && read == 0 {
                        assert_eq!(got.len(), sent.len(), "a read of 0 before the end");
                    }
                }
                Op::FillAndConsume(n) => {
                    let buffered = reader.fill_buf().await.expect("fill_buf");
                    let n = usize::from(n).min(buffered.len());
                    got.extend_from_slice(&buffered[..n]);
                    reader.consume(n);
                }
            }
            assert!(
                reader.buffered().len() <= buffer_size,
                "the reader holds more than its buffer"
            );
            assert_eq!(
                got[..],
                sent[..got.len()],
                "bytes read are not the bytes sent"
            );
        }
    });
});
