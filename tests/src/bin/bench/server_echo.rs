//! `server-echo`: 1,000 connections each sending a 512-byte message and waiting for its
//! echo, over and over: messages echoed per second by `tcp-server` (`create_sock` with the
//! same handler code as the baseline, and `create` with its `Reader` and `Writer`) beside
//! a bare tokio accept loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tcp_server::{Server, ServerOptions, WhereToListen};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{BenchError, Measurement, alternate_medians, bare_listener, per_second};

const CONNECTIONS: usize = 1000;
const MESSAGE: usize = 512;
const WARM_UP: Duration = Duration::from_millis(300);
const WINDOW: Duration = Duration::from_millis(1200);
const ROUNDS: usize = 3;

#[derive(Clone, Copy)]
enum Kind {
    Sock,
    Create,
    Bare,
}

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    let (sock, bare_a) = alternate_medians(ROUNDS, || measure(Kind::Sock), || measure(Kind::Bare))?;
    let (create, bare_b) =
        alternate_medians(ROUNDS, || measure(Kind::Create), || measure(Kind::Bare))?;
    Ok(vec![
        Measurement::new(
            "server-echo",
            "create_sock messages/s, 1000 conns",
            "msg/s",
            sock,
            bare_a,
            true,
        ),
        Measurement::new(
            "server-echo",
            "create messages/s, 1000 conns",
            "msg/s",
            create,
            bare_b,
            true,
        ),
    ])
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

fn measure(kind: Kind) -> Result<f64, BenchError> {
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let where_to_listen = WhereToListen::of_address("127.0.0.1:0".parse()?);
    let (address, server) = server_runtime.block_on(async {
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
                return Ok::<_, BenchError>((address, None));
            }
        };
        Ok((*server.listening_on_address(), Some(server)))
    })?;

    let clients = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let count = Arc::new(AtomicU64::new(0));
    let elapsed = clients.block_on(async {
        let mut streams = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            streams.push(TcpStream::connect(address).await?);
        }
        let start = Instant::now();
        let counting_from = start + WARM_UP;
        let end = counting_from + WINDOW;
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|mut stream| {
                let count = count.clone();
                tokio::spawn(async move {
                    let message = [7u8; MESSAGE];
                    let mut back = [0u8; MESSAGE];
                    while Instant::now() < end {
                        stream.write_all(&message).await?;
                        stream.read_exact(&mut back).await?;
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
    drop(clients);
    if let Some(server) = server {
        server_runtime.block_on(server.close(true))?;
    }
    server_runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(per_second(count.load(Ordering::Relaxed), elapsed))
}
