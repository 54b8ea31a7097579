//! `server-accept-rate`: connections accepted and closed per second, with 8 connectors
//! that each connect, wait for the server to close, and connect again; `tcp-server`'s
//! `create_sock` beside a bare tokio accept loop (same backlog, same runtime).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use camlnet_tcp_server::{Server, ServerOptions, WhereToListen};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::harness::{BenchError, Measurement, alternate_medians, bare_listener, per_second};

const CONNECTORS: usize = 8;
const WARM_UP: Duration = Duration::from_millis(200);
const WINDOW: Duration = Duration::from_millis(1500);
const ROUNDS: usize = 5;

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    let (ours, bare) = alternate_medians(ROUNDS, || measure(true), || measure(false))?;
    Ok(vec![Measurement::new(
        "server-accept-rate",
        "connect+close per s, 8 connectors",
        "conn/s",
        ours,
        bare,
        true,
    )])
}

/// One round: a server runtime with one worker, the connectors on this thread.
fn measure(ours: bool) -> Result<f64, BenchError> {
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (address, server) = server_runtime.block_on(async {
        if ours {
            let server = Server::create_sock(
                WhereToListen::of_address("127.0.0.1:0".parse()?),
                ServerOptions::default(),
                |_peer, _stream: TcpStream| async { Ok::<_, std::io::Error>(()) },
            )
            .await?;
            Ok::<_, BenchError>((*server.listening_on_address(), Some(server)))
        } else {
            let (listener, address) = bare_listener()?;
            tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            tokio::spawn(async move { drop(stream) });
                        }
                        Err(e) => eprintln!("bare accept: {e}"),
                    }
                }
            });
            Ok((address, None))
        }
    })?;

    let clients = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let count = Arc::new(AtomicU64::new(0));
    let elapsed = clients.block_on(async {
        let start = Instant::now();
        let counting_from = start + WARM_UP;
        let end = counting_from + WINDOW;
        let tasks: Vec<_> = (0..CONNECTORS)
            .map(|_| {
                let count = count.clone();
                tokio::spawn(async move {
                    let mut byte = [0u8; 1];
                    while Instant::now() < end {
                        let mut stream = TcpStream::connect(address).await?;
                        // Wait for the server's close.
                        let n = stream.read(&mut byte).await?;
                        debug_assert_eq!(n, 0);
                        if Instant::now() >= counting_from {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok::<_, std::io::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        Ok::<_, BenchError>(Instant::now().saturating_duration_since(counting_from))
    })?;
    if let Some(server) = server {
        server_runtime.block_on(server.close(false))?;
    }
    server_runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(per_second(count.load(Ordering::Relaxed), elapsed))
}
