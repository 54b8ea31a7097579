//! The file server over real TCP: `serve` on the `tcp-server` crate, `Client::connect` on
//! the `tcp-connect` crate, auth, and one `serve` per server.
#![cfg(all(feature = "server", feature = "client"))]

use std::time::Duration;

use camlnet_tcp_connect::WhereToConnect;
use camlnet_tcp_file::{Client, FileOptions, Server, StreamOptions};
use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};
use tokio::time::timeout;

mod support;
use support::fresh_dir;

const LIMIT: Duration = Duration::from_secs(30);

fn localhost() -> WhereToListen<camlnet_flow::Inet> {
    WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs)
}

#[tokio::test]
async fn a_client_reads_a_file_over_tcp() {
    let dir = fresh_dir("tcp");
    let path = dir.path().join("log");
    let server = Server::new();
    let file = server
        .open_file("log", &path, FileOptions::new())
        .expect("open");
    let listening = server.serve(localhost(), |_| true).await.expect("serve");
    let port = listening.listening_on();
    let err = server
        .serve(localhost(), |_| true)
        .await
        .expect_err("second serve");
    assert!(err.is_already_serving(), "{err}");

    let target = WhereToConnect::inet_address(([127, 0, 0, 1], port).into());
    let client = timeout(LIMIT, Client::connect(&target))
        .await
        .expect("connect timed out")
        .expect("connect");
    let mut stream = client.read("log", StreamOptions::new());
    for i in 0..1000 {
        file.write_message(format!("line {i}").as_bytes())
            .expect("write");
    }
    file.close_with(false).await.expect("close");
    let mut count = 0;
    while let Some(item) = timeout(LIMIT, stream.next()).await.expect("stalled") {
        let message = item.expect("message");
        assert_eq!(message.line, count);
        assert_eq!(message.bytes, format!("line {count}"));
        count += 1;
    }
    assert_eq!(count, 1000);
}

#[tokio::test]
async fn once_the_listener_is_dropped_serve_can_be_called_again() {
    let server = Server::new();
    let listening = server.serve(localhost(), |_| true).await.expect("serve");
    let port = listening.listening_on();
    let closed = listening.close_finished();
    drop(listening);
    timeout(LIMIT, closed)
        .await
        .expect("dropping the listener closes it")
        .expect("closed cleanly");
    let target = WhereToConnect::inet_address(([127, 0, 0, 1], port).into());
    assert!(
        Client::connect(&target).await.is_err(),
        "nothing listens on the dropped listener's port"
    );
    let again = server
        .serve(localhost(), |_| true)
        .await
        .expect("serve again");
    let target = WhereToConnect::inet_address(([127, 0, 0, 1], again.listening_on()).into());
    timeout(LIMIT, Client::connect(&target))
        .await
        .expect("connect timed out")
        .expect("the new listener serves");
}

