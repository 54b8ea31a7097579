//! The file server and its client over in-memory flows: reading, tailing, resuming,
//! closing, many streams on one connection, flow control and the snapshot.
#![cfg(all(feature = "server", feature = "client"))]

use std::time::Duration;

use camlnet_tcp_file::{
    Client, Error, FileOptions, LineEnding, Message, MessageStream, Server, StreamOptions,
    SyncPolicy,
};
use tokio::time::timeout;

mod support;
use support::fresh_dir as temp_dir;

const LIMIT: Duration = Duration::from_secs(30);

/// A fresh server with one file open for writing, served as "log".
fn log_file(test: &str) -> (tempfile::TempDir, Server, camlnet_tcp_file::FileHandle) {
    let dir = temp_dir(test);
    let server = Server::new();
    let file = server
        .open_file("log", dir.path().join("log"), FileOptions::new())
        .expect("open");
    (dir, server, file)
}

/// A fresh server with `text` in a file, served as the static file `name`.
fn static_file(test: &str, name: &str, text: &[u8]) -> (tempfile::TempDir, Server) {
    static_file_in(temp_dir(test), name, text)
}

/// As [`static_file`], the file in `dir`.
fn static_file_in(dir: tempfile::TempDir, name: &str, text: &[u8]) -> (tempfile::TempDir, Server) {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write file");
    let server = Server::new();
    server
        .serve_existing_static_file(name, &path)
        .expect("serve");
    (dir, server)
}

async fn connect(server: &Server) -> Client {
    let (client_end, server_end) = camlnet_flow::pair(256 * 1024);
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_flow(server_end, "test").await });
    Client::over(client_end).await.expect("handshake")
}

async fn next(stream: &mut MessageStream) -> Option<Result<Message, Error>> {
    timeout(LIMIT, stream.next()).await.expect("stream stalled")
}

async fn collect(stream: &mut MessageStream) -> Vec<(u64, String)> {
    let mut all = Vec::new();
    while let Some(item) = next(stream).await {
        let message = item.expect("message");
        all.push((
            message.line,
            String::from_utf8(message.bytes.to_vec()).expect("utf-8"),
        ));
    }
    all
}

/// A message of about 100 bytes: 100,000 of them overflow the in-memory window, so late
/// readers start on disk and switch to live messages.
fn padded(i: u64) -> String {
    format!("message {i:>8} {}", "x".repeat(83))
}

