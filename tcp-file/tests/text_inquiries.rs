//! The text mode's questions about the server, `LIST` and `STATS`, from a plain socket.
#![cfg(all(feature = "server", feature = "client"))]

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use camlnet_tcp_file::{FileOptions, Server};

/// Sends `request` as a text client does and returns the whole answer.
fn ask(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the answer, to its end");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_names_every_file_with_its_lines_and_stats_is_opt_in() {
    let dir = support::fresh_dir("inquiries");
    let server = Server::new();
    let file = server
        .open_file("live log", dir.path().join("live"), FileOptions::new())
        .expect("open");
    for i in 0..3 {
        file.write_message(format!("m{i}").as_bytes())
            .expect("write");
    }
    file.flushed().await.expect("flushed");
    std::fs::write(dir.path().join("old"), "a\nb\n").expect("write old");
    server
        .serve_existing_static_file("old", dir.path().join("old"))
        .expect("static");
    let listening = support::listen_on_localhost(&server).await;
    let port = listening.listening_on();

    let list = tokio::task::spawn_blocking(move || ask(port, "LIST\n"));
    assert_eq!(list.await.expect("ask"), "+OK\nlive log 3\nold 2\n");
    let lower = tokio::task::spawn_blocking(move || ask(port, "list\r\n"));
    assert_eq!(lower.await.expect("ask"), "+OK\nlive log 3\nold 2\n");

    // Off at first: the snapshot tells paths and peers.
    let stats = tokio::task::spawn_blocking(move || ask(port, "STATS\n"));
    assert_eq!(
        stats.await.expect("ask"),
        "-ERR STATS is off on this server\n"
    );

    server.answer_stats_requests(true);
    let stats = tokio::task::spawn_blocking(move || ask(port, "STATS\n"))
        .await
        .expect("ask");
    let json = stats.strip_prefix("+OK\n").expect("+OK first");
    assert_eq!(json.lines().count(), 1, "one line of JSON: {json:?}");
    let snapshot: serde_json::Value = serde_json::from_str(json).expect("JSON");
    assert_eq!(snapshot["files"][0]["name"], "live log");
    assert_eq!(snapshot["files"][0]["lines"], 3);
    assert_eq!(snapshot["files"][1]["state"], "closed");
    assert!(snapshot["connections"].is_array(), "{snapshot}");
    assert!(snapshot["limits"]["idle_timeout"].is_number(), "{snapshot}");

    // Only the whole line is a question: `LIST x` is an unknown request.
    let other = tokio::task::spawn_blocking(move || ask(port, "LIST x\n"));
    assert!(
        other
            .await
            .expect("ask")
            .starts_with("-ERR unknown request")
    );
    drop(listening);
}
