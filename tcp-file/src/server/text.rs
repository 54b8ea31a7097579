//! The plain-text mode, so that `nc`, `socat` or `telnet` are clients: the client sends one
//! request line, `READ NAME`, `TAIL NAME` or `FROM LINE NAME`; the server answers `+OK`
//! and then each message as a line until the file is closed, or `-ERR reason` and closes.
//! Two requests ask about the server instead of a file: `LIST` (`+OK`, then `NAME LINES`
//! for each name served) and `STATS` (`+OK`, then the snapshot as one line of JSON); the
//! server closes after the answer.
//!
//! A text client is a connection of one stream, as a binary client's (and so in the
//! snapshot); the same sender pulls its messages, and the frames it makes are turned into
//! lines here, so catching up from disk and switching to live messages work the same way
//! for both.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use camlnet_flow::{Flow, FlowExt, Read, ReadHalf, WriteHalf};
use tracing::Instrument;

use crate::protocol::{self, Frame, Layout, Start, StreamFailure};
use crate::server::connection::{self, Connection, Violation};
use crate::server::log::Log;
use crate::server::outgoing::{FileLines, Piece, Write};
use crate::server::{Server, ServerInner};

/// The longest request line, newline included.
pub(crate) const MAX_REQUEST_LINE: usize = 4096;
/// How long a client may take to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed request: the name and where to start (`None` for a tail).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) name: String,
    pub(crate) start: Option<u64>,
}

/// A request about the server rather than about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inquiry {
    /// `LIST`: each name served, with its count of lines.
    List,
    /// `STATS`: the snapshot, as JSON.
    Stats,
}

/// Serves one text-mode connection; `first` holds the bytes read already.
pub(crate) async fn serve<F: Flow>(
    server: Arc<ServerInner>,
    flow: F,
    peer: String,
    first: BytesMut,
) {
    let (mut reader, mut writer) = flow.split();
    let line = match tokio::time::timeout(REQUEST_TIMEOUT, request_line(&mut reader, first)).await {
        Ok(Ok(Some(line))) => line,
        Ok(Ok(None)) => return,
        Ok(Err(reason)) => return refuse(&mut writer, &peer, &reason).await,
        Err(_) => return refuse(&mut writer, &peer, "no request line within 10 s").await,
    };
    if let Some(inquiry) = inquiry(&line) {
        return match answer(&server, inquiry) {
            Ok(answer) => {
                // A client that does not read its answer holds it no longer than a stalled
                // reader holds a batch.
                let write_timeout = server.limits.write_timeout;
                let _ = tokio::time::timeout(write_timeout, writer.write(answer)).await;
                let _ = writer.shutdown().await;
            }
            Err(reason) => refuse(&mut writer, &peer, &reason).await,
        };
    }
    let request = match parse(&line) {
        Ok(request) => request,
        Err(reason) => return refuse(&mut writer, &peer, &reason).await,
    };
    if server.registry.get(&request.name).is_none() {
        return refuse(
            &mut writer,
            &peer,
            &format!("file not found: {}", request.name),
        )
        .await;
    }
    let start = request.start.map_or(Start::Tail, Start::Line);
    let span = connection::stream_span(&request.name, start);
    stream(server, (reader, writer), peer, request.name, start)
        .instrument(span)
        .await;
}

/// Serves the text client's one stream, of file `name` from `start`.
async fn stream<F: Flow>(
    server: Arc<ServerInner>,
    (mut reader, mut writer): (ReadHalf<F>, WriteHalf<F>),
    peer: String,
    name: String,
    start: Start,
) {
    tracing::debug!(%peer, "text client");
    // A connection of one stream, as a binary client's: listed in the snapshot, and its
    // messages pulled by the same sender, which hands each batch of frames to `lines`.
    let connection = Connection::open(&server, peer);
    let ended = match connection::open_stream(&server, &connection, 0, start, u32::MAX, &name) {
        Err(Violation(reason)) => Err(reason),
        Ok(()) if writer.write(Bytes::from_static(b"+OK\n")).await.is_err() => Ok(()),
        Ok(()) => {
            tokio::select! {
                r = connection::send(&connection, &mut writer, FileLines::NewlineEnded, lines) => r,
                () = watch(&mut reader) => Ok(()),
            }
        }
    };
    connection.close(&server);
    if let Err(reason) = ended {
        let _ = writer.write(Bytes::from(format!("-ERR {reason}\n"))).await;
    }
    let _ = writer.shutdown().await;
}

