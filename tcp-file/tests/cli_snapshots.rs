//! What the command says, snapshot-tested with `snapbox`: every `--help`, and the error
//! messages a user meets first. After a deliberate change, `SNAPSHOTS=overwrite cargo
//! test -p camlnet-tcp-file --test cli_snapshots` rewrites the files under `snapshots/`; `[..]`
//! in an expected text matches anything on its line (a port, say).
#![cfg(feature = "cli")]

mod cli_support;
mod support;

use snapbox::cmd::Command;
use snapbox::{file, str};

use cli_support::{arg, serve, temp_dir};

fn tcp_file() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tcp-file"))
        .env_remove("RUST_LOG")
        .env("COLUMNS", "100")
}

#[test]
fn help_texts() {
    let cases = [
        (vec!["--help"], file!["snapshots/help.txt"]),
        (vec!["serve", "--help"], file!["snapshots/serve-help.txt"]),
        (vec!["read", "--help"], file!["snapshots/read-help.txt"]),
        (vec!["tail", "--help"], file!["snapshots/tail-help.txt"]),
        (vec!["list", "--help"], file!["snapshots/list-help.txt"]),
        (vec!["stats", "--help"], file!["snapshots/stats-help.txt"]),
        (vec!["demo", "--help"], file!["snapshots/demo-help.txt"]),
    ];
    for (args, expected) in cases {
        tcp_file()
            .args(&args)
            .assert()
            .success()
            .stdout_eq(expected)
            .stderr_eq("");
    }
}

#[test]
fn a_refused_connection() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    tcp_file()
        .args(["read", &format!("127.0.0.1:{port}"), "app"])
        .assert()
        .code(4)
        .stdout_eq("")
        .stderr_eq(str![[r#"
tcp-file: cannot connect to 127.0.0.1:[..]: connection refused (is `tcp-file serve` running there?)

"#]]);
}

#[test]
fn an_unknown_file_and_a_refused_client() {
    let dir = temp_dir("snapshots");
    let (server, address) = serve(&["--publish", &arg(&dir, "app")]);
    tcp_file()
        .args(["read", &address, "nope"])
        .assert()
        .code(3)
        .stdout_eq("")
        .stderr_eq(str![[r#"
tcp-file: unknown file: "nope"

"#]]);
    drop(server);

    let (server, address) = serve(&["--publish", &arg(&dir, "other"), "--allow", "192.0.2.1"]);
    tcp_file()
        .args(["tail", &address, "other"])
        .assert()
        .code(4)
        .stdout_eq("")
        .stderr_eq(str![[r#"
tcp-file: cannot connect to 127.0.0.1:[..]: the server refused: 127.0.0.1:[..] is not allowed to connect

"#]]);
    drop(server);
}

#[test]
fn usage_errors() {
    tcp_file()
        .args(["read", "127.0.0.1:70000", "app"])
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: invalid value '127.0.0.1:70000' for '<ADDR>': port 70000 is out of range 0-65535

For more information, try '--help'.

"#]]);
    tcp_file()
        .args(["tail", "localhost", "app"])
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: invalid value 'localhost' for '<ADDR>': no port (expected HOST:PORT (such as 127.0.0.1:7070 or [::1]:7070) or unix:PATH)

For more information, try '--help'.

"#]]);
    tcp_file()
        .args(["read", "127.0.0.1:7070", "app", "--from=-x"])
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: invalid value '-x' for '--from <LINE|-N>': expected a line number or -N (the last N lines), got "-x"

For more information, try '--help'.

"#]]);
}
