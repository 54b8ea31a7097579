//! Messages larger than the receive buffer's soft limit never stall.

mod common;

use std::io::Write;
use std::time::Duration;

use camlnet_procord_conn::{Connection, Options, State};

use common::{LIMIT, drive, echo_once, listener, pattern};

const BIG: usize = 4 * 1024 * 1024;

#[test]
fn a_4_mib_message_goes_through_an_echo() {
    let (addr, server) = echo_once();
    let mut conn = Connection::connect_addr(addr, (), Options::new());
    let message = pattern(BIG, 5);
    conn.send(&message);
    let mut echoed = None;
    assert!(drive(&mut conn, LIMIT, |c| {
        echoed = c.receive(BIG);
        echoed.is_some()
    }));
    assert!(echoed.as_deref() == Some(&message[..]));
    conn.close();
    assert_eq!(server.join().expect("echo server"), BIG as u64);
}

#[test]
fn reading_pauses_at_the_soft_limit_and_resumes_on_demand() {
    let (listener, addr) = listener();
    let message = pattern(BIG, 7);
    let sent = message.clone();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.write_all(&sent).expect("write");
        // Keep the stream open until the client is done.
        let _ = std::io::Read::read(&mut stream, &mut [0; 1]);
    });
    let limit = 64 * 1024;
    let mut conn = Connection::connect_addr(addr, (), Options::new().receive_soft_limit(limit));
    assert!(drive(&mut conn, LIMIT, |c| c.receive_buffer_length() >= limit));
    // Without demand the buffer stays near its limit even though 4 MiB are on the way.
    assert!(!drive(&mut conn, Duration::from_millis(200), |c| c
        .receive_buffer_length()
        > 1024 * 1024));
    assert_eq!(*conn.state(), State::Connected);

    // Peeking at the whole message is a demand: reading resumes.
    assert!(drive(&mut conn, LIMIT, |c| c
        .receive_poll(0, BIG)
        .is_some()));
    assert!(conn.receive_poll(0, BIG) == Some(&message[..]));
    assert_eq!(conn.receive_forget(BIG), BIG);
    assert!(conn.receive_buffer_empty());
    conn.close();
    server.join().expect("server");
}
