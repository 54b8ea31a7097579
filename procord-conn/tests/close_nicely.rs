//! `close_nicely`: everything sent arrives before the peer sees end of stream.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use procord_conn::{Connection, DisconnectReason, Fd, Options, State};

use common::{LIMIT, drive_to_end, listener, pattern};

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
