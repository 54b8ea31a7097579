//! `tcp-file serve`: listen, publish files, and turn standard input into messages.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use camlnet_tcp_file::{FileHandle, FileOptions, Limits, MAX_MESSAGE, Server, SyncPolicy};
use camlnet_tcp_server::{Listen, WhereToListen};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::Failure;
use crate::address::Address;
use crate::report::error_chain;

/// How long clients get to receive what is left once the server stops.
const GRACE: Duration = Duration::from_secs(3);
/// Under `--stdin`, wait for the disk after this many bytes of input (bounds memory).
const FLUSH_EVERY: usize = 1024 * 1024;
/// The interval of `--sync interval`.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Sync {
    /// Never call fsync: the page cache decides.
    Never,
    /// At most 1 s after a write.
    Interval,
    /// After every batch of writes.
    Always,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tcp-file serve --publish app=/var/log/app.log --append
  my-app | tcp-file serve --listen 0.0.0.0:7070 --publish app=app.log --stdin app
  tcp-file serve --listen 127.0.0.1:0 --static old=old.log --allow 127.0.0.1
  tcp-file serve --listen unix:/run/app.sock --publish app=app.log
  RUST_LOG=debug tcp-file serve --publish app=app.log     # every connection and stream

Prints `listening on HOST:PORT` (or `listening on unix:PATH`) as its first line of
standard output; logs go to standard error (level info; -v, -q or RUST_LOG to change). With --stdin, the
server lives as long as its input: at the end of the input it closes the files, ends
the client streams and stops. It stops the same way on Ctrl-C (SIGINT), SIGTERM or
SIGHUP, with exit code 0; clients get up to 3 s to receive what is left. A line of input
longer than 16 MiB is skipped, with a note on standard error.

Plain clients (nc, socat, telnet) may send one line, `READ NAME`, `TAIL NAME` or
`FROM LINE NAME`, and receive `+OK` then every message as a line, or `-ERR reason`;
or `LIST` (`NAME LINES` for each file) or `STATS` (the server's snapshot as JSON: file
paths and client addresses too). A client that --allow turns away is told so.")]
pub(crate) struct ServeArgs {
    /// Where to listen: HOST:PORT (port 0: a free port the system picks), [IPV6]:PORT,
    /// or unix:PATH for a Unix socket.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7070", value_parser = Address::parse)]
    listen: Address,
    /// Write the file at PATH and serve it as NAME (repeatable).
    #[arg(long, value_name = "NAME=PATH", value_parser = name_and_path)]
    publish: Vec<(String, PathBuf)>,
    /// Serve the existing file at PATH, which must not change, as NAME (repeatable).
    #[arg(long = "static", value_name = "NAME=PATH", value_parser = name_and_path)]
    static_files: Vec<(String, PathBuf)>,
    /// Each line of standard input becomes a message of the published file NAME; the end
    /// of the input stops the server.
    #[arg(long, value_name = "NAME")]
    stdin: Option<String>,
    /// Append to published files that exist (their lines are served first); without it,
    /// an existing non-empty file is an error.
    #[arg(long)]
    append: bool,
    /// When to fsync published files.
    #[arg(long, value_enum, default_value_t = Sync::Never)]
    sync: Sync,
    /// Serve clients from this IP address only (repeatable; default: everyone); others
    /// are told they are not allowed. TCP only.
    #[arg(long = "allow", value_name = "IP")]
    allow: Vec<IpAddr>,
    /// Serve at most N clients at once; more wait to be accepted (default: 10,000, or 90%
    /// of the file-descriptor limit).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Close a client connection that has no stream open for this long.
    #[arg(long, value_name = "D", default_value = "60s", value_parser = crate::parse_duration)]
    idle_timeout: Duration,
    /// Close a client connection whose socket takes nothing for this long while data waits.
    #[arg(long, value_name = "D", default_value = "30s", value_parser = crate::parse_duration)]
    write_timeout: Duration,
}

fn name_and_path(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("expected NAME=PATH, got {text:?}")),
    }
}

