//! `cargo xtask soak [--minutes N]`: a `tcp-file` server in a child process serving 10
//! files that producers write at about 2 MB/s, and 1,000 clients on loopback for `N`
//! minutes (default 10): 100 stall (open a stream, never read), 100 leave and come back
//! with `read_from` in a loop, the rest read live. Every second it samples the server's
//! resident memory, open descriptors and threads, and times a fresh client's first
//! message; at the end it checks the bounds, prints a summary and writes it as JSON
//! (`--output`, by default `target/bench/soak.json`).
//!
//! Bounds: resident memory under 128 MiB throughout; open descriptors back to their
//! baseline once the clients have left; no gap, no duplicate and no wrong message for any
//! reader; every client connects; a fresh client answered in under a second at every
//! sample.

mod clients;
mod probe;
mod server;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tests::process::{KillOnDrop, Resources, raise_fd_limit, resources};

use crate::clients::{Counts, Kind};

/// Clients, all together.
const CLIENTS: usize = 1_000;
const RSS_BOUND_KIB: u64 = 128 * 1024;
const PROBE_BOUND_MS: f64 = 1_000.0;
/// How long the server may take to close the connections of the clients that left.
const SETTLE: Duration = Duration::from_secs(30);
type SoakError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    if let Some(code) = server::child_role() {
        return code;
    }
    let (minutes, output) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("soak: {e}\nusage: soak [--minutes N] [--output PATH]");
            return ExitCode::from(2);
        }
    };
    match soak(minutes, &output) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("soak: a bound was broken");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(f64, PathBuf), String> {
    let mut minutes = 10.0;
    let mut output = PathBuf::from("target/bench/soak.json");
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--minutes" => {
                minutes = value
                    .parse()
                    .ok()
                    .filter(|m: &f64| *m > 0.0)
                    .ok_or(format!("--minutes {value}: not a positive number"))?;
            }
            "--output" => output = PathBuf::from(value),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok((minutes, output))
}

/// One second's sample.
#[derive(Debug, Serialize)]
struct Sample {
    seconds: f64,
    #[serde(flatten)]
    server: Resources,
    /// The latest fresh client's time to its first message; `None` if it failed (or none
    /// had answered yet).
    probe_ms: Option<f64>,
    delivered: u64,
}

/// One bound, and whether it held.
#[derive(Debug, Serialize)]
struct Bound {
    bound: &'static str,
    held: bool,
    seen: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    minutes: f64,
    clients: usize,
    stalled: usize,
    resuming: usize,
    live: usize,
    files: usize,
    messages_written: u64,
    bytes_written: u64,
    messages_delivered: u64,
    resumes: u64,
    gaps: u64,
    duplicates: u64,
    wrong_messages: u64,
    stream_errors: u64,
    connect_errors: u64,
    baseline: Resources,
    peak_rss_kib: u64,
    peak_fds: u64,
    peak_threads: u64,
    final_with_clients: Resources,
    after_clients_left: Resources,
    probe_max_ms: Option<f64>,
    probe_failures: usize,
    bounds: Vec<Bound>,
    passed: bool,
    samples: Vec<Sample>,
}

/// The server child, its address, and the directory of its files (removed at the end).
struct Child {
    process: KillOnDrop,
    address: SocketAddr,
    stdout: BufReader<std::process::ChildStdout>,
    dir: PathBuf,
}

