//! `file-catch-up`: one client reads a 1 GiB file of 200-byte lines from line 0, in MiB/s
//! of lines delivered (message bytes and newline), beside a plain tokio copy of the file
//! into a socket in 256 KiB chunks whose receiver counts the bytes. Our client checks the
//! line number of every message; it takes them in batches (the figure the target is for),
//! then one by one.
//!
//! The servers run on one thread, the clients on another (see
//! [`crate::fanout_baseline::two_sides`]).
//!
//! The file is made once in a directory under `std::env::temp_dir()` (removed at the end)
//! and served with `serve_existing_static_file`; it is in the page cache for both sides.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use camlnet_tcp_file::StreamOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fanout_baseline::{Ours, TempDir, before, two_sides};
use crate::harness::{BenchError, Measurement, alternate_medians};

const SCENARIO: &str = "file-catch-up";
const LINE: usize = 200;
const LINES: u64 = (1 << 30) / LINE as u64;
const TOTAL: u64 = LINES * LINE as u64;
const CHUNK: usize = 256 * 1024;
const ROUNDS: usize = 5;
/// One read of the whole file, at most.
const LIMIT: Duration = Duration::from_secs(30);
const NAME: &str = "big";

/// Flow control on with the default window (8,192 messages, kept to about 512 KiB): what a
/// user gets, and the bounded-memory setting.
fn stream_options() -> StreamOptions {
    StreamOptions::new()
}

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    let dir = TempDir::new(SCENARIO)?;
    let path = dir.path().join("big.log");
    make_file(&path)?;
    let (servers, runtime) = two_sides()?;
    let server = camlnet_tcp_file::Server::new();
    let lines = server.serve_existing_static_file(NAME, &path)?;
    if lines != LINES {
        return Err(format!("the server counted {lines} lines of {LINES}").into());
    }
    let ours = servers.block_on(Ours::serve(server))?;
    let mut results = Vec::new();
    for taking in [Taking::Batches, Taking::OneByOne] {
        let (mine, baseline) = alternate_medians(
            ROUNDS,
            || runtime.block_on(ours_round(&ours, taking)),
            || runtime.block_on(bare_round(servers.handle(), &path)),
        )?;
        results.push(Measurement::new(
            SCENARIO,
            taking.metric(),
            "MiB/s",
            mine,
            baseline,
            true,
        ));
    }
    servers.block_on(ours.close(Instant::now() + LIMIT))?;
    drop(dir);
    Ok(results)
}

/// How our client takes the messages: each is looked at, its line number checked.
#[derive(Debug, Clone, Copy)]
enum Taking {
    /// `MessageStream::next_batch`, each message seen in place: the fast way.
    Batches,
    /// `MessageStream::next`, one owned `Message` at a time.
    OneByOne,
}

impl Taking {
    fn metric(self) -> &'static str {
        match self {
            Taking::Batches => "1 GiB of 200-byte lines from line 0, taken in batches",
            Taking::OneByOne => "the same, taken one by one (next)",
        }
    }
}

fn make_file(path: &Path) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut line = vec![b'x'; LINE];
    line[LINE - 1] = b'\n';
    for n in 0..LINES {
        let digits = format!("{n:012} ");
        line[..digits.len()].copy_from_slice(digits.as_bytes());
        out.write_all(&line)?;
    }
    out.flush()
}

fn mib_per_second(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64()
}

async fn ours_round(ours: &Ours, taking: Taking) -> Result<f64, BenchError> {
    let deadline = Instant::now() + LIMIT;
    let client = before("connecting", deadline, ours.connect()).await??;
    let start = Instant::now();
    let mut stream = client.read(NAME, stream_options());
    let mut bytes = 0u64;
    let mut lines = 0u64;
    let mut take = |line: u64, len: usize| {
        if line != lines {
            return Err(format!("line {line} after {lines} lines"));
        }
        bytes += len as u64 + 1;
        lines += 1;
        Ok(())
    };
    let reading = async {
        match taking {
            Taking::Batches => {
                while let Some(batch) = stream.next_batch().await {
                    for message in &batch? {
                        take(message.line, message.bytes.len())?;
                    }
                }
            }
            Taking::OneByOne => {
                while let Some(message) = stream.next().await {
                    let message = message?;
                    take(message.line, message.bytes.len())?;
                }
            }
        }
        Ok::<(), BenchError>(())
    };
    before("reading the file with tcp-file", deadline, reading).await??;
    let elapsed = start.elapsed();
    drop(stream);
    client.disconnect().await;
    if lines != LINES || bytes != TOTAL {
        return Err(format!(
            "received {lines} lines, {bytes} bytes of {LINES} lines, {TOTAL} bytes"
        )
        .into());
    }
    Ok(mib_per_second(bytes, elapsed))
}

async fn bare_round(servers: &tokio::runtime::Handle, path: &Path) -> Result<f64, BenchError> {
    let deadline = Instant::now() + LIMIT;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let path = path.to_path_buf();
    let server = servers.spawn(async move {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let (mut socket, _) = listener.accept().await?;
        let mut file = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            socket.write_all(&buf[..n]).await?;
        }
        socket.shutdown().await
    });
    let mut socket = before("connecting", deadline, TcpStream::connect(addr)).await??;
    let start = Instant::now();
    let reading = async {
        let mut buf = vec![0u8; CHUNK];
        let mut bytes = 0u64;
        loop {
            let n = socket.read(&mut buf).await?;
            if n == 0 {
                return Ok::<u64, std::io::Error>(bytes);
            }
            bytes += n as u64;
        }
    };
    let bytes = before("reading the file over bare tokio", deadline, reading).await??;
    let elapsed = start.elapsed();
    before("the bare server", deadline, server).await???;
    if bytes != TOTAL {
        return Err(format!("received {bytes} bytes of {TOTAL}").into());
    }
    Ok(mib_per_second(bytes, elapsed))
}
