//! The workspace's automation, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: formatting, clippy with warnings denied, every test (cargo-nextest
//!   without retries when installed, else `cargo test`; doctests either way) and the docs with warnings
//!   denied. It prints each step's name and time and stops at the first failure.
//! - `cargo xtask bench [SCENARIO]...`: the benchmark scenarios of the `tests` crate, built
//!   with `--release`, each beside its baseline; the table goes to standard output and the
//!   figures to `target/bench/latest.json`. `cargo xtask bench --list` names them.

use std::env;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask ci | cargo xtask bench [--list] [SCENARIO]...");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository's root: the parent of this crate's folder.
fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn cargo() -> Command {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs one named step, printing its name, and its time when it ends.
fn step(name: &str, mut command: Command) -> Result<(), String> {
    eprintln!("==> {name}");
    let start = Instant::now();
    let status = command
        .status()
        .map_err(|e| format!("{name}: cannot start: {e}"))?;
    let took = start.elapsed().as_secs_f64();
    if status.success() {
        eprintln!("==> {name}: ok in {took:.1}s");
        Ok(())
    } else {
        Err(format!("{name}: failed ({status}) after {took:.1}s"))
    }
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false)
}

fn ci() -> Result<(), String> {
    let start = Instant::now();
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    step("fmt", fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]);
    step("clippy", clippy)?;

    if has_nextest() {
        let mut tests = cargo();
        tests.args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
            // A flaky test must fail the run, not pass on a second try.
            "--retries",
            "0",
        ]);
        step("tests (nextest)", tests)?;
        let mut doctests = cargo();
        doctests.args(["test", "--workspace", "--all-features", "--doc"]);
        step("doctests", doctests)?;
    } else {
        let mut tests = cargo();
        tests.args(["test", "--workspace", "--all-features"]);
        step("tests (cargo test, with doctests)", tests)?;
    }

    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings");
    step("doc", doc)?;
    eprintln!("==> ci passed in {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}

fn bench(scenarios: &[String]) -> Result<(), String> {
    let output = root().join("target/bench/latest.json");
    let mut run = cargo();
    run.args([
        "run",
        "--release",
        "--package",
        "tests",
        "--bin",
        "bench",
        "--",
    ])
    .arg("--output")
    .arg(&output)
    .args(scenarios);
    step("bench", run)
}
