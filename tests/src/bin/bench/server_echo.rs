//! `server-echo`: 1,000 connections each sending a 512-byte message and waiting for its
//! echo, over and over: messages echoed per second by `tcp-server` (`create_sock` with the
//! same handler code as the baseline, and `create` with its `Reader` and `Writer`) beside
//! a bare tokio accept loop.
//!
//! The three servers run side by side, each on a runtime of one worker thread, with 1,000
//! connections each, opened once. Their clients take turns: one server's clients run for
//! a [`SLICE`] while the others' wait, the bare server between each two of ours
//! (`B S B C B S B C ... B`). Each of our slices is compared with the mean of the bare
//! slices just before and after it, a fraction of a second apart, so that a machine whose
//! load drifts (other builds, say) hits ours and the baseline alike. The figures are the
//! medians of [`ROUNDS`] rounds, with the interquartile range of the ratios: messages per
//! second, and messages per second of the server thread's CPU time, which other
//! processes taking the CPU away change far less.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use camlnet_tcp_server::{Inet, Server, ServerOptions, WhereToListen};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::harness::{BenchError, Measurement, bare_listener, from_rounds, per_second};

const CONNECTIONS: usize = 1000;
const MESSAGE: usize = 512;
/// How long one server's clients run at a time.
const SLICE: Duration = Duration::from_millis(100);
/// Rounds counted, after one round of warm-up: each measures each of ours once.
const ROUNDS: usize = 100;

#[derive(Clone, Copy)]
enum Kind {
    Sock,
    Create,
    Bare,
}

/// The servers, by their index in [`KINDS`].
const KINDS: [Kind; 3] = [Kind::Sock, Kind::Create, Kind::Bare];
const SOCK: usize = 0;
const CREATE: usize = 1;
const BARE: usize = 2;

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    let servers = KINDS.map(Side::start);
    let mut sides = Vec::with_capacity(KINDS.len());
    for side in &servers {
        let side = side.as_ref().map_err(|e| e.to_string())?;
        sides.push((side.address, side.runtime.handle().clone()));
    }
    let clients = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let slices = clients.block_on(take_turns(&sides));
    drop(clients);
    for side in servers.into_iter().flatten() {
        side.stop()?;
    }
    let slices = slices?;
    let figure = |kind: usize, metric: &str, unit: &'static str, rate: fn(&Slice) -> f64| {
        let of =
            |k: usize| -> Vec<f64> { slices.iter().filter(|s| s.kind == k).map(rate).collect() };
        // Each of our slices against the mean of the bare slices before and after it.
        let ratios = slices
            .windows(3)
            .filter(|w| w[1].kind == kind)
            .map(|w| rate(&w[1]) * 2.0 / (rate(&w[0]) + rate(&w[2])))
            .collect();
        from_rounds(
            "server-echo",
            metric,
            unit,
            &of(kind),
            &of(BARE),
            ratios,
            true,
        )
    };
    let wall = |s: &Slice| s.per_second;
    let cpu = |s: &Slice| s.per_cpu_second;
    Ok(vec![
        figure(SOCK, "create_sock messages/s, 1000 conns", "msg/s", wall),
        figure(CREATE, "create messages/s, 1000 conns", "msg/s", wall),
        figure(SOCK, "create_sock messages/server CPU-s", "msg/CPU-s", cpu),
        figure(CREATE, "create messages/server CPU-s", "msg/CPU-s", cpu),
    ])
}

/// One server's turn: messages echoed per second, and per second of its thread's CPU.
struct Slice {
    kind: usize,
    per_second: f64,
    per_cpu_second: f64,
}

