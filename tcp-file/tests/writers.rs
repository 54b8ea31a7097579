//! One writer per file: the lock that keeps a path from a second writer (in this process,
//! whatever the state of its name, or in another), and `unlink`.
#![cfg(all(feature = "server", feature = "client"))]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use camlnet_tcp_file::{Client, FileOptions, Message, MessageStream, Server, StreamOptions};
use tokio::time::timeout;

mod support;

const LIMIT: Duration = Duration::from_secs(30);

async fn connect(server: &Server) -> Client {
    let (client_end, server_end) = camlnet_flow::pair(64 * 1024);
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_flow(server_end, "test").await });
    Client::over(client_end).await.expect("handshake")
}

async fn next_message(stream: &mut MessageStream) -> Message {
    timeout(LIMIT, stream.next())
        .await
        .expect("stalled")
        .expect("item")
        .expect("message")
}

#[tokio::test]
async fn a_path_is_open_for_writing_once_even_after_stop_serving() {
    let dir = support::fresh_dir("one-writer");
    let path = dir.path().join("log");
    let server = Server::new();
    let first = server
        .open_file("first", &path, FileOptions::new())
        .expect("open");
    first.write_message(b"one").expect("write");
    first.stop_serving();
    match server.open_file("second", &path, FileOptions::new().append(true)) {
        Err(e) if e.is_locked() => {
            let canonical = std::fs::canonicalize(&path).expect("canonical");
            assert_eq!(e.path(), Some(canonical.as_path()));
        }
        other => panic!("a second writer of the path must be refused, got {other:?}"),
    }
    // A second server in the same process is refused too.
    let other_server = Server::new();
    let err = other_server
        .open_file("log", &path, FileOptions::new().append(true))
        .expect_err("a second server's writer");
    assert!(err.is_locked(), "{err}");
    assert!(
        err.to_string().contains("log"),
        "the error names the file: {err}"
    );

    first
        .write_message(b"two")
        .expect("the first writer goes on");
    first.close().await.expect("close");
    // Once closed, the path is free at once.
    let second = server
        .open_file("second", &path, FileOptions::new().append(true))
        .expect("open after close");
    assert_eq!(second.lines(), 2);
    second.close().await.expect("close");
    assert_eq!(std::fs::read(&path).expect("read"), b"one\ntwo\n");
}

/// Python holds the lock the way another writer would (`flock(LOCK_EX)`), then lets it go
/// when its standard input closes.
const HOLD_LOCK: &str = "
import fcntl, sys
f = open(sys.argv[1], 'a')
try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print('locked', flush=True)
except BlockingIOError:
    print('busy', flush=True)
sys.stdin.read()
";

fn python_lock(path: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new("python3")
        .args(["-c", HOLD_LOCK])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("python's answer");
    (child, line.trim().to_string())
}

fn release(mut child: std::process::Child) {
    drop(child.stdin.take());
    let status = child.wait().expect("python exits");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn another_process_and_the_server_keep_a_file_from_each_other() {
    let dir = support::fresh_dir("lock-process");
    let path = dir.path().join("log");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(b"theirs\n"))
        .expect("create");
    let server = Server::new();

    let (python, answer) = python_lock(&path);
    assert_eq!(answer, "locked");
    let err = server
        .open_file("log", &path, FileOptions::new().append(true))
        .expect_err("the file is another process's");
    assert!(err.is_locked(), "{err}");
    release(python);

    let file = server
        .open_file("log", &path, FileOptions::new().append(true))
        .expect("free once the other process let go");
    let (python, answer) = python_lock(&path);
    assert_eq!(
        answer, "busy",
        "another process must not take the server's file"
    );
    release(python);
    file.close().await.expect("close");
}