impl Child {
    fn start() -> Result<Child, SoakError> {
        let dir = std::env::temp_dir().join(format!("soak-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let mut process = KillOnDrop(
            Command::new(std::env::current_exe()?)
                .arg(server::CHILD_FLAG)
                .arg(&dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()?,
        );
        let mut stdout = BufReader::new(process.0.stdout.take().ok_or("child stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("the server child said {line:?}"))?
            .parse()?;
        Ok(Child {
            process,
            address,
            stdout,
            dir,
        })
    }

    fn resources(&self) -> std::io::Result<Resources> {
        resources(self.process.0.id())
    }

    /// Ends the producers and the child; returns how many messages they wrote.
    fn finish(mut self) -> Result<u64, SoakError> {
        drop(self.process.0.stdin.take());
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let written = line
            .trim()
            .strip_prefix("written ")
            .ok_or_else(|| format!("the server child said {line:?}"))?
            .parse()?;
        let _ = self.process.0.wait();
        Ok(written)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn soak(minutes: f64, output: &Path) -> Result<bool, SoakError> {
    raise_fd_limit();
    let child = Child::start()?;
    // Let the child settle before its baseline.
    std::thread::sleep(Duration::from_secs(1));
    let baseline = child.resources()?;
    eprintln!(
        "soak: server at {} (pid {}), baseline {}; {CLIENTS} clients for {minutes} min",
        child.address,
        child.process.0.id(),
        show(&baseline)
    );

    // The driver's clients: two worker threads, as many as the machine has cores.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("soak-clients")
        .enable_all()
        .build()?;
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            runtime.spawn(clients::run(
                i,
                CLIENTS,
                child.address,
                counts.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let prober = probe::Prober::start(child.address)?;
    let waiting = Instant::now();
    while prober.latest().is_none() && waiting.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }

    let start = Instant::now();
    let duration = Duration::from_secs_f64(minutes * 60.0);
    let mut samples = Vec::new();
    while start.elapsed() < duration {
        std::thread::sleep(Duration::from_secs(1).min(duration.saturating_sub(start.elapsed())));
        let server = child.resources()?;
        let sample = Sample {
            seconds: start.elapsed().as_secs_f64(),
            server,
            probe_ms: prober.latest().flatten(),
            delivered: counts.delivered.load(Ordering::Relaxed),
        };
        let probe = match sample.probe_ms {
            None => "FAILED".to_string(),
            Some(ms) => format!("{ms:.1} ms"),
        };
        eprintln!(
            "soak: {:>6.0}s {} delivered {} resumes {} gaps {} duplicates {} probe {probe}",
            sample.seconds,
            show(&server),
            sample.delivered,
            counts.resumes.load(Ordering::Relaxed),
            counts.gaps.load(Ordering::Relaxed),
            counts.duplicates.load(Ordering::Relaxed),
        );
        samples.push(sample);
    }
    let final_with_clients = child.resources()?;

    stop.store(true, Ordering::Relaxed);
    let reaped = runtime.block_on(async {
        tokio::time::timeout(SETTLE, async {
            for task in tasks {
                let _ = task.await;
            }
        })
        .await
    });
    if reaped.is_err() {
        return Err("the clients did not stop within 30 s".into());
    }
    prober.stop();
    runtime.shutdown_timeout(Duration::from_secs(5));
    let settled = Instant::now();
    let mut after = child.resources()?;
    while after.fds > baseline.fds && settled.elapsed() < SETTLE {
        std::thread::sleep(Duration::from_millis(200));
        after = child.resources()?;
    }
    eprintln!(
        "soak: the clients left; {} after {:.1}s",
        show(&after),
        settled.elapsed().as_secs_f64()
    );
    let written = child.finish()?;

    let summary = summarize(
        minutes,
        &counts,
        written,
        baseline,
        final_with_clients,
        after,
        samples,
    );
    print_summary(&summary);
    write_json(output, &summary)?;
    eprintln!("soak: summary written to {}", output.display());
    Ok(summary.passed)
}

fn show(r: &Resources) -> String {
    format!(
        "rss {:.1} MiB fds {} threads {}",
        r.rss_kib as f64 / 1024.0,
        r.fds,
        r.threads
    )
}

fn summarize(
    minutes: f64,
    counts: &Counts,
    written: u64,
    baseline: Resources,
    final_with_clients: Resources,
    after: Resources,
    samples: Vec<Sample>,
) -> Summary {
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let peak = |f: fn(&Resources) -> u64| samples.iter().map(|s| f(&s.server)).max().unwrap_or(0);
    let kinds = |k: Kind| {
        (0..CLIENTS)
            .filter(|&i| clients::kind(i, CLIENTS) == k)
            .count()
    };
    let probe_failures = samples.iter().filter(|s| s.probe_ms.is_none()).count();
    let probe_max_ms = samples.iter().filter_map(|s| s.probe_ms).reduce(f64::max);
    let peak_rss_kib = peak(|r| r.rss_kib).max(final_with_clients.rss_kib);
    let (gaps, duplicates, wrong) = (
        load(&counts.gaps),
        load(&counts.duplicates),
        load(&counts.bad_content),
    );
    let bounds = vec![
        Bound {
            bound: "resident memory under 128 MiB throughout",
            held: peak_rss_kib < RSS_BOUND_KIB,
            seen: format!("peak {:.1} MiB", peak_rss_kib as f64 / 1024.0),
        },
        Bound {
            bound: "open descriptors back to the baseline after the clients leave",
            held: after.fds <= baseline.fds,
            seen: format!("{} after, {} baseline", after.fds, baseline.fds),
        },
        Bound {
            bound: "no gap, no duplicate, no wrong message for any reader",
            held: gaps == 0 && duplicates == 0 && wrong == 0,
            seen: format!("{gaps} gaps, {duplicates} duplicates, {wrong} wrong"),
        },
        Bound {
            bound: "every client connects",
            held: load(&counts.connect_errors) == 0,
            seen: format!("{} failed connections", load(&counts.connect_errors)),
        },
        Bound {
            bound: "a fresh client answered in under a second at every sample",
            held: probe_failures == 0
                && !samples.is_empty()
                && probe_max_ms.is_some_and(|ms| ms < PROBE_BOUND_MS),
            seen: format!(
                "max {:.1} ms, {probe_failures} failed of {}",
                probe_max_ms.unwrap_or(f64::NAN),
                samples.len()
            ),
        },
    ];
    Summary {
        minutes,
        clients: CLIENTS,
        stalled: kinds(Kind::Stalled),
        resuming: kinds(Kind::Resuming),
        live: kinds(Kind::Live),
        files: server::FILES,
        messages_written: written,
        bytes_written: written * (server::MESSAGE_BYTES as u64 + 1),
        messages_delivered: load(&counts.delivered),
        resumes: load(&counts.resumes),
        gaps,
        duplicates,
        wrong_messages: wrong,
        stream_errors: load(&counts.stream_errors),
        connect_errors: load(&counts.connect_errors),
        baseline,
        peak_rss_kib,
        peak_fds: peak(|r| r.fds),
        peak_threads: peak(|r| r.threads),
        final_with_clients,
        after_clients_left: after,
        probe_max_ms,
        probe_failures,
        passed: bounds.iter().all(|b| b.held),
        bounds,
        samples,
    }
}

fn print_summary(s: &Summary) {
    println!(
        "soak: {} min, {} clients ({} stalled, {} resuming, {} live) over {} files",
        s.minutes, s.clients, s.stalled, s.resuming, s.live, s.files
    );
    println!(
        "  written   {} messages ({:.1} MiB)",
        s.messages_written,
        s.bytes_written as f64 / (1024.0 * 1024.0)
    );
    println!(
        "  delivered {} messages; {} resumes; {} stream errors (stalled clients cut by the server's write timeout included)",
        s.messages_delivered, s.resumes, s.stream_errors
    );
    println!(
        "  server    rss baseline {:.1} MiB, peak {:.1} MiB, final {:.1} MiB, after {:.1} MiB",
        s.baseline.rss_kib as f64 / 1024.0,
        s.peak_rss_kib as f64 / 1024.0,
        s.final_with_clients.rss_kib as f64 / 1024.0,
        s.after_clients_left.rss_kib as f64 / 1024.0
    );
    println!(
        "            fds baseline {}, peak {}, final {}, after {}; threads peak {}",
        s.baseline.fds,
        s.peak_fds,
        s.final_with_clients.fds,
        s.after_clients_left.fds,
        s.peak_threads
    );
    for b in &s.bounds {
        let held = if b.held { "ok    " } else { "BROKEN" };
        println!("  {held} {}: {}", b.bound, b.seen);
    }
}

fn write_json(path: &Path, summary: &Summary) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
    let mut file = std::fs::File::create(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}
