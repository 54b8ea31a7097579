//! Errors print one level each: `Display` says what failed at its own level, and the cause
//! comes from `source()`, never both.

mod common;

use std::error::Error as StdError;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

use rustix::net::{AddressFamily, SocketFlags, SocketType};

use camlnet_procord_conn::{DisconnectReason, Options, Set, sync};

/// The `Display` of `error` and of each of its sources, outermost first.
fn levels(error: &dyn StdError) -> Vec<String> {
    let mut levels = vec![error.to_string()];
    let mut next = error.source();
    while let Some(cause) = next {
        levels.push(cause.to_string());
        next = cause.source();
    }
    levels
}

/// No level repeats what a deeper one says.
fn assert_printed_once(levels: &[String]) {
    for (i, outer) in levels.iter().enumerate() {
        for inner in &levels[i + 1..] {
            assert!(
                !outer.contains(inner.as_str()),
                "{outer:?} prints its cause {inner:?} again: {levels:?}"
            );
        }
    }
}

/// The innermost source, as an `io::Error`.
fn io_cause(error: &dyn StdError) -> &std::io::Error {
    let mut deepest = error.source().expect("a cause");
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    deepest
        .downcast_ref::<std::io::Error>()
        .expect("the cause is an io::Error")
}

#[test]
fn an_accept_error_prints_the_call_once_and_the_errno_once() {
    // A socket that is not listening: accept(2) fails with EINVAL.
    let fd = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .expect("socket");
    rustix::net::bind(&fd, &SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let not_listening = TcpListener::from(fd);
    let mut set: Set<()> = Set::new();
    let err = set
        .accept_into_set(&not_listening, |_| Some(()), &Options::new())
        .expect_err("accept on a socket that does not listen");
    let levels = levels(&err);
    assert_printed_once(&levels);
    assert!(levels[0].contains("accept"), "{levels:?}");
    assert_eq!(
        io_cause(&err).raw_os_error(),
        Some(rustix::io::Errno::INVAL.raw_os_error())
    );
}

#[test]
fn a_refused_connect_prints_the_call_once_and_the_errno_once() {
    let addr = {
        let (listener, addr) = common::listener();
        drop(listener);
        addr
    };
    let err = sync::connect("127.0.0.1", addr.port(), (), Options::new()).expect_err("refused");
    let levels = levels(&err);
    assert_printed_once(&levels);
    assert!(levels[0].contains("connect"), "{levels:?}");
    assert!(
        levels[0].contains(&addr.to_string()),
        "the address tried is named: {levels:?}"
    );
    assert_eq!(io_cause(&err).kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn an_os_error_is_an_error_whose_source_is_the_errno() {
    let addr = {
        let (listener, addr) = common::listener();
        drop(listener);
        addr
    };
    let err = sync::connect("127.0.0.1", addr.port(), (), Options::new()).expect_err("refused");
    let os = err.os_error().expect("an OS error");
    assert_eq!(os.operation(), "connect");
    assert_eq!(os.argument(), addr.to_string());
    let levels = levels(os);
    assert_printed_once(&levels);
    assert_eq!(levels.len(), 2, "{levels:?}");
    assert_eq!(io_cause(os).kind(), ErrorKind::ConnectionRefused);
    // The reason in the state says the same as the OS error, without the cause either.
    let reason = DisconnectReason::Os(os.clone());
    assert_eq!(reason.to_string(), levels[0]);
}
