//! How to name this command in a hint, so that the user can paste it: `tcp-file` when it
//! is installed on the `PATH`, the `cargo run` form when cargo started it.

use std::path::PathBuf;

/// The words that run this command from a shell: `cargo run --release -p camlnet-tcp-file --`
/// under `cargo run` (cargo then sets `CARGO_PKG_NAME`), `tcp-file` when a `tcp-file` is
/// on the `PATH`, else the path of this executable.
pub(crate) fn command_words() -> String {
    if std::env::var_os("CARGO_PKG_NAME").is_some_and(|name| name == "camlnet-tcp-file") {
        let release = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        return format!("cargo run{release} -p camlnet-tcp-file --");
    }
    if on_path("tcp-file") {
        return "tcp-file".to_string();
    }
    std::env::current_exe()
        .map(|exe| exe.display().to_string())
        .unwrap_or_else(|_| "tcp-file".to_string())
}

/// Whether a file named `name` is in a directory of the `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir: PathBuf| dir.join(name))
        .any(|path| path.is_file())
}
