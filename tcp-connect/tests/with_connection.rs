//! `with_connection`: the connection is closed however the caller's code ends.

use std::io;
use std::time::{Duration, Instant};

use camlnet_flow::BufferAgeLimit;
use camlnet_tcp_connect::{WhereToConnect, with_connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server that accepts one connection, reads it to the end and returns what it read.
async fn read_to_end_server() -> (
    WhereToConnect<camlnet_tcp_connect::Inet>,
    JoinHandle<Vec<u8>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let where_to = WhereToConnect::inet_address(listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.unwrap();
        received
    });
    (where_to, server)
}

/// Waits (bounded) for a task that must end because the connection was closed.
async fn finished<T>(task: JoinHandle<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the connection was not closed")
        .unwrap()
}

#[tokio::test]
async fn returns_the_result_having_flushed_and_closed() {
    let (where_to, server) = read_to_end_server().await;
    let result = with_connection(&where_to, |socket, _reader, writer| async move {
        assert!(socket.peer_addr().is_ok());
        for i in 0..1000 {
            writer.write(format!("line {i}\n").as_bytes())?;
        }
        Ok::<_, io::Error>(42)
    })
    .await
    .unwrap();
    assert_eq!(result, 42);
    let received = finished(server).await;
    assert_eq!(received.iter().filter(|&&b| b == b'\n').count(), 1000);
    assert!(received.starts_with(b"line 0\n") && received.ends_with(b"line 999\n"));
}

#[tokio::test]
async fn an_error_of_the_closure_is_returned_and_the_connection_closed() {
    let (where_to, server) = read_to_end_server().await;
    let error = with_connection(&where_to, |_socket, _reader, writer| async move {
        writer.write(b"partial")?;
        Err::<(), _>(io::Error::other("the caller gave up"))
    })
    .await
    .unwrap_err();
    assert_eq!(error.to_string(), "the caller gave up");
    assert_eq!(finished(server).await, b"partial");
}

#[tokio::test]
async fn a_panic_is_resumed_after_the_connection_is_closed() {
    let (where_to, server) = read_to_end_server().await;
    let task = tokio::spawn(async move {
        with_connection(&where_to, |_socket, _reader, writer| async move {
            writer.write(b"before the panic")?;
            tokio::task::yield_now().await;
            panic!("boom");
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        })
        .await
    });
    let panic = task.await.unwrap_err().into_panic();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(finished(server).await, b"before the panic");
}

#[tokio::test]
async fn a_panic_before_the_first_await_is_resumed_too() {
    let (where_to, server) = read_to_end_server().await;
    let task = tokio::spawn(async move {
        with_connection(
            &where_to,
            |_socket, _reader, _writer| -> std::future::Ready<io::Result<()>> {
                panic!("synchronous boom")
            },
        )
        .await
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(finished(server).await, b"");
}

#[tokio::test]
async fn a_connect_error_is_returned_without_calling_the_closure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let where_to = WhereToConnect::host_and_port("127.0.0.1", port);
    let error: io::Error = with_connection(&where_to, |_socket, _reader, _writer| async move {
        unreachable!("the closure runs only once connected");
        #[allow(unreachable_code)]
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
}

#[tokio::test]
async fn the_reader_sees_what_the_server_sends() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let where_to = WhereToConnect::inet_address(listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"greetings").await.unwrap();
    });
    let text = with_connection(&where_to, |_socket, mut reader, _writer| async move {
        let mut text = String::new();
        reader.read_to_string(&mut text).await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(text)
    })
    .await
    .unwrap();
    assert_eq!(text, "greetings");
}

#[tokio::test]
async fn a_writer_past_its_buffer_age_limit_ends_the_connection_with_its_error() {
    // A server that accepts and never reads, with a small receive window.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(16).unwrap();
    socket.set_nonblocking(true).unwrap();
    let listener = TcpListener::from_std(socket.into()).unwrap();
    let where_to = WhereToConnect::inet_address(listener.local_addr().unwrap())
        .buffer_age_limit(BufferAgeLimit::AtMost(Duration::from_millis(300)));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        // Hold the connection, unread, until the test is over.
        let (_stream, _) = listener.accept().await.unwrap();
        let _ = done_rx.await;
    });
    let start = Instant::now();
    let error: io::Error = with_connection(&where_to, |_socket, _reader, writer| async move {
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..32 {
            writer.write(&chunk)?;
        }
        // Wait for ever: only the writer's failure can end this.
        std::future::pending::<()>().await;
        Ok(())
    })
    .await
    .unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    let flow_error = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<camlnet_flow::Error>())
        .unwrap();
    assert!(flow_error.is_buffer_age_exceeded(), "{error}");
    let _ = done_tx.send(());
    server.await.unwrap();
}
