//! The file server's memory stays bounded whatever clients do: 20 clients, 5 of them
//! stalled (connected, their sockets never read), while 128 MiB is written in 1 KiB
//! messages. The server runs alone in a child process whose peak resident memory is read
//! from `/proc`; the 15 readers receive everything, and so do the stalled ones once they
//! start reading.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use camlnet_flow::{Flow, Read, Shutdown, TcpFlow};
use camlnet_tcp_file::{Client, StreamOptions};
use tokio::net::TcpStream;
use tokio::time::timeout;

const ROLE: &str = "TCP_FILE_MEMORY_SERVER";
const MESSAGES: u64 = 128 * 1024;
const MESSAGE_SIZE: usize = 1024;
const LIMIT: Duration = Duration::from_secs(180);

/// A flow whose reads wait while the gate is shut: its socket is not read at all.
struct Gated {
    inner: TcpFlow,
    gate: Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    shut: AtomicBool,
    waiting: Mutex<Option<Waker>>,
}

impl Gate {
    fn open(&self) {
        self.shut.store(false, Ordering::SeqCst);
        if let Some(waker) = self.waiting.lock().expect("gate lock").take() {
            waker.wake();
        }
    }
}

impl Flow for Gated {
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, camlnet_flow::Error>> {
        if self.gate.shut.load(Ordering::SeqCst) {
            *self.gate.waiting.lock().expect("gate lock") = Some(cx.waker().clone());
            if self.gate.shut.load(Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
        self.inner.poll_read(cx)
    }
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, camlnet_flow::Error>> {
        self.inner.poll_write(cx, buf)
    }
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), camlnet_flow::Error>> {
        self.inner.poll_flush(cx)
    }
    fn poll_shutdown(
        &mut self,
        cx: &mut Context<'_>,
        how: Shutdown,
    ) -> Poll<Result<(), camlnet_flow::Error>> {
        self.inner.poll_shutdown(cx, how)
    }
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), camlnet_flow::Error>> {
        self.inner.poll_close(cx)
    }
}

/// Kills the child if the test fails before it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kib * 1024
}

/// Reads the whole file, checking every line number, and returns how many came.
async fn read_all(client: Client) -> u64 {
    let mut stream = client.read("log", StreamOptions::new().client_pushes_back(false));
    let mut count = 0u64;
    while let Some(item) = timeout(LIMIT, stream.next()).await.expect("reader stalled") {
        let message = item.expect("message");
        assert_eq!(message.line, count, "a gap or a duplicate");
        assert_eq!(message.bytes.len(), MESSAGE_SIZE);
        count += 1;
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_do_not_grow_the_server() {
    let exe = std::env::current_exe().expect("current_exe");
    let child = Command::new(exe)
        .args([
            "--exact",
            "memory_server_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let mut child = ChildGuard(child);
    let pid = child.0.id();
    let mut stdin = child.0.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.0.stdout.take().expect("stdout")).lines();
    let port: u16 = loop {
        let line = lines.next().expect("the child ended early").expect("read");
        // libtest may print "test NAME ... " on the same line first.
        if let Some((_, port)) = line.rsplit_once("listening on port ") {
            break port.trim().parse().expect("port");
        }
    };

    let mut readers = Vec::new();
    for _ in 0..15 {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let client = Client::over(TcpFlow::from(stream))
            .await
            .expect("handshake");
        readers.push(tokio::spawn(read_all(client)));
    }
    let mut stalled = Vec::new();
    for _ in 0..5 {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let gate = Arc::new(Gate::default());
        let client = Client::over(Gated {
            inner: TcpFlow::from(stream),
            gate: gate.clone(),
        })
        .await
        .expect("handshake");
        gate.shut.store(true, Ordering::SeqCst);
        stalled.push((gate, tokio::spawn(read_all(client))));
    }

    writeln!(stdin, "go").expect("tell the child to write");
    stdin.flush().expect("flush");
    for reader in readers {
        assert_eq!(
            timeout(LIMIT, reader).await.expect("reader").expect("task"),
            MESSAGES
        );
    }
    let peak = peak_rss_bytes(pid);
    assert!(
        peak < 64 << 20,
        "the server's resident memory peaked at {} MiB",
        peak >> 20
    );
    for (gate, reader) in stalled {
        gate.open();
        assert_eq!(
            timeout(LIMIT, reader)
                .await
                .expect("stalled reader")
                .expect("task"),
            MESSAGES
        );
    }
    // Catching up from disk, five at once, stays bounded too.
    let peak_after_catch_up = peak_rss_bytes(pid);
    assert!(
        peak_after_catch_up < 64 << 20,
        "the server's resident memory peaked at {} MiB while stalled clients caught up",
        peak_after_catch_up >> 20
    );
    drop(stdin);
    let status = child.0.wait().expect("wait");
    assert!(status.success(), "server child: {status}");
    println!(
        "server peak resident memory: {:.1} MiB",
        peak as f64 / (1 << 20) as f64
    );
}

/// The child: a server and one writer, nothing else.
#[test]
fn memory_server_child() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (dir, server, file, listening) = tests::serve_one_file("memory", "log").await;
        println!("listening on port {}", listening.listening_on());
        let mut input = String::new();
        tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut input).map(|_| input))
            .await
            .expect("stdin task")
            .expect("read go");
        // Start once all 20 streams are open, so the stalled ones are stalled throughout.
        let deadline = std::time::Instant::now() + LIMIT;
        while server
            .debug_snapshot()
            .connections
            .iter()
            .map(|c| c.streams)
            .sum::<usize>()
            < 20
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the clients' streams never opened"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let message = vec![b'm'; MESSAGE_SIZE];
        for i in 0..MESSAGES {
            file.write_message(&message).expect("write");
            if i % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        file.close_with(false).await.expect("close");
        println!("written");
        // Serve until the parent closes our standard input.
        let mut rest = String::new();
        let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut rest)).await;
        drop(dir);
    });
}
