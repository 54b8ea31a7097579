//! Printing: messages on standard output (as lines or JSON), notes and a progress line on
//! standard error.

use std::borrow::Cow;
use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use camlnet_tcp_file::Message;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Set by `-q`: notes are left out.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Leaves notes out from now on (`-q`).
pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Says `text` on standard error, as `tcp-file: TEXT`, unless `-q` was given: what the
/// command is about to do, kept out of the data on standard output.
pub(crate) fn note(text: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("tcp-file: {text}");
    }
}

/// Writes messages to standard output, buffered: call [`flush`](Printer::flush) whenever
/// no message is waiting, so that followers see live lines at once.
pub(crate) struct Printer {
    out: BufWriter<StdoutLock<'static>>,
    json: bool,
}

impl Printer {
    pub(crate) fn new(json: bool) -> Self {
        Printer {
            out: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            json,
        }
    }

    /// Prints one message: its bytes and a newline, or `{"line": N, "message": "..."}`
    /// with bytes that are not UTF-8 replaced by U+FFFD.
    pub(crate) fn print(&mut self, message: &Message) -> io::Result<()> {
        if self.json {
            let text = String::from_utf8_lossy(&message.bytes);
            let object = serde_json::json!({ "line": message.line, "message": text });
            serde_json::to_writer(&mut self.out, &object)?;
            self.out.write_all(b"\n")
        } else {
            self.out.write_all(&message.bytes)?;
            self.out.write_all(b"\n")
        }
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A status line on standard error, redrawn in place and cut to the terminal's width
/// (`indicatif`); hidden when standard error is not a terminal.
pub(crate) struct Progress {
    bar: ProgressBar,
    /// When the status was last set: see [`due`](Progress::due).
    last: Option<Instant>,
}

/// How often the status is worth making anew.
const EVERY: Duration = Duration::from_millis(100);

impl Progress {
    /// Progress for a long command (the demo).
    pub(crate) fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{spinner} {elapsed:>3} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        Progress { bar, last: None }
    }

    /// Progress of a read: as [`new`](Progress::new), and hidden when standard output is
    /// a terminal too (the messages themselves show the progress there).
    pub(crate) fn for_read() -> Self {
        let progress = Progress::new();
        if io::stdout().is_terminal() {
            progress.bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        progress
    }

    /// Whether a new status is worth making now (at most every 100 ms, and never when
    /// nothing shows it).
    pub(crate) fn due(&self) -> bool {
        !self.bar.is_hidden() && self.last.is_none_or(|last| last.elapsed() >= EVERY)
    }

    /// Shows `status`.
    pub(crate) fn show(&mut self, status: impl Into<Cow<'static, str>>) {
        self.last = Some(Instant::now());
        self.bar.set_message(status);
        self.bar.tick();
    }

    /// Ends the status line: erases it, or leaves it (and a newline) with `keep`.
    pub(crate) fn finish(&self, keep: bool) {
        if keep {
            self.bar.finish();
            // indicatif leaves the cursor at the end of the line.
            if !self.bar.is_hidden() {
                eprintln!();
            }
        } else {
            self.bar.finish_and_clear();
        }
    }
}
