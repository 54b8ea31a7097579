//! The time limits of a connection, from raw sockets: one with no stream is closed after
//! its idle timeout, one whose socket takes nothing after its write timeout; others go on.
#![cfg(all(feature = "server", feature = "client"))]

use std::time::{Duration, Instant};

use camlnet_tcp_file::{FileOptions, Limits, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

mod support;

const LIMIT: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(500);

/// Reads and drops everything until the server closes the connection.
async fn drain_until_closed(socket: &mut TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    timeout(LIMIT, async {
        while let Ok(n) = socket.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    })
    .await
    .expect("the server kept the connection open");
}

/// Looks every 20 ms until `done`, for at most [`LIMIT`].
async fn wait_until(done: impl Fn() -> bool, why: &str) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "{why}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_connection_with_no_stream_is_closed_after_its_idle_timeout() {
    let dir = support::fresh_dir("idle");
    let server = Server::with_limits(Limits::new().idle_timeout(SHORT));
    let file = server
        .open_file("log", dir.path().join("log"), FileOptions::new())
        .expect("open");
    let listening = support::listen_on_localhost(&server).await;
    let port = listening.listening_on();

    let mut reading = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut request = support::hello(camlnet_tcp_file::VERSION);
    request.extend(support::open_frame(1, 0, u32::MAX, b"log"));
    reading.write_all(&request).await.expect("requests");

    let started = Instant::now();
    let mut idle = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    idle.write_all(&support::hello(camlnet_tcp_file::VERSION))
        .await
        .expect("hello");
    drain_until_closed(&mut idle).await;
    let took = started.elapsed();
    assert!(
        took >= SHORT.mul_f32(0.9),
        "closed after {took:?}, before its idle timeout"
    );

    // The connection with a stream lives on, past the idle timeout.
    file.write_message(b"still here").expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    timeout(LIMIT, async {
        while !String::from_utf8_lossy(&seen).contains("still here") {
            let n = reading.read(&mut buf).await.expect("read");
            assert!(n > 0, "the connection with a stream was closed");
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the message never came");
    file.close().await.expect("close");
}

#[tokio::test]
async fn a_connection_whose_socket_takes_nothing_is_closed_after_its_write_timeout() {
    let dir = support::fresh_dir("write-timeout");
    let server = Server::with_limits(Limits::new().write_timeout(SHORT));
    let file = server
        .open_file("log", dir.path().join("log"), FileOptions::new())
        .expect("open");
    // Far more than the socket buffers hold.
    let line = "x".repeat(1000);
    for _ in 0..40_000 {
        file.write_message(line.as_bytes()).expect("write");
    }
    let listening = support::listen_on_localhost(&server).await;
    let port = listening.listening_on();
    let started = Instant::now();
    let mut stalled = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut request = support::hello(camlnet_tcp_file::VERSION);
    request.extend(support::open_frame(1, 0, u32::MAX, b"log"));
    stalled.write_all(&request).await.expect("requests");

    let connections = || server.debug_snapshot().connections.len();
    wait_until(
        || connections() == 1,
        "the stalled connection was never served",
    )
    .await;
    wait_until(
        || connections() == 0,
        "the stalled connection was never closed",
    )
    .await;
    let took = started.elapsed();
    assert!(
        took >= SHORT.mul_f32(0.9),
        "closed after {took:?}, before its write timeout"
    );
    // What the server sent before it gave up is there, then the end.
    drain_until_closed(&mut stalled).await;
    file.close().await.expect("close");
}

#[tokio::test]
async fn the_snapshot_shows_the_limits() {
    let server = Server::with_limits(
        Limits::new()
            .max_connections(7)
            .idle_timeout(Duration::from_secs(5))
            .write_timeout(Duration::from_millis(1500)),
    );
    let json = serde_json::to_value(server.debug_snapshot()).expect("json");
    assert_eq!(json["limits"]["max_connections"], 7, "{json}");
    assert_eq!(json["limits"]["idle_timeout"], 5.0, "{json}");
    assert_eq!(json["limits"]["write_timeout"], 1.5, "{json}");
}
