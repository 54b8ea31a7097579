//! Helpers shared by the workspace's integration tests and benchmark scenarios.

pub mod process;

use std::path::PathBuf;
use std::process::Command;

/// Finds an outside tool (`socat`, `nc`) that a test talks to.
///
/// Returns `None` after printing `skipped: NAME not installed` when the tool is missing,
/// so the test can return early. When the environment variable `CI` is set a missing tool
/// is a failure instead: CI installs every tool the tests need.
///
/// # Panics
///
/// When the tool is missing and `CI` is set.
pub fn outside_tool(name: &str) -> Option<PathBuf> {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
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

/// A file server for one test: a fresh directory under the system's temporary one
/// (removed when the returned handle is dropped, so hold it for the whole test), a
/// [`camlnet_tcp_file::Server`] with `name` open for writing there (as `DIR/NAME`), listening on
/// 127.0.0.1 on a port the OS chooses.
///
/// # Panics
///
/// When the directory, the file or the listening socket cannot be made.
pub async fn serve_one_file(
    test: &str,
    name: &str,
) -> (
    tempfile::TempDir,
    camlnet_tcp_file::Server,
    camlnet_tcp_file::FileHandle,
    camlnet_tcp_server::Server<camlnet_flow::Inet>,
) {
    use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};

    let dir = tempfile::Builder::new()
        .prefix(&format!("tcp-file-{test}-"))
        .tempdir()
        .expect("create the test's directory");
    let server = camlnet_tcp_file::Server::new();
    let file = server
        .open_file(
            name,
            dir.path().join(name),
            camlnet_tcp_file::FileOptions::new(),
        )
        .expect("open the file");
    let listening = server
        .serve(
            WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
            |_| true,
        )
        .await
        .expect("listen");
    (dir, server, file, listening)
}
