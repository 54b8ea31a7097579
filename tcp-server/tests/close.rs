//! `close`: idempotent and shared, no handler after it, `close(true)` shutting down the
//! open connections, and connections whose handler ignores the peer.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use camlnet_tcp_server::{Inet, OnHandlerError, Server, ServerOptions};
use common::{PATIENCE, eventually, localhost};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn idle_server() -> Server<Inet> {
    Server::create_sock(
        localhost(),
        ServerOptions::default(),
        |_, _s: TcpStream| async { Ok::<_, std::io::Error>(()) },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_called_ten_times_concurrently() {
    let server = idle_server().await;
    let address = *server.listening_on_address();
    assert!(!server.is_closed() && !server.is_stopped());
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let closers: Vec<_> = (0..10)
        .map(|i| {
            let (server, barrier) = (server.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let done = server.close(i % 2 == 0);
                assert!(server.is_closed() && server.is_stopped());
                done.await
            })
        })
        .collect();
    for closer in closers {
        tokio::time::timeout(PATIENCE, closer)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    assert!(server.is_closed());
    server.invariant();
    assert!(server.listening_socket().is_none());
    assert!(TcpStream::connect(address).await.is_err());
    // Later calls complete at once, the same way.
    server.close(true).await.unwrap();
    server.close_finished().await.unwrap();
    server
        .close_finished_and_handlers_determined()
        .await
        .unwrap();
}

// On one thread, nothing runs between `close` returning and the check, so "after close"
// is exact.
#[tokio::test(flavor = "current_thread")]
async fn no_handler_starts_after_close() {
    let started = Arc::new(AtomicUsize::new(0));
    let server = {
        let started = started.clone();
        Server::create_sock(
            localhost(),
            ServerOptions::default().max_accepts_per_batch(16),
            move |_, _s: TcpStream| {
                let started = started.clone();
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(())
                }
            },
        )
        .await
        .unwrap()
    };
    let address = *server.listening_on_address();
    // A crowd of clients connecting while the server closes.
    let clients: Vec<_> = (0..200)
        .map(|_| tokio::spawn(async move { TcpStream::connect(address).await }))
        .collect();
    eventually("some handlers to start", PATIENCE, || {
        started.load(Ordering::SeqCst) > 0
    })
    .await;
    let done = server.close(false);
    let at_close = started.load(Ordering::SeqCst);
    tokio::time::timeout(PATIENCE, server.close_finished_and_handlers_determined())
        .await
        .unwrap()
        .unwrap();
    done.await.unwrap();
    for client in clients {
        let _ = client.await.unwrap();
    }
    assert_eq!(
        started.load(Ordering::SeqCst),
        at_close,
        "a handler started after close"
    );
    assert_eq!(server.num_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_true_ends_handlers_blocked_in_a_read() {
    let blocked = Arc::new(AtomicUsize::new(0));
    let read_ended = Arc::new(AtomicUsize::new(0));
    let server = {
        let (blocked, read_ended) = (blocked.clone(), read_ended.clone());
        Server::create_sock(
            localhost(),
            ServerOptions::default(),
            move |_, mut stream: TcpStream| {
                let (blocked, read_ended) = (blocked.clone(), read_ended.clone());
                async move {
                    blocked.fetch_add(1, Ordering::SeqCst);
                    let mut buf = [0u8; 16];
                    let n = stream.read(&mut buf).await?;
                    assert_eq!(n, 0, "reads end after close(true)");
                    read_ended.fetch_add(1, Ordering::SeqCst);
                    // Writes fail.
                    assert!(stream.write_all(b"too late").await.is_err());
                    Ok::<_, std::io::Error>(())
                }
            },
        )
        .await
        .unwrap()
    };
    let address = *server.listening_on_address();
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(TcpStream::connect(address).await.unwrap());
    }
    eventually("three handlers blocked", PATIENCE, || {
        blocked.load(Ordering::SeqCst) == 3
    })
    .await;
    assert_eq!(server.num_connections(), 3);
    tokio::time::timeout(PATIENCE, server.close(true))
        .await
        .expect("close completes")
        .unwrap();
    // The completion waited for every connection.
    assert_eq!(read_ended.load(Ordering::SeqCst), 3);
    assert_eq!(server.num_connections(), 0);
    server.invariant();
    for mut client in clients {
        let mut rest = Vec::new();
        // End of stream (or a reset): the server's side is gone.
        let read = client.read_to_end(&mut rest).await;
        assert!(read.is_err() || rest.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_true_ends_create_handlers_blocked_in_a_read() {
    let server = Server::create(
        localhost(),
        ServerOptions::default(),
        |_, reader, _writer| async move {
            let mut lines = reader.lines();
            assert_eq!(lines.next_line().await?, None);
            Ok::<_, std::io::Error>(())
        },
    )
    .await
    .unwrap();
    let address = *server.listening_on_address();
    let _clients = [
        TcpStream::connect(address).await.unwrap(),
        TcpStream::connect(address).await.unwrap(),
    ];
    eventually("two connections", PATIENCE, || {
        server.num_connections() == 2
    })
    .await;
    tokio::time::timeout(PATIENCE, server.close(true))
        .await
        .expect("close completes")
        .unwrap();
    assert_eq!(server.num_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_false_leaves_connections_open() {
    let server = Server::create_sock(
        localhost(),
        ServerOptions::default(),
        |_, mut stream: TcpStream| async move {
            let (mut r, mut w) = stream.split();
            tokio::io::copy(&mut r, &mut w).await?;
            Ok::<_, std::io::Error>(())
        },
    )
    .await
    .unwrap();
    let address = *server.listening_on_address();
    let mut client = TcpStream::connect(address).await.unwrap();
    // One echo: the handler has started (one that has not when the server closes never
    // does).
    client.write_all(b"x").await.unwrap();
    let mut one = [0u8; 1];
    client.read_exact(&mut one).await.unwrap();
    tokio::time::timeout(PATIENCE, server.close(false))
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(address).await.is_err());
    // The open connection still works.
    client.write_all(b"still here").await.unwrap();
    let mut buf = [0u8; 10];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still here");
    let handlers = tokio::spawn(server.close_finished_and_handlers_determined());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!handlers.is_finished(), "a handler is still running");
    client.shutdown().await.unwrap();
    tokio::time::timeout(PATIENCE, handlers)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(server.num_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_true_waits_for_a_handler_that_holds_its_socket() {
    let (release, released) = tokio::sync::watch::channel(false);
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let server = Server::create_sock(
        localhost(),
        ServerOptions::default(),
        move |_, stream: TcpStream| {
            let mut released = released.clone();
            let started_tx = started_tx.clone();
            async move {
                // Ignores its socket entirely until told to let go.
                let _stream = stream;
                let _ = started_tx.send(());
                released
                    .wait_for(|r| *r)
                    .await
                    .map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(())
            }
        },
    )
    .await
    .unwrap();
    let mut client = TcpStream::connect(*server.listening_on_address())
        .await
        .unwrap();
    // Close once the handler runs: a connection whose handler has not started when the
    // server closes never gets one, and its socket is dropped at once.
    tokio::time::timeout(PATIENCE, started.recv())
        .await
        .unwrap()
        .unwrap();
    let closed = tokio::spawn(server.close(true));
    // The socket is shut down at once: the client sees the end.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(PATIENCE, client.read_to_end(&mut rest))
        .await
        .unwrap();
    assert!(read.is_err() || rest.is_empty());
    // But the close completes only once the handler drops the socket.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!closed.is_finished());
    release.send(true).unwrap();
    tokio::time::timeout(PATIENCE, closed)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(server.num_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_ignores_its_peer_closing() {
    // Under `create`, a handler that keeps writing to a peer that left, ignoring the
    // errors and never returning: the writer fails, which ends the connection, and the
    // server goes on (a peer leaving is not a handler error, even under Raise).
    let server = Server::create(
        localhost(),
        ServerOptions::default().on_handler_error(OnHandlerError::Raise),
        |_, _reader, writer| async move {
            loop {
                let _ = writer.write(b"tick\n");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            #[allow(unreachable_code)]
            Ok::<_, std::io::Error>(())
        },
    )
    .await
    .unwrap();
    let address = *server.listening_on_address();
    for _ in 0..3 {
        let mut client = TcpStream::connect(address).await.unwrap();
        let mut tick = [0u8; 5];
        client.read_exact(&mut tick).await.unwrap();
        assert_eq!(&tick, b"tick\n");
        drop(client);
        eventually("the connection to end", PATIENCE, || {
            server.num_connections() == 0
        })
        .await;
    }
    assert!(!server.is_closed());
    server.invariant();
    server.close(false).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_closes_the_server() {
    let server = idle_server().await;
    let address = *server.listening_on_address();
    let done = server.close_finished();
    let clone = server.clone();
    drop(server);
    assert!(!clone.is_closed());
    drop(clone);
    tokio::time::timeout(PATIENCE, done).await.unwrap().unwrap();
    assert!(TcpStream::connect(address).await.is_err());
}

#[tokio::test]
async fn debug_shows_the_state() {
    let server = idle_server().await;
    let text = format!("{server:?}");
    assert!(
        text.contains("accepting") && text.contains(&server.listening_on().to_string()),
        "{text}"
    );
    server.close(false).await.unwrap();
    let text = format!("{server:?}");
    assert!(text.contains("closed"), "{text}");
}
