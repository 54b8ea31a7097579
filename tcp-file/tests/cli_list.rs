//! `tcp-file list` and `tcp-file stats` against a running `tcp-file serve`.
#![cfg(feature = "cli")]

mod cli_support;
mod support;

use cli_support::{run, serve_app_and_old, temp_dir, wait_for_lines};

#[test]
fn list_and_stats_tell_what_the_server_serves() {
    let dir = temp_dir("list");
    let (mut server, address) = serve_app_and_old(&dir, &[]);
    server.write("a\nb\nc\n");
    wait_for_lines(&address, "app", 3);

    let (status, out, err) = run(&["list", &address]).finish();
    assert!(status.success(), "list: {status}, stderr: {err}");
    assert_eq!(out, ["app 3", "old 2"]);
    assert_eq!(err, "", "nothing but the list");

    // A follower, so that the snapshot has a reader and a connection.
    let reader = run(&["read", &address, "app"]);
    assert_eq!(reader.line(), "a");
    let (status, out, err) = run(&["stats", &address]).finish();
    assert!(status.success(), "stats: {status}, stderr: {err}");
    assert_eq!(out.len(), 1, "one line of JSON: {out:?}");
    let snapshot: serde_json::Value = serde_json::from_str(&out[0]).expect("JSON");
    let app = &snapshot["files"][0];
    assert_eq!(app["name"], "app");
    assert_eq!(app["lines"], 3);
    assert_eq!(app["state"], "open");
    assert_eq!(
        app["readers"].as_array().map(Vec::len),
        Some(1),
        "{snapshot}"
    );
    assert_eq!(snapshot["files"][1]["name"], "old");
    assert!(
        !snapshot["connections"]
            .as_array()
            .expect("connections")
            .is_empty()
    );

    server.close_stdin();
    let (status, _, err) = server.finish();
    assert!(status.success(), "serve: {err}");
    let _ = reader.finish();
}

#[test]
fn list_of_a_server_that_is_not_there_says_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    for command in ["list", "stats"] {
        let (status, out, err) = run(&[command, &address]).finish();
        assert_eq!(status.code(), Some(4), "{err}");
        assert!(out.is_empty());
        assert_eq!(
            err,
            format!(
                "tcp-file: cannot connect to {address}: connection refused (is `tcp-file serve` running there?)\n"
            )
        );
    }
}
