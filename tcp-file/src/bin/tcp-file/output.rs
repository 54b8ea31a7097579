//! Printing: messages on standard output (as lines or JSON), progress on standard error.

use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};
use std::time::{Duration, Instant};

use tcp_file::Message;

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

/// A status line on standard error: rewritten in place (`\r`) when it is a terminal,
/// else printed as a plain line now and then, or not at all (see the constructors).
pub(crate) struct Progress {
    terminal: bool,
    enabled: bool,
    every: Duration,
    last: Option<Instant>,
    shown: bool,
}

impl Progress {
    /// Progress for a long command (the demo): in place on a terminal, every 2 s otherwise.
    pub(crate) fn always() -> Self {
        let terminal = io::stderr().is_terminal();
        let every = if terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(2)
        };
        Progress {
            terminal,
            enabled: true,
            every,
            last: None,
            shown: false,
        }
    }

    /// Progress only when standard error is a terminal, and standard output is not (when
    /// both are, the messages themselves show the progress).
    pub(crate) fn terminal_only() -> Self {
        let terminal = io::stderr().is_terminal();
        let enabled = terminal && !io::stdout().is_terminal();
        Progress {
            terminal,
            enabled,
            every: Duration::from_millis(200),
            last: None,
            shown: false,
        }
    }

    /// Whether a new status is due now.
    pub(crate) fn due(&self) -> bool {
        self.enabled && self.last.is_none_or(|last| last.elapsed() >= self.every)
    }

    /// Shows `status` (it is due: see [`due`](Progress::due)).
    pub(crate) fn show(&mut self, status: &str) {
        if !self.enabled {
            return;
        }
        self.last = Some(Instant::now());
        let mut err = io::stderr().lock();
        let _ = if self.terminal {
            self.shown = true;
            write!(err, "\r\x1b[K{status}")
        } else {
            writeln!(err, "{status}")
        };
        let _ = err.flush();
    }

    /// Ends the status line (on a terminal: erases it, or leaves it with `keep`).
    pub(crate) fn finish(&mut self, keep: bool) {
        if self.terminal && self.shown {
            let mut err = io::stderr().lock();
            let _ = if keep {
                writeln!(err)
            } else {
                write!(err, "\r\x1b[K")
            };
            let _ = err.flush();
            self.shown = false;
        }
    }
}