/// Connects the clients of every server (its address, and its runtime), then gives each
/// server's clients their turns, bare between each two of ours: `B S B C B S ... B`.
/// Returns the counted slices, in order.
async fn take_turns(sides: &[(SocketAddr, Handle)]) -> Result<Vec<Slice>, BenchError> {
    // Each server's clients run while its flag is up.
    let turns: Vec<_> = sides.iter().map(|_| watch::Sender::new(false)).collect();
    let counts: Vec<Arc<AtomicU64>> = sides.iter().map(|_| Arc::default()).collect();
    let mut clients = JoinSet::new();
    for (k, (address, _)) in sides.iter().enumerate() {
        for _ in 0..CONNECTIONS {
            let stream = TcpStream::connect(address).await?;
            clients.spawn(client(stream, turns[k].subscribe(), counts[k].clone()));
        }
    }
    let order = (0..=ROUNDS)
        .flat_map(|_| [BARE, SOCK, BARE, CREATE])
        .chain([BARE]);
    let mut slices = Vec::new();
    for (i, kind) in order.enumerate() {
        let runtime = &sides[kind].1;
        let cpu_before = cpu_time(runtime).await?;
        let before = counts[kind].load(Ordering::Relaxed);
        let start = Instant::now();
        turns[kind].send_replace(true);
        tokio::time::sleep(SLICE).await;
        let cpu = cpu_time(runtime).await?.saturating_sub(cpu_before);
        let echoed = counts[kind].load(Ordering::Relaxed) - before;
        let elapsed = start.elapsed();
        turns[kind].send_replace(false);
        // The first round warms up.
        if i >= 4 {
            slices.push(Slice {
                kind,
                per_second: per_second(echoed, elapsed),
                per_cpu_second: per_second(echoed, cpu),
            });
        }
    }
    drop(turns);
    while let Some(client) = clients.join_next().await {
        client??;
    }
    Ok(slices)
}

/// The CPU time of the worker thread of `runtime` (a runtime of one worker), read on that
/// thread: `/proc/thread-self/schedstat`, exact to the last scheduler tick.
async fn cpu_time(runtime: &Handle) -> Result<Duration, BenchError> {
    let schedstat = runtime
        .spawn(async { std::fs::read_to_string("/proc/thread-self/schedstat") })
        .await??;
    let ns = schedstat
        .split_whitespace()
        .next()
        .ok_or("an empty schedstat")?
        .parse()?;
    Ok(Duration::from_nanos(ns))
}

/// A client: while `turn` is up, sends a message and reads its echo, over and over,
/// counting each; ends when the turns do.
async fn client(
    mut stream: TcpStream,
    mut turn: watch::Receiver<bool>,
    count: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let message = [7u8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    while turn.wait_for(|up| *up).await.is_ok() {
        while *turn.borrow() {
            stream.write_all(&message).await?;
            stream.read_exact(&mut back).await?;
            count.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// One server on a runtime of its own.
struct Side {
    runtime: Runtime,
    address: SocketAddr,
    server: Option<Server<Inet>>,
}

impl Side {
    fn start(kind: Kind) -> Result<Side, BenchError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let (address, server) = runtime.block_on(listen(kind))?;
        Ok(Side {
            runtime,
            address,
            server,
        })
    }

    fn stop(self) -> Result<(), BenchError> {
        if let Some(server) = self.server {
            self.runtime.block_on(server.close(true))?;
        }
        self.runtime.shutdown_timeout(Duration::from_secs(1));
        Ok(())
    }
}

/// The echo loop of `create_sock` and of the bare server: the same code.
async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

async fn listen(kind: Kind) -> Result<(SocketAddr, Option<Server<Inet>>), BenchError> {
    let where_to_listen = WhereToListen::of_address("127.0.0.1:0".parse()?);
    let server = match kind {
        Kind::Sock => {
            Server::create_sock(where_to_listen, ServerOptions::default(), |_, stream| {
                echo(stream)
            })
            .await?
        }
        Kind::Create => {
            Server::create(
                where_to_listen,
                ServerOptions::default(),
                |_, mut reader, writer| async move {
                    loop {
                        let data = reader.fill_buf().await?;
                        if data.is_empty() {
                            return Ok::<_, BenchError>(());
                        }
                        writer.write(data)?;
                        let n = data.len();
                        reader.consume(n);
                        writer.wait_for_room().await?;
                    }
                },
            )
            .await?
        }
        Kind::Bare => {
            let (listener, address) = bare_listener()?;
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(echo(stream));
                }
            });
            return Ok((address, None));
        }
    };
    Ok((*server.listening_on_address(), Some(server)))
}
