//! `tcp-file`: serve growing files over TCP, read and tail them from a shell, and watch it
//! all work in a one-command demo.
//!
//! One subcommand a file: `serve.rs`, `read.rs` (`read` and `tail`), `list.rs` (`list`
//! and `stats`), `demo.rs`. Beside them: `address.rs` parses where to listen or connect,
//! `connect.rs` connects and says why it could not, `logs.rs` sets up the log, `output.rs`
//! prints messages, notes and progress, `hint.rs` names this command in hints, and
//! `report.rs` spells out an error with its causes.

mod address;
mod connect;
mod demo;
mod hint;
mod list;
mod logs;
mod output;
mod read;
mod report;
mod serve;

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use tracing::level_filters::LevelFilter;

use crate::report::error_chain;

const EXAMPLES: &str = "\
Examples:
  tcp-file demo                                   # everything at once, for 10 s
  my-app | tcp-file serve --publish app=app.log --stdin app
  tcp-file read 127.0.0.1:7070 app                # every line, then live ones
  tcp-file read 127.0.0.1:7070 app --from 1200    # resume at line 1200
  tcp-file read 127.0.0.1:7070 app --from -10 -e  # the last 10 lines, then exit
  tcp-file tail 127.0.0.1:7070 app --json         # new lines, as JSON
  tcp-file list 127.0.0.1:7070                    # the files served, and their lines
  echo 'TAIL app' | nc -N 127.0.0.1 7070          # the text mode, for plain clients

Exit codes: 0 when the stream or the server ends normally; 1 for other errors;
2 for a usage error; 3 for an unknown file; 4 when the connection is refused or fails;
5 when the connection is lost mid-stream.";

/// Serve files over TCP while they grow; read and tail them from anywhere.
#[derive(Debug, Parser)]
#[command(name = "tcp-file", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    verbosity: logs::Verbosity,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Listen, publish files, and turn standard input into messages.
    Serve(serve::ServeArgs),
    /// Print every message of a file from its first line (or --from), then follow it.
    Read(read::ReadArgs),
    /// Print only the messages written from now on.
    Tail(read::TailArgs),
    /// Print the files a server serves, with their numbers of lines.
    List(list::ListArgs),
    /// Print a server's snapshot (files, readers, connections, limits) as JSON.
    Stats(list::StatsArgs),
    /// Run a server, a writer and three kinds of readers side by side, then sum up.
    Demo(demo::DemoArgs),
}

/// Why the command failed: a one-line reason and the exit code. A reason that tells of an
/// error spells it out with [`error_chain`], so that each cause is said once.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) reason: String,
}

impl Failure {
    pub(crate) const OTHER: u8 = 1;
    pub(crate) const FILE_NOT_FOUND: u8 = 3;
    pub(crate) const REFUSED: u8 = 4;
    pub(crate) const CONNECTION_LOST: u8 = 5;

    pub(crate) fn new(code: u8, reason: impl Into<String>) -> Self {
        Failure {
            code,
            reason: reason.into(),
        }
    }

    pub(crate) fn other(reason: impl Into<String>) -> Self {
        Failure::new(Failure::OTHER, reason)
    }

    /// `error`, with its causes, as the reason (exit code 1).
    pub(crate) fn error(error: &(dyn std::error::Error + 'static)) -> Self {
        Failure::other(error_chain(error))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Serve(args) = &cli.command {
        if let Some(usage) = args.usage_error() {
            Cli::command()
                .error(clap::error::ErrorKind::ArgumentConflict, usage)
                .exit();
        }
    }
    // A server logs what happens to its clients; a client only what goes wrong.
    let level = match cli.command {
        Command::Serve(_) => LevelFilter::INFO,
        _ => LevelFilter::WARN,
    };
    logs::init(&cli.verbosity, level);
    output::set_quiet(cli.verbosity.quiet());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!(
                "tcp-file: cannot start the async runtime: {}",
                error_chain(&e)
            );
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Read(args) => read::run_read(args).await,
            Command::Tail(args) => read::run_tail(args).await,
            Command::List(args) => list::run_list(args).await,
            Command::Stats(args) => list::run_stats(args).await,
            Command::Demo(args) => demo::run(args).await,
        }
    });
    // Tasks still blocked on standard input must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tcp-file: {}", failure.reason);
            ExitCode::from(failure.code)
        }
    }
}

/// Parses a duration such as `3s`, `500ms`, `2m` or `1.5s` (a bare number is seconds).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (try 3s or 500ms)"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("unknown unit in {text:?}: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds)
        .map_err(|e| format!("not a duration: {text:?}: {}", error_chain(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }
}
