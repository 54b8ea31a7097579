//! A reader that resumes after a lost connection: it remembers the last line it got and
//! asks for the next one with `read_from`, so it sees every line once, with no gap and
//! no duplicate, while the file goes on growing.
//!
//! ```text
//! cargo run -p camlnet-tcp-file --example resume
//! ```

use std::error::Error;

use camlnet_tcp_connect::WhereToConnect;
use camlnet_tcp_file::{Client, FileOptions, Server, StreamOptions};
use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("tcp-file-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let server = Server::new();
    let file = server.open_file("events", dir.join("events"), FileOptions::new())?;
    let listening = server
        .serve(
            WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
            |_peer| true,
        )
        .await?;
    let where_to = WhereToConnect::host_and_port("127.0.0.1", listening.listening_on());

    let mut next_line = 0;
    let mut seen = Vec::new();
    for connection in 1..=3 {
        // Lines written while no reader is connected are on disk: nothing is lost.
        for i in 0..4 {
            file.write_message(format!("event {}", (connection - 1) * 4 + i).as_bytes())?;
        }
        let client = Client::connect(&where_to).await?;
        let mut stream = client.read_from("events", next_line, StreamOptions::new());
        // Read what there is so far, then lose the connection.
        while next_line < file.lines() {
            let Some(message) = stream.next().await else {
                break;
            };
            let message = message?;
            println!(
                "connection {connection}: line {}: {}",
                message.line,
                String::from_utf8_lossy(&message.bytes)
            );
            seen.push(message.line);
            next_line = message.line + 1;
        }
        drop(stream);
        drop(client);
        println!("connection {connection} lost; resuming from line {next_line}");
    }
    assert!(seen.iter().copied().eq(0..12), "every line once, in order");

    file.close().await?;
    listening.close(true).await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
