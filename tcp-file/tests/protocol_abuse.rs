//! Peers that break the protocol, from raw sockets: each loses its own connection, with a
//! logged reason, and other clients go on streaming.
#![cfg(all(feature = "server", feature = "client"))]

use std::time::Duration;

use camlnet_tcp_connect::WhereToConnect;
use camlnet_tcp_file::{Client, FileHandle, FileOptions, MessageStream, Server, StreamOptions};
use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

mod support;

const LIMIT: Duration = Duration::from_secs(20);

use support::hello;

fn open_frame(stream: u32, credit: u32, name: &str) -> Vec<u8> {
    support::open_frame(stream, 0, credit, name.as_bytes())
}

/// Reads until the server closes the connection, and returns everything it sent.
async fn read_until_closed(socket: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    timeout(LIMIT, async {
        let mut buf = [0u8; 4096];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server kept a misbehaving connection open");
    all
}

/// Writes a fresh message and checks that the healthy stream receives it.
async fn still_streaming(file: &FileHandle, healthy: &mut MessageStream, round: u64) {
    let text = format!("round {round}");
    file.write_message(text.as_bytes()).expect("write");
    let message = timeout(LIMIT, healthy.next())
        .await
        .expect("healthy client stalled")
        .expect("item")
        .expect("message");
    assert_eq!(message.line, round);
    assert_eq!(message.bytes, text);
}

struct Fixture {
    server: Server,
    file: FileHandle,
    healthy: MessageStream,
    _client: Client,
    addr: std::net::SocketAddr,
    _listening: camlnet_tcp_server::Server<camlnet_flow::Inet>,
}

async fn fixture(test: &str) -> Fixture {
    let dir = support::fresh_dir(&format!("abuse-{test}"));
    let server = Server::new();
    let file = server
        .open_file("log", dir.path().join("log"), FileOptions::new())
        .expect("open");
    let listening = server
        .serve(
            WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
            |_| true,
        )
        .await
        .expect("serve");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], listening.listening_on()));
    let client = Client::connect(&WhereToConnect::inet_address(addr))
        .await
        .expect("connect");
    let healthy = client.read("log", StreamOptions::new());
    Fixture {
        server,
        file,
        healthy,
        _client: client,
        addr,
        _listening: listening,
    }
}

#[tokio::test]
async fn a_wrong_protocol_version_gets_a_clear_refusal() {
    let mut f = fixture("version").await;
    still_streaming(&f.file, &mut f.healthy, 0).await;
    let mut raw = TcpStream::connect(f.addr).await.expect("connect");
    raw.write_all(&hello(99)).await.expect("write");
    let answer = read_until_closed(&mut raw).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.contains("version 99 is not supported"), "{text:?}");
    assert!(text.contains("speaks version 1"), "{text:?}");
    still_streaming(&f.file, &mut f.healthy, 1).await;
}

#[tokio::test]
async fn garbage_oversized_and_truncated_frames_close_only_their_connection() {
    let mut f = fixture("frames").await;
    let cases: [(&str, Vec<u8>); 4] = [
        ("unknown frame type", vec![0, 0, 0, 5, 0xEE, 1, 2, 3, 4]),
        ("a frame that does not decode", vec![0, 0, 0, 2, 0x03, 0xFF]),
        ("a frame over the size limit", vec![0, 0x10, 0, 0, 0x02]),
        (
            "a truncated frame, then end of stream",
            vec![0, 0, 0, 40, 0x02, 0, 0],
        ),
    ];
    for (round, (case, bytes)) in cases.into_iter().enumerate() {
        let mut raw = TcpStream::connect(f.addr).await.expect("connect");
        raw.write_all(&hello(1)).await.expect("hello");
        raw.write_all(&bytes).await.expect("write");
        if case.starts_with("a truncated") {
            raw.shutdown().await.expect("half-close");
        }
        let answer = read_until_closed(&mut raw).await;
        // The welcome (7 bytes: length, type, version), then nothing but the close.
        assert_eq!(answer.len(), 7, "{case}: {answer:?}");
        still_streaming(&f.file, &mut f.healthy, round as u64).await;
    }
}

#[tokio::test]
async fn too_many_streams_on_one_connection_close_it() {
    let mut f = fixture("streams").await;
    let mut raw = TcpStream::connect(f.addr).await.expect("connect");
    raw.write_all(&hello(1)).await.expect("hello");
    let mut opens = Vec::new();
    for stream in 0..1025u32 {
        // No credit: the streams stay open without receiving anything.
        opens.extend_from_slice(&open_frame(stream, 0, "log"));
    }
    raw.write_all(&opens).await.expect("write");
    read_until_closed(&mut raw).await;
    still_streaming(&f.file, &mut f.healthy, 0).await;
    assert_eq!(
        f.server.debug_snapshot().connections.len(),
        1,
        "only the healthy connection is left"
    );
}

#[tokio::test]
async fn a_client_that_half_closes_after_its_requests_still_gets_its_data() {
    let dir = support::fresh_dir("half-close");
    let path = dir.path().join("old.log");
    std::fs::write(&path, "one\ntwo\nthree\n").expect("write");
    let server = Server::new();
    server
        .serve_existing_static_file("old", &path)
        .expect("serve");
    let live = server
        .open_file("live", dir.path().join("live.log"), FileOptions::new())
        .expect("open");
    live.write_message(b"four").expect("write");
    live.flushed().await.expect("flushed");
    let listening = server
        .serve(
            WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
            |_| true,
        )
        .await
        .expect("serve");
    let mut socket = TcpStream::connect(("127.0.0.1", listening.listening_on()))
        .await
        .expect("connect");
    let mut request = hello(camlnet_tcp_file::VERSION);
    request.extend(open_frame(1, u32::MAX, "old"));
    request.extend(open_frame(2, u32::MAX, "live"));
    socket.write_all(&request).await.expect("requests");
    socket.shutdown().await.expect("half-close");
    // The server ends the connection itself, once what there is has been sent: the
    // static file whole, the live one as it is (it stays open).
    let answer = read_until_closed(&mut socket).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.contains("one\ntwo\nthree\n"),
        "the lines asked for must come: {text:?}"
    );
    assert!(
        text.contains("four"),
        "the live file's line must come: {text:?}"
    );
    drop(live);
}
