//! `file-latency`: 10,000 messages per second to 10 clients, sync `Never`; p50, p99 and
//! p99.9 of the time from the write to the receipt, in microseconds, beside the bare tokio
//! fan-out server (see [`crate::fanout_baseline`]). Target: p99.9 under 2 ms. The same
//! for a `durable` file, whose readers get a line once it is synced: what that costs.
//!
//! Each 100-byte message starts with its send time (nanoseconds since an `Instant` both
//! ends share) in decimal. The writer runs on a blocking-pool thread of its own, paced on a
//! schedule of one message every 100 µs (it sleeps until the next one is due), for both
//! sides alike. The first [`WARM_UP`] messages of each round are not counted.
//!
//! The tail is the machine's as much as the server's: a virtual machine whose host pauses
//! it for a few milliseconds delays every message in flight at the time. So the writer
//! also counts the messages it sent [`LATE`] or more past their due time, and its longest
//! delay. A delay is a stall of the writer's core (a stall of another core does not
//! show), or a write that waited: ours for the log's lock, which the readers' senders
//! take too, bare's for a client's queue.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use camlnet_tcp_file::{FileOptions, StreamOptions, SyncPolicy};
use tokio::task::JoinSet;

use crate::fanout_baseline::{BareServer, Ours, TempDir, bare_read, before, wait_until};
use crate::harness::{BenchError, Measurement, quantile};

const SCENARIO: &str = "file-latency";
const CLIENTS: usize = 10;
const RATE: u64 = 10_000;
const MESSAGES: u64 = 20_000;
const WARM_UP: u64 = 1_000;
const MESSAGE: usize = 100;
const STAMP: usize = 20;
const ROUNDS: usize = 3;
const LIMIT: Duration = Duration::from_secs(30);
const NAME: &str = "latency";
/// A message the writer sends this long past its due time counts as a stall's.
const LATE: Duration = Duration::from_millis(1);

/// Flow control on with the default window (8,192 messages, kept to about 512 KiB): at
/// 10,000 messages per second the window never closes, so the choice does not matter here;
/// the default is what a user gets.
fn stream_options() -> StreamOptions {
    StreamOptions::new()
}

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let plain = || FileOptions::new().sync(SyncPolicy::Never);
    let durable = || FileOptions::new().durable(true);
    let mut ours = Side::default();
    let mut ours_durable = Side::default();
    let mut bare = Side::default();
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            ours.add(runtime.block_on(ours_round(plain()))?);
            bare.add(runtime.block_on(bare_round())?);
            ours_durable.add(runtime.block_on(ours_round(durable()))?);
        } else {
            ours_durable.add(runtime.block_on(ours_round(durable()))?);
            bare.add(runtime.block_on(bare_round())?);
            ours.add(runtime.block_on(ours_round(plain()))?);
        }
    }
    let (ours_stalls, bare_stalls) = (ours.stalls, bare.stalls);
    let [ours, ours_durable, bare] = [ours, ours_durable, bare].map(|mut side| {
        side.latencies.sort_by(f64::total_cmp);
        side.latencies
    });
    let quantiles = [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)];
    let rows = |what: &'static str, ours: &[f64]| {
        quantiles.map(|(name, q)| {
            Measurement::new(
                SCENARIO,
                format!("{name}{what}, 10k msg/s, {CLIENTS} clients"),
                "µs",
                quantile(ours, q),
                quantile(&bare, q),
                false,
            )
        })
    };
    let stalls = [
        Measurement::new(
            SCENARIO,
            format!("writer's messages {} ms late or more", LATE.as_millis()),
            "messages",
            ours_stalls.count as f64,
            bare_stalls.count as f64,
            false,
        ),
        Measurement::new(
            SCENARIO,
            "writer's longest delay",
            "µs",
            ours_stalls.longest.as_secs_f64() * 1e6,
            bare_stalls.longest.as_secs_f64() * 1e6,
            false,
        ),
    ];
    // What `durable` costs: readers get a line once it is synced, not once written.
    Ok(rows("", &ours)
        .into_iter()
        .chain(rows(" durable", &ours_durable))
        .chain(stalls)
        .collect())
}

/// How late the writer sent its messages (see the module's documentation).
#[derive(Debug, Default, Clone, Copy)]
struct Stalls {
    /// Messages sent [`LATE`] or more past their due time.
    count: u64,
    longest: Duration,
}

impl Stalls {
    fn sent(&mut self, late: Duration) {
        if late >= LATE {
            self.count += 1;
        }
        self.longest = self.longest.max(late);
    }
}

/// What one side's rounds measured.
#[derive(Debug, Default)]
struct Side {
    latencies: Vec<f64>,
    stalls: Stalls,
}

