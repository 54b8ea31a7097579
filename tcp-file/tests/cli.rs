//! The `tcp-file` command run as a user would: `serve --stdin` fed through standard input,
//! `read`, `tail`, `read --from` and `--json` as separate processes, `--allow`, exit codes,
//! Ctrl-C, and the demo.
#![cfg(feature = "cli")]

mod cli_support;
mod support;

use std::time::Duration;

use cli_support::{Proc, arg, run, serve, serve_app_and_old, temp_dir};

/// Writes `tick N` lines to the server until `follower` prints one, so that the follower
/// is known to be subscribed; returns the lines written and the first line it printed.
fn sync_follower(server: &mut Proc, follower: &Proc, written: &mut Vec<String>) -> String {
    let deadline = std::time::Instant::now() + cli_support::LIMIT;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the follower printed nothing"
        );
        let tick = format!("tick {}", written.len());
        server.write(&format!("{tick}\n"));
        written.push(tick);
        match follower.line_within(Duration::from_millis(200)) {
            Ok(Some(line)) => return line,
            Ok(None) => panic!("the follower ended"),
            Err(_) => {}
        }
    }
}

#[test]
fn serve_stdin_feeds_read_tail_from_and_json() {
    let dir = temp_dir("stdin");
    let (mut server, address) = serve(&["--publish", &arg(&dir, "app"), "--stdin", "app"]);
    let mut written: Vec<String> = (0..50).map(|i| format!("message {i}")).collect();
    for line in &written {
        server.write(&format!("{line}\n"));
    }
    let reader = run(&["read", &address, "app"]);
    let from = run(&["read", &address, "app", "--from", "20", "--json"]);
    // Both readers see their first lines: they are connected and their requests served.
    assert_eq!(reader.line(), "message 0");
    let from_first = from.line();
    assert!(from_first.contains("\"line\":20"), "{from_first}");
    let tail = run(&["tail", &address, "app"]);
    let tail_first = sync_follower(&mut server, &tail, &mut written);
    let tail_start = written
        .iter()
        .position(|l| *l == tail_first)
        .expect("the tail printed a written line");
    for i in 0..200 {
        let line = format!("live {i} with \u{e9}");
        server.write(&format!("{line}\r\n"));
        written.push(line);
    }
    server.close_stdin();

    let (status, out, err) = server.finish();
    assert!(status.success(), "serve: {status}, stderr: {err}");
    assert!(out.is_empty(), "serve printed more: {out:?}");

    let (status, rest, err) = reader.finish();
    assert!(status.success(), "read: {status}, stderr: {err}");
    assert_eq!(rest, written[1..], "read prints every line after the first");

    let (status, rest, err) = tail.finish();
    assert!(status.success(), "tail: {status}, stderr: {err}");
    assert_eq!(
        rest,
        written[tail_start + 1..],
        "tail prints every line after its first"
    );

    let (status, json, err) = from.finish();
    assert!(status.success(), "read --from: {status}, stderr: {err}");
    let json: Vec<String> = std::iter::once(from_first).chain(json).collect();
    assert_eq!(json.len(), written.len() - 20);
    for (i, text) in json.iter().enumerate() {
        let value: serde_json::Value = serde_json::from_str(text).expect("one JSON object a line");
        assert_eq!(value["line"], 20 + i as u64, "{text}");
        assert_eq!(value["message"], written[20 + i], "{text}");
    }
}

