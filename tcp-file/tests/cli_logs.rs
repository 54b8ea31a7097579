//! The server's log on standard error: refused clients and protocol violations show at
//! the default level (info) and with `RUST_LOG=info`, each line under its connection's
//! span; `-q` and `-v` move the level, and `RUST_LOG` wins over them.
#![cfg(feature = "cli")]

mod cli_support;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use cli_support::{Proc, arg, tcp_file, temp_dir};

/// `tcp-file serve` on 127.0.0.1 with `args` and `RUST_LOG` as given (unset: `None`),
/// publishing `app` from its standard input; and its address.
fn serve_logging(dir: &tempfile::TempDir, rust_log: Option<&str>, args: &[&str]) -> (Proc, String) {
    let mut command = tcp_file();
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--publish",
            &arg(dir, "app"),
        ])
        .args(["--stdin", "app"])
        .args(args);
    match rust_log {
        Some(filter) => command.env("RUST_LOG", filter),
        None => command.env_remove("RUST_LOG"),
    };
    let server = Proc::start(command);
    let first = server.line();
    let address = first
        .strip_prefix("listening on ")
        .expect("listening on")
        .to_string();
    (server, address)
}

/// Connects from `from` (an address of the loopback range) to `to`, sends `bytes`,
/// half-closes, and reads until the server closes: what the server answered.
fn exchange(from: &str, to: &str, bytes: &[u8]) -> Vec<u8> {
    use socket2::{Domain, Socket, Type};
    let to: SocketAddr = to.parse().expect("address");
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let from: SocketAddr = format!("{from}:0").parse().expect("address");
    socket.bind(&from.into()).expect("bind");
    socket.connect(&to.into()).expect("connect");
    let mut stream = TcpStream::from(socket);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(bytes).expect("send");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// A binary hello, then a frame of a kind no client sends.
fn hello_then_a_bad_frame() -> Vec<u8> {
    let mut bytes = support::hello(camlnet_tcp_file::VERSION);
    bytes.extend_from_slice(&[0, 0, 0, 1, 0x7f]);
    bytes
}

fn refused_and_violation_are_logged(rust_log: Option<&str>) {
    let dir = temp_dir("logs");
    let (mut server, address) = serve_logging(&dir, rust_log, &["--allow", "127.0.0.1"]);
    let refused = exchange("127.0.0.2", &address, b"READ app\n");
    assert!(
        String::from_utf8_lossy(&refused).starts_with("-ERR 127.0.0.2:"),
        "{refused:?}"
    );
    exchange("127.0.0.1", &address, &hello_then_a_bad_frame());
    server.close_stdin();
    let (status, _, err) = server.finish();
    assert!(status.success(), "serve: {status}, stderr: {err}");
    let line = |what: &str| {
        err.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in the log: {err}"))
            .to_string()
    };
    let refusal = line("connection refused by auth");
    assert!(refusal.contains("INFO"), "{refusal}");
    assert!(
        refusal.contains("connection{id="),
        "under its connection's span: {refusal}"
    );
    assert!(refusal.contains("peer=127.0.0.2:"), "{refusal}");
    let violation = line("broke the protocol");
    assert!(violation.contains("WARN"), "{violation}");
    assert!(violation.contains("peer=127.0.0.1:"), "{violation}");
}

#[test]
fn rust_log_info_shows_refused_clients_and_protocol_violations() {
    refused_and_violation_are_logged(Some("info"));
}

#[test]
fn the_default_level_of_serve_shows_them_too() {
    refused_and_violation_are_logged(None);
}

#[test]
fn q_and_v_move_the_level_and_rust_log_wins() {
    let dir = temp_dir("levels");
    let levels = |rust_log: Option<&str>, args: &[&str]| {
        let (mut server, address) = serve_logging(&dir, rust_log, args);
        // The server answers and closes, logging at debug level on the way.
        let answer = exchange("127.0.0.1", &address, b"LIST\n");
        assert_eq!(answer, b"+OK\napp 0\n");
        server.close_stdin();
        let (status, _, err) = server.finish();
        assert!(status.success(), "serve: {status}, stderr: {err}");
        let has = |level: &str| err.lines().any(|l| l.contains(level));
        (has(" INFO "), has(" DEBUG "))
    };
    assert_eq!(levels(None, &[]), (true, false), "info by default");
    assert_eq!(levels(None, &["-q"]), (false, false), "-q: warnings only");
    assert_eq!(levels(None, &["-v"]), (true, true), "-v: debug too");
    assert_eq!(
        levels(Some("info"), &["-qq"]),
        (true, false),
        "RUST_LOG wins"
    );
}