impl Side {
    fn add(&mut self, (latencies, stalls): (Vec<f64>, Stalls)) {
        self.latencies.extend(latencies);
        self.stalls.count += stalls.count;
        self.stalls.longest = self.stalls.longest.max(stalls.longest);
    }
}

/// Writes `MESSAGES` stamped messages with `write`, one every 1/`RATE` s; returns how late
/// it sent them.
fn paced_writer(
    epoch: Instant,
    mut write: impl FnMut(&[u8]) -> Result<(), BenchError>,
) -> Result<Stalls, BenchError> {
    let mut message = Vec::with_capacity(MESSAGE);
    let mut stalls = Stalls::default();
    let start = Instant::now();
    for k in 0..MESSAGES {
        let due = start + Duration::from_nanos(k * 1_000_000_000 / RATE);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        stalls.sent(due.elapsed());
        message.clear();
        write!(
            message,
            "{:0width$}",
            epoch.elapsed().as_nanos() as u64,
            width = STAMP
        )?;
        message.resize(MESSAGE, b'.');
        write(&message)?;
    }
    Ok(stalls)
}

/// Latencies in µs, from the messages after the warm-up.
struct Latencies {
    epoch: Instant,
    count: u64,
    samples: Vec<f64>,
}

impl Latencies {
    fn new(epoch: Instant) -> Self {
        Latencies {
            epoch,
            count: 0,
            samples: Vec::with_capacity(MESSAGES as usize),
        }
    }

    fn record(&mut self, message: &[u8]) {
        let now = self.epoch.elapsed().as_nanos() as u64;
        let sent = std::str::from_utf8(&message[..STAMP.min(message.len())])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        if self.count >= WARM_UP {
            self.samples.push(now.saturating_sub(sent) as f64 / 1000.0);
        }
        self.count += 1;
    }

    fn finish(self) -> Result<Vec<f64>, BenchError> {
        if self.count != MESSAGES {
            return Err(format!("a client received {} messages of {MESSAGES}", self.count).into());
        }
        Ok(self.samples)
    }
}

async fn ours_round(options: FileOptions) -> Result<(Vec<f64>, Stalls), BenchError> {
    let deadline = Instant::now() + LIMIT;
    let dir = TempDir::new(SCENARIO)?;
    let server = camlnet_tcp_file::Server::new();
    let file = server.open_file(NAME, dir.path().join("ours.log"), options)?;
    let ours = Ours::serve(server).await?;
    let epoch = Instant::now();
    let mut readers = JoinSet::new();
    for _ in 0..CLIENTS {
        let client = before("connecting", deadline, ours.connect()).await??;
        let mut stream = client.read(NAME, stream_options());
        readers.spawn(async move {
            let mut latencies = Latencies::new(epoch);
            while let Some(message) = stream.next().await {
                latencies.record(&message?.bytes);
            }
            latencies.finish()
        });
    }
    wait_until("our streams to open", deadline, || {
        ours.readers(NAME) == CLIENTS
    })
    .await?;
    let file = Arc::new(file);
    let writing = file.clone();
    let writer = tokio::task::spawn_blocking(move || {
        paced_writer(epoch, |message| Ok(writing.write_message(message)?))
    });
    let stalls = before("our writer", deadline, writer).await???;
    let file = Arc::into_inner(file).ok_or("the file handle is still shared")?;
    before("closing our file", deadline, file.close()).await??;
    let mut samples = Vec::new();
    while let Some(result) = before("our clients", deadline, readers.join_next()).await? {
        samples.extend(result??);
    }
    ours.close(deadline).await?;
    Ok((samples, stalls))
}

async fn bare_round() -> Result<(Vec<f64>, Stalls), BenchError> {
    let deadline = Instant::now() + LIMIT;
    let dir = TempDir::new(SCENARIO)?;
    let bare = BareServer::start(CLIENTS).await?;
    let epoch = Instant::now();
    let mut readers = JoinSet::new();
    for _ in 0..CLIENTS {
        let addr = bare.addr;
        readers.spawn(async move {
            let mut latencies = Latencies::new(epoch);
            bare_read(addr, |message| latencies.record(message)).await?;
            latencies.finish()
        });
    }
    wait_until("the bare clients to connect", deadline, || {
        bare.clients() == CLIENTS
    })
    .await?;
    let mut publisher = bare.publisher(&dir.path().join("bare.log"))?;
    let writer = tokio::task::spawn_blocking(move || {
        let stalls = paced_writer(epoch, |message| Ok(publisher.publish_now(message)?))?;
        Ok::<_, BenchError>((publisher, stalls))
    });
    let (publisher, stalls) = before("the bare writer", deadline, writer).await???;
    publisher.finish()?;
    bare.finished(deadline).await?;
    let mut samples = Vec::new();
    while let Some(result) = before("the bare clients", deadline, readers.join_next()).await? {
        samples.extend(result??);
    }
    Ok((samples, stalls))
}
