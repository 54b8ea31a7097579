//! The protocol's stream limit, kept by the client: one stream too many fails alone.
#![cfg(all(feature = "server", feature = "client"))]

use std::time::Duration;

use camlnet_tcp_file::{FileOptions, MAX_STREAMS, Server, StreamOptions};
use tokio::time::timeout;

mod support;

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn streams_past_the_limit_fail_alone_and_the_others_go_on() {
    const STREAMS: usize = 1_100;
    let dir = support::fresh_dir("stream-limit");
    let server = Server::new();
    let file = server
        .open_file("log", dir.path().join("log"), FileOptions::new())
        .expect("open");
    file.write_message(b"hello").expect("write");
    let (client_end, server_end) = camlnet_flow::pair(256 * 1024);
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_flow(server_end, "test").await });
    let client = camlnet_tcp_file::Client::over(client_end)
        .await
        .expect("handshake");

    let mut streams: Vec<_> = (0..STREAMS)
        .map(|_| client.read("log", StreamOptions::new().window(4)))
        .collect();
    let mut refused = 0;
    for (i, stream) in streams.iter_mut().enumerate() {
        let item = timeout(LIMIT, stream.next()).await.expect("stalled");
        match item {
            Some(Ok(message)) if i < MAX_STREAMS => assert_eq!(message.bytes, "hello"),
            Some(Err(e)) if e.is_too_many_streams() && i >= MAX_STREAMS => refused += 1,
            other => panic!("stream {i}: {other:?}"),
        }
    }
    assert_eq!(refused, STREAMS - MAX_STREAMS);

    // The connection lives: a closed stream frees a place, and the open ones go on.
    streams.truncate(MAX_STREAMS - 1);
    let mut another = client.read("log", StreamOptions::new());
    let first = timeout(LIMIT, another.next())
        .await
        .expect("stalled")
        .expect("item")
        .expect("a freed place serves a new stream");
    assert_eq!(first.bytes, "hello");
    file.write_message(b"again").expect("write");
    let next = timeout(LIMIT, streams[0].next())
        .await
        .expect("stalled")
        .expect("item")
        .expect("message");
    assert_eq!((next.line, &next.bytes[..]), (1, &b"again"[..]));
    file.close().await.expect("close");
}

#[tokio::test]
async fn a_line_too_long_for_a_frame_fails_its_stream_alone() {
    let dir = support::fresh_dir("long-line");
    let big = dir.path().join("big");
    let mut content = b"short\n".to_vec();
    content.resize(
        content.len() + camlnet_tcp_file::MAX_MESSAGE + 1024 * 1024,
        b'x',
    );
    content.extend_from_slice(b"\nafter\n");
    std::fs::write(&big, &content).expect("write");
    let server = Server::new();
    assert_eq!(
        server
            .serve_existing_static_file("big", &big)
            .expect("serve"),
        3
    );
    let live = server
        .open_file("live", dir.path().join("live"), FileOptions::new())
        .expect("open");
    let (client_end, server_end) = camlnet_flow::pair(256 * 1024);
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_flow(server_end, "test").await });
    let client = camlnet_tcp_file::Client::over(client_end)
        .await
        .expect("handshake");

    let mut other = client.read("live", StreamOptions::new());
    let mut stream = client.read("big", StreamOptions::new());
    let first = timeout(LIMIT, stream.next())
        .await
        .expect("stalled")
        .expect("item")
        .expect("the short line");
    assert_eq!(first.bytes, "short");
    match timeout(LIMIT, stream.next()).await.expect("stalled") {
        Some(Err(e)) => assert!(e.to_string().contains("longer than"), "{e}"),
        other => panic!("expected the stream's error, got {other:?}"),
    }
    assert!(
        timeout(LIMIT, stream.next())
            .await
            .expect("stalled")
            .is_none()
    );

    live.write_message(b"still here").expect("write");
    let message = timeout(LIMIT, other.next())
        .await
        .expect("stalled")
        .expect("item")
        .expect("the connection lives");
    assert_eq!(message.bytes, "still here");
    live.close().await.expect("close");
}

