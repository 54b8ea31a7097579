//! `file-fanout`: 100-byte messages written as fast as possible while 1, 10 and 100 clients
//! read them live; messages per second delivered (the total over all clients) by our
//! `tcp-file` server, beside a bare tokio fan-out server that also appends to a file and
//! loses nothing (see [`crate::fanout_baseline`]).
//!
//! The servers and the writers run on one thread, the clients on another (see
//! [`crate::fanout_baseline::two_sides`]). Both sides have the same structure: a writer task writes for [`WRITING`], yielding every
//! [`YIELD_EVERY`] messages, and never waits for readers (as `FileHandle::write_message`
//! never does: the bare server's per-client queues grow instead, ours fall back to disk); each client counts what it receives; delivered = the sum of
//! the clients' counts at the end of the writing window, over the window's length. What
//! is still in flight then is dropped, not waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use camlnet_tcp_file::{FileOptions, StreamOptions};
use tokio::runtime::Handle;
use tokio::task::JoinSet;

use crate::fanout_baseline::{BareServer, Ours, TempDir, bare_read, before, two_sides, wait_until};
use crate::harness::{BenchError, Measurement, alternate_medians};

const SCENARIO: &str = "file-fanout";
const CLIENT_COUNTS: [usize; 3] = [1, 10, 100];
const MESSAGE: usize = 100;
const WRITING: Duration = Duration::from_millis(1500);
const YIELD_EVERY: usize = 256;
const ROUNDS: usize = 5;
/// Setup and teardown of one round, at most.
const LIMIT: Duration = Duration::from_secs(60);
const NAME: &str = "fanout";

/// The stream options of our clients: flow control on, with the default window (8,192
/// messages, kept to about 512 KiB). With `client_pushes_back(false)` a client that falls behind buffers without
/// limit; the default is what a user gets, and the bounded-memory one.
fn stream_options() -> StreamOptions {
    StreamOptions::new()
}

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    let (servers, runtime) = two_sides()?;
    let mut results = Vec::new();
    for clients in CLIENT_COUNTS {
        let (ours, baseline) = alternate_medians(
            ROUNDS,
            || runtime.block_on(ours_round(servers.handle(), clients)),
            || runtime.block_on(bare_round(servers.handle(), clients)),
        )?;
        results.push(Measurement::new(
            SCENARIO,
            format!("{clients} clients"),
            "messages/s",
            ours,
            baseline,
            true,
        ));
    }
    Ok(results)
}

fn message() -> Vec<u8> {
    (0..MESSAGE).map(|i| b'a' + (i % 26) as u8).collect()
}

fn delivered(counters: &[AtomicU64]) -> u64 {
    counters.iter().map(|c| c.load(Ordering::Relaxed)).sum()
}

fn counters(clients: usize) -> Arc<[AtomicU64]> {
    (0..clients).map(|_| AtomicU64::new(0)).collect()
}

async fn ours_round(servers: &Handle, clients: usize) -> Result<f64, BenchError> {
    let deadline = Instant::now() + LIMIT;
    let dir = TempDir::new(SCENARIO)?;
    let server = camlnet_tcp_file::Server::new();
    let file = server.open_file(NAME, dir.path().join("ours.log"), FileOptions::new())?;
    let ours = servers.spawn(Ours::serve(server)).await??;
    let counters = counters(clients);
    let mut readers = JoinSet::new();
    for i in 0..clients {
        let client = before("connecting", deadline, ours.connect()).await??;
        let mut stream = client.read(NAME, stream_options());
        let counters = counters.clone();
        readers.spawn(async move {
            let mut n = 0u64;
            while let Some(batch) = stream.next_batch().await {
                for _message in &batch? {
                    n += 1;
                }
                counters[i].store(n, Ordering::Relaxed);
            }
            Ok::<u64, camlnet_tcp_file::Error>(n)
        });
    }
    wait_until("our streams to open", deadline, || {
        ours.readers(NAME) == clients
    })
    .await?;

    let start = Instant::now();
    let writer = servers.spawn(async move {
        let message = message();
        let written = write_for(start, || file.write_message(&message)).await?;
        Ok::<_, camlnet_tcp_file::FileError>((file, written))
    });
    tokio::time::sleep_until((start + WRITING).into()).await;
    let delivered = delivered(&counters);
    let elapsed = start.elapsed();

    let (file, written) = before("our writer", deadline, writer).await???;
    reap(readers, "a tcp-file client").await?;
    check(delivered, written, clients)?;
    before("closing our file", deadline, file.close()).await??;
    ours.close(deadline).await?;
    Ok(delivered as f64 / elapsed.as_secs_f64())
}

async fn bare_round(servers: &Handle, clients: usize) -> Result<f64, BenchError> {
    let deadline = Instant::now() + LIMIT;
    let dir = TempDir::new(SCENARIO)?;
    let bare = servers.spawn(BareServer::start(clients)).await??;
    let counters = counters(clients);
    let mut readers = JoinSet::new();
    for i in 0..clients {
        let counters = counters.clone();
        let addr = bare.addr;
        readers.spawn(async move {
            let mut n = 0u64;
            bare_read(addr, |_| {
                n += 1;
                counters[i].store(n, Ordering::Relaxed);
            })
            .await
        });
    }
    wait_until("the bare clients to connect", deadline, || {
        bare.clients() == clients
    })
    .await?;
    let mut publisher = bare.publisher(&dir.path().join("bare.log"))?;

    let start = Instant::now();
    let writer = servers.spawn(async move {
        let message = message();
        let written = write_for(start, || publisher.publish_now(&message)).await?;
        Ok::<_, std::io::Error>((publisher, written))
    });
    tokio::time::sleep_until((start + WRITING).into()).await;
    let delivered = delivered(&counters);
    let elapsed = start.elapsed();

    let (publisher, written) = before("the bare writer", deadline, writer).await???;
    reap(readers, "a bare client").await?;
    check(delivered, written, clients)?;
    publisher.finish()?;
    drop(bare);
    Ok(delivered as f64 / elapsed.as_secs_f64())
}

/// The writer of both sides: calls `write` as fast as it goes from `start` for
/// [`WRITING`], yielding every [`YIELD_EVERY`] calls, and returns how many messages it wrote.
async fn write_for<E>(start: Instant, mut write: impl FnMut() -> Result<(), E>) -> Result<u64, E> {
    let mut written = 0u64;
    while start.elapsed() < WRITING {
        for _ in 0..YIELD_EVERY {
            write()?;
        }
        written += YIELD_EVERY as u64;
        tokio::task::yield_now().await;
    }
    Ok(written)
}

/// Stops the clients (what is in flight is not counted) and reports the first one that
/// failed.
async fn reap<E: std::fmt::Display + 'static>(
    mut readers: JoinSet<Result<u64, E>>,
    who: &str,
) -> Result<(), BenchError> {
    readers.abort_all();
    while let Some(result) = readers.join_next().await {
        if let Ok(Err(e)) = result {
            return Err(format!("{who} failed: {e}").into());
        }
    }
    Ok(())
}

fn check(delivered: u64, written: u64, clients: usize) -> Result<(), BenchError> {
    if delivered == 0 || delivered > written * clients as u64 {
        return Err(format!(
            "{delivered} messages delivered of {written} written to {clients} clients"
        )
        .into());
    }
    Ok(())
}
