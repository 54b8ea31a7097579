//! `tcp-file demo` as a person sees it: its status line in an 80-column terminal (a
//! pseudo-terminal made with python3's `pty`), and hints that name a command that works.
#![cfg(feature = "cli")]

mod cli_support;
mod support;

use std::process::Command;

use cli_support::{LIMIT, Proc, outside_tool, tcp_file};

/// Runs `argv` in a pseudo-terminal of `sys.argv[1]` columns and 24 rows (TIOCSWINSZ),
/// with TERM=xterm, and prints everything it wrote; exits with its exit code. Reads stop
/// after `sys.argv[2]` seconds at most.
const IN_A_TERMINAL: &str = r#"
import fcntl, os, pty, struct, sys, termios, select, time
cols, limit, argv = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm"
    os.execv(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
out, deadline = b"", time.time() + limit
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 1)
    if ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// `text` without its ANSI control sequences (`ESC [ ... letter`).
fn without_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn the_status_line_stays_one_line_of_80_columns_and_updates_in_place() {
    let Some(python) = outside_tool("python3") else {
        return;
    };
    let output = Command::new(python)
        .arg("-c")
        .arg(IN_A_TERMINAL)
        .arg("80")
        .arg(LIMIT.as_secs().to_string())
        .arg(env!("CARGO_BIN_EXE_tcp-file"))
        .args(["demo", "--duration", "2s"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run python3");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo: {}\n{screen}", output.status);
    let text = without_escapes(&screen);
    // The status says ` | read `; the summary, on standard output, does not.
    let is_status = |segment: &&str| segment.contains(" | read ");
    let status_lines: Vec<&str> = text
        .split('\n')
        .filter(|line| line.contains(" | read "))
        .collect();
    assert_eq!(
        status_lines.len(),
        1,
        "every update rewrites the same line (\\r), none starts a new one: {screen:?}"
    );
    let updates: Vec<&str> = status_lines[0].split('\r').filter(is_status).collect();
    assert!(updates.len() >= 2, "updated in place: {updates:?}");
    for update in &updates {
        let width = update.trim_end().chars().count();
        assert!(width <= 80, "{width} columns: {update:?}");
    }
    assert!(text.contains("gaps found: none"), "{text}");
}

/// The first hint the demo prints: the words before `tail`.
fn hinted_command(configure: impl FnOnce(&mut Command)) -> String {
    let mut command = tcp_file();
    command
        .args(["demo", "--duration", "200ms"])
        .env_remove("RUST_LOG");
    configure(&mut command);
    let (status, out, err) = Proc::start(command).finish();
    assert!(status.success(), "demo: {status}\n{out:?}\n{err}");
    let hint = err
        .lines()
        .find_map(|line| line.strip_prefix("  try in another shell: "))
        .unwrap_or_else(|| panic!("no hint: {err}"));
    let (words, _) = hint.split_once(" tail ").expect("a tail command");
    words.to_string()
}

#[test]
fn hints_name_a_command_that_works_where_the_demo_ran() {
    // Under `cargo run`, which sets CARGO_PKG_NAME for the program it runs.
    let release = if cfg!(debug_assertions) {
        ""
    } else {
        " --release"
    };
    let words = hinted_command(|c| {
        c.env("CARGO_PKG_NAME", "camlnet-tcp-file");
    });
    assert_eq!(words, format!("cargo run{release} -p camlnet-tcp-file --"));

    // Installed: `tcp-file` is on the PATH.
    let bin = tempfile::tempdir().expect("a directory");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tcp-file"), bin.path().join("tcp-file"))
        .expect("symlink");
    let words = hinted_command(|c| {
        c.env_remove("CARGO_PKG_NAME").env("PATH", bin.path());
    });
    assert_eq!(words, "tcp-file");

    // Neither: the path of the program itself.
    let empty = tempfile::tempdir().expect("a directory");
    let words = hinted_command(|c| {
        c.env_remove("CARGO_PKG_NAME").env("PATH", empty.path());
    });
    assert_eq!(words, env!("CARGO_BIN_EXE_tcp-file"));
}
