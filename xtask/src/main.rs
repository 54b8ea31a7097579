//! The workspace's automation, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: formatting, clippy with warnings denied (also on tcp-file's `server`
//!   and `client` features alone), every test (cargo-nextest
//!   without retries when installed, else `cargo test`; doctests either way), the docs with
//!   warnings denied, and `cargo publish --workspace --dry-run` (each published crate
//!   packaged and built from its package). It prints each step's name and time and stops
//!   at the first failure. Then every fuzz target for [`CI_FUZZ_SECONDS`] seconds each, as `cargo xtask fuzz`
//!   runs them (skipped, saying so, where there is no nightly toolchain).
//! - `cargo xtask bench [SCENARIO]...`: the benchmark scenarios of the `tests` crate, built
//!   with `--release`, each beside its baseline; the table goes to standard output and the
//!   figures to `target/bench/latest.json`. `cargo xtask bench --list` names them.
//! - `cargo xtask fuzz [--time SECS] [TARGET]...`: the cargo-fuzz targets of `fuzz/`, one
//!   for each decoder of bytes from a peer, for `SECS` seconds each (default 60). Needs the
//!   nightly toolchain (without it: `skipped: no nightly toolchain`); installs cargo-fuzz
//!   from crates.io when it is missing. Fails when a target crashes, leaving the reproducer
//!   in `fuzz/artifacts/TARGET/`; `cargo +nightly fuzz run TARGET FILE` replays it.
//! - `cargo xtask soak [--minutes N]`: a tcp-file server in a child process with 1,000
//!   clients on loopback for `N` minutes (default 10), its resources sampled every second
//!   and checked against bounds; the summary goes to `target/bench/soak.json`.

mod fuzz;

use std::env;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("soak") => soak(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | cargo xtask bench [--list] [SCENARIO]... \
                 | cargo xtask fuzz [--time SECS] [TARGET]... | cargo xtask soak [--minutes N]"
            );
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
pub(crate) fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn cargo() -> Command {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// How long `cargo xtask ci` runs each fuzz target: enough for a regression in a decoder
/// to show, short enough for CI.
const CI_FUZZ_SECONDS: u64 = 20;

/// Runs one named step, printing its name, and its time when it ends.
pub(crate) fn step(name: &str, mut command: Command) -> Result<(), String> {
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

    // tcp-file's sides alone, as a library user who wants one of them builds it.
    for side in ["server", "client"] {
        let mut clippy = cargo();
        clippy.args([
            "clippy",
            "--package",
            "camlnet-tcp-file",
            "--no-default-features",
            "--features",
            side,
            "--",
            "-D",
            "warnings",
        ]);
        step(&format!("clippy (tcp-file, {side} only)"), clippy)?;
    }

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

    // Each published crate as crates.io builds it: packaged, then built from its package.
    let mut package = cargo();
    package.args(["publish", "--workspace", "--dry-run", "--allow-dirty"]);
    step("publish (dry run)", package)?;

    eprintln!("==> fuzz");
    let fuzz_start = Instant::now();
    fuzz::fuzz(&["--time".to_string(), CI_FUZZ_SECONDS.to_string()])?;
    eprintln!("==> fuzz: ok in {:.1}s", fuzz_start.elapsed().as_secs_f64());
    eprintln!("==> ci passed in {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}

fn bench(scenarios: &[String]) -> Result<(), String> {
    run_release_bin("bench", "target/bench/latest.json", scenarios)
}

fn soak(args: &[String]) -> Result<(), String> {
    run_release_bin("soak", "target/bench/soak.json", args)
}

/// Runs the `tests` crate's binary `bin`, built with `--release`, writing its figures to
/// `output` (from the repository's root).
fn run_release_bin(bin: &str, output: &str, args: &[String]) -> Result<(), String> {
    let mut run = cargo();
    run.args(["run", "--release", "--package", "tests", "--bin", bin, "--"])
        .arg("--output")
        .arg(root().join(output))
        .args(args);
    step(bin, run)
}
