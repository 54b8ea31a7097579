//! `close_nicely`: everything sent arrives before the peer sees end of stream.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use camlnet_procord_conn::{
    Connection, DEFAULT_RECEIVE_SOFT_LIMIT, DisconnectReason, Fd, Options, State,
};

use common::{LIMIT, drive, drive_to_end, listener, pattern};

/// More than the receive buffer's soft limit, and more than a pipe holds.
const FLOOD: usize = 1024 * 1024;

#[test]
fn close_nicely_delivers_everything_before_end_of_stream() {
    let (listener, addr) = listener();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(LIMIT)).expect("read timeout");
        let mut received = Vec::new();
        // read_to_end returns at end of stream: the half-close.
        stream.read_to_end(&mut received).expect("read to end");
        // Our side is still open for reading: answer, then close.
        stream.write_all(b"bye").expect("write");
        received
    });
    let message = pattern(2 * 1024 * 1024, 9);
    let mut conn = Connection::connect_addr(addr, (), Options::new());
    conn.send(&message);
    // Even while connecting: the close waits for the connect and the sending.
    conn.close_nicely(Some(LIMIT));
    conn.send(b"ignored after close_nicely");
    let mut saw_disconnecting = false;
    assert!(common::drive(&mut conn, LIMIT, |c| {
        saw_disconnecting |= *c.state() == State::Disconnecting;
        !c.alive()
    }));
    assert!(saw_disconnecting);
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::ClosedLocally)
    );
    assert_eq!(conn.receive_all(), b"bye", "the peer's last words are kept");
    let received = server.join().expect("server");
    assert_eq!(received.len(), message.len());
    assert!(received == message, "the bytes arrived intact and in order");
}

#[test]
fn close_nicely_on_a_pipe_closes_it_after_the_data() {
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    let reading = std::thread::spawn(move || {
        let mut file = std::fs::File::from(reader);
        let mut all = Vec::new();
        file.read_to_end(&mut all).expect("read");
        all
    });
    let mut conn = Connection::custom(None, Some(Fd::owned(writer)), (), Options::new());
    let message = pattern(500 * 1024, 1);
    conn.send(&message);
    conn.close_nicely(None);
    assert!(drive_to_end(&mut conn));
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::ClosedLocally)
    );
    assert!(reading.join().expect("reader") == message);
}

#[test]
fn close_nicely_times_out_when_the_peer_does_not_read() {
    let (listener, addr) = listener();
    let mut conn = Connection::connect_addr(addr, (), Options::new());
    let (peer, _) = listener.accept().expect("accept");
    // Far more than the socket buffers hold, and nobody reads.
    conn.send(&vec![0; 64 * 1024 * 1024]);
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    conn.close_nicely(Some(timeout));
    assert!(drive_to_end(&mut conn));
    let took = start.elapsed();
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::Timeout)
    );
    assert!(took >= timeout, "{took:?}");
    assert!(took <= timeout + Duration::from_secs(5), "{took:?}");
    drop(peer);
}

/// Closes `conn` nicely with no timeout and drives it to its end in a bounded loop,
/// checking that every turn has something to wait for (an empty waiter makes `wait(None)`
/// return at once: a spinning loop). Returns the number of turns.
fn close_nicely_bounded<D>(conn: &mut Connection<D>) -> usize {
    conn.close_nicely(None);
    let started = Instant::now();
    let mut turns = 0;
    while conn.alive() && turns < 10_000 && started.elapsed() < LIMIT {
        let waiter = conn.waiter();
        assert!(
            !waiter.is_empty(),
            "closing, after {turns} turns: the waiter has nothing to wait for"
        );
        waiter.wait(Some(LIMIT));
        conn.update();
        turns += 1;
    }
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::ClosedLocally),
        "after {turns} turns in {:?}",
        started.elapsed()
    );
    turns
}

/// What the connection kept must be the start of what was sent, and at least the limit.
fn assert_kept_a_prefix<D>(conn: &mut Connection<D>, sent: &[u8]) {
    let kept = conn.receive_all();
    assert!(kept.len() >= DEFAULT_RECEIVE_SOFT_LIMIT, "{}", kept.len());
    assert!(
        sent.starts_with(&kept),
        "the buffer holds a prefix of the input"
    );
}

#[test]
fn close_nicely_ends_on_a_socket_whose_unread_input_fills_the_buffer() {
    let (listener, addr) = listener();
    let flood = pattern(FLOOD, 4);
    let sent = flood.clone();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(LIMIT)).expect("read timeout");
        stream
            .set_write_timeout(Some(LIMIT))
            .expect("write timeout");
        stream.write_all(&sent).expect("write the flood");
        // Then wait for the client's half-close, and close.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).expect("read to end");
        rest.len()
    });
    let mut conn = Connection::connect_addr(addr, (), Options::new());
    // The application reads nothing: the buffer fills up to its soft limit.
    assert!(drive(&mut conn, LIMIT, |c| c.receive_buffer_length()
        >= DEFAULT_RECEIVE_SOFT_LIMIT));
    close_nicely_bounded(&mut conn);
    assert_kept_a_prefix(&mut conn, &flood);
    assert_eq!(
        server.join().expect("server"),
        0,
        "nothing sent, only the end"
    );
}

#[test]
fn close_nicely_ends_on_pipes_whose_unread_input_fills_the_buffer() {
    // As over stdin and stdout: one pipe in, one pipe out.
    let (input, feeder) = rustix::pipe::pipe().expect("pipe");
    let (drain, output) = rustix::pipe::pipe().expect("pipe");
    let flood = pattern(FLOOD, 6);
    let sent = flood.clone();
    let feeding = std::thread::spawn(move || {
        let mut file = std::fs::File::from(feeder);
        file.write_all(&sent).expect("feed the flood");
    });
    let draining = std::thread::spawn(move || {
        let mut all = Vec::new();
        std::fs::File::from(drain)
            .read_to_end(&mut all)
            .expect("read the output");
        all
    });
    let mut conn = Connection::custom(
        Some(Fd::owned(input)),
        Some(Fd::owned(output)),
        (),
        Options::new(),
    );
    assert!(drive(&mut conn, LIMIT, |c| c.receive_buffer_length()
        >= DEFAULT_RECEIVE_SOFT_LIMIT));
    conn.send(b"last words");
    close_nicely_bounded(&mut conn);
    assert_kept_a_prefix(&mut conn, &flood);
    feeding.join().expect("the feeder wrote everything");
    assert_eq!(draining.join().expect("drain"), b"last words");
}
