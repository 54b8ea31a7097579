//! `custom` over a child process's pipes and over borrowed fds.

mod common;

use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Duration;

use rustix::fs::OFlags;

use camlnet_procord_conn::{Connection, DisconnectReason, Fd, Options, RemoteAddress, State};

use common::{LIMIT, drive, drive_to_end, pattern};

#[test]
fn a_child_process_over_its_stdin_and_stdout() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let input = child.stdout.take().map(Fd::owned);
    let output = child.stdin.take().map(Fd::owned);
    let mut conn = Connection::custom(input, output, (), Options::new());
    assert_eq!(*conn.state(), State::Connected);
    assert_eq!(*conn.remote_address(), RemoteAddress::Unknown);

    // More than a pipe holds, so that both directions have to take turns.
    let message = pattern(300 * 1024, 3);
    conn.send(&message);
    let mut echoed = Vec::new();
    assert!(drive(&mut conn, LIMIT, |c| {
        echoed.extend(c.receive_all());
        echoed.len() >= message.len()
    }));
    assert_eq!(echoed, message);

    // Closing nicely closes cat's stdin; cat exits, its stdout ends, we are done.
    conn.send(b"last words");
    conn.close_nicely(Some(LIMIT));
    assert_eq!(*conn.state(), State::Disconnecting);
    assert!(drive_to_end(&mut conn));
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::ClosedLocally)
    );
    assert_eq!(
        conn.receive_all(),
        b"last words",
        "what arrived while closing stays readable"
    );
    let status = child.wait().expect("wait for cat");
    assert!(status.success());
}

#[test]
fn a_borrowed_fd_stays_open_and_gets_its_blocking_mode_back() {
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    let reader: &'static OwnedFd = Box::leak(Box::new(reader));
    assert!(
        !rustix::fs::fcntl_getfl(reader)
            .expect("getfl")
            .contains(OFlags::NONBLOCK)
    );

    let mut conn = Connection::custom(Some(Fd::borrowed(reader.as_fd())), None, (), Options::new());
    assert!(
        rustix::fs::fcntl_getfl(reader)
            .expect("getfl")
            .contains(OFlags::NONBLOCK)
    );
    rustix::io::write(&writer, b"hello").expect("write");
    assert!(drive(&mut conn, LIMIT, |c| c.receive_buffer_length() == 5));
    conn.close();

    let flags = rustix::fs::fcntl_getfl(reader).expect("the borrowed fd is still open");
    assert!(!flags.contains(OFlags::NONBLOCK), "blocking mode restored");
    assert_eq!(conn.receive_all(), b"hello");
}

#[test]
fn end_of_stream_on_a_pipe_is_eof_and_the_data_stays() {
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    let mut conn = Connection::custom(Some(Fd::owned(reader)), None, (), Options::new());
    rustix::io::write(&writer, b"abc").expect("write");
    drop(writer);
    assert!(drive_to_end(&mut conn));
    assert_eq!(*conn.state(), State::Disconnected(DisconnectReason::Eof));
    assert_eq!(conn.receive_all(), b"abc");
    conn.send(b"ignored once disconnected");
    assert_eq!(conn.send_buffer_length(), 0);
}

#[test]
fn writing_to_a_pipe_without_reader_is_a_disconnection() {
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    drop(reader);
    let mut conn = Connection::custom(None, Some(Fd::owned(writer)), (), Options::new());
    conn.send(b"nobody listens");
    assert!(common::drive(&mut conn, Duration::from_secs(5), |c| !c.alive()));
    match conn.state() {
        State::Disconnected(DisconnectReason::Os(e)) => {
            assert_eq!(e.operation(), "write");
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
        }
        other => panic!("unexpected state {other:?}"),
    }
}
