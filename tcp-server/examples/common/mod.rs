//! What the examples share: `--listen ADDR` and `--max-connections N`, the
//! `listening on HOST:PORT` line, and a clean stop on SIGINT or SIGTERM with exit code 0.

use std::error::Error;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use camlnet_tcp_server::{Inet, OnHandlerError, Server, ServerOptions, WhereToListen};
use tokio::signal::unix::{SignalKind, signal};

/// Runs the example `name`: parses the arguments, creates the server with `create` (given
/// where to listen and the options), prints where it listens, and closes it on a signal.
pub(crate) async fn run<C, Fut>(name: &str, default_port: u16, create: C) -> ExitCode
where
    C: FnOnce(WhereToListen<Inet>, ServerOptions<Inet>) -> Fut,
    Fut: Future<Output = Result<Server<Inet>, camlnet_tcp_server::Error>>,
{
    let usage = format!("usage: {name} [--listen ADDR] [--max-connections N]");
    let (listen, max_connections) = match parse_args(&usage, default_port) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match serve(listen, max_connections, create).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(usage: &str, default_port: u16) -> Result<(SocketAddr, Option<usize>), String> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], default_port));
    let mut max_connections = None;
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| iter.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let text = value("--listen")?;
                listen = text.parse().map_err(|e| format!("--listen {text}: {e}"))?;
            }
            "--max-connections" => {
                let text = value("--max-connections")?;
                let max = text
                    .parse()
                    .map_err(|e| format!("--max-connections {text}: {e}"))?;
                max_connections = Some(max);
            }
            "-h" | "--help" => return Err(usage.to_owned()),
            other => return Err(format!("unknown argument {other}\n{usage}")),
        }
    }
    Ok((listen, max_connections))
}

async fn serve<C, Fut>(
    listen: SocketAddr,
    max_connections: Option<usize>,
    create: C,
) -> Result<(), Box<dyn Error>>
where
    C: FnOnce(WhereToListen<Inet>, ServerOptions<Inet>) -> Fut,
    Fut: Future<Output = Result<Server<Inet>, camlnet_tcp_server::Error>>,
{
    // Installed before anything is printed, so that a SIGINT sent as soon as the address
    // shows is handled.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;

    let mut options = ServerOptions::default().on_handler_error(OnHandlerError::call(
        |peer: &SocketAddr, error: &camlnet_tcp_server::HandlerError| {
            eprintln!("connection from {peer}: {error}");
        },
    ));
    if let Some(max) = max_connections {
        options = options.max_connections(max);
    }
    let server = create(WhereToListen::of_address(listen), options).await?;

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
