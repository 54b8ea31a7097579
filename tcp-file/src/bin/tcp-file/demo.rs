//! `tcp-file demo`: a server, a writer and three readers side by side in a temporary
//! directory, live progress, and a summary that checks every delivered line.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use camlnet_tcp_connect::WhereToConnect;
use camlnet_tcp_file::{Client, FileOptions, Server, StreamOptions};
use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};

use crate::Failure;
use crate::hint::command_words;
use crate::output::Progress;
use crate::read::stream_failure;
use crate::report::error_chain;

/// Messages written before the readers start, so that the first reader catches up.
const BACKLOG: u64 = 20_000;
/// The writer's pace: this many messages every tick.
const PER_TICK: u64 = 100;
const TICK: Duration = Duration::from_millis(5);
/// The resuming reader disconnects after about this many messages.
const RESUME_EVERY: u64 = 15_000;
/// How long readers get to finish once the writer closed the file.
const DRAIN_LIMIT: Duration = Duration::from_secs(15);

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tcp-file demo
  tcp-file demo --duration 3s

Runs, in a temporary directory, a server on a free port of 127.0.0.1, a writer, a
reader from the first line, a tailer (new lines only) and a reader that disconnects
and resumes where it stopped (as `read --from` does). While it runs, a status line on
standard error (on a terminal) shows what each did; try the commands it suggests in
another shell. It ends with a summary, and exits with 1 if a reader missed a line or
received one twice.")]
pub(crate) struct DemoArgs {
    /// How long the writer writes, such as 3s or 500ms.
    #[arg(long, value_name = "D", default_value = "10s", value_parser = crate::parse_duration)]
    duration: Duration,
}

/// What one reader saw.
#[derive(Debug, Default)]
struct Tally {
    delivered: AtomicU64,
    first_line: AtomicU64,
    next_line: AtomicU64,
    gaps: AtomicU64,
    duplicates: AtomicU64,
    wrong: AtomicU64,
    resumes: AtomicU64,
}

impl Tally {
    /// Checks one message: its line must be the one expected, and its text must name it.
    fn check(&self, line: u64, bytes: &[u8]) {
        let delivered = self.delivered.fetch_add(1, Ordering::Relaxed);
        if delivered == 0 {
            self.first_line.store(line, Ordering::Relaxed);
        } else {
            let expected = self.next_line.load(Ordering::Relaxed);
            if line > expected {
                self.gaps.fetch_add(1, Ordering::Relaxed);
            } else if line < expected {
                self.duplicates.fetch_add(1, Ordering::Relaxed);
            }
        }
        if bytes != message(line).as_bytes() {
            self.wrong.fetch_add(1, Ordering::Relaxed);
        }
        self.next_line.store(line + 1, Ordering::Relaxed);
    }
}

fn message(line: u64) -> String {
    format!("demo message {line:08}: the quick brown fox jumps over the lazy dog")
}

pub(crate) async fn run(args: DemoArgs) -> Result<(), Failure> {
    // On Ctrl-C, dropping the demo removes its temporary directory.
    tokio::select! {
        result = demo(args) => result,
        _ = tokio::signal::ctrl_c() => {
            if std::io::stderr().is_terminal() {
                eprintln!();
            }
            Err(Failure::new(130, "interrupted"))
        }
    }
}