fn numbered(range: std::ops::Range<u64>) -> Vec<(u64, String)> {
    range.map(|i| (i, format!("message {i}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_readers_started_at_different_moments_each_get_every_line_once() {
    const TOTAL: u64 = 100_000;
    let (_dir, server, file) = log_file("twenty");
    let client = connect(&server).await;
    let mut readers = Vec::new();
    for i in 0..TOTAL {
        if i % (TOTAL / 20) == 0 {
            let mut stream = client.read("log", StreamOptions::new());
            readers.push(tokio::spawn(async move { collect(&mut stream).await }));
        }
        file.write_message(padded(i).as_bytes()).expect("write");
        if i % 1000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // Keep the name: a reader whose request is still on its way must find the file.
    file.close_with(false).await.expect("close");
    assert_eq!(readers.len(), 20);
    for reader in readers {
        let got = timeout(LIMIT, reader).await.expect("reader").expect("task");
        assert_eq!(got.len() as u64, TOTAL);
        let expected: Vec<(u64, String)> = (0..TOTAL).map(|i| (i, padded(i))).collect();
        assert!(
            got == expected,
            "a reader got a gap, a duplicate or a wrong order"
        );
    }
}

#[tokio::test]
async fn tail_gets_only_what_comes_after_the_request() {
    let (_dir, server, file) = log_file("tail");
    file.write_message(b"before").expect("write");
    let client = connect(&server).await;
    let mut tail = client.tail("log", StreamOptions::new());
    // The request has reached the server once a read on the same connection answers.
    let mut probe = client.read("log", StreamOptions::new());
    assert_eq!(
        next(&mut probe)
            .await
            .expect("item")
            .expect("message")
            .bytes,
        "before"
    );
    file.write_message(b"after").expect("write");
    file.close().await.expect("close");
    assert_eq!(collect(&mut tail).await, vec![(1, "after".to_string())]);
}

#[tokio::test]
async fn read_from_resumes_after_a_disconnect_with_no_gap() {
    let (_dir, server, file) = log_file("resume");
    for i in 0..5000 {
        file.write_message(format!("message {i}").as_bytes())
            .expect("write");
    }
    let client = connect(&server).await;
    let mut stream = client.read("log", StreamOptions::new());
    let mut got = Vec::new();
    for _ in 0..1234 {
        let m = next(&mut stream).await.expect("item").expect("message");
        got.push((m.line, String::from_utf8(m.bytes.to_vec()).expect("utf-8")));
    }
    drop(stream);
    client.disconnect().await;
    let resume_at = got.last().map_or(0, |(line, _)| line + 1);
    for i in 5000..6000 {
        file.write_message(format!("message {i}").as_bytes())
            .expect("write");
    }
    let client = connect(&server).await;
    let mut stream = client.read_from("log", resume_at, StreamOptions::new());
    // Close once the request has reached the server: a closed name is not found.
    let first = next(&mut stream).await.expect("item").expect("message");
    got.push((
        first.line,
        String::from_utf8(first.bytes.to_vec()).expect("utf-8"),
    ));
    file.close().await.expect("close");
    got.extend(collect(&mut stream).await);
    assert!(got == numbered(0..6000), "resuming lost or repeated lines");
}

#[tokio::test]
async fn several_streams_share_one_connection_and_a_dropped_one_is_gone() {
    let dir = temp_dir("streams");
    let server = Server::new();
    let a = server
        .open_file("a", dir.path().join("a"), FileOptions::new())
        .expect("open a");
    let b = server
        .open_file("b", dir.path().join("b"), FileOptions::new())
        .expect("open b");
    a.write_message(b"a0").expect("write");
    b.write_message(b"b0").expect("write");
    let client = connect(&server).await;
    let mut sa = client.read("a", StreamOptions::new());
    let mut sb = client.read("b", StreamOptions::new());
    let sc = client.read("a", StreamOptions::new());
    assert_eq!(next(&mut sa).await.expect("item").expect("a").bytes, "a0");
    assert_eq!(next(&mut sb).await.expect("item").expect("b").bytes, "b0");
    let snapshot = server.debug_snapshot();
    assert_eq!(snapshot.connections.len(), 1, "{snapshot:?}");
    assert_eq!(snapshot.connections[0].streams, 3, "{snapshot:?}");
    drop(sc);
    // The cancel reaches the server before the next answer on the same connection.
    a.write_message(b"a1").expect("write");
    assert_eq!(next(&mut sa).await.expect("item").expect("a").bytes, "a1");
    let snapshot = server.debug_snapshot();
    assert_eq!(snapshot.connections[0].streams, 2, "{snapshot:?}");
    let readers_of_a = &snapshot
        .files
        .iter()
        .find(|f| f.name == "a")
        .expect("file a")
        .readers;
    assert_eq!(readers_of_a.len(), 1);
    assert_eq!(readers_of_a[0].next_line, 2);
    assert_eq!(readers_of_a[0].lag, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_never_read_does_not_stop_another_on_the_same_connection() {
    let dir = temp_dir("pushback");
    let server = Server::new();
    let stuck = server
        .open_file("stuck", dir.path().join("stuck"), FileOptions::new())
        .expect("open");
    let live = server
        .open_file("live", dir.path().join("live"), FileOptions::new())
        .expect("open");
    let client = connect(&server).await;
    let _never_read = client.read("stuck", StreamOptions::new().window(100));
    let mut reading = client.read("live", StreamOptions::new().window(100));
    // Both requests have reached the server once the second one answers (they are
    // handled in order), so closing "live" below cannot overtake them.
    live.write_message(b"message 0").expect("write");
    let first = next(&mut reading).await.expect("item").expect("message");
    assert_eq!((first.line, &first.bytes[..]), (0, &b"message 0"[..]));
    for i in 0..10_000u64 {
        stuck
            .write_message(format!("stuck {i}").as_bytes())
            .expect("write");
        if i > 0 {
            live.write_message(format!("message {i}").as_bytes())
                .expect("write");
        }
    }
    live.close().await.expect("close");
    assert_eq!(collect(&mut reading).await, numbered(1..10_000));
    let snapshot = server.debug_snapshot();
    let stuck_readers = &snapshot
        .files
        .iter()
        .find(|f| f.name == "stuck")
        .expect("stuck")
        .readers;
    assert!(
        stuck_readers[0].next_line <= 100,
        "the unread stream got past its window: {stuck_readers:?}"
    );
}

#[tokio::test]
async fn close_ends_streams_after_the_last_message_and_stop_serving_keeps_them() {
    let (_dir, server, file) = log_file("close");
    file.write_message(b"one").expect("write");
    let client = connect(&server).await;
    let mut before = client.read("log", StreamOptions::new());
    assert_eq!(
        next(&mut before).await.expect("item").expect("one").bytes,
        "one"
    );
    file.stop_serving();
    let mut after = client.read("log", StreamOptions::new());
    match next(&mut after).await {
        Some(Err(e)) if e.is_file_not_found() => assert_eq!(e.file_name(), Some("log")),
        other => panic!("expected FileNotFound, got {other:?}"),
    }
    assert!(
        next(&mut after).await.is_none(),
        "the stream ends after its error"
    );
    // The stream opened before stop_serving goes on, and ends at close.
    file.write_message(b"two").expect("write");
    file.close().await.expect("close");
    assert_eq!(collect(&mut before).await, vec![(1, "two".to_string())]);
}

#[tokio::test]
async fn a_file_closed_without_stopping_is_served_like_a_static_file() {
    let (_dir, server, file) = log_file("closed-static");
    file.write_message(b"kept").expect("write");
    file.close_with(false).await.expect("close");
    let client = connect(&server).await;
    assert_eq!(
        collect(&mut client.read("log", StreamOptions::new())).await,
        vec![(0, "kept".to_string())]
    );
    assert!(
        collect(&mut client.tail("log", StreamOptions::new()))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn static_files_are_served_line_by_line_and_tail_sees_nothing() {
    let dir = temp_dir("static");
    let path = dir.path().join("static.txt");
    std::fs::write(&path, "first\r\nsecond\nno newline at the end").expect("write file");
    let server = Server::new();
    assert_eq!(
        server
            .serve_existing_static_file("static", &path)
            .expect("serve"),
        3
    );
    let client = connect(&server).await;
    assert_eq!(
        collect(&mut client.read("static", StreamOptions::new())).await,
        vec![
            (0, "first".into()),
            (1, "second".into()),
            (2, "no newline at the end".into())
        ]
    );
    assert_eq!(
        collect(&mut client.read_from("static", 1, StreamOptions::new()))
            .await
            .len(),
        2
    );
    assert!(
        collect(&mut client.tail("static", StreamOptions::new()))
            .await
            .is_empty()
    );
}

/// tmpfs refuses reads from the page cache only (`RWF_NOWAIT`), which catch-up tries
/// first on an async worker: such a file is read back where the read may wait instead.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_file_on_tmpfs_is_read_back_like_any_other() {
    let tmpfs = tempfile::tempdir_in("/dev/shm").expect("a directory on tmpfs (/dev/shm)");
    let (_dir, server) = static_file_in(tmpfs, "on-tmpfs", b"first\nsecond\n");
    let client = connect(&server).await;
    assert_eq!(
        collect(&mut client.read("on-tmpfs", StreamOptions::new())).await,
        vec![(0, "first".into()), (1, "second".into())]
    );
}

#[tokio::test]
async fn crlf_endings_on_disk_and_none_for_readers() {
    let dir = temp_dir("crlf");
    let path = dir.path().join("log");
    let server = Server::new();
    let file = server
        .open_file(
            "log",
            &path,
            FileOptions::new().line_ending(LineEnding::CrLf),
        )
        .expect("open");
    file.write_message(b"one").expect("write");
    file.write_message(b"two\r\n").expect("write");
    file.close_with(false).await.expect("close");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "one\r\ntwo\r\n"
    );
    let client = connect(&server).await;
    assert_eq!(
        collect(&mut client.read("log", StreamOptions::new())).await,
        vec![(0, "one".into()), (1, "two".into())]
    );
}

#[tokio::test]
async fn append_cuts_off_a_torn_last_line_and_never_serves_it() {
    let dir = temp_dir("append");
    let path = dir.path().join("log");
    std::fs::write(&path, "old 0\nold 1\ntorn by a cra").expect("write file");
    let server = Server::new();
    let err = server
        .open_file("log", &path, FileOptions::new())
        .expect_err("not empty");
    assert!(err.is_not_empty(), "{err}");
    let file = server
        .open_file("log", &path, FileOptions::new().append(true))
        .expect("append");
    assert_eq!(file.lines(), 2, "the torn line is not a message");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "old 0\nold 1\n",
        "the torn line is cut off the file"
    );
    file.write_message(b"new 2").expect("write");
    let err = server
        .open_file("log", &path, FileOptions::new().append(true))
        .expect_err("open twice");
    assert!(err.is_already_open(), "{err}");
    assert_eq!(err.file_name(), Some("log"));
    let err = server
        .open_file("other", &path, FileOptions::new().append(true))
        .expect_err("one path, one writer");
    assert!(err.is_locked(), "{err}");
    assert_eq!(err.path(), path.canonicalize().ok().as_deref());
    file.close_with(false).await.expect("close");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "old 0\nold 1\nnew 2\n"
    );
    let client = connect(&server).await;
    assert_eq!(
        collect(&mut client.read("log", StreamOptions::new())).await,
        vec![
            (0, "old 0".into()),
            (1, "old 1".into()),
            (2, "new 2".into())
        ]
    );

    // A file that is one torn line holds no message.
    let only = dir.path().join("only");
    std::fs::write(&only, "torn").expect("write file");
    let file = server
        .open_file("only", &only, FileOptions::new().append(true))
        .expect("append");
    assert_eq!(file.lines(), 0);
    file.write_message(b"first").expect("write");
    file.close_with(false).await.expect("close");
    assert_eq!(std::fs::read_to_string(&only).expect("read"), "first\n");
    assert_eq!(
        collect(&mut client.read("only", StreamOptions::new())).await,
        vec![(0, "first".into())]
    );
}

#[tokio::test]
async fn messages_with_an_inner_newline_are_refused_and_nothing_is_written() {
    let dir = temp_dir("newline");
    let path = dir.path().join("log");
    let server = Server::new();
    let file = server
        .open_file("log", &path, FileOptions::new())
        .expect("open");
    let err = file
        .write_message(b"two\nlines")
        .expect_err("inner newline");
    assert!(err.to_string().contains("newline"), "{err}");
    assert!(file.write_message(b"ends twice\n\n").is_err());
    assert_eq!(file.lines(), 0);
    file.close().await.expect("close");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "");
}

#[tokio::test]
async fn unknown_and_hostile_names_are_just_not_found() {
    let (dir, server, _file) = log_file("names");
    let client = connect(&server).await;
    let log_path = dir.path().join("log").display().to_string();
    for name in [
        "nope",
        "../log",
        "/etc/passwd",
        log_path.as_str(),
        "log\0",
        "",
    ] {
        let mut stream = client.read(name, StreamOptions::new());
        match next(&mut stream).await {
            Some(Err(e)) if e.is_file_not_found() => assert_eq!(e.file_name(), Some(name)),
            other => panic!("{name:?}: expected FileNotFound, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_snapshot_describes_every_file_reader_and_connection() {
    let dir = temp_dir("snapshot");
    let server = Server::new();
    let file = server
        .open_file("live", dir.path().join("live"), FileOptions::new())
        .expect("open");
    std::fs::write(dir.path().join("static"), "a\nb\n").expect("write static");
    server
        .serve_existing_static_file("static", dir.path().join("static"))
        .expect("static");
    for i in 0..10 {
        file.write_message(format!("m{i}").as_bytes())
            .expect("write");
    }
    file.flushed().await.expect("flushed");
    let client = connect(&server).await;
    let mut behind = client.read_from("live", 4, StreamOptions::new().window(4));
    assert_eq!(
        next(&mut behind)
            .await
            .expect("item")
            .expect("message")
            .line,
        4
    );

    let json = serde_json::to_value(server.debug_snapshot()).expect("serialize");
    let files = json["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    let live = &files[0];
    assert_eq!(live["name"], "live");
    assert_eq!(live["path"], dir.path().join("live").display().to_string());
    assert_eq!(live["lines"], 10);
    assert_eq!(live["bytes"], 10 * 3);
    assert_eq!(live["lines_on_disk"], 10);
    assert_eq!(live["state"], "open");
    assert!(live["disk_error"].is_null());
    let reader = &live["readers"][0];
    // A window of 4: lines 4 to 7 went in one batch, which used the server's credit up.
    // The credit the client gives back as the batch is taken has not reached the server
    // yet (this test's runtime runs one task at a time), so the rest waits.
    assert_eq!(reader["next_line"], 8);
    assert_eq!(reader["lag"], 2);
    assert_eq!(reader["credit"], 0);
    assert_eq!(reader["stream"], 1);
    assert_eq!(files[1]["name"], "static");
    assert_eq!(files[1]["state"], "closed");
    assert_eq!(files[1]["lines"], 2);
    let connections = json["connections"].as_array().expect("connections");
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0]["peer"], "test");
    assert_eq!(connections[0]["streams"], 1);
}

/// A window counted in messages is kept to about `window_bytes` of them: with lines of
/// 10,000 bytes, a window of 100 (1 MB) and a budget of 64 KiB, once the consumer stops the
/// server has sent only about 6 lines past what it took, not 100.
#[tokio::test]
async fn a_stream_of_big_messages_stays_about_its_window_bytes_ahead_of_the_consumer() {
    const LINES: u64 = 2000;
    const TAKEN: u64 = 300;
    let line = |i: u64| format!("{i:>9} {}", "x".repeat(9990));
    let text: String = (0..LINES).map(|i| line(i) + "\n").collect();
    let (_dir, server) = static_file("window-bytes", "big", text.as_bytes());
    let client = connect(&server).await;
    let options = StreamOptions::new().window(100).window_bytes(64 * 1024);
    let mut stream = client.read("big", options);
    for i in 0..TAKEN {
        let message = next(&mut stream).await.expect("item").expect("message");
        assert_eq!(message.line, i);
        assert_eq!(message.bytes, line(i));
    }
    // The consumer stops: the server sends until it has no credit left.
    let sent = timeout(LIMIT, async {
        loop {
            let snapshot = server.debug_snapshot();
            let reader = &snapshot.files[0].readers[0];
            if reader.credit == Some(0) {
                break reader.next_line;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the server kept credit");
    // 64 KiB hold 6 lines of 10,001 bytes; the last batch taken may have had 5 more.
    assert!(
        (TAKEN..=TAKEN + 11).contains(&sent),
        "{sent} lines sent for {TAKEN} taken"
    );
}

#[tokio::test]
async fn read_from_a_line_deep_in_a_file_on_disk_uses_the_index() {
    let text: String = (0..5000).map(|i| format!("message {i}\n")).collect();
    let (_dir, server) = static_file("index", "big", text.as_bytes());
    let client = connect(&server).await;
    for start in [0, 1, 1023, 1024, 1025, 2500, 4999, 5000, 7000] {
        let got = collect(&mut client.read_from("big", start, StreamOptions::new())).await;
        assert!(
            got == numbered(start.min(5000)..5000),
            "read_from({start}) got {} lines",
            got.len()
        );
    }
}

#[tokio::test]
async fn disconnect_ends_live_streams_and_later_reads_fail_at_once() {
    let (_dir, server, file) = log_file("disconnect");
    file.write_message(b"one").expect("write");
    let client = connect(&server).await;
    let mut live = client.read("log", StreamOptions::new());
    assert_eq!(
        next(&mut live).await.expect("item").expect("one").bytes,
        "one"
    );
    let other = client.clone();
    client.disconnect().await;
    assert!(
        next(&mut live).await.is_none(),
        "a live stream must end at disconnect"
    );
    match next(&mut other.read("log", StreamOptions::new())).await {
        Some(Err(e)) if e.is_transport() => assert!(e.to_string().contains("disconnected"), "{e}"),
        item => panic!("expected a transport error, got {item:?}"),
    }
}

#[tokio::test]
async fn a_lost_connection_fails_live_streams_and_later_reads() {
    let (_dir, server, file) = log_file("lost");
    file.write_message(b"one").expect("write");
    let (client_end, server_end) = camlnet_flow::pair(64 * 1024);
    let serving = server.clone();
    let connection = tokio::spawn(async move { serving.serve_flow(server_end, "doomed").await });
    let client = Client::over(client_end).await.expect("handshake");
    let mut live = client.read("log", StreamOptions::new());
    assert_eq!(
        next(&mut live).await.expect("item").expect("one").bytes,
        "one"
    );
    // The server side goes away: its end of the pair is dropped with the task.
    connection.abort();
    match next(&mut live).await {
        Some(Err(e)) if e.is_transport() => {}
        item => panic!("expected a transport error, got {item:?}"),
    }
    assert!(next(&mut live).await.is_none());
    match next(&mut client.read("log", StreamOptions::new())).await {
        Some(Err(e)) if e.is_transport() => {}
        item => panic!("a read on a dead connection must fail at once, got {item:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_give_every_message_once_from_disk_and_live_even_mixed_with_next() {
    // About 6 MB: more than the in-memory window, so the first batches come from disk.
    const ON_DISK: u64 = 60_000;
    const LIVE: u64 = 1_000;
    let (_dir, server, file) = log_file("batches");
    for i in 0..ON_DISK {
        file.write_message(padded(i).as_bytes()).expect("write");
    }
    let client = connect(&server).await;
    let mut whole = client.read("log", StreamOptions::new());
    let mut mixed = client.read("log", StreamOptions::new());
    for i in ON_DISK..ON_DISK + LIVE {
        file.write_message(padded(i).as_bytes()).expect("write");
    }
    // Close only once both requests have reached the server, or the closed name is not
    // found: the server handles a connection's requests in order, so the second stream's
    // first message says both are registered.
    let first = next(&mut mixed).await.expect("item").expect("message");
    let mixed_received = vec![(first.line, first.bytes.to_vec())];
    file.close().await.expect("close");
    let expected: Vec<(u64, Vec<u8>)> = (0..ON_DISK + LIVE)
        .map(|i| (i, padded(i).into_bytes()))
        .collect();

    let mut received = Vec::new();
    let mut batches = 0;
    while let Some(batch) = timeout(LIMIT, whole.next_batch()).await.expect("stalled") {
        let batch = batch.expect("batch");
        assert!(!batch.is_empty());
        assert_eq!(batch.first_line(), received.len() as u64);
        let seen: Vec<(u64, Vec<u8>)> = batch.iter().map(|m| (m.line, m.bytes.to_vec())).collect();
        let owned: Vec<(u64, Vec<u8>)> = batch.map(|m| (m.line, m.bytes.to_vec())).collect();
        assert_eq!(seen, owned, "in place and owned differ");
        received.extend(seen);
        batches += 1;
    }
    assert!(
        received == expected,
        "{} messages, not every one once in order",
        received.len()
    );
    assert!(
        batches * 10 < received.len(),
        "{batches} batches for {} messages: waiting messages come together",
        received.len()
    );

    let mut received = mixed_received;
    'stream: loop {
        for _ in 0..3 {
            match next(&mut mixed).await {
                Some(message) => {
                    let message = message.expect("message");
                    received.push((message.line, message.bytes.to_vec()));
                }
                None => break 'stream,
            }
        }
        match timeout(LIMIT, mixed.next_batch()).await.expect("stalled") {
            Some(batch) => received.extend(
                batch
                    .expect("batch")
                    .iter()
                    .map(|m| (m.line, m.bytes.to_vec())),
            ),
            None => break,
        }
    }
    assert!(
        received == expected,
        "{} messages mixing next and next_batch",
        received.len()
    );
}

/// Reads from a text-mode client's end until `want` bytes came.
/// A text client of `server`, over a memory flow, that sent `request`.
async fn text_client(server: &Server, request: &'static [u8]) -> camlnet_flow::MemoryFlow {
    use camlnet_flow::FlowExt;
    let (mut text_end, server_end) = camlnet_flow::pair(64 * 1024);
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_flow(server_end, "nc").await });
    text_end
        .write(bytes::Bytes::from_static(request))
        .await
        .expect("request");
    text_end
}

/// What a text client reads for a request that succeeds: `+OK`, then each message as a line.
fn text_reply<'a>(messages: impl IntoIterator<Item = &'a String>) -> String {
    let mut reply = String::from("+OK\n");
    for message in messages {
        reply.push_str(message);
        reply.push('\n');
    }
    reply
}

async fn read_text(end: &mut camlnet_flow::MemoryFlow, want: usize) -> String {
    use camlnet_flow::{FlowExt, Read};
    let mut text = Vec::new();
    while text.len() < want {
        match timeout(LIMIT, end.read()).await.expect("text stalled") {
            Ok(Read::Data(bytes)) => text.extend_from_slice(&bytes),
            other => panic!("the text stream ended: {other:?}"),
        }
    }
    String::from_utf8(text).expect("utf-8")
}

#[tokio::test]
async fn a_text_client_is_a_connection_with_one_reader_in_the_snapshot() {
    use camlnet_flow::FlowExt;
    let (_dir, server, file) = log_file("text-snapshot");
    let (mut client_end, server_end) = camlnet_flow::pair(64 * 1024);
    let serving = server.clone();
    let served = tokio::spawn(async move { serving.serve_flow(server_end, "nc").await });
    client_end
        .write(bytes::Bytes::from_static(b"TAIL log\n"))
        .await
        .expect("request");
    assert_eq!(read_text(&mut client_end, 4).await, "+OK\n");
    file.write_message(b"hello").expect("write");
    assert_eq!(read_text(&mut client_end, 6).await, "hello\n");

    let snapshot = server.debug_snapshot();
    assert_eq!(snapshot.connections.len(), 1);
    let connection = &snapshot.connections[0];
    assert_eq!((connection.peer.as_str(), connection.streams), ("nc", 1));
    let readers = &snapshot.files[0].readers;
    assert_eq!(readers.len(), 1);
    assert_eq!(readers[0].connection, connection.id);
    assert_eq!((readers[0].next_line, readers[0].lag), (1, 0));

    // A client that goes away is noticed at the next write (its end may only half-close).
    drop(client_end);
    file.write_message(b"to nobody").expect("write");
    timeout(LIMIT, served).await.expect("served").expect("task");
    let snapshot = server.debug_snapshot();
    assert!(snapshot.connections.is_empty());
    assert!(snapshot.files[0].readers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_sync_syncs_while_writes_go_on_and_never_does_not() {
    let dir = temp_dir("interval-sync");
    let server = Server::new();
    let every = Duration::from_millis(100);
    let interval = server
        .open_file(
            "interval",
            dir.path().join("interval"),
            FileOptions::new().sync(SyncPolicy::Interval(every)),
        )
        .expect("open");
    let never = server
        .open_file("never", dir.path().join("never"), FileOptions::new())
        .expect("open");
    let synced = |name: &str| {
        let snapshot = server.debug_snapshot();
        let file = snapshot
            .files
            .iter()
            .find(|f| f.name == name)
            .expect("file");
        (file.lines_synced, file.lines)
    };

    // Writes that never pause: the disk thread is never idle, and still syncs.
    let started = std::time::Instant::now();
    let mut written = 0u64;
    let synced_while_writing = loop {
        for _ in 0..100 {
            let message = format!("m{written}");
            interval.write_message(message.as_bytes()).expect("write");
            never.write_message(message.as_bytes()).expect("write");
            written += 1;
        }
        tokio::task::yield_now().await;
        let (lines_synced, lines) = synced("interval");
        if lines_synced > 0 && lines_synced < lines {
            break true;
        }
        if started.elapsed() > LIMIT {
            break false;
        }
    };
    assert!(
        synced_while_writing,
        "no sync in {:?} of writing",
        started.elapsed()
    );

    // Once the writes stop, the rest is synced about one interval later.
    interval.flushed().await.expect("flushed");
    never.flushed().await.expect("flushed");
    let stopped = std::time::Instant::now();
    while synced("interval") != (written, written) {
        assert!(
            stopped.elapsed() < LIMIT,
            "still {:?} synced",
            synced("interval")
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(synced("never"), (0, written));
}

#[tokio::test]
async fn a_longest_line_on_disk_goes_alone_and_the_lines_after_it_follow() {
    let mut text = vec![b'x'; camlnet_tcp_file::MAX_MESSAGE];
    text.push(b'\n');
    for i in 0..100_000 {
        text.extend_from_slice(format!("short {i}\n").as_bytes());
    }
    let (_dir, server) = static_file("longest-line", "long", &text);
    let client = connect(&server).await;
    let mut stream = client.read("long", StreamOptions::new());
    let first = next(&mut stream)
        .await
        .expect("item")
        .expect("the long line");
    assert_eq!(
        (first.line, first.bytes.len()),
        (0, camlnet_tcp_file::MAX_MESSAGE)
    );
    let mut count = 0;
    while let Some(item) = next(&mut stream).await {
        let message = item.expect("a short line");
        assert_eq!(message.bytes, format!("short {count}").as_bytes());
        count += 1;
    }
    assert_eq!(count, 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_messages_come_whole_from_memory_and_disk_to_binary_and_text_clients() {
    let dir = temp_dir("long-messages");
    let server = Server::new();
    let file = server
        .open_file(
            "log",
            dir.path().join("log"),
            FileOptions::new().line_ending(LineEnding::CrLf),
        )
        .expect("open");
    // Short and long messages mixed (over 64 KiB is long, up to the limit), then 6 MiB of
    // short ones, so that the first lines are read back from disk by a later reader.
    let long = |i: u64, len: usize| format!("{i}:{}", "L".repeat(len));
    let mut want = vec![
        (0, "first".to_string()),
        (1, long(1, 64 * 1024)),
        (2, long(2, 100_000)),
        (3, "between".to_string()),
        (4, long(4, camlnet_tcp_file::MAX_MESSAGE - 2)),
    ];
    for (_, message) in &want {
        file.write_message(message.as_bytes()).expect("write");
    }
    let client = connect(&server).await;
    let mut early = client.read("log", StreamOptions::new());
    for (line, message) in &want {
        let got = next(&mut early).await.expect("item").expect("message");
        assert_eq!(got.line, *line);
        assert!(got.bytes == message.as_bytes(), "line {line} from memory");
    }
    for i in 5..60_005 {
        let message = padded(i);
        file.write_message(message.as_bytes()).expect("write");
        want.push((i, message));
    }
    file.close_with(false).await.expect("close");

    let mut late = client.read("log", StreamOptions::new());
    for (line, message) in &want {
        let got = next(&mut late).await.expect("item").expect("message");
        assert_eq!(got.line, *line);
        assert!(got.bytes == message.as_bytes(), "line {line} from disk");
    }
    assert!(next(&mut late).await.is_none());

    let mut text_end = text_client(&server, b"READ log\n").await;
    let expected = text_reply(want[..5].iter().map(|(_, message)| message));
    // The first lines, as many bytes as they take (more may have come with them).
    let got = read_text(&mut text_end, expected.len()).await;
    assert!(got.as_bytes()[..expected.len()] == *expected.as_bytes());
}

#[tokio::test]
async fn lines_in_memory_come_whole_to_binary_and_text_clients_with_either_ending() {
    for ending in [LineEnding::Lf, LineEnding::CrLf] {
        let dir = temp_dir("window-runs");
        let server = Server::new();
        let file = server
            .open_file(
                "log",
                dir.path().join("log"),
                FileOptions::new().line_ending(ending),
            )
            .expect("open");
        // Lines reach the disk in runs of many sizes, which readers get from memory: a
        // large run (sent shared), short ones (copied together), and a long message
        // handed over as it is.
        let mut want = Vec::new();
        for i in 0..1_000 {
            want.push(padded(i));
        }
        for i in 1_000..1_003 {
            want.push(format!("short {i}"));
        }
        want.push(format!("long {}", "L".repeat(100_000)));
        want.push("last".to_string());
        for (i, message) in want.iter().enumerate() {
            if i == 1_003 {
                file.schedule_message(bytes::Bytes::from(message.clone()))
                    .expect("schedule");
            } else {
                file.write_message(message.as_bytes()).expect("write");
            }
            if i >= 999 {
                file.flushed().await.expect("flushed");
            }
        }

        let client = connect(&server).await;
        let mut stream = client.read("log", StreamOptions::new());
        for (line, message) in want.iter().enumerate() {
            let got = next(&mut stream).await.expect("item").expect("message");
            assert_eq!(got.line, line as u64, "{ending:?}");
            assert!(got.bytes == message.as_bytes(), "{ending:?}: line {line}");
        }

        let mut text_end = text_client(&server, b"READ log\n").await;
        let expected = text_reply(&want);
        let got = read_text(&mut text_end, expected.len()).await;
        assert!(
            got == expected,
            "{ending:?}: the text client's lines differ"
        );
        file.close().await.expect("close");
    }
}
