//! Running the built `tcp-file` command (and `nc`) as a user would: processes killed on
//! drop, every wait bounded by a deadline, output read line by line as it comes.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The longest any single wait of these tests takes.
pub const LIMIT: Duration = Duration::from_secs(30);

pub fn tcp_file() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tcp-file"))
}

/// A running process, killed (by its PID, through its handle) when dropped.
pub struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
}

impl Proc {
    /// Starts `command` with piped standard input, output and error.
    pub fn start(mut command: Command) -> Proc {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (tx, errors) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        Proc {
            child,
            stdin,
            lines,
            stderr: errors,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Writes to the process's standard input.
    pub fn write(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(text.as_bytes()).expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Closes the process's standard input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next line of standard output, waiting at most `limit`; `None` at its end.
    pub fn line_within(&self, limit: Duration) -> Result<Option<String>, RecvTimeoutError> {
        match self.lines.recv_timeout(limit) {
            Ok(line) => Ok(Some(line)),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => Err(RecvTimeoutError::Timeout),
        }
    }

    /// The next line of standard output, which must come within [`LIMIT`].
    pub fn line(&self) -> String {
        match self.line_within(LIMIT) {
            Ok(Some(line)) => line,
            Ok(None) => panic!("standard output ended; stderr: {}", self.stderr_now()),
            Err(_) => panic!("no line within {LIMIT:?}"),
        }
    }

    fn stderr_now(&self) -> String {
        self.stderr.try_recv().unwrap_or_default()
    }

    /// Waits (within [`LIMIT`]) for standard output to end and the process to exit;
    /// returns the exit status, the rest of standard output and all of standard error.
    /// Standard input stays open: close it first with [`close_stdin`](Proc::close_stdin)
    /// when the process waits for its end.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        let deadline = Instant::now() + LIMIT;
        let mut rest = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the process did not end within {LIMIT:?}; output so far: {rest:?}")
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let stderr = self
            .stderr
            .recv_timeout(left)
            .expect("standard error did not end");
        // Both pipes are closed: the process is exiting; its status comes at once.
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the process closed its output but did not exit"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        (status, rest, stderr)
    }

    /// Sends a signal with `kill(1)`, to this process only.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tcp-file serve ARGS --listen 127.0.0.1:0`, and the address from its first line.
pub fn serve(args: &[&str]) -> (Proc, String) {
    serve_on("127.0.0.1:0", args)
}

/// `tcp-file serve ARGS --listen LISTEN`, and the address from its first line.
pub fn serve_on(listen: &str, args: &[&str]) -> (Proc, String) {
    let mut command = tcp_file();
    command.arg("serve").arg("--listen").arg(listen).args(args);
    let server = Proc::start(command);
    let first = server.line();
    let address = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    (server, address)
}

/// `tcp-file serve` of the published file `app` in `dir`, written from its standard input,
/// and of the static file `old` there, which holds the lines `one` and `two`; `extra` are
/// more arguments.
pub fn serve_app_and_old(dir: &tempfile::TempDir, extra: &[&str]) -> (Proc, String) {
    let old = dir.path().join("old.log");
    std::fs::write(&old, "one\ntwo\n").expect("write old.log");
    let app = arg(dir, "app");
    let old = format!("old={}", old.display());
    let mut args = vec!["--publish", &app, "--stdin", "app", "--static", &old];
    args.extend_from_slice(extra);
    serve(&args)
}

/// Waits, within [`LIMIT`], until `tcp-file list ADDRESS` shows `name` with `lines`
/// lines: what was written to the server's standard input is then counted.
pub fn wait_for_lines(address: &str, name: &str, lines: u64) {
    let expected = format!("{name} {lines}");
    let deadline = Instant::now() + LIMIT;
    loop {
        let (status, out, err) = run(&["list", address]).finish();
        assert!(status.success(), "list: {status}, stderr: {err}");
        if out.contains(&expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never listed {expected:?}: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `tcp-file ARGS`.
pub fn run(args: &[&str]) -> Proc {
    let mut command = tcp_file();
    command.args(args);
    Proc::start(command)
}

/// A fresh directory for one test.
pub fn temp_dir(test: &str) -> tempfile::TempDir {
    crate::support::fresh_dir(&format!("cli-{test}"))
}

pub fn arg(dir: impl AsRef<Path>, name: &str) -> String {
    let path = dir.as_ref().join(format!("{name}.log"));
    format!("{name}={}", path.display())
}

/// Where an outside tool is on `PATH`. When it is missing: `None` with a note, or a panic
/// under CI (`CI` set), where the tool must be installed.
pub fn outside_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed, and CI needs it"
        );
        println!("skipped: {name} not installed");
    }
    found
}
