//! An echo over loopback TCP with flows: a server task sends back what it reads until the
//! end of the stream; the client writes two buffers at once, half-closes, and reads the
//! echo to its end.
//!
//! ```text
//! cargo run -p camlnet-flow --example tcp_echo
//! ```

use std::error::Error;

use bytes::Bytes;
use camlnet_flow::{FlowExt, Read, Shutdown, TcpFlow};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (stream, peer) = listener.accept().await?;
        let mut flow = TcpFlow::from(stream);
        while let Read::Data(bytes) = flow.read().await? {
            println!("server: {} bytes from {peer}", bytes.len());
            flow.write(bytes).await?;
        }
        flow.close().await?;
        Ok::<_, Box<dyn Error + Send + Sync>>(())
    });

    let mut client = TcpFlow::from(TcpStream::connect(addr).await?);
    client
        .writev(vec![
            Bytes::from_static(b"hello, "),
            Bytes::from_static(b"flow"),
        ])
        .await?;
    client.shutdown(Shutdown::Write).await?;
    let mut echoed = Vec::new();
    while let Read::Data(bytes) = client.read().await? {
        echoed.extend_from_slice(&bytes);
    }
    println!("client: {}", String::from_utf8_lossy(&echoed));
    server.await??;
    Ok(())
}