/// A fake server over an in-memory flow: welcomes the client, waits for its request to
/// open stream 1 on the 3-byte name "log", then sends `frames` and keeps the connection.
fn fake_server(frames: Vec<Vec<u8>>) -> (camlnet_flow::MemoryFlow, tokio::task::JoinHandle<()>) {
    use camlnet_flow::{FlowExt, Read};
    let (client_end, mut server_end) = camlnet_flow::pair(1 << 20);
    let server = tokio::spawn(async move {
        let mut seen = 0;
        // The hello (4 + 10 bytes), then an `Open` of the 3-byte name "log" (4 + 21).
        let mut welcomed = false;
        while seen < 14 + 25 {
            match timeout(LIMIT, server_end.read()).await.expect("stalled") {
                Ok(Read::Data(bytes)) => seen += bytes.len(),
                other => panic!("the client left: {other:?}"),
            }
            if seen >= 14 && !welcomed {
                welcomed = true;
                let welcome = [0, 0, 0, 3, 0x81, 0, 1];
                server_end
                    .write(bytes::Bytes::copy_from_slice(&welcome))
                    .await
                    .expect("welcome");
            }
        }
        for frame in frames {
            if server_end.write(frame.into()).await.is_err() {
                return;
            }
        }
        // Keep the connection until the client leaves.
        while let Ok(Read::Data(_)) = server_end.read().await {}
    });
    (client_end, server)
}

/// A `Lines` frame for stream 1 that says it holds `count` lines, whatever `data` holds.
fn lines_frame(first_line: u64, count: u32, data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&((1 + 4 + 8 + 4 + 1 + data.len()) as u32).to_be_bytes());
    frame.push(0x86);
    frame.extend_from_slice(&1u32.to_be_bytes());
    frame.extend_from_slice(&first_line.to_be_bytes());
    frame.extend_from_slice(&count.to_be_bytes());
    frame.push(0);
    frame.extend_from_slice(data);
    frame
}

#[tokio::test]
async fn a_server_that_ignores_credit_fails_the_stream_instead_of_growing_its_queue() {
    const WINDOW: u32 = 16;
    // 10 batches of 100 lines, whatever the credit.
    let data = "x\n".repeat(100);
    let frames = (0..10u64)
        .map(|batch| lines_frame(batch * 100, 100, data.as_bytes()))
        .collect();
    let (client_end, server) = fake_server(frames);
    let client = camlnet_tcp_file::Client::over(client_end)
        .await
        .expect("handshake");
    let mut stream = client.read("log", StreamOptions::new().window(WINDOW));
    let mut received = 0;
    let failure = loop {
        match timeout(LIMIT, stream.next()).await.expect("stalled") {
            Some(Ok(_)) => received += 1,
            Some(Err(e)) => break e,
            None => panic!("the stream ended without an error"),
        }
    };
    assert!(failure.is_transport(), "{failure}");
    assert!(failure.to_string().contains("credit"), "{failure}");
    assert!(
        received <= WINDOW,
        "{received} messages queued past a window of {WINDOW}"
    );
    server.abort();
}

#[tokio::test]
async fn a_server_that_miscounts_its_lines_gives_no_more_messages_than_it_counted() {
    // Each batch's lines are taken up to its count: flow control, which counts with it,
    // holds whatever the bytes say. A batch counted as empty is no batch.
    let frames = vec![
        lines_frame(0, 2, b"a\nb\nc\n"),
        lines_frame(2, 3, b"d\n"),
        lines_frame(3, 0, b"e\nf\n"),
        lines_frame(3, 1, b"g\n"),
        // `End` of stream 1.
        vec![0, 0, 0, 5, 0x84, 0, 0, 0, 1],
    ];
    let (client_end, server) = fake_server(frames);
    let client = camlnet_tcp_file::Client::over(client_end)
        .await
        .expect("handshake");
    let mut one_by_one = Vec::new();
    let mut stream = client.read("log", StreamOptions::new());
    let mut batches = Vec::new();
    while let Some(batch) = timeout(LIMIT, stream.next_batch()).await.expect("stalled") {
        let batch = batch.expect("the stream lives");
        assert!(!batch.is_empty(), "an empty batch");
        let seen: Vec<_> = batch.iter().map(|m| (m.line, m.bytes.to_vec())).collect();
        one_by_one.extend(batch.map(|m| (m.line, m.bytes.to_vec())));
        batches.push(seen);
    }
    let expected = [(0, b"a"), (1, b"b"), (2, b"d"), (3, b"g")].map(|(l, b)| (l, b.to_vec()));
    assert_eq!(batches.concat(), expected, "in place");
    assert_eq!(one_by_one, expected, "owned");
    server.abort();
}
