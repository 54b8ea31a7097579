//! The command over a Unix socket: `serve --listen unix:PATH`, and `read`, `tail`, `list`
//! and `stats` given `unix:PATH`.
#![cfg(feature = "cli")]

mod cli_support;
mod support;

use std::time::Duration;

use cli_support::{arg, run, serve_on, temp_dir, wait_for_lines};

#[test]
fn every_subcommand_works_over_a_unix_socket() {
    let dir = temp_dir("unix");
    let socket = dir.path().join("s.sock");
    let listen = format!("unix:{}", socket.display());
    let (mut server, address) =
        serve_on(&listen, &["--publish", &arg(&dir, "app"), "--stdin", "app"]);
    assert_eq!(address, listen, "it says where it listens as it was given");
    server.write("one\ntwo\n");
    wait_for_lines(&address, "app", 2);

    let (status, out, err) = run(&["read", &address, "app", "-e"]).finish();
    assert!(status.success(), "read: {status}, stderr: {err}");
    assert_eq!(out, ["one", "two"]);

    let tail = run(&["tail", &address, "app", "--count", "1"]);
    let mut tick = 0;
    let first = loop {
        assert!(tick < 1000, "the tail printed nothing");
        server.write(&format!("tick {tick}\n"));
        tick += 1;
        match tail.line_within(Duration::from_millis(200)) {
            Ok(Some(line)) => break line,
            Ok(None) => panic!("the tail ended without a line"),
            Err(_) => {}
        }
    };
    assert!(first.starts_with("tick "), "{first}");
    let (status, rest, err) = tail.finish();
    assert!(
        status.success() && rest.is_empty(),
        "tail: {status} {rest:?} {err}"
    );

    let (status, out, err) = run(&["stats", &address]).finish();
    assert!(status.success(), "stats: {status}, stderr: {err}");
    let snapshot: serde_json::Value = serde_json::from_str(&out[0]).expect("JSON");
    assert_eq!(snapshot["files"][0]["name"], "app");

    server.close_stdin();
    let (status, _, err) = server.finish();
    assert!(status.success(), "serve: {err}");
    assert!(!socket.exists(), "the server removes its socket file");

    // No server there now: the path is named, with the hint.
    let (status, _, err) = run(&["list", &address]).finish();
    assert_eq!(status.code(), Some(4), "{err}");
    assert_eq!(
        err,
        format!(
            "tcp-file: cannot connect to {address}: no such file or directory (is `tcp-file serve` running there?)\n"
        )
    );
}

#[test]
fn allow_is_a_usage_error_on_a_unix_socket() {
    let dir = temp_dir("unix-allow");
    let listen = format!("unix:{}", dir.path().join("s.sock").display());
    let (status, out, err) = run(&["serve", "--listen", &listen, "--allow", "127.0.0.1"]).finish();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(out.is_empty());
    assert!(
        err.starts_with("error: --allow filters TCP clients"),
        "{err}"
    );
}
