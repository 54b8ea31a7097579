//! Connects to HOST PORT with one timeout for the whole attempt (Happy Eyeballs across the
//! host's addresses) and says what happened; with no arguments, connects to a listener it
//! starts on loopback.
//!
//! ```text
//! cargo run -p camlnet-tcp-connect --example connect -- localhost 7000
//! ```

use std::error::Error;
use std::time::Duration;

use camlnet_tcp_connect::{WhereToConnect, connect_sock};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (host, port, _listener) = match (args.next(), args.next()) {
        (Some(host), Some(port)) => (host, port.parse()?, None),
        _ => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            ("127.0.0.1".to_string(), port, Some(listener))
        }
    };
    let where_to = WhereToConnect::host_and_port(&host, port).timeout(Duration::from_secs(5));
    match connect_sock(&where_to).await {
        Ok(stream) => println!(
            "connected to {} from {}",
            stream.peer_addr()?,
            stream.local_addr()?
        ),
        // The error names the target; its sources say why, for each address tried.
        Err(e) => {
            let mut reason = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                reason.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            println!("{reason}");
        }
    }
    Ok(())
}
