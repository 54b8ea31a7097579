//! The server side of the soak, in a child process (this binary again, with
//! [`CHILD_FLAG`]): a `tcp-file` server on 127.0.0.1 with [`FILES`] files, and producers
//! that write [`MESSAGES_PER_SECOND`] messages of [`MESSAGE_BYTES`] bytes a second across
//! them. It prints `listening on ADDR`, writes until its standard input ends, then prints
//! `written N` (messages, all files) and exits.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use camlnet_tcp_file::{FileOptions, Server};
use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};

/// The hidden argument that makes this binary the server child.
pub(crate) const CHILD_FLAG: &str = "--serve-soak";
/// How many files the server serves.
pub(crate) const FILES: usize = 10;
/// The size of each message, its newline left out.
pub(crate) const MESSAGE_BYTES: usize = 200;
/// Messages a second over all files: 10,000 of 200 bytes, about 2 MB/s.
const MESSAGES_PER_SECOND: usize = 10_000;
/// The producers write every this often.
const TICK: Duration = Duration::from_millis(10);

/// The name of file `i`.
pub(crate) fn file_name(i: usize) -> String {
    format!("soak-{i:02}.log")
}

/// Message `line` of file `file`: `FF LLLLLLLLLLLL ` and filler, [`MESSAGE_BYTES`] long.
pub(crate) fn message(file: usize, line: u64) -> Vec<u8> {
    let mut message = format!("{file:02} {line:012} ").into_bytes();
    message.resize(MESSAGE_BYTES, b'.');
    message
}

/// Whether `bytes` is message `line` of file `file` (its head; the filler is not read).
pub(crate) fn is_message(bytes: &[u8], file: usize, line: u64) -> bool {
    bytes.len() == MESSAGE_BYTES && bytes[..16] == message(file, line)[..16]
}

/// The child role. Returns `None` when this process is not the child.
pub(crate) fn child_role() -> Option<ExitCode> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some(CHILD_FLAG) {
        return None;
    }
    let dir = std::path::PathBuf::from(args.next().unwrap_or_default());
    match serve(&dir) {
        Ok(()) => Some(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("soak {CHILD_FLAG}: {e}");
            Some(ExitCode::FAILURE)
        }
    }
}

fn serve(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    tests::process::raise_fd_limit();
    // One worker thread: the driver and its 1,000 clients need the other core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("soak-server")
        .enable_all()
        .build()?;
    let server = Server::new();
    let mut files = Vec::with_capacity(FILES);
    for i in 0..FILES {
        files.push(server.open_file(&file_name(i), dir.join(file_name(i)), FileOptions::new())?);
    }
    let listening = runtime.block_on(server.serve(
        WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
        |_| true,
    ))?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", listening.listening_on_address())?;
    stdout.flush()?;

    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let producers = runtime.spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        let per_tick = MESSAGES_PER_SECOND * TICK.as_millis() as usize / 1000 / FILES;
        let mut lines = [0u64; FILES];
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = &mut stopped => break,
            }
            for (i, file) in files.iter().enumerate() {
                for _ in 0..per_tick {
                    file.write_message(&message(i, lines[i]))?;
                    lines[i] += 1;
                }
            }
        }
        for file in files {
            file.close().await?;
        }
        Ok::<u64, camlnet_tcp_file::FileError>(lines.iter().sum())
    });
    // Standard input ends when the driver is done (or gone).
    for line in std::io::stdin().lock().lines() {
        line?;
    }
    let _ = stop.send(());
    let written = runtime.block_on(producers)??;
    writeln!(stdout, "written {written}")?;
    stdout.flush()?;
    drop(listening);
    Ok(())
}
