//! Log lines on standard error: a `tracing` subscriber filtered by `RUST_LOG` when it is
//! set, else by the command's own level, raised by `-v` and lowered by `-q`.

use std::io::IsTerminal;

use clap::ArgAction;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

/// `-v` and `-q`, for every subcommand.
#[derive(Debug, clap::Args)]
pub(crate) struct Verbosity {
    /// More log lines on standard error (repeat for more); RUST_LOG, when set, decides
    /// instead (RUST_LOG=debug, RUST_LOG=tcp_file=trace, ...).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// Fewer: no notes (such as where a read starts) and fewer log lines (repeat for
    /// fewer).
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    quiet: u8,
}

impl Verbosity {
    /// Whether notes are left out.
    pub(crate) fn quiet(&self) -> bool {
        self.quiet > 0
    }

    /// The level `default` moved by `-v` and `-q`.
    fn level(&self, default: LevelFilter) -> LevelFilter {
        const LEVELS: [LevelFilter; 6] = [
            LevelFilter::OFF,
            LevelFilter::ERROR,
            LevelFilter::WARN,
            LevelFilter::INFO,
            LevelFilter::DEBUG,
            LevelFilter::TRACE,
        ];
        let at = LEVELS.iter().position(|l| *l == default).unwrap_or(2);
        let at = (at + usize::from(self.verbose)).saturating_sub(usize::from(self.quiet));
        LEVELS[at.min(LEVELS.len() - 1)]
    }
}

/// Installs the subscriber: lines on standard error (in colour on a terminal), filtered by
/// `RUST_LOG` when it is set and not empty, else by `default` moved by `verbosity`.
pub(crate) fn init(verbosity: &Verbosity, default: LevelFilter) {
    let filter = EnvFilter::builder()
        .with_default_directive(verbosity.level(default).into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v_raises_and_q_lowers_the_level() {
        let at = |verbose, quiet, default| Verbosity { verbose, quiet }.level(default);
        assert_eq!(at(0, 0, LevelFilter::INFO), LevelFilter::INFO);
        assert_eq!(at(1, 0, LevelFilter::WARN), LevelFilter::INFO);
        assert_eq!(at(9, 0, LevelFilter::WARN), LevelFilter::TRACE);
        assert_eq!(at(0, 1, LevelFilter::INFO), LevelFilter::WARN);
        assert_eq!(at(0, 2, LevelFilter::WARN), LevelFilter::OFF);
        assert_eq!(at(0, 9, LevelFilter::WARN), LevelFilter::OFF);
    }
}
