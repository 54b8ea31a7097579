//! An echo server: every byte a client sends comes back.
//!
//! ```text
//! cargo run -p tcp-server --example echo -- --listen 127.0.0.1:7000 --max-connections 100
//! ```
//!
//! Prints `listening on HOST:PORT` as its first line (`--listen 127.0.0.1:0` lets the
//! system pick the port) and stops cleanly on Ctrl-C (SIGINT) or SIGTERM, exiting with 0.

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use tcp_server::{OnHandlerError, Server, ServerOptions, WhereToListen};
use tokio::io::AsyncBufReadExt;
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: echo [--listen ADDR] [--max-connections N]";

struct Args {
    listen: SocketAddr,
    max_connections: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 7000)),
        max_connections: None,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| iter.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let text = value("--listen")?;
                args.listen = text.parse().map_err(|e| format!("--listen {text}: {e}"))?;
            }
            "--max-connections" => {
                let text = value("--max-connections")?;
                args.max_connections = Some(
                    text.parse()
                        .map_err(|e| format!("--max-connections {text}: {e}"))?,
                );
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    // Installed before anything is printed, so that a SIGINT sent as soon as the address
    // shows is handled.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;

    let mut options = ServerOptions::default().on_handler_error(OnHandlerError::call(
        |peer: &SocketAddr, error: &tcp_server::HandlerError| {
            eprintln!("connection from {peer}: {error}");
        },
    ));
    if let Some(max) = args.max_connections {
        options = options.max_connections(max);
    }
    let server = Server::create(
        WhereToListen::of_address(args.listen),
        options,
        |_peer, mut reader, writer| async move {
            loop {
                let data = reader.fill_buf().await?;
                if data.is_empty() {
                    return Ok::<_, Box<dyn Error + Send + Sync>>(());
                }
                writer.write(data)?;
                let n = data.len();
                reader.consume(n);
                // Do not buffer without bound for a client that sends but does not read.
                writer.wait_for_room().await?;
            }
        },
    )
    .await?;

    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", server.listening_on_address())?;
    stdout.flush()?;

    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("stopping: {server:?}");
    server.close(true).await?;
    Ok(())
}
