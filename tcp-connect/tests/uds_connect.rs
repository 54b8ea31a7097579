//! Unix-socket connects: by path, by address, abstract names, and the caller's socket.

use std::os::unix::net::SocketAddr;
use std::path::PathBuf;

use camlnet_tcp_connect::{WhereToConnect, connect, connect_sock, connect_sock_using};
use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

/// A fresh socket path in a directory of its own, removed at the end of the test (when
/// it fails too).
struct SocketDir(tempfile::TempDir);

impl SocketDir {
    fn new(name: &str) -> Self {
        let prefix = format!("tcp-connect-{name}-");
        SocketDir(tempfile::Builder::new().prefix(&prefix).tempdir().unwrap())
    }

    fn socket(&self) -> PathBuf {
        self.0.path().join("s.sock")
    }
}

#[tokio::test]
async fn connects_to_a_file() {
    let dir = SocketDir::new("file");
    let listener = UnixListener::bind(dir.socket()).unwrap();
    let mut stream = connect_sock(&WhereToConnect::file(dir.socket()))
        .await
        .unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    stream.write_all(b"over unix").await.unwrap();
    drop(stream);
    let mut received = String::new();
    server.read_to_string(&mut received).await.unwrap();
    assert_eq!(received, "over unix");
}

#[tokio::test]
async fn connects_to_a_unix_address() {
    let dir = SocketDir::new("address");
    let listener = UnixListener::bind(dir.socket()).unwrap();
    let address = SocketAddr::from_pathname(dir.socket()).unwrap();
    let stream = connect_sock(&WhereToConnect::unix_address(address))
        .await
        .unwrap();
    listener.accept().await.unwrap();
    assert_eq!(
        stream.peer_addr().unwrap().as_pathname(),
        Some(dir.socket().as_path())
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn connects_to_an_abstract_name() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("tcp-connect-test-{}", std::process::id());
    let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&address).unwrap();
    listener.set_nonblocking(true).unwrap();
    let listener = UnixListener::from_std(listener).unwrap();
    let where_to = WhereToConnect::unix_address(address);
    assert_eq!(where_to.to_string(), format!("@{name}"));
    let _stream = connect_sock(&where_to).await.unwrap();
    listener.accept().await.unwrap();
}

#[tokio::test]
async fn connect_gives_a_reader_and_a_writer() {
    let dir = SocketDir::new("reader-writer");
    let listener = UnixListener::bind(dir.socket()).unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.unwrap();
        stream.write_all(&received).await.unwrap();
    });
    let (_socket, mut reader, writer) = connect(&WhereToConnect::file(dir.socket())).await.unwrap();
    writer.write(b"echo me").unwrap();
    writer.close().await.unwrap();
    let mut echoed = String::new();
    reader.read_to_string(&mut echoed).await.unwrap();
    assert_eq!(echoed, "echo me");
    server.await.unwrap();
}

#[tokio::test]
async fn connects_the_callers_socket_with_its_options() {
    let dir = SocketDir::new("callers");
    let listener = UnixListener::bind(dir.socket()).unwrap();
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    let expected = socket.send_buffer_size().unwrap();
    let stream = connect_sock_using(&WhereToConnect::file(dir.socket()), socket)
        .await
        .unwrap();
    listener.accept().await.unwrap();
    assert_eq!(
        socket2::SockRef::from(&stream).send_buffer_size().unwrap(),
        expected
    );
}

#[tokio::test]
async fn a_missing_file_names_the_path() {
    let dir = SocketDir::new("missing");
    let error = connect_sock(&WhereToConnect::file(dir.socket()))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&dir.socket().display().to_string()),
        "{message}"
    );
    assert!(!error.is_timeout() && !error.is_refused());
}

#[tokio::test]
async fn a_socket_file_nobody_listens_on_is_refused() {
    let dir = SocketDir::new("refused");
    drop(std::os::unix::net::UnixListener::bind(dir.socket()).unwrap());
    let error = connect_sock(&WhereToConnect::file(dir.socket()))
        .await
        .unwrap_err();
    assert!(error.is_refused(), "{error}");
}

#[tokio::test]
async fn an_empty_path_or_unnamed_address_is_a_clear_error() {
    let error = connect_sock(&WhereToConnect::file("")).await.unwrap_err();
    assert!(error.is_invalid_target());
    assert!(error.to_string().contains("the path is empty"), "{error}");

    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let unnamed = a.local_addr().unwrap();
    let error = connect_sock(&WhereToConnect::unix_address(unnamed))
        .await
        .unwrap_err();
    assert!(error.is_invalid_target());
    assert!(error.to_string().contains("unnamed"), "{error}");

    let too_long = "x".repeat(200);
    let error = connect_sock(&WhereToConnect::file(too_long))
        .await
        .unwrap_err();
    assert!(error.is_invalid_target(), "{error}");
}
