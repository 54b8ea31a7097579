//! `tcp-file read` and `tcp-file tail`: print a file's messages as they come.

use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_core::Stream;
use tcp_connect::WhereToConnect;
use tcp_file::{Client, Error, Message, MessageStream, StreamOptions};

use crate::Failure;
use crate::output::{Printer, Progress};
use crate::report::error_chain;

/// Progress shows once a read has been running this long.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tcp-file read 127.0.0.1:7070 app
  tcp-file read 127.0.0.1:7070 app --from 1200 --json

Prints each message as a line until the server closes the file (exit code 0). With
--json, one object per line: {\"line\": 0, \"message\": \"...\"}, where bytes that are not
UTF-8 become U+FFFD. Progress of a long catch-up shows on standard error when it is a
terminal and standard output is not.")]
pub(crate) struct ReadArgs {
    /// The server, as HOST:PORT.
    addr: String,
    /// The file's name on the server.
    name: String,
    /// Start at this line (lines count from 0): to resume, the line after the last one
    /// received.
    #[arg(long, value_name = "LINE", default_value_t = 0)]
    from: u64,
    /// Print one JSON object per message, with its line number.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tcp-file tail 127.0.0.1:7070 app
  tcp-file tail 127.0.0.1:7070 app --json

Prints the messages written after the request, until the server closes the file.")]
pub(crate) struct TailArgs {
    /// The server, as HOST:PORT.
    addr: String,
    /// The file's name on the server.
    name: String,
    /// Print one JSON object per message, with its line number.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run_read(args: ReadArgs) -> Result<(), Failure> {
    let client = connect(&args.addr).await?;
    let stream = client.read_from(&args.name, args.from, StreamOptions::new());
    print_stream(stream, args.json, Progress::terminal_only()).await
}

pub(crate) async fn run_tail(args: TailArgs) -> Result<(), Failure> {
    let client = connect(&args.addr).await?;
    let stream = client.tail(&args.name, StreamOptions::new());
    print_stream(stream, args.json, Progress::terminal_only()).await
}

/// Connects to `addr` (`HOST:PORT`, `[IPv6]:PORT`).
pub(crate) async fn connect(addr: &str) -> Result<Client, Failure> {
    let bad = || {
        Failure::other(format!(
            "not an address: {addr:?}: expected HOST:PORT, such as 127.0.0.1:7070"
        ))
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad());
    }
    Client::connect(&WhereToConnect::host_and_port(host, port))
        .await
        .map_err(|e| Failure::new(Failure::REFUSED, error_chain(&e)))
}

/// The failure a stream error means.
pub(crate) fn stream_failure(error: Error) -> Failure {
    if let Some(name) = error.file_name() {
        Failure::new(Failure::FILE_NOT_FOUND, format!("unknown file: {name:?}"))
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

async fn print_stream(
    mut stream: MessageStream,
    json: bool,
    mut progress: Progress,
) -> Result<(), Failure> {
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
        if let Err(e) = printer.print(&message) {
            break Err(e);
        }
        received += 1;
        if started.elapsed() >= PROGRESS_AFTER && progress.due() {
            let rate = received as f64 / started.elapsed().as_secs_f64();
            progress.show(&format!(
                "tcp-file: {received} lines received, at line {}, {rate:.0} lines/s",
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
