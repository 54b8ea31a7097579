//! `SO_REUSEPORT`: two servers sharing a port, and without it the port is taken.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use camlnet_tcp_server::{BindToAddress, BindToPort, Inet, Server, ServerOptions, WhereToListen};
use common::{PATIENCE, localhost};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn named_server(
    where_to_listen: WhereToListen<Inet>,
    name: u8,
) -> Result<Server<Inet>, camlnet_tcp_server::Error> {
    Server::create_sock(
        where_to_listen,
        ServerOptions::default(),
        move |_, mut stream: TcpStream| async move {
            stream.write_all(&[name]).await?;
            Ok::<_, std::io::Error>(())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_a_port() {
    let first = named_server(localhost().reuse_port(true), b'a')
        .await
        .unwrap();
    let port = first.listening_on();
    let second = named_server(
        WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPort(port)).reuse_port(true),
        b'b',
    )
    .await
    .expect("a second server on the same port");
    assert_eq!(second.listening_on(), port);

    let counts: Arc<[AtomicUsize; 2]> = Arc::default();
    let address = *first.listening_on_address();
    for _ in 0..64 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let mut name = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut name))
            .await
            .unwrap()
            .unwrap();
        counts[usize::from(name[0] - b'a')].fetch_add(1, Ordering::Relaxed);
    }
    let (a, b) = (
        counts[0].load(Ordering::Relaxed),
        counts[1].load(Ordering::Relaxed),
    );
    assert_eq!(a + b, 64);
    // Linux spreads connections by a hash of their addresses: both get some.
    assert!(a > 0 && b > 0, "a served {a}, b served {b}");

    first.close(false).await.unwrap();
    // The port stays served by the second.
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut name = Vec::new();
    stream.read_to_end(&mut name).await.unwrap();
    assert_eq!(name, b"b");
    second.close(false).await.unwrap();
}

#[tokio::test]
async fn without_reuse_port_the_port_is_taken() {
    let first = named_server(localhost(), b'a').await.unwrap();
    let error = named_server(
        WhereToListen::bind_to(
            BindToAddress::Localhost,
            BindToPort::OnPort(first.listening_on()),
        ),
        b'b',
    )
    .await
    .expect_err("the port is taken");
    assert!(error.is_listen() && error.is_address_in_use(), "{error:?}");
    assert!(error.to_string().contains("127.0.0.1"), "{error}");
    first.close(false).await.unwrap();
}
