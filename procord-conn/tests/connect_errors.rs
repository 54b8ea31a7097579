//! A refused connect and a connect timeout end in the right `Disconnected` reason.

mod common;

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketFlags, SocketType};

use camlnet_procord_conn::{Connection, DisconnectReason, Options, RemoteAddress, State};

use common::{LIMIT, drive_to_end};

#[test]
fn a_refused_connect_names_connect_and_econnrefused() {
    let addr = {
        let (listener, addr) = common::listener();
        drop(listener);
        addr
    };
    let mut conn = Connection::connect_addr(addr, (), Options::new());
    assert!(drive_to_end(&mut conn));
    match conn.state() {
        State::Disconnected(DisconnectReason::Os(e)) => {
            assert_eq!(e.operation(), "connect");
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        }
        other => panic!("unexpected state {other:?}"),
    }
    assert_eq!(*conn.remote_address(), RemoteAddress::Inet(addr));
}

#[test]
fn a_name_is_resolved_in_connect() {
    let (listener, addr) = common::listener();
    let mut conn = Connection::connect("localhost", addr.port(), (), Options::new());
    // localhost may resolve to ::1 first, where nobody listens: the next address is tried.
    // The thread hands the accepted stream back, so it stays open until the end.
    let accepted = std::thread::spawn(move || listener.accept().map(|(stream, _)| stream));
    assert!(common::drive(&mut conn, LIMIT, |c| *c.state() != State::Connecting));
    assert_eq!(*conn.state(), State::Connected);
    let _stream = accepted.join().expect("accept thread").expect("accept");
}

/// A listening socket with backlog 0 whose accept queue is full: the next SYN is dropped,
/// so a connect to it stays pending.
fn full_listener() -> (OwnedFd, SocketAddr, Vec<OwnedFd>) {
    let listener =
        rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).expect("socket");
    let any = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
    rustix::net::bind(&listener, &any).expect("bind");
    rustix::net::listen(&listener, 0).expect("listen");
    let local = rustix::net::getsockname(&listener).expect("getsockname");
    let addr = SocketAddr::try_from(local).expect("inet address");
    let fillers = (0..4)
        .map(|_| {
            let fd = rustix::net::socket_with(
                AddressFamily::INET,
                SocketType::STREAM,
                SocketFlags::NONBLOCK,
                None,
            )
            .expect("socket");
            let _ = rustix::net::connect(&fd, &addr);
            fd
        })
        .collect();
    (listener, addr, fillers)
}

#[test]
fn a_connect_that_never_completes_times_out() {
    let (_listener, addr, _fillers) = full_listener();
    let timeout = Duration::from_millis(700);
    let start = Instant::now();
    let mut conn = Connection::connect_addr(addr, (), Options::new().timeout(timeout));
    assert!(drive_to_end(&mut conn));
    let took = start.elapsed();
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::Timeout)
    );
    assert!(took >= timeout, "{took:?}");
    assert!(took <= timeout + Duration::from_secs(5), "{took:?}");
}

#[test]
fn make_address_parses_literals_and_names() {
    assert_eq!(
        camlnet_procord_conn::make_address("127.0.0.1").expect("v4"),
        Ipv4Addr::LOCALHOST
    );
    assert!(
        camlnet_procord_conn::make_address("::1")
            .expect("v6")
            .is_loopback()
    );
    assert!(
        camlnet_procord_conn::make_address("[::1]")
            .expect("bracketed v6")
            .is_loopback()
    );
    assert!(
        camlnet_procord_conn::make_address("localhost")
            .expect("name")
            .is_loopback()
    );
}
