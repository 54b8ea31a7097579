//! The examples as processes: `listening on HOST:PORT` first, serving, and a clean exit
//! (status 0) on SIGINT; `hello_http` driven by `curl`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Builds the examples once (quick when they are built already) and returns their folder.
fn examples_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "camlnet-tcp-server", "--examples"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build --examples: {status}");
            // This test runs from target/<profile>/deps; the examples are beside it.
            let exe = std::env::current_exe().unwrap();
            exe.parent()
                .and_then(|deps| deps.parent())
                .unwrap()
                .join("examples")
        })
        .clone()
}

struct Example {
    child: Child,
    address: SocketAddr,
}

impl Example {
    fn start(name: &str, args: &[&str]) -> Example {
        let mut child = Command::new(examples_dir().join(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let address = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name}'s first line: {first:?}"))
            .parse()
            .unwrap();
        Example { child, address }
    }

    /// Sends SIGINT and waits (with a deadline) for the exit status.
    fn interrupt(mut self) -> ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit within 10 s of SIGINT");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn echo_echoes_and_stops_on_sigint() {
    let echo = Example::start(
        "echo",
        &["--listen", "127.0.0.1:0", "--max-connections", "8"],
    );
    assert_eq!(echo.address.ip().to_string(), "127.0.0.1");
    assert_ne!(echo.address.port(), 0);
    let mut client = TcpStream::connect(echo.address).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(b"hello, echo").unwrap();
    let mut answer = [0u8; 11];
    client.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"hello, echo");
    // Stops cleanly, with a client still connected.
    let status = echo.interrupt();
    assert_eq!(status.code(), Some(0), "{status}");
    let mut rest = Vec::new();
    let read = client.read_to_end(&mut rest);
    assert!(read.is_err() || rest.is_empty());
}

#[test]
fn hello_http_answers_curl_and_stops_on_sigint() {
    let server = Example::start(
        "hello_http",
        &["--listen", "127.0.0.1:0", "--max-connections", "4"],
    );
    let url = format!("http://{}/any/path?x=1", server.address);
    for _ in 0..3 {
        let output = Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--max-time",
                "10",
                "--include",
                &url,
            ])
            .output()
            .expect("run curl");
        assert!(
            output.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nHello, world!\n"), "{text}");
    }
    // A POST with a body gets the same answer.
    let output = Command::new("curl")
        .args([
            "--silent",
            "--max-time",
            "10",
            "--write-out",
            "%{http_code}",
            "--data",
            "abc",
            &url,
        ])
        .output()
        .expect("run curl");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "Hello, world!\n200"
    );
    let status = server.interrupt();
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn bad_arguments_are_refused() {
    let output = Command::new(examples_dir().join("echo"))
        .args(["--max-connections", "many"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--max-connections"));
}
