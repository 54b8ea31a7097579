//! An echo server: every byte a client sends comes back.
//!
//! ```text
//! cargo run -p camlnet-tcp-server --example echo -- --listen 127.0.0.1:7000 --max-connections 100
//! ```
//!
//! Prints `listening on HOST:PORT` as its first line (`--listen 127.0.0.1:0` lets the
//! system pick the port) and stops cleanly on Ctrl-C (SIGINT) or SIGTERM, exiting with 0.

mod common;

use std::error::Error;
use std::process::ExitCode;

use camlnet_tcp_server::Server;
use tokio::io::AsyncBufReadExt;

#[tokio::main]
async fn main() -> ExitCode {
    common::run("echo", 7000, |where_to_listen, options| {
        Server::create(
            where_to_listen,
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
    })
    .await
}
