//! `connect-rate`: connections made and closed per second against a bare tokio accept
//! loop, `camlnet_tcp_connect::connect_sock` beside bare `tokio::net::TcpStream::connect`.
//!
//! Each of [`CONNECTORS`] tasks connects, waits for the server's close (end of stream),
//! and closes: one connection's whole life per count, with the accept queue and the
//! client's ephemeral ports kept from filling up over the run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use camlnet_tcp_connect::{Inet, WhereToConnect};
use socket2::{Domain, Socket, Type};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

use crate::harness::{BenchError, Measurement, alternate_medians, per_second};

const SCENARIO: &str = "connect-rate";
const CONNECTORS: usize = 8;
const MEASURE_FOR: Duration = Duration::from_millis(1500);
const ROUNDS: usize = 5;
const BACKLOG: i32 = 1024;

#[derive(Clone, Copy)]
enum Client {
    Ours,
    Bare,
}

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let addr = runtime.block_on(async { start_accept_loop() })?;
    let where_to = Arc::new(WhereToConnect::inet_address(addr));
    // Warm up both paths (and the listener) before measuring.
    rate(
        &runtime,
        &where_to,
        addr,
        Client::Ours,
        Duration::from_millis(300),
    )?;
    rate(
        &runtime,
        &where_to,
        addr,
        Client::Bare,
        Duration::from_millis(300),
    )?;
    let (ours, baseline) = alternate_medians(
        ROUNDS,
        || rate(&runtime, &where_to, addr, Client::Ours, MEASURE_FOR),
        || rate(&runtime, &where_to, addr, Client::Bare, MEASURE_FOR),
    )?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(vec![Measurement::new(
        SCENARIO,
        "connects",
        "connects/s",
        ours,
        baseline,
        true,
    )])
}

/// A bare tokio accept loop on loopback, with a backlog of [`BACKLOG`], that drops every
/// connection it accepts.
fn start_accept_loop() -> Result<SocketAddr, BenchError> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    let listener = TcpListener::from_std(socket.into())?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(stream),
                // EMFILE and the like: let the clients' own errors report it.
                Err(_) => tokio::task::yield_now().await,
            }
        }
    });
    Ok(addr)
}

/// Connects and closes with [`CONNECTORS`] tasks for `duration`; connects per second.
fn rate(
    runtime: &Runtime,
    where_to: &Arc<WhereToConnect<Inet>>,
    addr: SocketAddr,
    client: Client,
    duration: Duration,
) -> Result<f64, BenchError> {
    runtime.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let tasks: Vec<_> = (0..CONNECTORS)
            .map(|_| {
                let stop = stop.clone();
                let where_to = where_to.clone();
                tokio::spawn(async move {
                    let mut count = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let mut stream = match client {
                            Client::Ours => camlnet_tcp_connect::connect_sock(&where_to).await?,
                            Client::Bare => TcpStream::connect(addr).await?,
                        };
                        // The server closes first: its end keeps the TIME_WAIT, so the
                        // client's ephemeral ports stay free, and no more than
                        // CONNECTORS connections wait in the accept queue.
                        let _eof = stream.read(&mut [0u8; 1]).await?;
                        drop(stream);
                        count += 1;
                    }
                    Ok::<u64, BenchError>(count)
                })
            })
            .collect();
        tokio::time::sleep(duration).await;
        stop.store(true, Ordering::Relaxed);
        let mut total = 0;
        for task in tasks {
            total += task.await??;
        }
        Ok(per_second(total, start.elapsed()))
    })
}
