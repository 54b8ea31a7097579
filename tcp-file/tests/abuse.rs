//! What hostile peers can make a server hold, measured: a `tcp-file` server in a child
//! process (with a lowered file-descriptor limit) is attacked from raw sockets, and its
//! resident memory and open file descriptors are read from `/proc` before and after. Each
//! time a fresh client is then served at once.
#![cfg(all(feature = "server", feature = "client"))]

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camlnet_tcp_file::{FileOptions, Limits, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

mod support;

const ROLE: &str = "TCP_FILE_ABUSE_CHILD";
const IDLE_MS: &str = "TCP_FILE_ABUSE_IDLE_MS";
const LIMIT: Duration = Duration::from_secs(60);
const MIB: u64 = 1024 * 1024;

/// The server under attack, killed (by its PID, through its handle) when dropped.
struct ServerChild {
    child: Child,
    port: u16,
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerChild {
    /// Starts the server child on `dir`'s files, with at most `fds` file descriptors.
    fn start(dir: &Path, fds: u32, idle: Duration) -> ServerChild {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {fds}; exec \"$0\" \"$@\""))
            .arg(&exe)
            .args([
                "--exact",
                "abuse_server_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, dir)
            .env(IDLE_MS, idle.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the child");
        let port = support::child_port(child.stdout.take().expect("stdout"));
        ServerChild { child, port }
    }

    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/PID/status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS");
        kib * 1024
    }

    fn fds(&self) -> u64 {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .expect("/proc/PID/fd")
            .count() as u64
    }

    /// A fresh text client reads the one-line file `hello`: how long it took.
    async fn fresh_client(&self) -> Duration {
        let started = Instant::now();
        let mut socket = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        socket.write_all(b"READ hello\n").await.expect("request");
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        timeout(LIMIT, async {
            while !String::from_utf8_lossy(&seen).contains("+OK\nhello\n") {
                let n = socket.read(&mut buf).await.expect("read");
                assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&seen));
                seen.extend_from_slice(&buf[..n]);
            }
        })
        .await
        .expect("the fresh client was never served");
        started.elapsed()
    }

    /// After an attack: a fresh client is served, and the server's RSS and fds now, with
    /// their growth since `before` printed.
    async fn after(&self, attack: &str, before: (u64, u64)) -> (u64, u64) {
        self.serves_a_fresh_client(attack).await;
        let (rss, fds) = (self.rss(), self.fds());
        println!(
            "{attack}: +{:.1} MiB, +{} fds",
            mib(rss.saturating_sub(before.0)),
            fds.saturating_sub(before.1)
        );
        (rss, fds)
    }

    /// The fresh client is served within 2 s, a generous bound for one small request.
    async fn serves_a_fresh_client(&self, after: &str) {
        let took = self.fresh_client().await;
        assert!(
            took < Duration::from_secs(2),
            "after {after}, a fresh client waited {took:?}"
        );
    }
}

