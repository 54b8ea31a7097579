//! What every tcp-file test binary uses.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// A fresh, empty directory for one test (named by `test` and this process), under the
/// system's temporary directory.
pub fn fresh_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcp-file-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test's directory");
    dir
}
