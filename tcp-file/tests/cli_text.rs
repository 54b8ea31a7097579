//! The server's text mode driven by `nc` (netcat-openbsd, `-N` to close its side at the
//! end of its input), checked line by line.
#![cfg(feature = "cli")]

mod cli_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cli_support::{Proc, arg, outside_tool, serve, temp_dir};

/// `nc -N HOST PORT`, with `request` sent and its input closed.
fn nc(nc: &Path, address: &str, request: &str) -> Proc {
    let (host, port) = address.rsplit_once(':').expect("HOST:PORT");
    let mut command = Command::new(nc);
    command.args(["-N", host, port]);
    let mut client = Proc::start(command);
    client.write(request);
    client.close_stdin();
    client
}

fn nc_lines(tool: &Path, address: &str, request: &str) -> Vec<String> {
    let (status, lines, err) = nc(tool, address, request).finish();
    assert!(status.success(), "nc: {status}, stderr: {err}");
    lines
}

fn static_file(dir: &Path, lines: usize) -> (PathBuf, Vec<String>) {
    let path = dir.join("static.log");
    let expected: Vec<String> = (0..lines).map(|i| format!("static line {i}")).collect();
    // One line ends with \r\n (served without the \r), the last has no newline.
    let mut text = expected.join("\n");
    text.insert(expected[0].len(), '\r');
    std::fs::write(&path, text).expect("write");
    (path, expected)
}

#[test]
fn nc_reads_and_tails_a_static_file() {
    let Some(tool) = outside_tool("nc") else {
        return;
    };
    let dir = temp_dir("text-static");
    let (path, expected) = static_file(dir.path(), 1000);
    let (server, address) = serve(&["--static", &format!("old={}", path.display())]);

    let lines = nc_lines(&tool, &address, "READ old\n");
    assert_eq!(lines[0], "+OK");
    assert_eq!(lines[1..], expected);

    let lines = nc_lines(&tool, &address, "FROM 990 old\r\n");
    assert_eq!(lines[0], "+OK");
    assert_eq!(lines[1..], expected[990..]);

    let lines = nc_lines(&tool, &address, "from 5000 old\n");
    assert_eq!(lines, ["+OK"], "past the end: nothing, then the end");

    let lines = nc_lines(&tool, &address, "TAIL old\n");
    assert_eq!(lines, ["+OK"], "a static file has no new lines");
    drop(server);
}

#[test]
fn nc_gets_err_for_unknown_names_and_bad_requests() {
    let Some(tool) = outside_tool("nc") else {
        return;
    };
    let dir = temp_dir("text-err");
    let (server, address) = serve(&["--publish", &arg(&dir, "app")]);
    assert_eq!(
        nc_lines(&tool, &address, "READ nope\n"),
        ["-ERR file not found: nope"]
    );
    assert_eq!(
        nc_lines(&tool, &address, "TAIL ../app.log\n"),
        ["-ERR file not found: ../app.log"]
    );
    for bad in ["HELLO app\n", "FROM x app\n", "READ\n", "READ app"] {
        let lines = nc_lines(&tool, &address, bad);
        assert_eq!(lines.len(), 1, "{bad:?}: {lines:?}");
        assert!(lines[0].starts_with("-ERR "), "{bad:?}: {lines:?}");
    }
    let long = format!("READ {}\n", "x".repeat(5000));
    assert_eq!(
        nc_lines(&tool, &address, &long),
        ["-ERR request line longer than 4096 bytes"]
    );
    drop(server);
}

#[test]
fn nc_follows_a_published_file_until_it_closes() {
    let Some(tool) = outside_tool("nc") else {
        return;
    };
    let dir = temp_dir("text-live");
    let (mut server, address) = serve(&["--publish", &arg(&dir, "app"), "--stdin", "app"]);
    let mut written: Vec<String> = (0..100).map(|i| format!("before {i}")).collect();
    for line in &written {
        server.write(&format!("{line}\n"));
    }
    let reader = nc(&tool, &address, "READ app\n");
    assert_eq!(reader.line(), "+OK");
    let from = nc(&tool, &address, "FROM 50 app\n");
    assert_eq!(from.line(), "+OK");
    let tail = nc(&tool, &address, "TAIL app\n");
    assert_eq!(tail.line(), "+OK");
    // The tail prints the first line written after its request reached the server.
    let tail_first = loop {
        let tick = format!("tick {}", written.len());
        server.write(&format!("{tick}\n"));
        written.push(tick);
        if let Ok(line) = tail.line_within(Duration::from_millis(200)) {
            break line.expect("the tail ended");
        }
        assert!(written.len() < 1000, "the tail printed nothing");
    };
    let tail_start = written
        .iter()
        .position(|l| *l == tail_first)
        .expect("a written line");
    for i in 0..500 {
        let line = format!("after {i}");
        server.write(&format!("{line}\n"));
        written.push(line);
    }
    server.close_stdin();
    let (status, _, err) = server.finish();
    assert!(status.success(), "serve: {err}");

    let (status, lines, _) = reader.finish();
    assert!(status.success());
    assert_eq!(lines, written);
    let (status, lines, _) = from.finish();
    assert!(status.success());
    assert_eq!(lines, written[50..]);
    let (status, lines, _) = tail.finish();
    assert!(status.success());
    assert_eq!(lines, written[tail_start + 1..]);
}

#[test]
fn nc_is_refused_by_allow() {
    let Some(tool) = outside_tool("nc") else {
        return;
    };
    let dir = temp_dir("text-allow");
    let (server, address) = serve(&["--publish", &arg(&dir, "app"), "--allow", "192.0.2.1"]);
    let (_, lines, _) = nc(&tool, &address, "READ app\n").finish();
    // Told why, and nothing else: `-ERR 127.0.0.1:PORT is not allowed to connect`.
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("-ERR 127.0.0.1:") && lines[0].ends_with(" is not allowed to connect"),
        "{lines:?}"
    );
    drop(server);
}