#[tokio::test]
async fn unlink_ends_streams_after_what_they_got_and_deletes_the_file() {
    let dir = support::fresh_dir("unlink");
    let path = dir.path().join("log");
    let server = Server::new();
    let file = server
        .open_file("log", &path, FileOptions::new())
        .expect("open");
    file.write_message(b"one").expect("write");
    let client = connect(&server).await;
    let mut stream = client.read("log", StreamOptions::new());
    let first = next_message(&mut stream).await;
    assert_eq!(first.bytes, "one");

    file.unlink().await.expect("unlink");
    assert!(!path.exists(), "the file is deleted");
    assert!(
        timeout(LIMIT, stream.next())
            .await
            .expect("stalled")
            .is_none(),
        "the stream ends"
    );
    match timeout(LIMIT, client.read("log", StreamOptions::new()).next())
        .await
        .expect("stalled")
    {
        Some(Err(e)) if e.is_file_not_found() => assert_eq!(e.file_name(), Some("log")),
        other => panic!("the name is gone, got {other:?}"),
    }
    let again = server
        .open_file("log", &path, FileOptions::new())
        .expect("the path is free and empty");
    again.close().await.expect("close");
}

#[tokio::test]
async fn a_file_another_program_appends_to_fails_and_nothing_is_renumbered() {
    let dir = support::fresh_dir("outside-writer");
    let path = dir.path().join("app.log");
    let server = Server::new();
    let file = server
        .open_file("log", &path, FileOptions::new())
        .expect("open");
    file.write_message(b"one").expect("write");
    file.flushed().await.expect("flushed");
    let client = connect(&server).await;
    let mut stream = client.read("log", StreamOptions::new());
    let first = next_message(&mut stream).await;
    assert_eq!((first.line, &first.bytes[..]), (0, &b"one"[..]));

    // The lock is advisory: a shell's `>>` does not ask for it.
    let status = Command::new("sh")
        .arg("-c")
        .arg("echo intruder >> \"$0\"")
        .arg(&path)
        .status()
        .expect("sh");
    assert!(status.success());
    file.write_message(b"two").expect("accepted in memory");
    let err = file
        .flushed()
        .await
        .expect_err("the disk thread must notice");
    assert!(err.is_disk(), "{err}");
    let cause = std::error::Error::source(&err).map(ToString::to_string);
    assert!(
        cause
            .as_deref()
            .is_some_and(|c| c.contains("another program")),
        "{err}: {cause:?}"
    );
    assert!(
        file.write_message(b"three").is_err(),
        "later writes fail too"
    );
    // The reader is told, and never sees a line numbered over the intruder's.
    loop {
        match timeout(LIMIT, stream.next()).await.expect("stalled") {
            Some(Ok(message)) => assert_eq!(
                (message.line, &message.bytes[..]),
                (1, &b"two"[..]),
                "only our own next line may come before the error"
            ),
            Some(Err(e)) => {
                assert!(e.to_string().contains("another program"), "{e}");
                break;
            }
            None => panic!("the stream ended without saying why"),
        }
    }
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "one\nintruder\n",
        "nothing of ours is written after the intruder"
    );
    let _ = file.close().await;
}

#[tokio::test]
async fn a_durable_file_serves_only_synced_lines() {
    let dir = support::fresh_dir("durable");
    let server = Server::new();
    // Synced only at close: until then its lines are on disk, not synced.
    let file = server
        .open_file(
            "log",
            dir.path().join("log"),
            FileOptions::new()
                .durable(true)
                .sync(camlnet_tcp_file::SyncPolicy::Interval(Duration::from_secs(
                    3600,
                ))),
        )
        .expect("open");
    let client = connect(&server).await;
    let mut stream = client.read("log", StreamOptions::new());
    for i in 0..3 {
        file.write_message(format!("line {i}").as_bytes())
            .expect("write");
    }
    file.flushed().await.expect("flushed");
    let snapshot = server.debug_snapshot();
    assert_eq!(
        (
            snapshot.files[0].lines_on_disk,
            snapshot.files[0].lines_synced
        ),
        (3, 0)
    );
    // Nothing may come while nothing is synced (a short look: nothing is the answer).
    assert!(
        timeout(Duration::from_millis(300), stream.next())
            .await
            .is_err(),
        "a line was served before it was synced"
    );
    file.close().await.expect("close syncs");
    let mut got = Vec::new();
    while let Some(item) = timeout(LIMIT, stream.next()).await.expect("stalled") {
        got.push(item.expect("message").line);
    }
    assert_eq!(got, [0, 1, 2]);
}
