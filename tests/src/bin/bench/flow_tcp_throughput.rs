//! `flow-tcp-throughput`: bytes per second through a `Flow` over loopback TCP with 64 KiB
//! writes, beside a bare tokio `TcpStream` doing the same.

use std::time::Instant;

use bytes::Bytes;
use camlnet_flow::{FlowExt, Read, TcpFlow};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{BenchError, Measurement, alternate_medians};

const WRITE_SIZE: usize = 64 * 1024;
const TOTAL: u64 = 1 << 30;
const ROUNDS: usize = 7;

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (ours, baseline) = alternate_medians(
        ROUNDS,
        || runtime.block_on(through_flow()),
        || runtime.block_on(through_tokio()),
    )?;
    Ok(vec![Measurement::new(
        "flow-tcp-throughput",
        "64 KiB writes, one stream",
        "bytes/s",
        ours,
        baseline,
        true,
    )])
}

async fn connected() -> Result<(TcpStream, TcpStream), BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (client, accepted) = tokio::join!(
        TcpStream::connect(listener.local_addr()?),
        listener.accept()
    );
    Ok((client?, accepted?.0))
}

async fn through_flow() -> Result<f64, BenchError> {
    let (client, server) = connected().await?;
    let mut sender = TcpFlow::from(client);
    let mut receiver = TcpFlow::from(server);
    let start = Instant::now();
    let send = tokio::spawn(async move {
        let block = Bytes::from(vec![0xA5u8; WRITE_SIZE]);
        let mut sent = 0;
        while sent < TOTAL {
            sender.write(block.clone()).await?;
            sent += WRITE_SIZE as u64;
        }
        sender.shutdown(camlnet_flow::Shutdown::Write).await
    });
    let mut received = 0u64;
    while let Read::Data(bytes) = receiver.read().await? {
        received += bytes.len() as u64;
    }
    let elapsed = start.elapsed();
    send.await??;
    check(received)?;
    Ok(received as f64 / elapsed.as_secs_f64())
}

async fn through_tokio() -> Result<f64, BenchError> {
    let (mut sender, mut receiver) = connected().await?;
    let start = Instant::now();
    let send = tokio::spawn(async move {
        let block = vec![0xA5u8; WRITE_SIZE];
        let mut sent = 0;
        while sent < TOTAL {
            sender.write_all(&block).await?;
            sent += WRITE_SIZE as u64;
        }
        sender.shutdown().await
    });
    let mut buf = vec![0u8; WRITE_SIZE];
    let mut received = 0u64;
    loop {
        let n = receiver.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    let elapsed = start.elapsed();
    send.await??;
    check(received)?;
    Ok(received as f64 / elapsed.as_secs_f64())
}

fn check(received: u64) -> Result<(), BenchError> {
    if received == TOTAL {
        Ok(())
    } else {
        Err(format!("received {received} bytes of {TOTAL}").into())
    }
}
