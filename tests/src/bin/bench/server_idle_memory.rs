//! `server-idle-memory`: resident memory per idle connection, with 9,000 connections
//! held. The server runs in a child process (this binary again, `--serve-idle MODE`),
//! whose `VmRSS` is read from `/proc` before and after the clients connect: `create_sock`
//! handlers waiting for data, `create` handlers holding their `Reader` and `Writer`, and a
//! bare tokio loop whose tasks wait on `readable()`. Lower is better; median of 3.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use camlnet_tcp_server::{Server, ServerOptions, WhereToListen};
use tests::process::{KillOnDrop, raise_fd_limit, resources};
use tokio::io::AsyncReadExt;

use crate::harness::{BenchError, Measurement, bare_listener, median};

/// Below half the usual hard limit of 20,000 descriptors: on the server's side a
/// connection holds two (its socket, and the copy that `close(true)` shuts down).
const CONNECTIONS: usize = 9_000;
const ROUNDS: usize = 3;
/// The hidden argument that makes this binary the server child.
const CHILD_FLAG: &str = "--serve-idle";

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    raise_fd_limit();
    let modes = ["sock", "create", "bare"];
    let mut figures: [Vec<f64>; 3] = Default::default();
    for round in 0..ROUNDS {
        for i in 0..modes.len() {
            // Rotate the order so that drift hits every mode alike.
            let i = (i + round) % modes.len();
            figures[i].push(bytes_per_connection(modes[i])?);
        }
    }
    let [sock, create, bare] = figures.map(|mut f| median(&mut f));
    Ok(vec![
        Measurement::new(
            "server-idle-memory",
            "create_sock bytes/conn",
            "B",
            sock,
            bare,
            false,
        ),
        Measurement::new(
            "server-idle-memory",
            "create bytes/conn",
            "B",
            create,
            bare,
            false,
        ),
    ])
}

fn bytes_per_connection(mode: &str) -> Result<f64, BenchError> {
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe()?)
            .args([CHILD_FLAG, mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?,
    );
    let pid = child.0.id();
    let mut to_child = child.0.stdin.take().ok_or("child stdin")?;
    let mut from_child = BufReader::new(child.0.stdout.take().ok_or("child stdout")?);
    let mut line = String::new();
    from_child.read_line(&mut line)?;
    let address: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or("child's first line")?
        .parse()?;

    let before = resources(pid)?.rss_kib;
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        clients.push(TcpStream::connect(address)?);
    }
    writeln!(to_child, "wait {CONNECTIONS}")?;
    to_child.flush()?;
    line.clear();
    from_child.read_line(&mut line)?;
    if line.trim() != "ok" {
        return Err(format!("child ({mode}) answered {line:?}").into());
    }
    let after = resources(pid)?.rss_kib;
    // The child goes first, so that TIME_WAIT is on its side, not on our ports.
    drop(to_child);
    drop(child);
    drop(clients);
    Ok(after.saturating_sub(before) as f64 * 1024.0 / CONNECTIONS as f64)
}

/// The child role: `bench --serve-idle sock|create|bare`. Returns `None` when this process
/// is not the child.
pub(crate) fn child_role() -> Option<ExitCode> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some(CHILD_FLAG) {
        return None;
    }
    let mode = args.next().unwrap_or_default();
    match serve_idle(&mode) {
        Ok(()) => Some(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("bench {CHILD_FLAG} {mode}: {e}");
            Some(ExitCode::FAILURE)
        }
    }
}

/// Waits until data arrives: `readable()` may wake spuriously (it does for a socket just
/// accepted), so check with a read, as tokio's documentation says.
async fn wait_for_data(stream: &tokio::net::TcpStream) -> std::io::Result<()> {
    let mut byte = [0u8; 1];
    loop {
        stream.readable().await?;
        match stream.try_read(&mut byte) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

fn serve_idle(mode: &str) -> Result<(), BenchError> {
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let connected = Arc::new(AtomicUsize::new(0));
    let where_to_listen = WhereToListen::of_address("127.0.0.1:0".parse()?);
    let options = ServerOptions::default().max_connections(10 * CONNECTIONS);
    let counter = connected.clone();
    let (address, _server) = runtime.block_on(async move {
        let server = match mode {
            "sock" => Some({
                let counter = counter.clone();
                Server::create_sock(
                    where_to_listen,
                    options,
                    move |_, stream: tokio::net::TcpStream| {
                        let counter = counter.clone();
                        async move {
                            counter.fetch_add(1, Ordering::Relaxed);
                            wait_for_data(&stream).await
                        }
                    },
                )
                .await?
            }),
            "create" => Some({
                let counter = counter.clone();
                Server::create(where_to_listen, options, move |_, mut reader, _writer| {
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::Relaxed);
                        let mut byte = [0u8; 1];
                        reader.read(&mut byte).await.map(drop)
                    }
                })
                .await?
            }),
            "bare" => None,
            other => return Err(format!("unknown mode {other}").into()),
        };
        if let Some(server) = server {
            return Ok::<_, BenchError>((*server.listening_on_address(), Some(server)));
        }
        let (listener, address) = bare_listener()?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let _ = wait_for_data(&stream).await;
                });
            }
        });
        Ok((address, None))
    })?;
    // The runtime runs on its own thread; this one talks with the parent.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_thread = std::thread::spawn(move || {
        runtime.block_on(async move {
            let _ = stopped.await;
        })
    });
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {address}")?;
    stdout.flush()?;
    for line in std::io::stdin().lines() {
        let line = line?;
        let Some(n) = line.strip_prefix("wait ") else {
            continue;
        };
        let n: usize = n.trim().parse()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while connected.load(Ordering::Relaxed) < n {
            if Instant::now() > deadline {
                return Err(
                    format!("only {} connections", connected.load(Ordering::Relaxed)).into(),
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Let the last tasks reach their first await.
        std::thread::sleep(Duration::from_millis(100));
        writeln!(stdout, "ok")?;
        stdout.flush()?;
    }
    let _ = stop.send(());
    let _ = server_thread.join();
    Ok(())
}
