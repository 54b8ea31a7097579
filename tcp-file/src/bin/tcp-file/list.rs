//! `tcp-file list` and `tcp-file stats`: what a server serves, and its snapshot, asked in
//! the text mode (`LIST`, `STATS`).

use std::io::Write;

use crate::Failure;
use crate::address::Address;
use crate::connect::{self, ConnectArgs};
use crate::report::error_chain;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tcp-file list 127.0.0.1:7070
  echo LIST | nc -N 127.0.0.1 7070       # the same, in the text mode (after +OK)

Prints one line per file the server serves: its name, a space, its number of lines.")]
pub(crate) struct ListArgs {
    /// The server: HOST:PORT, [IPV6]:PORT or unix:PATH.
    #[arg(value_parser = Address::parse)]
    addr: Address,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  tcp-file stats 127.0.0.1:7070
  tcp-file stats 127.0.0.1:7070 | jq '.files[] | {name, lines, readers: (.readers | length)}'

Prints the server's snapshot as one line of JSON: every file (lines, bytes, what is on
disk, in memory and synced, its readers and how far behind each is), every connection,
and the limits.")]
pub(crate) struct StatsArgs {
    /// The server: HOST:PORT, [IPV6]:PORT or unix:PATH.
    #[arg(value_parser = Address::parse)]
    addr: Address,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub(crate) async fn run_list(args: ListArgs) -> Result<(), Failure> {
    let lines = connect::text_request(&args.addr, args.connect.timeout, "LIST").await?;
    print_lines(&lines)
}

pub(crate) async fn run_stats(args: StatsArgs) -> Result<(), Failure> {
    let lines = connect::text_request(&args.addr, args.connect.timeout, "STATS").await?;
    print_lines(&lines)
}

fn print_lines(lines: &[String]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::other(format!(
            "cannot write to standard output: {}",
            error_chain(&e)
        ))),
        _ => Ok(()),
    }
}
