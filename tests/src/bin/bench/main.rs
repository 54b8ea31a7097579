//! `cargo xtask bench [SCENARIO]...`: each scenario beside its bare-tokio (or bare std)
//! baseline in the same run, as ratios. Run it through xtask, which builds it with
//! `--release`; the figures also go to `target/bench/latest.json`.

mod connect_rate;
mod fanout_baseline;
mod file_catch_up;
mod file_fanout;
mod file_latency;
mod flow_tcp_throughput;
mod harness;
mod procord_ping_pong;
mod server_accept_rate;
mod server_echo;
mod server_idle_memory;

use std::path::PathBuf;
use std::process::ExitCode;

use harness::{Measurement, Scenario};

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "flow-tcp-throughput",
        run: flow_tcp_throughput::run,
    },
    Scenario {
        name: "procord-ping-pong",
        run: procord_ping_pong::run,
    },
    Scenario {
        name: "connect-rate",
        run: connect_rate::run,
    },
    Scenario {
        name: "file-fanout",
        run: file_fanout::run,
    },
    Scenario {
        name: "file-catch-up",
        run: file_catch_up::run,
    },
    Scenario {
        name: "file-latency",
        run: file_latency::run,
    },
    Scenario {
        name: "server-accept-rate",
        run: server_accept_rate::run,
    },
    Scenario {
        name: "server-echo",
        run: server_echo::run,
    },
    Scenario {
        name: "server-idle-memory",
        run: server_idle_memory::run,
    },
];

fn main() -> ExitCode {
    // server-idle-memory runs its server in a child process: this binary again.
    if let Some(code) = server_idle_memory::child_role() {
        return code;
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut output = PathBuf::from("target/bench/latest.json");
    if let Some(i) = args.iter().position(|a| a == "--output") {
        if i + 1 >= args.len() {
            eprintln!("--output needs a path");
            return ExitCode::FAILURE;
        }
        output = PathBuf::from(args.remove(i + 1));
        args.remove(i);
    }
    if args.iter().any(|a| a == "--list") {
        for s in SCENARIOS {
            println!("{}", s.name);
        }
        return ExitCode::SUCCESS;
    }
    let unknown: Vec<&String> = args
        .iter()
        .filter(|a| !SCENARIOS.iter().any(|s| s.name == a.as_str()))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        eprintln!(
            "unknown scenario(s) {unknown:?}; known: {}",
            known.join(", ")
        );
        return ExitCode::FAILURE;
    }
    let chosen: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| args.is_empty() || args.iter().any(|a| a == s.name))
        .collect();

    let mut results: Vec<Measurement> = Vec::new();
    let mut failed = false;
    for (i, scenario) in chosen.iter().enumerate() {
        eprintln!("[{}/{}] {} ...", i + 1, chosen.len(), scenario.name);
        let start = std::time::Instant::now();
        match (scenario.run)() {
            Ok(mut figures) => {
                eprintln!(
                    "[{}/{}] {} done in {:.1?}",
                    i + 1,
                    chosen.len(),
                    scenario.name,
                    start.elapsed()
                );
                results.append(&mut figures);
            }
            Err(e) => {
                eprintln!("[{}/{}] {} failed: {e}", i + 1, chosen.len(), scenario.name);
                failed = true;
            }
        }
    }
    harness::print_table(&results);
    if let Err(e) = write_json(&output, &results) {
        eprintln!("cannot write {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    eprintln!("figures written to {}", output.display());
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn write_json(path: &std::path::Path, results: &[Measurement]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(results).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}
