//! TCP connects on loopback: addresses, names, the local end, and the caller's socket.

mod support;

use std::net::SocketAddr;

use camlnet_tcp_connect::{WhereToConnect, connect, connect_sock, connect_sock_using};
use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

#[tokio::test]
async fn connects_to_an_inet_address() {
    let (listener, addr) = listener().await;
    let stream = connect_sock(&WhereToConnect::inet_address(addr))
        .await
        .unwrap();
    let (_server, peer) = listener.accept().await.unwrap();
    assert_eq!(stream.peer_addr().unwrap(), addr);
    assert_eq!(peer, stream.local_addr().unwrap());
}

#[tokio::test]
async fn connects_to_a_literal_host_with_or_without_brackets() {
    let (listener, addr) = listener().await;
    for host in ["127.0.0.1", "[127.0.0.1]"] {
        let stream = connect_sock(&WhereToConnect::host_and_port(host, addr.port()))
            .await
            .unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
        listener.accept().await.unwrap();
    }
}

#[tokio::test]
async fn connects_to_localhost_through_the_system_resolver() {
    let (listener, addr) = listener().await;
    let stream = connect_sock(&WhereToConnect::host_and_port("localhost", addr.port()))
        .await
        .unwrap();
    assert_eq!(stream.peer_addr().unwrap(), addr);
    listener.accept().await.unwrap();
}

#[tokio::test]
async fn connect_gives_a_reader_and_a_writer() {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.unwrap();
        stream.write_all(&received).await.unwrap();
    });
    let where_to = WhereToConnect::inet_address(addr).reader_buffer_size(7);
    let (socket, mut reader, writer) = connect(&where_to).await.unwrap();
    assert_eq!(socket.peer_addr().unwrap(), addr);
    assert_eq!(reader.buffer_size(), 7);
    writer.write(b"hello over tcp").unwrap();
    writer.close().await.unwrap();
    let mut echoed = String::new();
    reader.read_to_string(&mut echoed).await.unwrap();
    assert_eq!(echoed, "hello over tcp");
    server.await.unwrap();
}

#[tokio::test]
async fn via_local_port_is_the_peer_port_on_the_server() {
    let (listener, addr) = listener().await;
    let port = support::free_port("127.0.0.1");
    let where_to = WhereToConnect::inet_address(addr).via_local_port(port);
    let stream = connect_sock(&where_to).await.unwrap();
    let (_server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer.port(), port);
    assert_eq!(stream.local_addr().unwrap().port(), port);
}

#[tokio::test]
async fn via_local_interface_is_the_peer_address_on_the_server() {
    let (listener, addr) = listener().await;
    let where_to = WhereToConnect::host_and_port("127.0.0.1", addr.port())
        .via_local_interface("127.0.0.2".parse().unwrap());
    let _stream = connect_sock(&where_to).await.unwrap();
    let (_server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer.ip().to_string(), "127.0.0.2");
}

#[tokio::test]
async fn via_local_interface_and_port_together() {
    let (listener, addr) = listener().await;
    let port = support::free_port("127.0.0.2");
    let where_to = WhereToConnect::inet_address(addr)
        .via_local_interface("127.0.0.2".parse().unwrap())
        .via_local_port(port);
    let _stream = connect_sock(&where_to).await.unwrap();
    let (_server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, SocketAddr::from(([127, 0, 0, 2], port)));
}

#[tokio::test]
async fn a_local_interface_of_the_other_ip_version_is_a_clear_error() {
    let (_listener, addr) = listener().await;
    let where_to = WhereToConnect::inet_address(addr).via_local_interface("::1".parse().unwrap());
    let error = connect_sock(&where_to).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    let cause = support::cause(&error);
    assert!(cause.contains("not of the same IP version"), "{cause}");
}

#[tokio::test]
async fn connects_the_callers_socket_with_its_options() {
    let (listener, addr) = listener().await;
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_tcp_nodelay(true).unwrap();
    socket.set_recv_buffer_size(32 * 1024).unwrap();
    let expected_rcvbuf = socket.recv_buffer_size().unwrap();
    let stream = connect_sock_using(
        &WhereToConnect::host_and_port("localhost", addr.port()),
        socket,
    )
    .await
    .unwrap();
    listener.accept().await.unwrap();
    assert_eq!(stream.peer_addr().unwrap(), addr);
    assert!(stream.nodelay().unwrap());
    assert_eq!(
        socket2::SockRef::from(&stream).recv_buffer_size().unwrap(),
        expected_rcvbuf
    );
}

#[tokio::test]
async fn a_callers_socket_of_the_wrong_kind_is_refused() {
    let (_listener, addr) = listener().await;
    let datagram = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    let error = connect_sock_using(&WhereToConnect::inet_address(addr), datagram)
        .await
        .unwrap_err();
    assert!(
        support::cause(&error).contains("not a stream socket"),
        "{error}"
    );
    let v6 = Socket::new(Domain::IPV6, Type::STREAM, None);
    if let Ok(v6) = v6 {
        let error = connect_sock_using(&WhereToConnect::inet_address(addr), v6)
            .await
            .unwrap_err();
        assert!(error.is_resolve(), "{error}");
        assert!(
            support::cause(&error).contains("no IPv6 address"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn an_empty_host_or_port_zero_is_a_clear_error() {
    let cases = [
        (
            WhereToConnect::host_and_port("", 80),
            "cannot connect to :80: the host name is empty",
        ),
        (
            WhereToConnect::host_and_port("localhost", 0),
            "cannot connect to localhost:0: port 0 cannot be connected to",
        ),
        (
            WhereToConnect::inet_address("127.0.0.1:0".parse().unwrap()),
            "cannot connect to 127.0.0.1:0: port 0 cannot be connected to",
        ),
    ];
    for (where_to, expected) in cases {
        let error = connect_sock(&where_to).await.unwrap_err();
        assert!(error.is_invalid_target());
        assert!(!error.is_timeout() && !error.is_refused() && !error.is_resolve());
        assert_eq!(error.to_string(), expected);
    }
}

#[tokio::test]
async fn odd_host_names_fail_without_panicking() {
    let port = support::free_port("127.0.0.1");
    // The system resolver refuses a NUL byte before any lookup.
    let error = connect_sock(&WhereToConnect::host_and_port("nul\0byte", port))
        .await
        .unwrap_err();
    assert!(error.is_resolve(), "{error}");
    // The others reach the resolver (one that needs no network) or fail to connect.
    let long = "a".repeat(100_000);
    for host in [
        "[",
        "[]",
        "[::1",
        "::",
        "999.1.1.1",
        "\u{1F980}",
        long.as_str(),
    ] {
        let where_to = WhereToConnect::host_and_port(host, port).resolver(support::Failing);
        let error = connect_sock(&where_to).await.unwrap_err();
        // "::" is the unspecified address, which Linux treats as loopback: refused.
        assert!(
            error.is_resolve() || error.is_refused(),
            "{host:?}: {error}"
        );
    }
}