/// `LIST` or `STATS` (case-insensitive, alone on the line, a `\r` before the newline
/// dropped), or `None` for any other line.
fn inquiry(line: &[u8]) -> Option<Inquiry> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.eq_ignore_ascii_case(b"LIST") {
        Some(Inquiry::List)
    } else if line.eq_ignore_ascii_case(b"STATS") {
        Some(Inquiry::Stats)
    } else {
        None
    }
}

/// The whole answer to `inquiry`, `+OK` line included, or the reason to refuse it.
fn answer(server: &Arc<ServerInner>, inquiry: Inquiry) -> Result<Bytes, String> {
    if inquiry == Inquiry::Stats && !server.stats_requests.load(Ordering::Relaxed) {
        return Err("STATS is off on this server".to_string());
    }
    let mut out = b"+OK\n".to_vec();
    match inquiry {
        Inquiry::List => {
            // The names and counts only: not the whole snapshot, whose size grows with the
            // connections, for a request anyone may send.
            let logs: Vec<Arc<Log>> = server.registry.lock().values().cloned().collect();
            let mut files: Vec<(&str, u64)> = logs
                .iter()
                .map(|log| (log.name.as_str(), log.lock().lines()))
                .collect();
            files.sort_unstable();
            for (name, lines) in files {
                out.extend_from_slice(format!("{name} {lines}\n").as_bytes());
            }
        }
        Inquiry::Stats => {
            let snapshot = Server {
                inner: server.clone(),
            }
            .debug_snapshot();
            serde_json::to_writer(&mut out, &snapshot)
                .map_err(|e| format!("cannot encode the snapshot: {e}"))?;
            out.push(b'\n');
        }
    }
    Ok(Bytes::from(out))
}

async fn refuse<F: Flow>(writer: &mut WriteHalf<F>, peer: &str, reason: &str) {
    tracing::info!(%peer, %reason, "refusing a text request");
    let _ = writer.write(Bytes::from(format!("-ERR {reason}\n"))).await;
    let _ = writer.shutdown().await;
}

/// Reads up to the first newline. `Ok(None)` when the client left without a request.
async fn request_line<F: Flow>(
    reader: &mut ReadHalf<F>,
    mut buf: BytesMut,
) -> Result<Option<Bytes>, String> {
    loop {
        if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            if nl >= MAX_REQUEST_LINE {
                break;
            }
            return Ok(Some(buf.split_to(nl).freeze()));
        }
        if buf.len() >= MAX_REQUEST_LINE {
            break;
        }
        match reader.read().await {
            Ok(Read::Data(bytes)) => buf.extend_from_slice(&bytes),
            Ok(Read::Eof) if buf.is_empty() => return Ok(None),
            Ok(Read::Eof) => return Err("the request line must end with a newline".to_string()),
            Err(e) => {
                tracing::debug!(error = %e, "text connection read failed");
                return Ok(None);
            }
        }
    }
    Err(format!("request line longer than {MAX_REQUEST_LINE} bytes"))
}

/// Parses `READ NAME`, `TAIL NAME` or `FROM LINE NAME` (without its `\n`; a `\r` before it
/// is dropped). The command is case-insensitive; the name is the rest of the line.
pub(crate) fn parse(line: &[u8]) -> Result<Request, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(line) = std::str::from_utf8(line) else {
        return Err("the request is not UTF-8".to_string());
    };
    let usage = "expected READ NAME, TAIL NAME or FROM LINE NAME";
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    let name = |name: &str| {
        if name.is_empty() {
            Err(format!("no file name: {usage}"))
        } else {
            Ok(name.to_string())
        }
    };
    if command.eq_ignore_ascii_case("READ") {
        Ok(Request {
            name: name(rest)?,
            start: Some(0),
        })
    } else if command.eq_ignore_ascii_case("TAIL") {
        Ok(Request {
            name: name(rest)?,
            start: None,
        })
    } else if command.eq_ignore_ascii_case("FROM") {
        let (number, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let Ok(from) = number.parse::<u64>() else {
            return Err(format!("not a line number: {number:?}: {usage}"));
        };
        Ok(Request {
            name: name(rest)?,
            start: Some(from),
        })
    } else {
        Err(format!("unknown request {command:?}: {usage}"))
    }
}

/// Keeps reading what the client sends after its request, and discards it: returns when
/// the connection fails. A client that only half-closes (`nc -N`) keeps its stream.
async fn watch<F: Flow>(reader: &mut ReadHalf<F>) {
    loop {
        match reader.read().await {
            Ok(Read::Data(_)) => {}
            Ok(Read::Eof) => std::future::pending::<()>().await,
            Err(_) => return,
        }
    }
}

