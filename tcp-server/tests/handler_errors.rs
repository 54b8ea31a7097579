//! `on_handler_error`: each policy with a handler that returns `Err` and one that panics,
//! and a `Call` function that panics.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use camlnet_tcp_server::{HandlerError, Inet, OnHandlerError, Server, ServerOptions};
use common::{PATIENCE, localhost};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug)]
enum Failure {
    Err,
    Panic,
}

/// A server whose handler answers "ok", unless the client's first byte is `!`: then it
/// fails as `failure` says.
async fn server(failure: Failure, policy: OnHandlerError<Inet>) -> Server<Inet> {
    Server::create_sock(
        localhost(),
        ServerOptions::default().on_handler_error(policy),
        move |_peer, mut stream: TcpStream| async move {
            let mut first = [0u8; 1];
            stream.read_exact(&mut first).await?;
            if first[0] == b'!' {
                match failure {
                    Failure::Err => return Err(std::io::Error::other("boom")),
                    Failure::Panic => panic!("kaboom"),
                }
            }
            stream.write_all(b"ok").await?;
            Ok(())
        },
    )
    .await
    .expect("listen")
}

/// Sends `byte` and returns what comes back, and the client's own address.
async fn exchange(address: SocketAddr, byte: u8) -> std::io::Result<(Vec<u8>, SocketAddr)> {
    let mut stream = TcpStream::connect(address).await?;
    let me = stream.local_addr()?;
    stream.write_all(&[byte]).await?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    Ok((answer, me))
}

fn check_error(error: &HandlerError, failure: Failure) {
    match failure {
        Failure::Err => {
            assert!(!error.is_panic());
            assert_eq!(error.returned_error().unwrap().to_string(), "boom");
            let source = std::error::Error::source(error).map(ToString::to_string);
            assert_eq!(source.as_deref(), Some("boom"), "{error}");
        }
        Failure::Panic => {
            assert!(error.is_panic());
            assert_eq!(error.panic_message(), Some("kaboom"));
        }
    }
}

async fn raise(failure: Failure) {
    let server = server(failure, OnHandlerError::Raise).await;
    let address = *server.listening_on_address();
    assert_eq!(exchange(address, b'a').await.unwrap().0, b"ok");
    exchange(address, b'!').await.unwrap();
    let error = tokio::time::timeout(PATIENCE, server.close_finished())
        .await
        .expect("the server stops")
        .expect_err("close_finished reports the handler error");
    assert!(
        error.is_handler() && !error.is_callback_panic(),
        "{error:?}"
    );
    check_error(error.handler_error().unwrap(), failure);
    // Stopped, not closed: nobody called `close`.
    assert!(server.is_stopped());
    assert!(!server.is_closed(), "is_closed without a call to close");
    server.invariant();
    // Stopped: the listening socket is closed.
    assert!(TcpStream::connect(address).await.is_err());
    // `close` now returns the same result.
    assert!(server.close(true).await.unwrap_err().is_handler());
    assert!(server.is_closed());
}

#[tokio::test]
async fn raise_on_err_stops_the_server() {
    raise(Failure::Err).await;
}

#[tokio::test]
async fn raise_on_panic_stops_the_server() {
    raise(Failure::Panic).await;
}

async fn ignore(failure: Failure) {
    let server = server(failure, OnHandlerError::Ignore).await;
    let address = *server.listening_on_address();
    for _ in 0..3 {
        exchange(address, b'!').await.unwrap();
        assert_eq!(exchange(address, b'a').await.unwrap().0, b"ok");
    }
    assert!(!server.is_closed() && !server.is_stopped());
    server.close(false).await.expect("no error reported");
}

#[tokio::test]
async fn ignore_on_err_goes_on() {
    ignore(Failure::Err).await;
}

#[tokio::test]
async fn ignore_on_panic_goes_on() {
    ignore(Failure::Panic).await;
}

async fn call(failure: Failure) {
    let seen: Arc<Mutex<Vec<(SocketAddr, HandlerError)>>> = Arc::default();
    let policy = {
        let seen = seen.clone();
        OnHandlerError::call(move |peer: &SocketAddr, error: &HandlerError| {
            seen.lock().unwrap().push((*peer, error.clone()));
        })
    };
    let server = server(failure, policy).await;
    let address = *server.listening_on_address();
    let (_, failing_client) = exchange(address, b'!').await.unwrap();
    assert_eq!(exchange(address, b'a').await.unwrap().0, b"ok");
    common::eventually("the call", PATIENCE, || !seen.lock().unwrap().is_empty()).await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, failing_client);
        check_error(&seen[0].1, failure);
    }
    assert!(!server.is_closed());
    server.close(false).await.expect("no error reported");
}

#[tokio::test]
async fn call_on_err_is_called_with_the_peer() {
    call(Failure::Err).await;
}

#[tokio::test]
async fn call_on_panic_is_called_with_the_peer() {
    call(Failure::Panic).await;
}

#[tokio::test]
async fn a_call_function_that_panics_stops_the_server() {
    for failure in [Failure::Err, Failure::Panic] {
        let policy =
            OnHandlerError::call(|_: &SocketAddr, _: &HandlerError| panic!("callback gave up"));
        let server = server(failure, policy).await;
        let address = *server.listening_on_address();
        exchange(address, b'!').await.unwrap();
        let error = tokio::time::timeout(PATIENCE, server.close_finished())
            .await
            .expect("the server stops")
            .expect_err("the callback's panic is reported");
        assert!(error.is_callback_panic() && error.is_handler(), "{error:?}");
        assert!(error.to_string().contains("callback gave up"), "{error}");
        check_error(error.handler_error().unwrap(), failure);
        assert!(TcpStream::connect(address).await.is_err());
    }
}

#[tokio::test]
async fn create_handlers_errors_count_too() {
    for failure in [Failure::Err, Failure::Panic] {
        let server = Server::create(
            localhost(),
            ServerOptions::default(),
            move |_peer, _reader, writer| async move {
                writer.write(b"bye")?;
                match failure {
                    Failure::Err => Err(std::io::Error::other("boom")),
                    Failure::Panic => panic!("kaboom"),
                }
            },
        )
        .await
        .unwrap();
        let (answer, _) = exchange(*server.listening_on_address(), b'x')
            .await
            .unwrap();
        assert_eq!(answer, b"bye");
        let error = tokio::time::timeout(PATIENCE, server.close_finished())
            .await
            .expect("the server stops")
            .unwrap_err();
        check_error(error.handler_error().unwrap(), failure);
    }
}
