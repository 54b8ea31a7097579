//! The reverse adapters: a flow as `AsyncRead + AsyncWrite`, and as `Stream` + `Sink`.

use bytes::Bytes;
use camlnet_flow::{FlowExt, FlowIo, FlowStream, Read};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

#[tokio::test]
async fn flow_as_async_read_and_write() {
    let (a, b) = camlnet_flow::pair(1024);
    let mut a = FlowIo::new(a);
    let mut b = FlowIo::new(b);
    let writer = tokio::spawn(async move {
        a.write_all(&vec![5u8; 10_000]).await.expect("write_all");
        a.shutdown().await.expect("shutdown");
    });
    // Small reads take a chunk in pieces: nothing is lost between them.
    let mut received = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = b.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
    }
    assert_eq!(received, vec![5u8; 10_000]);
    writer.await.expect("task");
}

#[tokio::test]
async fn flow_as_stream_and_sink() {
    use futures_core::Stream;
    use futures_sink::Sink;

    let (a, b) = camlnet_flow::pair(1024);
    let mut sink = FlowStream::new(a);
    let mut stream = FlowStream::new(b);
    let sending = tokio::spawn(async move {
        for word in ["stream ", "and ", "sink"] {
            poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx))
                .await
                .expect("ready");
            Pin::new(&mut sink)
                .start_send(Bytes::from(word))
                .expect("send");
        }
        // The sink's close is the flow's close: it waits for the peer to close too.
        poll_fn(|cx| Pin::new(&mut sink).poll_close(cx))
            .await
            .expect("close");
    });
    let mut received = Vec::new();
    while let Some(chunk) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        received.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(received, b"stream and sink");
    poll_fn(|cx| Pin::new(&mut stream).poll_close(cx))
        .await
        .expect("close the other end");
    sending.await.expect("task");
}

/// A read into a buffer with no room, polled once.
fn poll_zero_length_read<F: camlnet_flow::Flow>(io: &mut FlowIo<F>) -> Poll<std::io::Result<()>> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(io).poll_read(&mut cx, &mut ReadBuf::new(&mut []))
}

#[tokio::test]
async fn a_zero_length_read_returns_at_once_and_is_not_the_end() {
    let (a, b) = camlnet_flow::pair(1024);
    let mut a = FlowIo::new(a);
    let mut b = FlowIo::new(b);
    // Nothing sent yet: it does not wait for data.
    assert!(matches!(poll_zero_length_read(&mut b), Poll::Ready(Ok(()))));
    a.write_all(b"first").await.expect("write");
    assert!(matches!(poll_zero_length_read(&mut b), Poll::Ready(Ok(()))));
    a.write_all(b" second").await.expect("write");
    a.shutdown().await.expect("shutdown");
    let mut received = Vec::new();
    b.read_to_end(&mut received).await.expect("read to the end");
    assert_eq!(received, b"first second");
    assert_eq!(b.read(&mut [0u8; 8]).await.expect("read at the end"), 0);
}

#[tokio::test]
async fn a_zero_length_read_leaves_the_data_in_the_flow() {
    let (a, b) = camlnet_flow::pair(1024);
    let mut a = FlowIo::new(a);
    let mut b = FlowIo::new(b);
    a.write_all(b"hello").await.expect("write");
    a.shutdown().await.expect("shutdown");
    assert_eq!(b.read(&mut []).await.expect("zero-length read"), 0);
    // Nothing was moved aside into the adapter, where `into_inner` would lose it.
    let mut inner = b.into_inner();
    assert_eq!(
        inner.read().await.expect("read"),
        Read::Data(Bytes::from("hello"))
    );
    assert_eq!(inner.read().await.expect("read"), Read::Eof);
}
