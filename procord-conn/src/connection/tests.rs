//! Connecting through a name lookup, with lookups that the tests control.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::resolver::{Lookup, Outcome};
use crate::{Connection, DisconnectReason, Options, State};

const LIMIT: Duration = Duration::from_secs(20);

/// Waits and updates until `conn` is no longer connecting; bounded in turns and time.
fn drive_while_connecting(conn: &mut Connection<()>) {
    let started = Instant::now();
    for _ in 0..1000 {
        if *conn.state() != State::Connecting || started.elapsed() > LIMIT {
            return;
        }
        let waiter = conn.waiter();
        assert!(!waiter.is_empty(), "connecting, with nothing to wait for");
        waiter.wait(Some(LIMIT));
        conn.update();
    }
}

/// A lookup that gives `outcome` once `release` is sent to (or dropped).
fn held_lookup(outcome: Outcome) -> (Lookup, mpsc::Sender<()>) {
    let (release, held) = mpsc::channel();
    let lookup = Lookup::spawn("held.test", move || {
        let _ = held.recv();
        outcome
    })
    .expect("spawn the lookup");
    (lookup, release)
}

#[test]
fn the_timeout_covers_a_lookup_that_does_not_return() {
    let (lookup, release) = held_lookup(Err("released at the end".to_owned()));
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let mut conn = Connection::resolving(lookup, started, (), Options::new().timeout(timeout));
    assert_eq!(*conn.state(), State::Connecting);
    drive_while_connecting(&mut conn);
    let took = started.elapsed();
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::Timeout)
    );
    assert!(took >= timeout, "{took:?}");
    assert!(took <= timeout + Duration::from_secs(5), "{took:?}");
    drop(release);
}

#[test]
fn the_end_of_a_lookup_wakes_the_waiter_and_the_connect_follows() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let (lookup, release) = held_lookup(Ok(vec![addr]));
    let mut conn = Connection::resolving(lookup, Instant::now(), (), Options::new());
    // Nothing is due while the lookup runs: without its fd the waiter would be empty.
    assert!(!conn.waiter().wait(Some(Duration::from_millis(50))));
    conn.update();
    assert_eq!(*conn.state(), State::Connecting);
    release.send(()).expect("release the lookup");
    drive_while_connecting(&mut conn);
    assert_eq!(*conn.state(), State::Connected);
    assert_eq!(conn.remote_address().as_inet(), Some(addr));
}

#[test]
fn a_failed_lookup_ends_with_the_resolvers_message() {
    let (lookup, release) = held_lookup(Err("no such name".to_owned()));
    let mut conn = Connection::resolving(lookup, Instant::now(), (), Options::new());
    drop(release);
    drive_while_connecting(&mut conn);
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::Resolve {
            host: "held.test".to_owned(),
            message: "no such name".to_owned(),
        })
    );
}
