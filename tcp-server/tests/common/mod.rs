//! Helpers shared by the test files.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use camlnet_tcp_server::{BindToAddress, BindToPort, Inet, WhereToListen};

/// 127.0.0.1, a port the system picks.
pub(crate) fn localhost() -> WhereToListen<Inet> {
    WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs)
}

/// Polls `condition` every 2 ms until it holds; panics naming `what` after `timeout`.
pub(crate) async fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A fresh path for a Unix socket (not created), in a temporary directory of its own that
/// is removed when the returned handle is dropped: hold it for the whole test.
pub(crate) fn temp_socket_path(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("tcp-server-")
        .tempdir()
        .expect("a temporary directory");
    let path = dir.path().join(format!("{name}.sock"));
    (dir, path)
}

/// Generous bound for anything that should take milliseconds.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);
