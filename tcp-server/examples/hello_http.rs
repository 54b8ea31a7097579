//! A minimal HTTP/1.1 server: answers any request with the same small response, then
//! closes the connection.
//!
//! ```text
//! cargo run -p camlnet-tcp-server --example hello_http -- --listen 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/
//! ```
//!
//! Takes `--listen ADDR` (port 0 lets the system pick) and `--max-connections N`, prints
//! `listening on HOST:PORT` as its first line, and stops cleanly on Ctrl-C (SIGINT) or
//! SIGTERM, exiting with 0.

mod common;

use std::error::Error;
use std::process::ExitCode;

use camlnet_tcp_server::Server;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

/// The body of every response.
const BODY: &str = "Hello, world!\n";

/// The longest request head read; a longer one gets the answer all the same.
const MAX_HEAD: u64 = 16 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    common::run("hello_http", 8080, |where_to_listen, options| {
        Server::create(where_to_listen, options, move |_peer, reader, writer| {
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
        })
    })
    .await
}
