//! Helpers shared by the workspace's integration tests and benchmark scenarios.

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
