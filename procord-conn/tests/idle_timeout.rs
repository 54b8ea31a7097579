//! The idle timeout and the ping, observed on the wire by a plain std peer.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use camlnet_procord_conn::{Connection, DisconnectReason, Options, State};

use common::{LIMIT, drive, drive_to_end, listener};

const TIMEOUT: Duration = Duration::from_millis(800);

/// Reads until end of stream; answers the first `answers` pings with `PONG`; returns when
/// each ping arrived.
fn peer(listener: std::net::TcpListener, answers: usize) -> Vec<Instant> {
    let (mut stream, _) = listener.accept().expect("accept");
    stream.set_read_timeout(Some(LIMIT)).expect("read timeout");
    let mut pings = Vec::new();
    let mut pending = Vec::new();
    let mut buf = [0; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return pings,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
        while pending.len() >= 4 {
            assert_eq!(&pending[..4], b"PING");
            pending.drain(..4);
            pings.push(Instant::now());
            if pings.len() <= answers {
                stream.write_all(b"PONG").expect("pong");
            }
        }
    }
}

#[test]
fn an_idle_connection_pings_at_half_the_timeout_then_times_out() {
    let (listener, addr) = listener();
    let server = std::thread::spawn(move || peer(listener, 0));
    let options = Options::new().timeout(TIMEOUT).ping(&b"PING"[..]);
    let mut conn = Connection::connect_addr(addr, (), options);
    assert!(drive(&mut conn, LIMIT, |c| *c.state() != State::Connecting));
    let connected = Instant::now();
    assert!(drive_to_end(&mut conn));
    let lasted = connected.elapsed();
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::Timeout)
    );
    assert!(lasted >= TIMEOUT - Duration::from_millis(50), "{lasted:?}");
    assert!(lasted <= TIMEOUT + Duration::from_secs(3), "{lasted:?}");

    let pings = server.join().expect("peer");
    assert_eq!(pings.len(), 1, "one ping per idle period");
    let at = pings[0].duration_since(connected);
    assert!(at >= TIMEOUT / 2 - Duration::from_millis(50), "{at:?}");
    assert!(at <= TIMEOUT / 2 + Duration::from_secs(2), "{at:?}");
}

#[test]
fn answered_pings_keep_the_connection_alive() {
    let (listener, addr) = listener();
    let server = std::thread::spawn(move || peer(listener, 3));
    let options = Options::new().timeout(TIMEOUT).ping(&b"PING"[..]);
    let mut conn = Connection::connect_addr(addr, (), options);
    let mut pongs = 0;
    assert!(drive(&mut conn, LIMIT, |c| {
        while c.receive(4).is_some() {
            pongs += 1;
        }
        !c.alive()
    }));
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::Timeout)
    );
    assert_eq!(pongs, 3);
    let pings = server.join().expect("peer");
    assert_eq!(pings.len(), 4, "three answered, the fourth not");
    // Each answer re-arms the ping: they come about half a timeout apart.
    for pair in pings.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= TIMEOUT / 2 - Duration::from_millis(50), "{gap:?}");
    }
}

#[test]
fn a_ping_without_timeout_is_ignored() {
    let (listener, addr) = listener();
    let options = Options::new().ping(&b"PING"[..]);
    let mut conn = Connection::connect_addr(addr, (), options);
    let (_peer, _) = listener.accept().expect("accept");
    assert!(drive(&mut conn, LIMIT, |c| *c.state() == State::Connected));
    assert!(conn.waiter().deadline().is_none());
    assert!(!drive(&mut conn, Duration::from_millis(300), |c| c
        .send_buffer_length()
        > 0));
    assert_eq!(*conn.state(), State::Connected);
    assert_eq!(conn.timeout(), None);
}
