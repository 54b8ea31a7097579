//! A `Flow` against a real outside peer: socat echoing through `cat`.

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use camlnet_flow::{FlowExt, Read, TcpFlow};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socat_echoes_every_byte_and_honours_half_close() {
    let Some(socat) = tests::outside_tool("socat") else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // socat connects to us and echoes through `cat`: when our side half-closes, cat sees
    // end of input, exits, and socat half-closes back after the echoed bytes.
    let mut child = Command::new(socat)
        .arg(format!("TCP:127.0.0.1:{port}"))
        .arg("EXEC:cat")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn socat");
    let (stream, _) = timeout(LIMIT, listener.accept())
        .await
        .expect("socat never connected")
        .expect("accept");
    let (mut reader, mut writer) = TcpFlow::from(stream).split();

    let sent: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let to_send = sent.clone();
    let writing = tokio::spawn(async move {
        for chunk in to_send.chunks(10_000) {
            writer
                .write(Bytes::copy_from_slice(chunk))
                .await
                .expect("write");
        }
        // Half-close, then wait until socat has closed its side too.
        writer.close().await.expect("close");
    });
    let mut echoed = Vec::new();
    while let Read::Data(bytes) = timeout(LIMIT, reader.read())
        .await
        .expect("read timed out")
        .expect("read")
    {
        echoed.extend_from_slice(&bytes);
    }
    assert_eq!(echoed.len(), sent.len());
    assert!(echoed == sent, "socat echoed different bytes");
    assert_eq!(reader.read().await.expect("read after eof"), Read::Eof);
    timeout(LIMIT, writing)
        .await
        .expect("close timed out")
        .expect("task");
    let status = timeout(LIMIT, child.wait())
        .await
        .expect("socat did not exit")
        .expect("wait");
    assert!(status.success(), "socat exited with {status}");
}
