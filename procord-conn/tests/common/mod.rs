//! Helpers shared by the test files: bounded loops and small peers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use camlnet_procord_conn::Connection;

/// Every loop of the tests ends by this long at the latest.
pub(crate) const LIMIT: Duration = Duration::from_secs(20);

/// Waits and updates `conn` until `done` says so; `false` when `limit` ran out first.
pub(crate) fn drive<D>(
    conn: &mut Connection<D>,
    limit: Duration,
    mut done: impl FnMut(&mut Connection<D>) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done(conn) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        conn.waiter()
            .wait(Some((deadline - now).min(Duration::from_millis(200))));
        conn.update();
    }
}

/// Drives `conn` until it is disconnected.
pub(crate) fn drive_to_end<D>(conn: &mut Connection<D>) -> bool {
    drive(conn, LIMIT, |c| !c.alive())
}

/// A listener on 127.0.0.1, port chosen by the OS.
pub(crate) fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

/// A blocking echo server for one connection; returns how many bytes it echoed.
pub(crate) fn echo_once() -> (SocketAddr, JoinHandle<u64>) {
    let (listener, addr) = listener();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(LIMIT)).expect("read timeout");
        echo(&mut stream)
    });
    (addr, handle)
}

/// Echoes until end of stream (or an error); returns the byte count.
pub(crate) fn echo(stream: &mut TcpStream) -> u64 {
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return total;
                }
                total += n as u64;
            }
        }
    }
}

/// `len` bytes of a pattern that shows misplaced bytes.
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

/// Finds an outside tool (`nc`, `socat`) that a test talks to.
///
/// Returns `None` after printing `skipped: NAME not installed` when the tool is missing,
/// so the test can return early; when the environment variable `CI` is set a missing tool
/// is a failure instead, as CI installs every tool the tests need.
pub(crate) fn outside_tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    match found {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => {
            panic!("{name} not installed, and CI is set: .ci/run must install it")
        }
        None => {
            eprintln!("skipped: {name} not installed");
            None
        }
    }
}
