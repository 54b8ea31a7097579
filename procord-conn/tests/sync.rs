//! The blocking `sync` module: failures are `Result` errors.

mod common;

use std::error::Error as _;
use std::io::{ErrorKind, Write};
use std::time::Duration;

use camlnet_procord_conn::{Options, sync};

use common::{echo_once, listener, pattern};

#[test]
fn echo_through_the_blocking_calls() {
    let (addr, server) = echo_once();
    let options = Options::new().timeout(Duration::from_secs(20));
    let mut conn = sync::connect("127.0.0.1", addr.port(), (), options).expect("connect");
    let message = pattern(1024 * 1024, 2);
    sync::send(&mut conn, &message).expect("send");
    assert!(sync::receive(&mut conn, message.len()).expect("receive") == message);
    sync::close_nicely(&mut conn, Some(Duration::from_secs(20))).expect("close_nicely");
    assert_eq!(server.join().expect("echo"), message.len() as u64);
}

#[test]
fn a_refused_connect_is_an_error() {
    let port = {
        let (listener, addr) = listener();
        drop(listener);
        addr.port()
    };
    let err = sync::connect("127.0.0.1", port, (), Options::new()).expect_err("refused");
    let os = err.os_error().expect("an OS error");
    assert_eq!(os.operation(), "connect");
    assert_eq!(os.kind(), ErrorKind::ConnectionRefused);
    assert!(!err.is_timeout());
    assert!(err.to_string().contains("connect"), "{err}");
}

/// The end of the input does not end the connection: `receive` fails with an end-of-stream
/// error, and sending still works (the output is open until the application closes).
#[test]
fn receive_after_end_of_stream_is_an_eof_error_and_keeps_the_data() {
    let (listener, addr) = listener();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.write_all(b"short").expect("write");
    });
    let mut conn = sync::connect("127.0.0.1", addr.port(), (), Options::new()).expect("connect");
    server.join().expect("server");
    let err = sync::receive(&mut conn, 100).expect_err("only 5 bytes come");
    assert!(err.is_eof() && err.is_closed(), "{err}");
    assert!(err.source().is_none());
    assert!(err.disconnect_reason().is_none(), "not disconnected");
    assert!(conn.input_ended());
    assert_eq!(conn.receive_all(), b"short");
    // The peer closed rather than half-closed, which only its answer to what we send can
    // tell; the first send is handed to the OS all the same.
    sync::send(&mut conn, b"x").expect("the output is still open");
    conn.close();
}
