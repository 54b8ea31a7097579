//! Errors print their own level only: the cause is the `source`, never in the message
//! too, so that a reporter walking the chain says each thing once.

mod common;

use std::error::Error as StdError;
use std::net::SocketAddr;

use camlnet_tcp_server::{HandlerError, OnHandlerError, Server, ServerOptions, WhereToListen};
use common::{PATIENCE, localhost, temp_socket_path};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Checks that no error of the chain from `error` repeats its source's message, and
/// returns the messages, outermost first.
fn own_levels(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut messages = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let message = e.to_string();
        if let Some(source) = e.source() {
            let cause = source.to_string();
            assert!(
                !message.contains(&cause),
                "{message:?} repeats its source {cause:?}"
            );
        }
        messages.push(message);
        current = e.source();
    }
    messages
}

#[tokio::test]
async fn a_listen_error_keeps_the_system_error_as_its_source() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let error = Server::create_sock(
        WhereToListen::of_address(address).reuse_address(false),
        ServerOptions::default(),
        |_, _s: TcpStream| async { Ok::<_, std::io::Error>(()) },
    )
    .await
    .expect_err("the port is taken");
    assert!(error.is_address_in_use(), "{error:?}");
    let messages = own_levels(&error);
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains(&address.to_string()), "{messages:?}");
}

#[tokio::test]
async fn a_unix_file_that_is_not_a_socket_is_named_then_explained() {
    let (_dir, path) = temp_socket_path("not-a-socket");
    std::fs::write(&path, b"precious").unwrap();
    let error = Server::create_sock(
        WhereToListen::of_file(&path),
        ServerOptions::default(),
        |_, _s: tokio::net::UnixStream| async { Ok::<_, std::io::Error>(()) },
    )
    .await
    .expect_err("not a socket");
    let messages = own_levels(&error);
    assert!(
        messages.iter().any(|m| m.contains("not a socket")),
        "{messages:?}"
    );
    std::fs::remove_file(&path).unwrap();
}

/// A server with `options` whose handler fails with "boom", after one client came: the
/// error that stopped it.
async fn stopped_by_a_failing_handler(
    options: ServerOptions<camlnet_flow::Inet>,
) -> camlnet_tcp_server::Error {
    let server = Server::create_sock(localhost(), options, |_, _s: TcpStream| async {
        Err::<(), _>(std::io::Error::other("boom"))
    })
    .await
    .unwrap();
    let mut client = TcpStream::connect(server.listening_on_address())
        .await
        .unwrap();
    let _ = client.read_to_end(&mut Vec::new()).await;
    tokio::time::timeout(PATIENCE, server.close_finished())
        .await
        .expect("the server stops")
        .expect_err("the handler error stopped it")
}

#[tokio::test]
async fn a_handler_error_is_the_source_of_the_servers_and_has_its_own() {
    let error = stopped_by_a_failing_handler(ServerOptions::default()).await;
    let messages = own_levels(&error);
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[2], "boom");
    let handler_error = error.source().unwrap();
    assert!(handler_error.is::<HandlerError>());
}

#[tokio::test]
async fn a_panicking_call_function_names_its_panic_and_keeps_the_handler_error_as_source() {
    let error = stopped_by_a_failing_handler(ServerOptions::default().on_handler_error(
        OnHandlerError::call(|_: &SocketAddr, _: &HandlerError| panic!("callback gave up")),
    ))
    .await;
    let messages = own_levels(&error);
    assert!(messages[0].contains("callback gave up"), "{messages:?}");
    assert_eq!(messages.last().map(String::as_str), Some("boom"));
}
