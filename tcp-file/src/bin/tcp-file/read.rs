//! `tcp-file read` and `tcp-file tail`: print a file's messages as they come.

use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use camlnet_tcp_file::{Error, Message, MessageStream, StreamOptions};
use futures_core::Stream;

use crate::Failure;
use crate::address::Address;
use crate::connect::{self, ConnectArgs};
use crate::output::{Printer, Progress, note};
use crate::report::error_chain;

/// Progress shows once a read has been running this long.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// Where `read` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FromLine {
    /// At this line (lines count from 0).
    Line(u64),
    /// This many lines before the end (`--from -N`).
    Last(u64),
}

/// Parses `--from`: a line number, or `-N` for the last N lines.
fn parse_from(text: &str) -> Result<FromLine, String> {
    let number = |digits: &str| {
        digits
            .parse::<u64>()
            .map_err(|_| format!("expected a line number or -N (the last N lines), got {text:?}"))
    };
    match text.strip_prefix('-') {
        Some(last) => number(last).map(FromLine::Last),
        None => number(text).map(FromLine::Line),
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tcp-file read 127.0.0.1:7070 app
  tcp-file read 127.0.0.1:7070 app --from 1200 --json
  tcp-file read 127.0.0.1:7070 app --from -10          # the last 10 lines, then new ones
  tcp-file read 127.0.0.1:7070 app -e                  # what is there now, then exit
  tcp-file read unix:/run/app.sock app --count 1

Prints each message as a line until the server closes the file (exit code 0), or until
the line that was last when it started (-e), or after --count messages. Says on
standard error, before the first message, which line it starts from (-q: not). With
--json, one object per line: {\"line\": 0, \"message\": \"...\"}, where bytes that are not
UTF-8 become U+FFFD. Progress of a long catch-up shows on standard error when it is a
terminal and standard output is not.")]
pub(crate) struct ReadArgs {
    /// The server: HOST:PORT, [IPV6]:PORT or unix:PATH.
    #[arg(value_parser = Address::parse)]
    addr: Address,
    /// The file's name on the server.
    name: String,
    /// Start at this line (lines count from 0; to resume, the line after the last one
    /// received), or with -N at the last N lines.
    #[arg(long, value_name = "LINE|-N", default_value = "0", value_parser = parse_from, allow_negative_numbers = true)]
    from: FromLine,
    /// Exit once the lines the file had at the start are printed, instead of following
    /// it (as `tail` without -f, or kcat -e).
    #[arg(short, long)]
    exit_at_end: bool,
    /// Exit after printing N messages.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Print one JSON object per message, with its line number.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tcp-file tail 127.0.0.1:7070 app
  tcp-file tail 127.0.0.1:7070 app --json --count 1   # wait for the next message

Prints the messages written from now on, until the server closes the file or after
--count messages. Says on standard error which line it starts from (-q: not).")]
pub(crate) struct TailArgs {
    /// The server: HOST:PORT, [IPV6]:PORT or unix:PATH.
    #[arg(value_parser = Address::parse)]
    addr: Address,
    /// The file's name on the server.
    name: String,
    /// Exit after printing N messages.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Print one JSON object per message, with its line number.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// When a read stops before the stream ends.
#[derive(Debug, Clone, Copy)]
struct Stop {
    /// After the line before this one (`-e`).
    before_line: Option<u64>,
    /// After this many messages (`--count`).
    after: Option<u64>,
}

pub(crate) async fn run_read(args: ReadArgs) -> Result<(), Failure> {
    let timeout = args.connect.timeout;
    let lines = lines_so_far(&args.addr, timeout, &args.name).await?;
    let start = match args.from {
        FromLine::Line(line) => line,
        FromLine::Last(n) => lines.saturating_sub(n),
    };
    let stop = Stop {
        before_line: args.exit_at_end.then_some(lines),
        after: args.count,
    };
    let name = &args.name;
    let at_most = at_most(stop.after);
    if args.exit_at_end && start >= lines {
        note(&format!(
            "reading {name}: nothing to read from line {start} (it has {lines} lines)"
        ));
        return Ok(());
    }
    if args.exit_at_end {
        let last = lines - 1;
        note(&format!(
            "reading {name} from line {start} to line {last}, then exiting{at_most}"
        ));
    } else {
        note(&format!(
            "reading {name} from line {start} (it has {lines} lines so far), then following it{at_most}"
        ));
    }
    follow(&args.addr, timeout, (name, start), args.json, stop).await
}

pub(crate) async fn run_tail(args: TailArgs) -> Result<(), Failure> {
    let timeout = args.connect.timeout;
    let lines = lines_so_far(&args.addr, timeout, &args.name).await?;
    let name = &args.name;
    let at_most = at_most(args.count);
    note(&format!(
        "tailing {name} from line {lines}, the next one written{at_most}"
    ));
    let stop = Stop {
        before_line: None,
        after: args.count,
    };
    // From the line counted just now, so that the note above tells the first line printed.
    follow(&args.addr, timeout, (name, lines), args.json, stop).await
}

/// Prints file `name` from line `start` on, until `stop` or the stream's end.
async fn follow(
    addr: &Address,
    timeout: Duration,
    (name, start): (&str, u64),
    json: bool,
    stop: Stop,
) -> Result<(), Failure> {
    if stop.after == Some(0) {
        return Ok(());
    }
    let client = connect::client(addr, timeout).await?;
    let stream = client.read_from(name, start, StreamOptions::new());
    print_stream(stream, json, stop).await
}

fn at_most(count: Option<u64>) -> String {
    match count {
        Some(1) => " (1 message at most)".to_string(),
        Some(n) => format!(" ({n} messages at most)"),
        None => String::new(),
    }
}

/// How many lines file `name` has now, with `LIST`.
///
/// # Errors
///
/// An unknown file (exit code 3), or the request's failure.
async fn lines_so_far(address: &Address, timeout: Duration, name: &str) -> Result<u64, Failure> {
    let listing = connect::text_request(address, timeout, "LIST").await?;
    listing
        .iter()
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(listed, _)| *listed == name)
        .map(|(_, lines)| {
            lines.parse().map_err(|_| {
                Failure::other(format!("{address} listed {name} with {lines:?} lines"))
            })
        })
        .unwrap_or_else(|| Err(unknown_file(name)))
}

fn unknown_file(name: &str) -> Failure {
    Failure::new(Failure::FILE_NOT_FOUND, format!("unknown file: {name:?}"))
}

/// The failure a stream error means.
pub(crate) fn stream_failure(error: Error) -> Failure {
    if let Some(name) = error.file_name() {
        unknown_file(name)
    } else if error.is_transport() {
        let reason = format!("connection lost: {}", error_chain(&error));
        Failure::new(Failure::CONNECTION_LOST, reason)
    } else {
        Failure::error(&error)
    }
}

/// The next item if one is ready now, without waiting.
fn ready_now(stream: &mut MessageStream) -> Option<Option<Result<Message, Error>>> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match Pin::new(stream).poll_next(&mut cx) {
        Poll::Ready(item) => Some(item),
        Poll::Pending => None,
    }
}

async fn print_stream(mut stream: MessageStream, json: bool, stop: Stop) -> Result<(), Failure> {
    let mut progress = Progress::for_read();
    let mut printer = Printer::new(json);
    let started = Instant::now();
    let mut received = 0u64;
    let result = loop {
        let item = match ready_now(&mut stream) {
            Some(item) => item,
            None => {
                // Nothing waiting: show what came so far, then wait.
                if let Err(e) = printer.flush() {
                    break Err(e);
                }
                stream.next().await
            }
        };
        let message = match item {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                let _ = printer.flush();
                progress.finish(false);
                return Err(stream_failure(e));
            }
            None => break printer.flush(),
        };
        if stop.before_line.is_some_and(|end| message.line >= end) {
            break printer.flush();
        }
        if let Err(e) = printer.print(&message) {
            break Err(e);
        }
        received += 1;
        if stop.before_line == Some(message.line + 1) || stop.after == Some(received) {
            break printer.flush();
        }
        if started.elapsed() >= PROGRESS_AFTER && progress.due() {
            let rate = received as f64 / started.elapsed().as_secs_f64();
            progress.show(format!(
                "{received} lines received, at line {}, {rate:.0} lines/s",
                message.line
            ));
        }
    };
    progress.finish(false);
    match result {
        Ok(()) => Ok(()),
        // A reader that goes away (`| head`) is a normal end.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::other(format!(
            "cannot write to standard output: {}",
            error_chain(&e)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_is_a_line_or_the_last_lines() {
        assert_eq!(parse_from("0"), Ok(FromLine::Line(0)));
        assert_eq!(parse_from("1200"), Ok(FromLine::Line(1200)));
        assert_eq!(parse_from("-10"), Ok(FromLine::Last(10)));
        assert_eq!(parse_from("-0"), Ok(FromLine::Last(0)));
        assert!(parse_from("--1").is_err());
        assert!(parse_from("ten").is_err());
        assert!(parse_from("").is_err());
    }
}
