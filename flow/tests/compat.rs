//! The reverse adapters: a flow as `AsyncRead + AsyncWrite`, and as `Stream` + `Sink`.

use bytes::Bytes;
use flow::{FlowIo, FlowStream};
use std::future::poll_fn;
use std::pin::Pin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn flow_as_async_read_and_write() {
    let (a, b) = flow::pair(1024);
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

    let (a, b) = flow::pair(1024);
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
