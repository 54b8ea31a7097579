//! A file server and a client over TCP on loopback: the server writes a growing log, the
//! client reads it from its first line and follows it until the file is closed.
//!
//! ```text
//! cargo run -p camlnet-tcp-file --example server_and_client
//! ```

use std::error::Error;

use camlnet_tcp_connect::WhereToConnect;
use camlnet_tcp_file::{Client, FileOptions, Server, StreamOptions};
use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("tcp-file-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // The server: one file open for writing, served as "app.log", on a free port.
    let server = Server::new();
    let file = server.open_file("app.log", dir.join("app.log"), FileOptions::new())?;
    file.write_message(b"started")?;
    let listening = server
        .serve(
            WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
            |_peer| true,
        )
        .await?;
    let port = listening.listening_on();
    println!("serving app.log on 127.0.0.1:{port}");

    // The client reads from the first line; lines written later follow.
    let client = Client::connect(&WhereToConnect::host_and_port("127.0.0.1", port)).await?;
    let mut stream = client.read("app.log", StreamOptions::new());
    // Once the first line has come, the stream is open on the server: closing the file
    // now ends it after the last line (closing it before would leave the name unknown).
    if let Some(first) = stream.next().await {
        let first = first?;
        println!(
            "line {}: {}",
            first.line,
            String::from_utf8_lossy(&first.bytes)
        );
    }
    let writer = tokio::spawn(async move {
        for i in 1..=5 {
            file.write_message(format!("request {i} served").as_bytes())?;
        }
        // Closing the file ends every stream after its last line.
        file.close().await
    });
    while let Some(message) = stream.next().await {
        let message = message?;
        println!(
            "line {}: {}",
            message.line,
            String::from_utf8_lossy(&message.bytes)
        );
    }
    writer.await??;

    listening.close(true).await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