impl ServeArgs {
    /// What the parser cannot check: the reason of a usage error.
    pub(crate) fn usage_error(&self) -> Option<String> {
        if matches!(self.listen, Address::Unix(_)) && !self.allow.is_empty() {
            return Some(
                "--allow filters TCP clients by IP address; on a Unix socket, the file's \
                 permissions say who may connect"
                    .to_string(),
            );
        }
        None
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, Failure> {
    let listen = Address::Tcp {
        host: host.to_string(),
        port,
    };
    let cannot = |why: String| Failure::other(format!("cannot listen on {listen}: {why}"));
    let mut addresses = (host, port)
        .to_socket_addrs()
        .map_err(|e| cannot(error_chain(&e)))?;
    addresses
        .next()
        .ok_or_else(|| cannot("no address".to_string()))
}

/// The signals that stop the server.
struct Stops {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Stops {
    fn new() -> Result<Stops, Failure> {
        let signal_error = |e: std::io::Error| {
            Failure::other(format!("cannot handle signals: {}", error_chain(&e)))
        };
        Ok(Stops {
            interrupt: signal(SignalKind::interrupt()).map_err(signal_error)?,
            terminate: signal(SignalKind::terminate()).map_err(signal_error)?,
            // The terminal or the ssh session went away: stop as cleanly as on SIGTERM.
            hangup: signal(SignalKind::hangup()).map_err(signal_error)?,
        })
    }

    async fn any(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
    }
}

pub(crate) async fn run(args: ServeArgs) -> Result<(), Failure> {
    if let Some(name) = &args.stdin {
        if !args.publish.iter().any(|(n, _)| n == name) {
            return Err(Failure::other(format!(
                "--stdin {name}: publish it too, with --publish {name}=PATH"
            )));
        }
    }
    let sync = match args.sync {
        Sync::Never => SyncPolicy::Never,
        Sync::Interval => SyncPolicy::Interval(SYNC_INTERVAL),
        Sync::Always => SyncPolicy::Always,
    };
    let mut limits = Limits::new()
        .idle_timeout(args.idle_timeout)
        .write_timeout(args.write_timeout);
    if let Some(max) = args.max_connections {
        limits = limits.max_connections(max);
    }
    let server = Server::with_limits(limits);
    server.answer_stats_requests(true);
    let options = FileOptions::new().append(args.append).sync(sync);
    let mut files = Vec::new();
    for (name, path) in &args.publish {
        let file = server
            .open_file(name, path, options.clone())
            .map_err(|e| Failure::other(format!("cannot publish {name}: {}", error_chain(&e))))?;
        files.push(file);
    }
    for (name, path) in &args.static_files {
        server
            .serve_existing_static_file(name, path)
            .map_err(|e| Failure::other(format!("cannot serve {name}: {}", error_chain(&e))))?;
    }

    // Handlers first: a signal that arrives once `listening on` is out must stop cleanly.
    let stops = Stops::new()?;
    let input = args
        .stdin
        .as_ref()
        .and_then(|name| files.iter().position(|f| f.name() == name));
    match &args.listen {
        Address::Tcp { host, port } => {
            let allow = args.allow;
            let auth = move |peer: &SocketAddr| {
                allow.is_empty()
                    || allow
                        .iter()
                        .any(|ip| ip.to_canonical() == peer.ip().to_canonical())
            };
            let at = WhereToListen::of_address(resolve(host, *port)?);
            let listening = server
                .serve(at, auth)
                .await
                .map_err(|e| Failure::error(&e))?;
            let address = listening.listening_on_address().to_string();
            until_stopped(listening, &address, files, input, stops).await
        }
        Address::Unix(path) => {
            let listening = server
                .serve(WhereToListen::of_file(path), |_| true)
                .await
                .map_err(|e| Failure::error(&e))?;
            let address = args.listen.to_string();
            until_stopped(listening, &address, files, input, stops).await
        }
    }
}

/// Says where it listens, feeds standard input to `files[input]` if given, and, once the
/// input ends or a signal comes, closes the files and the listener.
async fn until_stopped<T: Listen>(
    listening: camlnet_tcp_server::Server<T>,
    address: &str,
    files: Vec<FileHandle>,
    input: Option<usize>,
    mut stops: Stops,
) -> Result<(), Failure> {
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {address}");
        let _ = out.flush();
    }
    let fed = tokio::select! {
        fed = feed(input.map(|i| &files[i])) => fed,
        () = stops.any() => Ok(()),
    };

    // Stop: readers receive what was written, then the end of their streams.
    let mut closed = Ok(());
    for file in files {
        let name = file.name().to_string();
        if let Err(e) = file.close().await {
            let e = error_chain(&e);
            closed = Err(Failure::other(format!("closing {name} failed: {e}")));
        }
    }
    drop(listening.close(false));
    if tokio::time::timeout(GRACE, listening.close_finished_and_handlers_determined())
        .await
        .is_err()
    {
        let _ = tokio::time::timeout(GRACE, listening.close(true)).await;
    }
    fed.and(closed)
}

/// Writes each line of standard input to `file` until the input ends; with no file, waits
/// for ever.
async fn feed(file: Option<&FileHandle>) -> Result<(), Failure> {
    let Some(file) = file else {
        return std::future::pending().await;
    };
    let failed = |e: camlnet_tcp_file::FileError| {
        let e = error_chain(&e);
        Failure::other(format!("writing to {} failed: {e}", file.name()))
    };
    let mut stdin = BufReader::with_capacity(64 * 1024, tokio::io::stdin());
    let mut line = Vec::new();
    let mut too_long = false;
    let mut unflushed = 0;
    loop {
        let buf = stdin.fill_buf().await.map_err(|e| {
            Failure::other(format!(
                "reading standard input failed: {}",
                error_chain(&e)
            ))
        })?;
        let (taken, end_of_line) = match buf.iter().position(|&b| b == b'\n') {
            Some(nl) => (nl + 1, true),
            None => (buf.len(), buf.is_empty()),
        };
        let end_of_input = buf.is_empty();
        if end_of_input && line.is_empty() && !too_long {
            return Ok(());
        }
        // Longer lines are skipped whole, without holding them in memory.
        if line.len() + taken > MAX_MESSAGE + 2 {
            too_long = true;
            line.clear();
        } else if !too_long {
            line.extend_from_slice(&buf[..taken]);
        }
        stdin.consume(taken);
        if end_of_line {
            let message = line
                .strip_suffix(b"\n")
                .map_or(&line[..], |l| l.strip_suffix(b"\r").unwrap_or(l));
            if too_long || message.len() > MAX_MESSAGE {
                eprintln!("tcp-file: skipped a line of standard input longer than 16 MiB");
            } else {
                file.write_message(&line).map_err(failed)?;
                unflushed += line.len();
            }
            too_long = false;
            line.clear();
            if unflushed >= FLUSH_EVERY {
                file.flushed().await.map_err(failed)?;
                unflushed = 0;
            }
        }
        if end_of_input {
            return Ok(());
        }
    }
}