#[test]
fn allow_refuses_other_clients() {
    let dir = temp_dir("allow");
    let (server, address) = serve(&["--publish", &arg(&dir, "app"), "--allow", "192.0.2.1"]);
    let (status, out, err) = run(&["read", &address, "app"]).finish();
    assert_eq!(status.code(), Some(4), "stderr: {err}");
    assert!(out.is_empty());
    // The client is told why, in one line that names the server once.
    assert!(
        err.starts_with(&format!(
            "tcp-file: cannot connect to {address}: the server refused: "
        )) && err.trim_end().ends_with("is not allowed to connect"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "a one-line reason: {err}");
    assert_eq!(err.matches(&address).count(), 1, "{err}");
    drop(server);

    let (mut server, address) = serve(&[
        "--publish",
        &arg(&dir, "other"),
        "--stdin",
        "other",
        "--allow",
        "127.0.0.1",
    ]);
    server.write("hello\n");
    let reader = run(&["read", &address, "other"]);
    assert_eq!(reader.line(), "hello");
    server.close_stdin();
    let (status, _, err) = server.finish();
    assert!(status.success(), "serve: {status}, stderr: {err}");
    let (status, out, err) = reader.finish();
    assert!(
        status.success(),
        "an allowed reader: {status}, stderr: {err}"
    );
    assert!(out.is_empty());
}

#[test]
fn exit_codes_tell_what_failed() {
    let dir = temp_dir("codes");
    let (mut server, address) = serve(&["--publish", &arg(&dir, "app"), "--stdin", "app"]);

    let (status, out, err) = run(&["read", &address, "nope"]).finish();
    assert_eq!(status.code(), Some(3), "unknown file: {err}");
    assert!(out.is_empty());
    assert_eq!(err.trim(), "tcp-file: unknown file: \"nope\"");

    let (status, _, err) = run(&["read", "not-an-address", "app"]).finish();
    assert_eq!(status.code(), Some(2), "usage error: {err}");
    let (status, _, err) = run(&["read", &address, "app", "--from", "minus one"]).finish();
    assert_eq!(status.code(), Some(2), "usage error: {err}");

    // Connection lost: the server dies while a reader follows.
    server.write("hello\n");
    let reader = run(&["read", "-q", &address, "app"]);
    assert_eq!(reader.line(), "hello");
    server.signal("KILL");
    let (status, _, err) = reader.finish();
    assert_eq!(status.code(), Some(5), "connection lost: {err}");
    assert!(err.starts_with("tcp-file: connection lost"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // Nothing listens there any more.
    let (status, _, err) = run(&["tail", &address, "app"]).finish();
    assert_eq!(status.code(), Some(4), "refused: {err}");
    drop(server);
}

#[test]
fn a_refused_connection_is_said_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let (status, out, err) = run(&["read", &address, "app"]).finish();
    assert_eq!(status.code(), Some(4), "refused: {err}");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "a one-line reason: {err}");
    // Each level of the error chain says its own part: the system's refusal once, and
    // nothing else says "refused"; the address once.
    let lower = err.to_lowercase();
    assert_eq!(lower.matches("connection refused").count(), 1, "{err}");
    assert_eq!(lower.matches("refused").count(), 1, "{err}");
    assert_eq!(err.matches(&address).count(), 1, "{err}");
}

#[test]
fn sigint_stops_serve_with_exit_code_0() {
    signal_stops_serve_with_exit_code_0("INT");
}

#[test]
fn sighup_stops_serve_as_sigterm_does() {
    signal_stops_serve_with_exit_code_0("HUP");
}

/// Readers get every line written and then a normal end, and the server exits with 0.
fn signal_stops_serve_with_exit_code_0(signal: &str) {
    let dir = temp_dir(&format!("sig{signal}"));
    let (mut server, address) = serve_app_and_old(&dir, &["--sync", "always"]);
    let (status, out, err) = run(&["read", &address, "old"]).finish();
    assert!(status.success(), "{err}");
    assert_eq!(out, ["one", "two"]);
    let reader = run(&["read", &address, "app", "--json"]);
    server.write("started\n");
    assert_eq!(reader.line(), r#"{"line":0,"message":"started"}"#);
    // Standard input stays open: only the signal stops the server.
    server.signal(signal);
    let (status, out, err) = server.finish();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(out.is_empty());
    let (status, out, err) = reader.finish();
    assert!(status.success(), "the stream ends normally: {err}");
    assert!(out.is_empty());
}

#[test]
fn an_oversized_stdin_line_is_skipped_and_the_server_goes_on() {
    let dir = temp_dir("stdin-long");
    let (mut server, address) = serve(&["--publish", &arg(&dir, "app"), "--stdin", "app"]);
    let reader = run(&["read", &address, "app"]);
    server.write("before\n");
    assert_eq!(reader.line(), "before");
    // One byte over the limit, then one within it exactly.
    server.write(&format!(
        "{}\n",
        "x".repeat(camlnet_tcp_file::MAX_MESSAGE + 1)
    ));
    server.write("after\n");
    server.close_stdin();
    let (status, _, err) = server.finish();
    assert!(status.success(), "serve: {status}, stderr: {err}");
    assert!(err.contains("skipped a line"), "{err}");
    let (status, rest, err) = reader.finish();
    assert!(status.success(), "read: {status}, stderr: {err}");
    assert_eq!(rest, ["after"]);
}

#[test]
fn demo_reports_no_gaps() {
    let (status, out, err) = run(&["demo", "--duration", "3s"]).finish();
    assert!(
        status.success(),
        "demo: {status}\n{}\n{err}",
        out.join("\n")
    );
    assert!(
        out.iter()
            .any(|l| l.contains("gaps found: none; duplicates found: none")),
        "{out:?}"
    );
    assert!(
        out.iter().any(|l| l.contains("messages written")),
        "{out:?}"
    );
}
