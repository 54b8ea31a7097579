//! Helpers shared by the test files.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tcp_server::{BindToAddress, BindToPort, Inet, WhereToListen};

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

/// A fresh path for a Unix socket in the temporary directory (not created).
pub(crate) fn temp_socket_path(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("tcp-server-{}-{name}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Generous bound for anything that should take milliseconds.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);
