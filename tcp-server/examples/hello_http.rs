//! A minimal HTTP/1.1 server: answers any request with the same small response, then
//! closes the connection.
//!
//! ```text
//! cargo run -p tcp-server --example hello_http -- --listen 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/
//! ```
//!
//! Takes `--listen ADDR` (port 0 lets the system pick) and `--max-connections N`, prints
//! `listening on HOST:PORT` as its first line, and stops cleanly on Ctrl-C (SIGINT) or
//! SIGTERM, exiting with 0.

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use tcp_server::{OnHandlerError, Server, ServerOptions, WhereToListen};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: hello_http [--listen ADDR] [--max-connections N]";

/// The body of every response.
const BODY: &str = "Hello, world!\n";

/// The longest request head read; a longer one gets the answer all the same.
const MAX_HEAD: u64 = 16 * 1024;

struct Args {
    listen: SocketAddr,
    max_connections: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
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
            eprintln!("hello_http: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
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
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let server = Server::create(
        WhereToListen::of_address(args.listen),
        options,
        move |_peer, reader, writer| {
            let response = response.clone();
            async move {
                // Read the request head: lines up to the first empty one.
                let mut head = reader.take(MAX_HEAD);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    let n = head.read_until(b'\n', &mut line).await?;
                    if n == 0 || line == b"\r\n" || line == b"\n" {
                        break;
                    }
                }
                // The server flushes and closes the writer when the handler returns.
                writer.write(response.as_bytes())?;
                Ok::<_, Box<dyn Error + Send + Sync>>(())
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