/// Reads `frames` whole frames (after the welcome) from a connection: the server has
/// then handled that many requests.
async fn read_frames(socket: &mut TcpStream, frames: usize) {
    let mut data = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    timeout(LIMIT, async {
        loop {
            let mut seen = 0;
            let mut at = 0;
            while data.len() >= at + 4 {
                let len = u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes"));
                if data.len() < at + 4 + len as usize {
                    break;
                }
                at += 4 + len as usize;
                seen += 1;
            }
            // The welcome is one frame more.
            if seen > frames {
                return;
            }
            let n = socket.read(&mut buf).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            data.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the server did not answer every request");
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_catch_up_streams_stay_within_the_budget() {
    let dir = support::fresh_dir("abuse");
    // 60 MB of lines to catch up from.
    let line = format!("{}\n", "y".repeat(99));
    std::fs::write(dir.path().join("big"), line.repeat(600_000)).expect("write big");
    let server = ServerChild::start(dir.path(), 2_000, Duration::from_secs(60));
    server.serves_a_fresh_client("start").await;
    let (rss0, fds0) = (server.rss(), server.fds());

    // 3 connections, each 1,024 opens of 65,000-byte names that do not exist, not read.
    let mut attack = support::hello(camlnet_tcp_file::VERSION);
    for stream in 1..=1024 {
        attack.extend(support::open_frame(stream, 0, 1, &[b'n'; 65_000]));
    }
    let mut names = Vec::new();
    for _ in 0..3 {
        let mut socket = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .expect("connect");
        // Written once the server has read nearly all of it: requests are read whatever
        // the answers do.
        timeout(LIMIT, socket.write_all(&attack))
            .await
            .expect("the server stopped reading requests")
            .expect("write");
        names.push(socket);
    }
    let (rss1, fds1) = server.after("long names", (rss0, fds0)).await;
    assert!(
        rss1.saturating_sub(rss0) < 32 * MIB,
        "3 connections of long names grew the server by {:.1} MiB",
        mib(rss1 - rss0)
    );

    // 4 connections, each 1,024 streams catching up from lines 1..=1,024 of the big file,
    // with credit 1, never giving more.
    let mut catch_up = support::hello(camlnet_tcp_file::VERSION);
    for stream in 1..=1024u32 {
        catch_up.extend(support::open_frame(stream, u64::from(stream), 1, b"big"));
    }
    let mut streams = Vec::new();
    for _ in 0..4 {
        let mut socket = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .expect("connect");
        socket.write_all(&catch_up).await.expect("write");
        // One batch of one line per stream: every stream has read from disk.
        read_frames(&mut socket, 1024).await;
        streams.push(socket);
    }
    let (rss2, fds2) = server.after("catch-up streams", (rss1, fds1)).await;
    assert!(
        rss2.saturating_sub(rss1) < 64 * MIB,
        "4 x 1,024 catch-up streams grew the server by {:.1} MiB",
        mib(rss2 - rss1)
    );
    assert!(
        fds2 - fds1 < 256,
        "4 x 1,024 catch-up streams took {} file descriptors",
        fds2 - fds1
    );
    drop((names, streams));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_readers_of_a_16_mib_message_share_it() {
    let dir = support::fresh_dir("abuse-huge");
    // A static file whose first line is the longest message there can be (read back from
    // disk), and, in the child, a published file holding one (in memory).
    let mut huge = vec![b'h'; camlnet_tcp_file::MAX_MESSAGE];
    huge.extend_from_slice(b"\nafter\n");
    std::fs::write(dir.path().join("huge"), &huge).expect("write huge");
    drop(huge);
    let server = ServerChild::start(dir.path(), 2_000, Duration::from_secs(60));
    server.serves_a_fresh_client("start").await;
    let before = (server.rss(), server.fds());

    // 20 readers, 10 of each file, that read the first bytes of the message, then stop.
    let mut readers = Vec::new();
    for i in 0..20 {
        let name: &[u8] = if i % 2 == 0 { b"huge" } else { b"live" };
        let mut socket = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .expect("connect");
        let mut request = support::hello(camlnet_tcp_file::VERSION);
        request.extend(support::open_frame(1, 0, 10, name));
        socket.write_all(&request).await.expect("write");
        let mut seen = 0;
        let mut buf = [0u8; 4096];
        timeout(LIMIT, async {
            // The welcome, then the start of the message's frame: the server has it.
            while seen < 1024 {
                let n = socket.read(&mut buf).await.expect("read");
                assert!(n > 0, "the server closed the connection");
                seen += n;
            }
        })
        .await
        .expect("the message never started");
        readers.push(socket);
    }
    let after = server
        .after("20 stalled readers of a 16 MiB message", before)
        .await;
    assert!(
        after.0.saturating_sub(before.0) < 96 * MIB,
        "20 stalled readers of a 16 MiB message grew the server by {:.1} MiB",
        mib(after.0 - before.0)
    );
    drop(readers);
}

#[tokio::test]
async fn idle_handshakes_that_fill_the_fd_table_give_way_after_the_idle_timeout() {
    let dir = support::fresh_dir("abuse-idle");
    let idle = Duration::from_secs(1);
    let server = ServerChild::start(dir.path(), 256, idle);
    server.serves_a_fresh_client("start").await;
    // More than the server can hold at once (90% of 256 descriptors): the rest wait in
    // the backlog, their hello sent.
    let mut idlers = Vec::new();
    for _ in 0..300 {
        let mut socket = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .expect("connect");
        socket
            .write_all(&support::hello(camlnet_tcp_file::VERSION))
            .await
            .expect("hello");
        idlers.push(socket);
    }
    let took = server.fresh_client().await;
    println!("with 300 idle handshakes, a fresh client was served after {took:?}");
    assert!(
        took < LIMIT,
        "the fresh client must be served once idle connections are closed"
    );
    // And the idle ones were closed by the server: each sees the end after the welcome.
    for socket in &mut idlers[..10] {
        let mut buf = [0u8; 64];
        timeout(LIMIT, async {
            while let Ok(n) = socket.read(&mut buf).await {
                if n == 0 {
                    return;
                }
            }
        })
        .await
        .expect("an idle connection was never closed");
    }
}

/// The child: serves `hello` and, if present, `big` and `huge` (then also `live`, a
/// published file holding one 16 MiB message) from the directory in [`ROLE`], with
/// the idle timeout in [`IDLE_MS`], until its standard input closes.
#[test]
fn abuse_server_child() {
    let Some(dir) = std::env::var_os(ROLE) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let idle: u64 = std::env::var(IDLE_MS)
        .expect("idle")
        .parse()
        .expect("a number");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = Server::with_limits(Limits::new().idle_timeout(Duration::from_millis(idle)));
        std::fs::write(dir.join("hello"), "hello\n").expect("write hello");
        server
            .serve_existing_static_file("hello", dir.join("hello"))
            .expect("serve hello");
        if dir.join("big").exists() {
            server
                .serve_existing_static_file("big", dir.join("big"))
                .expect("serve big");
        }
        let mut live = None;
        if dir.join("huge").exists() {
            server
                .serve_existing_static_file("huge", dir.join("huge"))
                .expect("serve huge");
            let file = server
                .open_file("live", dir.join("live"), FileOptions::new())
                .expect("open live");
            file.write_message(&vec![b'l'; camlnet_tcp_file::MAX_MESSAGE])
                .expect("write live");
            file.flushed().await.expect("flushed");
            live = Some(file);
        }
        let listening = support::listen_on_localhost(&server).await;
        println!("PORT {}", listening.listening_on());
        // Until the parent closes standard input (or dies), and at most 5 minutes.
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        });
        let _ = tokio::time::timeout(Duration::from_secs(300), stdin_closed).await;
        drop(live);
    });
}