#[tokio::test]
async fn auth_refusal_tells_the_client_why() {
    let server = Server::new();
    let listening = server.serve(localhost(), |_| false).await.expect("serve");
    let target = WhereToConnect::inet_address(([127, 0, 0, 1], listening.listening_on()).into());
    match timeout(LIMIT, Client::connect(&target))
        .await
        .expect("connect timed out")
    {
        Err(e) if e.is_transport() => {
            // The message names the server; a cause says that it refused, and why.
            assert!(e.to_string().contains(&target.to_string()), "{e}");
            let causes: Vec<String> =
                std::iter::successors(std::error::Error::source(&e), |e| e.source())
                    .map(|cause| cause.to_string())
                    .collect();
            assert!(
                causes
                    .iter()
                    .any(|c| c.contains("the server refused") && c.contains("not allowed")),
                "{causes:?}"
            );
        }
        other => panic!("expected a refused connection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_panicking_auth_costs_one_connection_not_the_server() {
    let server = Server::new();
    let dir = fresh_dir("auth");
    let path = dir.path().join("log");
    let file = server
        .open_file("log", &path, FileOptions::new())
        .expect("open");
    let first = std::sync::atomic::AtomicBool::new(true);
    let listening = server
        .serve(localhost(), move |_| {
            assert!(
                !first.swap(false, std::sync::atomic::Ordering::SeqCst),
                "auth panics once"
            );
            true
        })
        .await
        .expect("serve");
    let target = WhereToConnect::inet_address(([127, 0, 0, 1], listening.listening_on()).into());
    assert!(
        timeout(LIMIT, Client::connect(&target))
            .await
            .expect("first connect timed out")
            .is_err()
    );
    let client = timeout(LIMIT, Client::connect(&target))
        .await
        .expect("second connect timed out")
        .expect("the server still serves");
    let mut stream = client.read("log", StreamOptions::new());
    file.write_message(b"alive").expect("write");
    let message = timeout(LIMIT, stream.next())
        .await
        .expect("stalled")
        .expect("item")
        .expect("message");
    assert_eq!(message.bytes, "alive");
}

/// Readers far behind the in-memory window over TCP, whose lines the server sends straight
/// from the page cache (`sendfile(2)`): a binary client and a text client (which `nc`
/// would be) get every line once, in order, from a file with either line ending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_behind_the_window_get_every_line_from_the_page_cache() {
    use camlnet_tcp_file::LineEnding;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // About 10 MB: more than twice the window.
    const LINES: u64 = 100_000;
    let line = |i: u64| format!("line {i:>8} {}", "x".repeat(i as usize % 150));
    for ending in [LineEnding::Lf, LineEnding::CrLf] {
        let dir = fresh_dir("tcp-catch-up");
        let server = Server::new();
        let options = FileOptions::new().line_ending(ending);
        let file = server
            .open_file("log", dir.path().join("log"), options)
            .expect("open");
        for i in 0..LINES {
            file.write_message(line(i).as_bytes()).expect("write");
        }
        file.flushed().await.expect("flushed");
        let listening = server.serve(localhost(), |_| true).await.expect("serve");
        let port = listening.listening_on();

        let target = WhereToConnect::inet_address(([127, 0, 0, 1], port).into());
        let client = timeout(LIMIT, Client::connect(&target))
            .await
            .expect("connect timed out")
            .expect("connect");
        let mut stream = client.read_from("log", 3, StreamOptions::new());
        let mut text = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        text.write_all(b"FROM 3 log\n").await.expect("request");
        let mut next = 3;
        while next < LINES {
            let message = timeout(LIMIT, stream.next())
                .await
                .expect("stalled")
                .expect("a message")
                .expect("message");
            assert_eq!(message.line, next, "{ending:?}");
            assert_eq!(message.bytes, line(next), "{ending:?}");
            next += 1;
        }

        let expected: String = (3..LINES).map(|i| line(i) + "\n").collect();
        let mut reply = Vec::new();
        let mut buf = vec![0; 256 * 1024];
        while reply.len() < b"+OK\n".len() + expected.len() {
            let n = timeout(LIMIT, text.read(&mut buf))
                .await
                .expect("text client stalled")
                .expect("read");
            assert!(n > 0, "text connection closed after {} bytes", reply.len());
            reply.extend_from_slice(&buf[..n]);
        }
        assert!(
            reply == [b"+OK\n", expected.as_bytes()].concat(),
            "{ending:?}: the text client got {} bytes, not every line once",
            reply.len()
        );
        file.close().await.expect("close");
    }
}

/// A file cut short behind the server's back (another program truncates it) fails the
/// streams that read it, with an error that names it: the connection goes on, and its
/// other streams get their lines. The server's lines are in the page cache until the
/// truncation drops them, so the server would send them with `sendfile(2)`: the cut must
/// not cost the whole connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cut_short_behind_the_server_fails_its_streams_not_the_connection() {
    const LINES: u64 = 50_000;
    let dir = fresh_dir("tcp-truncated");
    let line = |i: u64| format!("line {i:>8} {}", "x".repeat(80));
    let big = dir.path().join("big");
    let contents: String = (0..LINES).map(|i| line(i) + "\n").collect();
    std::fs::write(&big, &contents).expect("write big");
    std::fs::write(dir.path().join("small"), "a\nb\n").expect("write small");
    let server = Server::new();
    let counted = server
        .serve_existing_static_file("big", &big)
        .expect("serve big");
    assert_eq!(counted, LINES);
    server
        .serve_existing_static_file("small", dir.path().join("small"))
        .expect("serve small");
    let listening = server.serve(localhost(), |_| true).await.expect("serve");
    let target = WhereToConnect::inet_address(([127, 0, 0, 1], listening.listening_on()).into());
    let client = timeout(LIMIT, Client::connect(&target))
        .await
        .expect("connect timed out")
        .expect("connect");

    std::fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .expect("open big")
        .set_len(contents.len() as u64 / 2)
        .expect("truncate");
    let mut stream = client.read("big", StreamOptions::new());
    let mut next = 0;
    let error = loop {
        match timeout(LIMIT, stream.next()).await.expect("stalled") {
            Some(Ok(message)) => {
                assert_eq!(message.line, next);
                assert_eq!(message.bytes, line(next));
                next += 1;
            }
            Some(Err(e)) => break e,
            None => panic!("the stream of a file cut short ended after {next} lines"),
        }
    };
    assert!(next < LINES, "every line of a file cut in half was sent");
    assert!(!error.is_transport(), "the connection failed: {error}");
    assert!(error.to_string().contains("big"), "{error}");

    let mut small = client.read("small", StreamOptions::new());
    let mut lines = Vec::new();
    while let Some(item) = timeout(LIMIT, small.next()).await.expect("stalled") {
        lines.push(item.expect("message").bytes);
    }
    assert_eq!(lines, ["a", "b"]);
}

/// The server lets at most 16 KiB of a connection's data wait unsent in the kernel
/// (`TCP_NOTSENT_LOWAT`), so that a stalled reader's connection holds little in its send
/// buffer. The server's end of the connection (its fds: `tcp-server` keeps a duplicate)
/// is found among this process's sockets by its peer's address.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_lets_little_of_a_connection_s_data_wait_unsent_in_the_kernel() {
    use std::os::fd::{BorrowedFd, RawFd};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = Server::new();
    let listening = server.serve(localhost(), |_| true).await.expect("serve");
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", listening.listening_on()))
        .await
        .expect("connect");
    raw.write_all(&support::hello(camlnet_tcp_file::VERSION))
        .await
        .expect("hello");
    // The server sets its socket up before it reads the hello: once it answers, it is done.
    let mut welcome = [0u8; 1];
    timeout(LIMIT, raw.read_exact(&mut welcome))
        .await
        .expect("no welcome")
        .expect("welcome");
    let peer = raw.local_addr().expect("the client's address");

    let mut unsent_limits = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("list this process's fds") {
        let name = entry.expect("an fd").file_name();
        let Ok(fd) = name.to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        // SAFETY: the fd is only asked about its peer and one option. Another test's thread
        // may close it meanwhile: the calls then fail, or ask another file that has not
        // `peer` as its peer, which is skipped.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        if socket.peer_addr().ok().and_then(|a| a.as_socket()) == Some(peer) {
            unsent_limits.push(socket.tcp_notsent_lowat().expect("TCP_NOTSENT_LOWAT"));
        }
    }
    assert!(
        !unsent_limits.is_empty(),
        "no socket of this process has {peer} as its peer"
    );
    assert!(
        unsent_limits.iter().all(|&limit| limit == 16 * 1024),
        "{unsent_limits:?}"
    );
}