/// Turns frames from the sender into lines: each message of a batch as a line, until the
/// stream's end (`Ok`) or its error (`Err` with the reason). Shared lines are written as
/// they are, shared, when they end with `\n`; a single shared line also when it ends with
/// `\r\n` (without its ending). A range of a file is sent as it is: a text connection
/// takes ranges of `\n`-ended files only ([`FileLines::NewlineEnded`]).
fn lines(pieces: Vec<Piece>) -> (Vec<Write>, Option<Result<(), String>>) {
    let mut written = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match piece {
            Piece::Frames(frames) => {
                let (lines, done) = frame_lines(frames);
                if !lines.is_empty() {
                    written.push(Write::Bytes(lines));
                }
                if done.is_some() {
                    return (written, done);
                }
            }
            Piece::Shared { layout, body, .. } => shared_lines(layout, body, &mut written),
            Piece::File { layout, body, .. } => {
                debug_assert_eq!(
                    layout,
                    Layout::Lines { crlf: false },
                    "text takes `\n` files"
                );
                written.push(Write::File(body));
            }
        }
    }
    (written, None)
}

/// Appends the messages of `body`, laid out as `layout`, each as a line: shared when they
/// can be.
fn shared_lines(layout: Layout, body: Bytes, written: &mut Vec<Write>) {
    let newline = || Write::Bytes(Bytes::from_static(b"\n"));
    match layout {
        Layout::Lines { crlf: false } => {
            let ended = body.ends_with(b"\n");
            written.push(Write::Bytes(body));
            if !ended {
                written.push(newline());
            }
        }
        Layout::Lines { crlf: true } => {
            let whole = protocol::split_next(&body, layout)
                .filter(|(_, used)| *used == body.len())
                .map(|(line, _)| body.slice_ref(line));
            if let Some(line) = whole {
                // One line (a long one read back from disk): shared, without its ending.
                written.extend([Write::Bytes(line), newline()]);
            } else {
                let mut out = BytesMut::with_capacity(body.len());
                push_lines(layout, &body, &mut out);
                written.push(Write::Bytes(out.freeze()));
            }
        }
        Layout::Framed => written.extend([Write::Bytes(body), newline()]),
    }
}

/// The lines of whole frames, and whether the stream ended with them.
fn frame_lines(frames: Bytes) -> (Bytes, Option<Result<(), String>>) {
    let mut out = BytesMut::with_capacity(frames.len());
    let mut rest = frames;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let frame = rest.slice(4..(4 + len).min(rest.len()));
        rest.advance((4 + len).min(rest.len()));
        // The frames were encoded a moment ago: they always decode.
        match protocol::decode(frame) {
            Ok(Frame::Batch { layout, data, .. }) => push_lines(layout, &data, &mut out),
            Ok(Frame::End { .. }) => return (out.freeze(), Some(Ok(()))),
            Ok(Frame::StreamError { failure, .. }) => {
                let reason = match failure {
                    StreamFailure::FileNotFound(name) => format!("file not found: {name}"),
                    StreamFailure::Unknown(reason) => reason,
                };
                return (out.freeze(), Some(Err(reason)));
            }
            _ => {}
        }
    }
    (out.freeze(), None)
}

/// Appends the messages of one batch to `out`, each as a line.
fn push_lines(layout: Layout, data: &[u8], out: &mut BytesMut) {
    if layout == (Layout::Lines { crlf: false }) {
        return out.extend_from_slice(data);
    }
    let mut rest = data;
    while let Some((message, used)) = protocol::split_next(rest, layout) {
        out.extend_from_slice(message);
        out.extend_from_slice(b"\n");
        rest = &rest[used..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        let ok = |name: &str, start| {
            Ok(Request {
                name: name.to_string(),
                start,
            })
        };
        assert_eq!(parse(b"READ app.log"), ok("app.log", Some(0)));
        assert_eq!(parse(b"read app.log\r"), ok("app.log", Some(0)));
        assert_eq!(parse(b"TAIL a b"), ok("a b", None));
        assert_eq!(parse(b"FROM 42 app.log"), ok("app.log", Some(42)));
        assert!(parse(b"FROM x app.log").is_err());
        assert!(parse(b"FROM 3").is_err());
        assert!(parse(b"READ").is_err());
        assert!(parse(b"GET / HTTP/1.1").is_err());
        assert!(parse(b"READ \xff").is_err());
    }

    #[test]
    fn inquiries_are_the_whole_line() {
        assert_eq!(inquiry(b"LIST"), Some(Inquiry::List));
        assert_eq!(inquiry(b"list\r"), Some(Inquiry::List));
        assert_eq!(inquiry(b"Stats"), Some(Inquiry::Stats));
        assert_eq!(inquiry(b"LIST app"), None);
        assert_eq!(inquiry(b"READ LIST"), None);
        assert_eq!(inquiry(b" STATS"), None);
    }
}
