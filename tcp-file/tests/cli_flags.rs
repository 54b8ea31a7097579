//! The reading flags of `tcp-file read` and `tail`, run as a user would: `--from -N`,
//! `-e`, `--count`, the note on standard error that says where a read starts, and
//! `--connect-timeout`.
#![cfg(feature = "cli")]

mod cli_support;
mod support;

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use cli_support::{LIMIT, Proc, arg, run, serve, temp_dir, wait_for_lines};

/// A server of `app`, fed by its standard input, once `lines` lines `line I` are counted.
fn server_with_lines(dir: &tempfile::TempDir, lines: u64) -> (Proc, String) {
    let (mut server, address) = serve(&["--publish", &arg(dir, "app"), "--stdin", "app"]);
    let text: String = (0..lines).map(|i| format!("line {i}\n")).collect();
    server.write(&text);
    wait_for_lines(&address, "app", lines);
    (server, address)
}

fn lines(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

#[test]
fn from_minus_n_prints_the_last_lines_then_follows() {
    let dir = temp_dir("from-last");
    let (mut server, address) = server_with_lines(&dir, 100);
    // More than there are: from the first line.
    let (status, out, _) = run(&["read", &address, "app", "--from=-500", "-e", "-q"]).finish();
    assert!(status.success());
    assert_eq!(out, lines(0..100));

    let reader = run(&["read", &address, "app", "--from", "-3"]);
    assert_eq!(reader.line(), "line 97");
    server.write("live\n");
    server.close_stdin();
    let (status, rest, err) = reader.finish();
    assert!(status.success(), "read: {status}, stderr: {err}");
    assert_eq!(rest, ["line 98", "line 99", "live"]);
    assert_eq!(
        err,
        "tcp-file: reading app from line 97 (it has 100 lines so far), then following it\n"
    );
    let (status, _, err) = server.finish();
    assert!(status.success(), "serve: {err}");
}

#[test]
fn exit_at_end_stops_at_the_lines_the_file_had() {
    let dir = temp_dir("exit-at-end");
    let (mut server, address) = server_with_lines(&dir, 100);
    let (status, out, err) = run(&["read", &address, "app", "-e", "--from", "90"]).finish();
    assert!(status.success(), "read -e: {status}, stderr: {err}");
    assert_eq!(out, lines(90..100));
    assert_eq!(
        err,
        "tcp-file: reading app from line 90 to line 99, then exiting\n"
    );

    // Lines written while it reads are not waited for: a reader that starts while a
    // writer goes on still ends, at the count it was told at the start.
    let (status, out, _) =
        run(&["read", &address, "app", "--exit-at-end", "--from", "-5"]).finish();
    assert!(status.success());
    assert_eq!(out, lines(95..100));

    // Nothing left from there: it says so and ends at once.
    let (status, out, err) = run(&["read", &address, "app", "-e", "--from", "-0"]).finish();
    assert!(status.success(), "{err}");
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(
        err,
        "tcp-file: reading app: nothing to read from line 100 (it has 100 lines)\n"
    );
    server.close_stdin();
    let (status, _, err) = server.finish();
    assert!(status.success(), "serve: {err}");
}

#[test]
fn count_stops_after_that_many_messages() {
    let dir = temp_dir("count");
    let (mut server, address) = server_with_lines(&dir, 20);
    let (status, out, err) = run(&["read", &address, "app", "--count", "5"]).finish();
    assert!(status.success(), "read --count: {status}, stderr: {err}");
    assert_eq!(out, lines(0..5));
    assert!(
        err.ends_with("then following it (5 messages at most)\n"),
        "{err}"
    );

    // A tail starts at the line that was next when it asked: it gets the next two lines
    // written, whenever they come, and exits.
    let tail = run(&["tail", &address, "app", "--count", "2", "--json"]);
    let mut written = 20;
    let first = loop {
        assert!(written < 20 + 1000, "the tail printed nothing");
        server.write(&format!("line {written}\n"));
        written += 1;
        match tail.line_within(Duration::from_millis(200)) {
            Ok(Some(line)) => break line,
            Ok(None) => panic!("the tail ended without a line"),
            Err(_) => {}
        }
    };
    server.write(&format!("line {written}\n"));
    let (status, rest, err) = tail.finish();
    assert!(status.success(), "tail --count: {status}, stderr: {err}");
    let first: serde_json::Value = serde_json::from_str(&first).expect("JSON");
    let second: serde_json::Value = serde_json::from_str(&rest[0]).expect("JSON");
    assert_eq!(rest.len(), 1, "{rest:?}");
    let line = first["line"].as_u64().expect("a line number");
    assert_eq!(second["line"], line + 1);
    assert_eq!(first["message"], format!("line {line}"));
    // The note said the line it would start from; the tail started there or later.
    let noted: u64 = err
        .strip_prefix("tcp-file: tailing app from line ")
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the note: {err:?}"));
    assert_eq!(
        noted, line,
        "the tail's first line is the one its note named"
    );
    server.close_stdin();
    let _ = server.finish();
}

#[test]
fn quiet_leaves_the_note_out() {
    let dir = temp_dir("quiet");
    let (server, address) = server_with_lines(&dir, 3);
    let (status, out, err) = run(&["read", "-q", &address, "app", "-e"]).finish();
    assert!(status.success());
    assert_eq!(out, lines(0..3));
    assert_eq!(err, "");
    drop(server);
}

/// A listener whose accept queue is full, so that a further connect hangs (the kernel
/// drops its SYN): the listener and the connections that fill it.
fn a_listener_that_never_answers() -> (socket2::Socket, Vec<TcpStream>, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let address: SocketAddr = "127.0.0.1:0".parse().expect("address");
    listener.bind(&address.into()).expect("bind");
    listener.listen(0).expect("listen");
    let address = listener
        .local_addr()
        .expect("address")
        .as_socket()
        .expect("inet");
    let mut held = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&address, Duration::from_millis(300)) {
            Ok(stream) => held.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return (listener, held, address);
            }
            Err(e) => panic!("connect: {e}"),
        }
    }
    panic!("the accept queue never filled");
}

#[test]
fn connect_timeout_bounds_a_connect_that_hangs() {
    let (_listener, _held, address) = a_listener_that_never_answers();
    let started = Instant::now();
    let address = address.to_string();
    let (status, out, err) = run(&["read", &address, "app", "--connect-timeout", "1s"]).finish();
    let took = started.elapsed();
    assert_eq!(status.code(), Some(4), "{err}");
    assert!(out.is_empty());
    assert_eq!(
        err,
        format!(
            "tcp-file: cannot connect to {address}: no connection within 1s (see --connect-timeout)\n"
        )
    );
    assert!(
        took >= Duration::from_millis(900) && took < LIMIT,
        "took {took:?}"
    );
}
