//! `cargo xtask fuzz [--time SECS] [TARGET]...`: every fuzz target of `fuzz/` (or the ones
//! named) for `SECS` seconds each, with cargo-fuzz on the nightly toolchain.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::root;

/// The targets, as `fuzz/Cargo.toml` names them.
pub(crate) const TARGETS: &[&str] = &[
    "frame_decode",
    "frame_roundtrip",
    "text_request",
    "server_connection",
    "client_hostile_server",
    "procord_receive",
    "flow_reader",
];

/// How long each target runs unless `--time` says otherwise.
pub(crate) const DEFAULT_SECONDS: u64 = 60;

/// What one target's run found.
struct Outcome {
    target: String,
    runs: Option<u64>,
    seconds: f64,
    crashed: bool,
}

/// Cargo through rustup's proxy (the one on `PATH`), which understands `+nightly`; without
/// the variables of the cargo that runs this command, which would pin its toolchain.
fn rustup_cargo() -> Command {
    let mut command = Command::new("cargo");
    command
        .current_dir(root())
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("RUSTUP_TOOLCHAIN");
    command
}

fn succeeds(mut command: Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn has_nightly() -> bool {
    let mut version = rustup_cargo();
    version.args(["+nightly", "--version"]);
    succeeds(version)
}

/// Installs cargo-fuzz from crates.io when it is missing.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let mut version = rustup_cargo();
    version.args(["fuzz", "--version"]);
    if succeeds(version) {
        return Ok(());
    }
    let mut install = rustup_cargo();
    install.args(["install", "cargo-fuzz", "--locked"]);
    crate::step("install cargo-fuzz", install)
}

/// Parses `[--time SECS] [TARGET]...`.
fn parse(args: &[String]) -> Result<(u64, Vec<String>), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--time" {
            let value = args.next().ok_or("--time needs a number of seconds")?;
            seconds = value
                .parse()
                .ok()
                .filter(|&s| s > 0)
                .ok_or_else(|| format!("--time {value}: not a positive number of seconds"))?;
        } else if TARGETS.contains(&arg.as_str()) {
            targets.push(arg.clone());
        } else {
            return Err(format!(
                "unknown fuzz target {arg:?}; the targets: {}",
                TARGETS.join(", ")
            ));
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    Ok((seconds, targets))
}

/// Runs the targets; fails when one crashed (its reproducer is in
/// `fuzz/artifacts/TARGET/`). Without a nightly toolchain it says so and succeeds.
pub(crate) fn fuzz(args: &[String]) -> Result<(), String> {
    let (seconds, targets) = parse(args)?;
    if !has_nightly() {
        eprintln!("skipped: no nightly toolchain");
        return Ok(());
    }
    ensure_cargo_fuzz()?;
    // Without sanitizers: the code under test is safe Rust, and speed finds more. Debug
    // assertions (overflow checks included) stay on, as cargo-fuzz builds by default.
    let mut build = rustup_cargo();
    build.args(["+nightly", "fuzz", "build", "--sanitizer", "none"]);
    crate::step("build the fuzz targets", build)?;

    let mut outcomes = Vec::new();
    for target in &targets {
        outcomes.push(run_target(target, seconds)?);
    }
    eprintln!(
        "{:<24} {:>12} {:>8} {:>10}  result",
        "target", "runs", "seconds", "runs/s"
    );
    for o in &outcomes {
        let runs = o.runs.map_or("?".to_string(), |r| r.to_string());
        let rate = o
            .runs
            .map_or("?".to_string(), |r| format!("{:.0}", r as f64 / o.seconds));
        let result = if o.crashed {
            format!("CRASHED: reproducer in fuzz/artifacts/{}/", o.target)
        } else {
            "clean".to_string()
        };
        eprintln!(
            "{:<24} {runs:>12} {:>8.1} {rate:>10}  {result}",
            o.target, o.seconds
        );
    }
    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.crashed)
        .map(|o| o.target.as_str())
        .collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzz targets crashed: {}", crashed.join(", ")))
    }
}

/// Runs one target for `seconds` on a scratch corpus (`fuzz/corpus/TARGET`, git-ignored)
/// beside its seeds (`fuzz/seeds/TARGET`, read only), printing only what matters of
/// libFuzzer's output: its final counts, or the crash.
fn run_target(target: &str, seconds: u64) -> Result<Outcome, String> {
    let fuzz_dir = root().join("fuzz");
    let corpus = fuzz_dir.join("corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    eprintln!("==> fuzz {target} for {seconds}s");
    let mut run = rustup_cargo();
    run.args(["+nightly", "fuzz", "run", "--sanitizer", "none", target])
        .arg(rel(&corpus))
        .arg(rel(&seeds))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        // An input that takes this long has hung: the targets' own limits are 10 s.
        .arg("-timeout=60")
        .arg("-print_final_stats=1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = run
        .spawn()
        .map_err(|e| format!("cargo fuzz: cannot start: {e}"))?;
    // libFuzzer writes to standard error; cargo-fuzz's own words go to standard output.
    let stdout = child.stdout.take().ok_or("cargo fuzz: no stdout")?;
    let echo = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("{line}");
        }
    });
    let stderr = child.stderr.take().ok_or("cargo fuzz: no stderr")?;
    let mut runs = None;
    let mut tail: Vec<String> = Vec::new();
    let mut crash_lines = false;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            runs = n.trim().parse().ok();
        }
        if line.contains("panicked at") || line.contains("ERROR: libFuzzer") {
            crash_lines = true;
        }
        if crash_lines || line.starts_with("stat::") || line.starts_with("Done ") {
            eprintln!("{line}");
        } else {
            tail.push(line);
            if tail.len() > 20 {
                tail.remove(0);
            }
        }
    }
    let status = child.wait().map_err(|e| format!("cargo fuzz: {e}"))?;
    let _ = echo.join();
    let crashed = !status.success();
    if crashed && !crash_lines {
        // Not a crash of the target: show what led to the failure.
        for line in &tail {
            eprintln!("{line}");
        }
    }
    Ok(Outcome {
        target: target.to_string(),
        runs,
        seconds: start.elapsed().as_secs_f64(),
        crashed,
    })
}

/// `path` from the repository's root, as cargo-fuzz prints it back.
fn rel(path: &Path) -> &Path {
    path.strip_prefix(root()).unwrap_or(path)
}
