//! What a `Waiter` lists and how `wait` ends.

mod common;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use camlnet_procord_conn::{Connection, Fd, Options, State, Waiter};

use common::{LIMIT, drive, listener};

#[test]
fn an_idle_connection_lists_no_write_fd() {
    let (listener, addr) = listener();
    let mut conn = Connection::connect_addr(addr, (), Options::new());
    // Connecting: the socket is polled for writing.
    if *conn.state() == State::Connecting {
        let (read, write, except) = conn.waiter().instantiate();
        assert!(read.is_empty());
        assert_eq!(write.len(), 1);
        assert!(except.is_empty());
    }
    let (_peer, _) = listener.accept().expect("accept");
    assert!(drive(&mut conn, LIMIT, |c| *c.state() == State::Connected));

    let (read, write, except) = conn.waiter().instantiate();
    assert_eq!(read.len(), 1, "the input is polled for reading");
    assert!(
        write.is_empty(),
        "nothing to send: no write fd, or the loop would spin"
    );
    assert!(except.is_empty());

    // Something to send: now the socket is polled for writing as well.
    conn.send(b"x");
    let (read, write, _) = conn.waiter().instantiate();
    assert_eq!((read.len(), write.len()), (1, 1));
    conn.update();
    let (_, write, _) = conn.waiter().instantiate();
    assert!(write.is_empty());
}

#[test]
fn wait_on_an_idle_connection_times_out_and_reports_false() {
    let (listener, addr) = listener();
    let mut conn = Connection::connect_addr(addr, (), Options::new());
    let (_peer, _) = listener.accept().expect("accept");
    assert!(drive(&mut conn, LIMIT, |c| *c.state() == State::Connected));
    let start = Instant::now();
    assert!(!conn.waiter().wait(Some(Duration::from_millis(100))));
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn the_idle_timer_ends_a_wait_with_true() {
    let (listener, addr) = listener();
    let options = Options::new().timeout(Duration::from_millis(300));
    let mut conn = Connection::connect_addr(addr, (), options);
    let (_peer, _) = listener.accept().expect("accept");
    assert!(drive(&mut conn, LIMIT, |c| *c.state() == State::Connected));
    let waiter = conn.waiter();
    assert!(waiter.deadline().is_some());
    let start = Instant::now();
    assert!(
        waiter.wait(Some(Duration::from_secs(10))),
        "the deadline counts as an event"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_disconnected_connection_gives_an_empty_waiter() {
    let (reader, _writer) = rustix::pipe::pipe().expect("pipe");
    let mut conn = Connection::custom(Some(Fd::owned(reader)), None, (), Options::new());
    conn.close();
    let waiter = conn.waiter();
    assert!(waiter.is_empty());
    let start = Instant::now();
    assert!(!waiter.wait(None), "nothing to wait for: returns at once");
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn custom_and_list_waiters() {
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    let (listener, _) = listener();
    let custom = Waiter::custom(&[reader.as_fd()], &[writer.as_fd()], &[reader.as_fd()]);
    let waiter = Waiter::from_list([custom, Waiter::from_listener(&listener)]);
    let (read, write, except) = waiter.instantiate();
    assert_eq!((read.len(), write.len(), except.len()), (2, 1, 1));
    // The pipe's write end is writable at once.
    assert!(waiter.wait(Some(LIMIT)));

    let only_read = Waiter::custom(&[reader.as_fd()], &[], &[]);
    assert!(!only_read.wait(Some(Duration::from_millis(20))));
    rustix::io::write(&writer, b"x").expect("write");
    assert!(only_read.wait(Some(LIMIT)));
}

#[test]
fn sleep_waits_like_wait_without_the_answer() {
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    let waiter = Waiter::custom(&[reader.as_fd()], &[], &[]);
    let start = Instant::now();
    let () = waiter.sleep(Some(Duration::from_millis(100)));
    let slept = start.elapsed();
    assert!(slept >= Duration::from_millis(100), "{slept:?}");
    assert!(slept < Duration::from_secs(5), "{slept:?}");

    rustix::io::write(&writer, b"x").expect("write");
    let start = Instant::now();
    waiter.sleep(Some(LIMIT));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "readable: returns at once"
    );

    let start = Instant::now();
    Waiter::new().sleep(None);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "nothing to wait for"
    );
}
