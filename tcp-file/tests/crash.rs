//! A crash never makes the server lie: a server in a child process writes as fast as it
//! can while a client reads over TCP, and is killed with SIGKILL mid-write. After a
//! restart with `append`, every line the client received is the file's line of that
//! number, and no torn line was ever served. Several rounds, each on the file the last
//! one left.
#![cfg(all(feature = "server", feature = "client"))]

use std::process::{Command, Stdio};
use std::time::Duration;

use camlnet_tcp_connect::WhereToConnect;
use camlnet_tcp_file::{Client, FileOptions, Server, StreamOptions};
use tokio::time::timeout;

mod support;

const ROLE: &str = "TCP_FILE_CRASH_CHILD";
const ROUNDS: usize = 8;
const LIMIT: Duration = Duration::from_secs(30);

/// Message `i`, of a length that varies, so that a kill often tears a line.
fn message(round: usize, i: u64) -> String {
    let pad = (i * 7919 % 300) as usize;
    format!("round {round} message {i} {}", "x".repeat(pad))
}

#[test]
fn a_reader_is_never_told_a_line_that_a_crash_takes_back() {
    let dir = support::fresh_dir("crash");
    let path = dir.path().join("log");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut torn_rounds = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().expect("current_exe"))
            .args(["--exact", "crash_child_writes_until_killed", "--nocapture"])
            .args(["--test-threads=1"])
            .env(ROLE, &path)
            .env("TCP_FILE_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the child");
        let port = support::child_port(child.stdout.take().expect("stdout"));
        // Kill at a different moment each round.
        let kill_after = 2_000 + 3_000 * round as u64;
        let received = runtime.block_on(async {
            let target = WhereToConnect::inet_address(([127, 0, 0, 1], port).into());
            let client = timeout(LIMIT, Client::connect(&target))
                .await
                .expect("connect timed out")
                .expect("connect");
            let mut stream = client.read("log", StreamOptions::new());
            let mut received = Vec::new();
            // Until the connection dies with the child: an error item, or the end.
            while let Some(Ok(m)) = timeout(LIMIT, stream.next()).await.expect("stalled") {
                received.push((m.line, m.bytes.to_vec()));
                if received.len() as u64 == kill_after {
                    child.kill().expect("SIGKILL the child");
                }
            }
            received
        });
        let _ = child.wait();
        assert!(
            received.len() as u64 >= kill_after,
            "round {round}: the server died early, after {} lines",
            received.len()
        );

        let content = std::fs::read(&path).expect("read the file");
        if content.last().is_some_and(|&b| b != b'\n') {
            torn_rounds += 1;
        }
        // The restart: a torn last line is cut, and the lines a reader was told are there.
        let server = Server::new();
        let file = server
            .open_file("log", &path, FileOptions::new().append(true))
            .expect("reopen with append");
        let content = std::fs::read(&path).expect("read the file");
        let on_disk: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
        assert_eq!(
            file.lines() + 1,
            on_disk.len() as u64,
            "ends with a newline"
        );
        for (line, bytes) in &received {
            assert_eq!(
                on_disk[*line as usize],
                &bytes[..],
                "round {round}: line {line} differs from what a reader was told"
            );
        }
        runtime.block_on(file.close()).expect("close");
    }
    println!("{ROUNDS} rounds, {torn_rounds} of them tore a line");
}

/// The child: serves the file on a port it prints, and writes until it is killed.
#[test]
fn crash_child_writes_until_killed() {
    let Some(path) = std::env::var_os(ROLE) else {
        return;
    };
    let round: usize = std::env::var("TCP_FILE_CRASH_ROUND")
        .expect("round")
        .parse()
        .expect("a number");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = Server::new();
        let file = server
            // Syncing after every batch makes the disk slow: lines wait for it longer.
            .open_file(
                "log",
                &path,
                FileOptions::new()
                    .append(true)
                    .sync(camlnet_tcp_file::SyncPolicy::Always),
            )
            .expect("open");
        let listening = support::listen_on_localhost(&server).await;
        println!("PORT {}", listening.listening_on());
        // About 100,000 lines a second, so that the reader is near the head when the
        // kill comes; bounded too, at 10 s and about 150 MB.
        let writer = std::thread::spawn(move || {
            for i in 0..1_000_000 {
                file.write_message(message(round, i).as_bytes())
                    .expect("write");
                if i % 100 == 99 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        });
        // Bounded: the parent kills this process long before.
        let _ = tokio::time::timeout(LIMIT, std::future::pending::<()>()).await;
        drop(writer);
    });
}
