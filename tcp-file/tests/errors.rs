//! What the errors say: their own message, once, with the cause as their source; queries
//! that tell the kinds apart; the file or path they are about.
#![cfg(all(feature = "server", feature = "client"))]

use std::error::Error as StdError;
use std::io;

use camlnet_tcp_connect::WhereToConnect;
use camlnet_tcp_file::{Client, Error, FileError, FileOptions, Server, StreamOptions};
use camlnet_tcp_server::WhereToListen;

mod support;
use support::fresh_dir;

/// `error`'s source, after checking that `error`'s own message does not repeat it.
fn cause<'a>(error: &'a (dyn StdError + 'static)) -> &'a (dyn StdError + 'static) {
    let source = error
        .source()
        .unwrap_or_else(|| panic!("no source: {error:?}"));
    assert!(
        !error.to_string().contains(&source.to_string()),
        "{error:?}: the message repeats its source's"
    );
    source
}

/// Where a value lives, to tell that two references are to one value.
fn address(error: &dyn StdError) -> *const () {
    error as *const dyn StdError as *const ()
}

#[tokio::test]
async fn a_failed_connect_has_the_connect_error_as_its_source() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let target = WhereToConnect::inet_address(([127, 0, 0, 1], port).into());
    let error = Client::connect(&target).await.expect_err("nothing listens");
    assert!(error.is_transport(), "{error}");
    assert!(!error.is_file_not_found() && !error.is_server_error());
    assert!(!error.is_too_many_streams() && error.file_name().is_none());
    assert_eq!(error.to_string(), "cannot connect to the file server");
    let connect = cause(&error)
        .downcast_ref::<camlnet_tcp_connect::ConnectError>()
        .expect("a ConnectError");
    assert!(connect.is_refused(), "{connect}");
    let refusal = cause(connect)
        .downcast_ref::<io::Error>()
        .expect("the system's error");
    assert_eq!(refusal.kind(), io::ErrorKind::ConnectionRefused);
    // A clone is the same error, source included.
    let clone = error.clone();
    assert_eq!(
        address(clone.source().expect("source")),
        address(error.source().expect("source"))
    );
}

#[tokio::test]
async fn an_unknown_file_is_named_and_has_no_source() {
    let server = Server::new();
    let (client_end, server_end) = camlnet_flow::pair(64 * 1024);
    tokio::spawn(async move { server.serve_flow(server_end, "test").await });
    let client = Client::over(client_end).await.expect("handshake");
    let error = client
        .read("nope", StreamOptions::new())
        .next()
        .await
        .expect("an item")
        .expect_err("no such file");
    assert!(error.is_file_not_found(), "{error}");
    assert!(!error.is_transport() && !error.is_server_error());
    assert_eq!(error.file_name(), Some("nope"));
    assert_eq!(error.to_string(), "file not found: \"nope\"");
    assert!(error.source().is_none());
}

#[test]
fn a_file_that_cannot_be_opened_is_an_io_error_about_its_path() {
    let dir = fresh_dir("errors-io");
    let path = dir.path().join("missing").join("log");
    let error = Server::new()
        .open_file("log", &path, FileOptions::new())
        .expect_err("no such directory");
    assert!(error.is_io(), "{error}");
    assert!(!error.is_disk() && !error.is_locked() && !error.is_listen());
    assert_eq!(error.path(), Some(path.as_path()));
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    let io = cause(&error)
        .downcast_ref::<io::Error>()
        .expect("the system's error");
    assert_eq!(io.kind(), io::ErrorKind::NotFound);
    let clone = error.clone();
    assert_eq!(address(clone.source().expect("source")), address(io));
}

#[tokio::test]
async fn a_taken_address_is_a_listen_error_caused_by_the_listeners() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address");
    let error = Server::new()
        .serve(WhereToListen::of_address(address), |_| true)
        .await
        .expect_err("the address is taken");
    assert!(error.is_listen(), "{error}");
    assert!(!error.is_already_serving() && !error.is_io());
    let listen = cause(&error)
        .downcast_ref::<camlnet_tcp_server::Error>()
        .expect("the listener's error");
    assert!(listen.is_address_in_use(), "{listen}");
}

#[test]
fn refusals_name_the_file_and_have_no_source() {
    let dir = fresh_dir("errors-refusals");
    let server = Server::new();
    let file = server
        .open_file("a", dir.path().join("a"), FileOptions::new())
        .expect("open");

    let error = server
        .open_file("a", dir.path().join("b"), FileOptions::new())
        .expect_err("the name is open");
    assert!(error.is_already_open(), "{error}");
    assert_eq!(error.file_name(), Some("a"));
    assert!(error.path().is_none() && error.source().is_none());

    std::fs::write(dir.path().join("c"), "old\n").expect("write");
    let error = server
        .open_file("c", dir.path().join("c"), FileOptions::new())
        .expect_err("the file has content");
    assert!(error.is_not_empty(), "{error}");
    let canonical = std::fs::canonicalize(dir.path().join("c")).expect("canonical");
    assert_eq!(error.path(), Some(canonical.as_path()));
    assert!(error.file_name().is_none() && error.source().is_none());

    let error = file
        .write_message(b"two\nlines")
        .expect_err("a message is one line");
    assert!(error.is_invalid_message(), "{error}");
    assert!(!error.is_closed() && !error.is_disk() && error.source().is_none());
    drop(file);
}

#[test]
fn errors_are_cloneable_send_sync_and_debug() {
    fn check<T: Clone + Send + Sync + std::fmt::Debug + StdError + 'static>() {}
    check::<Error>();
    check::<FileError>();
}