async fn demo(args: DemoArgs) -> Result<(), Failure> {
    // Removed when dropped: at the end, on an error, or on Ctrl-C.
    let dir = tempfile::Builder::new()
        .prefix("tcp-file-demo-")
        .tempdir()
        .map_err(|e| {
            let e = error_chain(&e);
            Failure::other(format!("cannot create a temporary directory: {e}"))
        })?;
    let path = dir.path().join("demo.log");
    let server = Server::new();
    server.answer_stats_requests(true);
    let file = server
        .open_file("demo", &path, FileOptions::new())
        .map_err(|e| Failure::error(&e))?;
    let listening = server
        .serve(
            WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
            |_| true,
        )
        .await
        .map_err(|e| Failure::error(&e))?;
    let address = *listening.listening_on_address();
    eprintln!(
        "tcp-file demo: serving {} as `demo` on {address} for {:?}",
        path.display(),
        args.duration
    );
    let command = command_words();
    eprintln!("  try in another shell: {command} tail {address} demo");
    eprintln!("                        {command} stats {address}");
    eprintln!(
        "                        echo 'TAIL demo' | nc -N {} {}",
        address.ip(),
        address.port()
    );

    let started = Instant::now();
    let written = Arc::new(AtomicU64::new(0));
    for line in 0..BACKLOG {
        file.write_message(message(line).as_bytes())
            .map_err(|e| Failure::error(&e))?;
    }
    written.store(BACKLOG, Ordering::Relaxed);

    let reader = Arc::new(Tally::default());
    let tailer = Arc::new(Tally::default());
    let resumer = Arc::new(Tally::default());
    let tasks = [
        tokio::spawn(read_all(address, reader.clone())),
        tokio::spawn(tail(address, tailer.clone())),
        tokio::spawn(read_resuming(address, resumer.clone())),
    ];

    let stop = Arc::new(AtomicBool::new(false));
    let progress = tokio::spawn(show_progress(
        written.clone(),
        stop.clone(),
        [reader.clone(), tailer.clone(), resumer.clone()],
    ));

    // The writer: a steady pace until the duration is over, then close the file (its name
    // stays served, so a reader that resumes after the close still gets the rest).
    let mut ticks = tokio::time::interval(TICK);
    let mut line = BACKLOG;
    while started.elapsed() < args.duration {
        ticks.tick().await;
        for _ in 0..PER_TICK {
            file.write_message(message(line).as_bytes())
                .map_err(|e| Failure::error(&e))?;
            line += 1;
        }
        written.store(line, Ordering::Relaxed);
    }
    file.close_with(false)
        .await
        .map_err(|e| Failure::error(&e))?;

    let mut failures = Vec::new();
    let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
    for (task, name) in tasks.into_iter().zip(["reader", "tailer", "resumer"]) {
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(failure))) => failures.push(format!("{name}: {}", failure.reason)),
            Ok(Err(e)) => failures.push(format!("{name}: {}", error_chain(&e))),
            Err(_) => failures.push(format!(
                "{name}: not finished {DRAIN_LIMIT:?} after the file was closed"
            )),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = progress.await;
    drop(listening.close(true));

    let written = written.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    println!("demo finished in {elapsed:.1} s");
    println!(
        "  messages written:                {written} ({:.0}/s)",
        written as f64 / elapsed
    );
    let mut problems = 0;
    for (name, tally, expected_first) in [
        ("reader (from the first line)", &reader, Some(0)),
        ("tailer (new lines only)", &tailer, None),
        ("resumer (disconnects, resumes)", &resumer, Some(0)),
    ] {
        let delivered = tally.delivered.load(Ordering::Relaxed);
        let first = tally.first_line.load(Ordering::Relaxed);
        let expected = match expected_first {
            Some(first) => written - first,
            None if delivered == 0 => 0,
            None => written - first,
        };
        let mut notes = Vec::new();
        if expected_first.is_none() && delivered > 0 {
            notes.push(format!("from line {first}"));
        }
        let resumes = tally.resumes.load(Ordering::Relaxed);
        if resumes > 0 {
            notes.push(format!("{resumes} reconnections"));
        }
        if delivered != expected {
            notes.push(format!("expected {expected}"));
            problems += 1;
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        };
        println!("  {:<33}{delivered} delivered{notes}", format!("{name}:"));
    }
    let count = |f: fn(&Tally) -> &AtomicU64| {
        [&reader, &tailer, &resumer]
            .iter()
            .map(|t| f(t).load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let gaps = count(|t| &t.gaps);
    let duplicates = count(|t| &t.duplicates);
    let wrong = count(|t| &t.wrong);
    let none_or = |n: u64| {
        if n == 0 {
            "none".to_string()
        } else {
            n.to_string()
        }
    };
    println!(
        "  gaps found: {}; duplicates found: {}; altered messages: {}",
        none_or(gaps),
        none_or(duplicates),
        none_or(wrong)
    );
    for failure in &failures {
        println!("  failed: {failure}");
    }
    if gaps + duplicates + wrong > 0 || problems > 0 || !failures.is_empty() {
        return Err(Failure::other("the demo found a problem (see above)"));
    }
    Ok(())
}

async fn connect(address: SocketAddr) -> Result<Client, Failure> {
    Client::connect(&WhereToConnect::inet_address(address))
        .await
        .map_err(|e| Failure::new(Failure::REFUSED, error_chain(&e)))
}

/// Reads every message from the first line to the end.
async fn read_all(address: SocketAddr, tally: Arc<Tally>) -> Result<(), Failure> {
    let client = connect(address).await?;
    let mut stream = client.read("demo", StreamOptions::new());
    while let Some(item) = stream.next().await {
        let message = item.map_err(stream_failure)?;
        tally.check(message.line, &message.bytes);
    }
    Ok(())
}

/// Reads the messages written after it started.
async fn tail(address: SocketAddr, tally: Arc<Tally>) -> Result<(), Failure> {
    let client = connect(address).await?;
    let mut stream = client.tail("demo", StreamOptions::new());
    while let Some(item) = stream.next().await {
        let message = item.map_err(stream_failure)?;
        tally.check(message.line, &message.bytes);
    }
    Ok(())
}

/// Reads from the first line, disconnects now and then, and resumes from the line after
/// the last one received on a new connection, as `tcp-file read --from` does.
async fn read_resuming(address: SocketAddr, tally: Arc<Tally>) -> Result<(), Failure> {
    let mut next = 0;
    loop {
        let client = connect(address).await?;
        let mut stream = client.read_from("demo", next, StreamOptions::new());
        let mut taken = 0;
        loop {
            match stream.next().await {
                Some(item) => {
                    let message = item.map_err(stream_failure)?;
                    tally.check(message.line, &message.bytes);
                    next = message.line + 1;
                    taken += 1;
                    if taken == RESUME_EVERY {
                        break;
                    }
                }
                None => return Ok(()),
            }
        }
        drop(stream);
        client.disconnect().await;
        tally.resumes.fetch_add(1, Ordering::Relaxed);
    }
}

/// Shows what each side did so far, until `stop`.
async fn show_progress(written: Arc<AtomicU64>, stop: Arc<AtomicBool>, tallies: [Arc<Tally>; 3]) {
    let mut progress = Progress::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticks.tick().await;
        let stopping = stop.load(Ordering::Relaxed);
        if progress.due() || stopping {
            let written = written.load(Ordering::Relaxed);
            let [reader, tailer, resumer] = tallies
                .each_ref()
                .map(|t| t.delivered.load(Ordering::Relaxed));
            let resumes = tallies[2].resumes.load(Ordering::Relaxed);
            // Short enough for an 80-column terminal; a narrower one cuts it.
            progress.show(format!(
                "written {written} | read {reader} | tail {tailer} | resume {resumer} ({resumes}x)"
            ));
        }
        if stopping {
            break;
        }
    }
    progress.finish(true);
}
