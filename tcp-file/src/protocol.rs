//! The wire format: length-delimited frames (a 4-byte big-endian length, then the frame),
//! opened by a handshake that names the protocol version.
//!
//! Client to server: `Hello`, `Open`, `Cancel`, `Credit`. Server to client: `Welcome` or
//! `Refused`, then for each stream batches of messages (`Messages` frames of live messages,
//! `Lines` frames of lines read back from disk, each with its count), `End` and
//! `StreamError`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The protocol version this crate speaks.
pub const VERSION: u16 = 1;
/// What every `Hello` starts with.
pub(crate) const MAGIC: &[u8; 7] = b"TCPFILE";
/// The largest frame a client may send (requests are small).
#[cfg(feature = "server")]
pub(crate) const MAX_CLIENT_FRAME: usize = 64 * 1024;
/// The largest message a file accepts, and so the largest part of a server frame.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// The longest file name a server looks up, in bytes: a stream asking for a longer one
/// fails with an error item (and the server keeps nothing of the name).
pub const MAX_NAME: usize = 1024;
/// The most streams one connection may have open at once. A server closes a connection
/// that opens more; a [`Client`](crate::Client) never sends such a request, and fails the
/// stream that would be one too many instead.
pub const MAX_STREAMS: usize = 1024;
/// The largest frame a server sends: one maximal message and its headers.
#[cfg(feature = "client")]
pub(crate) const MAX_SERVER_FRAME: usize = MAX_MESSAGE + 64;

const HELLO: u8 = 0x01;
const OPEN: u8 = 0x02;
const CANCEL: u8 = 0x03;
const CREDIT: u8 = 0x04;
const WELCOME: u8 = 0x81;
const REFUSED: u8 = 0x82;
const MESSAGES: u8 = 0x83;
const END: u8 = 0x84;
const STREAM_ERROR: u8 = 0x85;
const LINES: u8 = 0x86;

/// Where a stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// From this line (0 is the first).
    Line(u64),
    /// With the first message written after the request.
    Tail,
}

/// Why a stream failed, as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamFailure {
    FileNotFound(String),
    Unknown(String),
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Hello {
        version: u16,
    },
    Open {
        stream: u32,
        start: Start,
        credit: u32,
        name: String,
    },
    Cancel {
        stream: u32,
    },
    Credit {
        stream: u32,
        messages: u32,
    },
    Welcome {
        version: u16,
    },
    Refused {
        reason: String,
    },
    /// Consecutive messages of one stream, the first with line `first_line`, laid out in
    /// `data` as `layout` says (the lines all numbers below `u64::MAX`): `Lines` frames
    /// (the file's bytes, lines as on disk), which the server sends from the bytes it
    /// wrote to the file or reads back from it, never looking at each line; a `Messages`
    /// frame (each message after its 4-byte length, the lengths and the count checked
    /// when decoded) for a long message written with `schedule_message`, whose bytes on
    /// disk are not in one piece. `count` is how many messages the server says it put in:
    /// flow control counts with it, and no more than that are taken out of `data` (a
    /// `Lines` frame's lines are not counted when decoded: that would be a pass over every
    /// byte). Take them out with [`split_next`]; the client finds them all at once, with
    /// [`line_ends`], as it hands the batch to its stream.
    Batch {
        stream: u32,
        first_line: u64,
        count: u32,
        layout: Layout,
        data: Bytes,
    },
    End {
        stream: u32,
    },
    StreamError {
        stream: u32,
        failure: StreamFailure,
    },
}

/// A frame that does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed frame: {}", self.0)
    }
}

/// How a [`Frame::Batch`] lays out its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Each message after its 4-byte big-endian length.
    Framed,
    /// Lines, each ending with `\n`, or with `\r\n` when `crlf`.
    Lines { crlf: bool },
}

/// Appends `frame`, with its length prefix, to `out`.
pub(crate) fn encode(frame: &Frame, out: &mut BytesMut) {
    if let Frame::Batch {
        stream,
        first_line,
        count,
        layout,
        data,
    } = frame
    {
        let open = begin_batch(out, *stream, *first_line, *layout);
        out.extend_from_slice(data);
        return open.finish(out, *count);
    }
    let start = out.len();
    out.put_u32(0);
    match frame {
        Frame::Hello { version } => {
            out.put_u8(HELLO);
            out.put_slice(MAGIC);
            out.put_u16(*version);
        }
        Frame::Open {
            stream,
            start: from,
            credit,
            name,
        } => {
            out.put_u8(OPEN);
            out.put_u32(*stream);
            match from {
                Start::Line(line) => {
                    out.put_u8(0);
                    out.put_u64(*line);
                }
                Start::Tail => {
                    out.put_u8(1);
                    out.put_u64(0);
                }
            }
            out.put_u32(*credit);
            out.put_slice(name.as_bytes());
        }
        Frame::Cancel { stream } => {
            out.put_u8(CANCEL);
            out.put_u32(*stream);
        }
        Frame::Credit { stream, messages } => {
            out.put_u8(CREDIT);
            out.put_u32(*stream);
            out.put_u32(*messages);
        }
        Frame::Welcome { version } => {
            out.put_u8(WELCOME);
            out.put_u16(*version);
        }
        Frame::Refused { reason } => {
            out.put_u8(REFUSED);
            out.put_slice(reason.as_bytes());
        }
        Frame::Batch { .. } => unreachable!("encoded above"),
        Frame::End { stream } => {
            out.put_u8(END);
            out.put_u32(*stream);
        }
        Frame::StreamError { stream, failure } => {
            out.put_u8(STREAM_ERROR);
            out.put_u32(*stream);
            let (kind, text) = match failure {
                StreamFailure::FileNotFound(name) => (0, name),
                StreamFailure::Unknown(text) => (1, text),
            };
            out.put_u8(kind);
            out.put_slice(text.as_bytes());
        }
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Where a batch frame's count is, from the frame's start: after the length, the kind,
/// the stream and the first line.
const COUNT_AT: usize = 4 + 1 + 4 + 8;

/// A [`Frame::Batch`] being written in place into an output buffer: add its messages with
/// [`push_message`] (for [`Layout::Framed`]) or whole lines (for [`Layout::Lines`]), then
/// [`finish`](OpenBatch::finish) it.
#[derive(Debug)]
#[must_use = "a frame must be finished or abandoned"]
pub(crate) struct OpenBatch {
    start: usize,
}

impl OpenBatch {
    /// Fills in the frame's length and its count of messages.
    pub(crate) fn finish(self, out: &mut BytesMut, count: u32) {
        self.finish_before(out, count, 0);
    }

    /// As [`finish`](OpenBatch::finish), for a frame whose last `more` bytes are not in
    /// `out` but written right after it.
    pub(crate) fn finish_before(self, out: &mut BytesMut, count: u32, more: usize) {
        let len = (out.len() - self.start - 4 + more) as u32;
        out[self.start..self.start + 4].copy_from_slice(&len.to_be_bytes());
        out[self.start + COUNT_AT..self.start + COUNT_AT + 4].copy_from_slice(&count.to_be_bytes());
    }

    /// Takes the frame back out of `out`.
    #[cfg(feature = "server")]
    pub(crate) fn abandon(self, out: &mut BytesMut) {
        out.truncate(self.start);
    }
}

/// Starts a batch frame of `stream`'s messages from line `first_line`.
pub(crate) fn begin_batch(
    out: &mut BytesMut,
    stream: u32,
    first_line: u64,
    layout: Layout,
) -> OpenBatch {
    let start = out.len();
    out.put_u32(0);
    out.put_u8(match layout {
        Layout::Framed => MESSAGES,
        Layout::Lines { .. } => LINES,
    });
    out.put_u32(stream);
    out.put_u64(first_line);
    out.put_u32(0);
    if let Layout::Lines { crlf } = layout {
        out.put_u8(u8::from(crlf));
    }
    OpenBatch { start }
}

/// Appends one message to a [`Layout::Framed`] batch (the server sends its messages
/// shared instead: see `Outgoing::push_shared`).
#[cfg(any(test, fuzzing))]
pub(crate) fn push_message(out: &mut BytesMut, message: &[u8]) {
    out.put_u32(message.len() as u32);
    out.put_slice(message);
}

/// The first message of a batch's `data` (without its length or line ending), and how many
/// bytes of `data` it took; `None` when `data` is empty. Never fails on a decoded batch:
/// framed lengths were checked, and a last line without a newline is a line.
pub(crate) fn split_next(data: &[u8], layout: Layout) -> Option<(&[u8], usize)> {
    if data.is_empty() {
        return None;
    }
    match layout {
        Layout::Framed => {
            let len = match data {
                [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]) as usize,
                _ => return None,
            };
            let end = (4 + len).min(data.len());
            Some((&data[4..end], end))
        }
        Layout::Lines { crlf } => {
            let (mut line, used) = match memchr::memchr(b'\n', data) {
                Some(newline) => (&data[..newline], newline + 1),
                None => (data, data.len()),
            };
            if crlf && line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            Some((line, used))
        }
    }
}

/// Where the first `count` lines of `data` end, as [`split_next`] takes them out: the
/// offset of each line's `\n`, or `data.len()` for a last line without one. Offsets fit in
/// a `u32`: no frame is that long.
#[cfg(feature = "client")]
pub(crate) fn line_ends(data: &[u8], count: u32) -> Vec<u32> {
    let count = count as usize;
    let mut ends = Vec::with_capacity(count.min(data.len()));
    push_newlines(data, count, &mut ends);
    let rest = ends.last().map_or(0, |&end| end as usize + 1);
    if ends.len() < count && rest < data.len() {
        ends.push(data.len() as u32);
    }
    ends
}

/// Pushes the offsets of `data`'s newlines to `ends`, until it holds `count`.
///
/// On x86_64, 64 bytes at a time, as a mask of the newlines among them: lines of 100 to 200
/// bytes are found in 40% to 65% of the time that a `memchr` call per line takes.
#[cfg(all(feature = "client", target_arch = "x86_64"))]
fn push_newlines(data: &[u8], count: usize, ends: &mut Vec<u32>) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };

    let mut blocks = data.chunks_exact(64);
    let mut base = 0;
    for block in &mut blocks {
        let newlines = |at: usize| {
            // SAFETY: SSE2 is part of every x86_64 CPU, and the unaligned load reads
            // `block[at..at + 16]`, inside the block (`at` is at most 48).
            let mask = unsafe {
                let bytes = _mm_loadu_si128(block[at..].as_ptr().cast::<__m128i>());
                _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\n' as i8)))
            };
            u64::from(mask as u16) << at
        };
        let mut mask = newlines(0) | newlines(16) | newlines(32) | newlines(48);
        while mask != 0 {
            if ends.len() == count {
                return;
            }
            ends.push(base + mask.trailing_zeros());
            mask &= mask - 1;
        }
        base += 64;
    }
    let rest = memchr::memchr_iter(b'\n', blocks.remainder());
    ends.extend(rest.take(count - ends.len()).map(|end| base + end as u32));
}

/// Pushes the offsets of `data`'s newlines to `ends`, until it holds `count`.
#[cfg(all(feature = "client", not(target_arch = "x86_64")))]
fn push_newlines(data: &[u8], count: usize, ends: &mut Vec<u32>) {
    ends.extend(
        memchr::memchr_iter(b'\n', data)
            .take(count)
            .map(|end| end as u32),
    );
}

/// Why [`FrameReader::next`] got no frame.
#[derive(Debug)]
pub(crate) enum ReadFrameError {
    /// A frame broke the limit or did not decode.
    Malformed(Malformed),
    /// The peer closed its side in the middle of a frame.
    Truncated,
    /// The flow failed.
    Flow(camlnet_flow::Error),
}

impl std::fmt::Display for ReadFrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFrameError::Malformed(e) => e.fmt(f),
            ReadFrameError::Truncated => f.write_str("the connection ended inside a frame"),
            ReadFrameError::Flow(e) => e.fmt(f),
        }
    }
}

/// Cuts frames out of what a flow reads. A frame that arrived whole in one read is cut out
/// of that read's buffer without a copy; only a frame that spans reads is copied, once,
/// into a buffer of its own.
#[derive(Debug)]
pub(crate) struct FrameReader {
    max_frame: usize,
    /// The start of a frame that the reads so far hold only part of.
    partial: BytesMut,
    /// Read, and not taken yet.
    rest: Bytes,
}

impl FrameReader {
    /// A reader of frames of up to `max_frame` bytes; `first` was read already.
    pub(crate) fn new(max_frame: usize, first: Bytes) -> Self {
        FrameReader {
            max_frame,
            partial: BytesMut::new(),
            rest: first,
        }
    }

    /// Reads until a whole frame is there, and takes it out; `Ok(None)` when the peer
    /// closed its side between frames.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: what was read stays for the next call.
    pub(crate) async fn next<F: camlnet_flow::Flow>(
        &mut self,
        reader: &mut camlnet_flow::ReadHalf<F>,
    ) -> Result<Option<Frame>, ReadFrameError> {
        loop {
            if let Some(frame) = self.buffered().map_err(ReadFrameError::Malformed)? {
                return Ok(Some(frame));
            }
            match reader.read().await {
                Ok(camlnet_flow::Read::Data(bytes)) => self.rest = bytes,
                Ok(camlnet_flow::Read::Eof) if self.partial.is_empty() => return Ok(None),
                Ok(camlnet_flow::Read::Eof) => return Err(ReadFrameError::Truncated),
                Err(e) => return Err(ReadFrameError::Flow(e)),
            }
        }
    }

    /// The next frame among the bytes read so far, if they hold a whole one. When they do
    /// not, all that is kept is the start of the next frame, copied: a connection that
    /// waits pins none of the reads' buffers.
    ///
    /// # Errors
    ///
    /// A frame longer than the limit (known from its length, before its bytes come), or
    /// one that does not decode.
    pub(crate) fn buffered(&mut self) -> Result<Option<Frame>, Malformed> {
        if self.partial.is_empty() {
            if let Some(len) = self.frame_len(&self.rest)? {
                if self.rest.len() >= 4 + len {
                    let mut frame = self.rest.split_to(4 + len);
                    frame.advance(4);
                    return decode(frame).map(Some);
                }
            }
        }
        loop {
            // What the frame begun in `partial` lacks: its length first, then its bytes.
            let lacking = match self.frame_len(&self.partial)? {
                Some(len) => 4 + len - self.partial.len(),
                None => 4 - self.partial.len(),
            };
            if lacking == 0 {
                let mut frame = std::mem::take(&mut self.partial).freeze();
                frame.advance(4);
                return decode(frame).map(Some);
            }
            if self.rest.is_empty() {
                // Empty, it may still hold the read's buffer.
                self.rest = Bytes::new();
                return Ok(None);
            }
            let n = lacking.min(self.rest.len());
            self.partial.extend_from_slice(&self.rest[..n]);
            self.rest.advance(n);
        }
    }

    /// Hands the reader what one read returned, as [`next`](FrameReader::next) does.
    #[cfg(fuzzing)]
    pub(crate) fn push(&mut self, read: Bytes) {
        debug_assert!(self.rest.is_empty(), "the last read was not taken in whole");
        self.rest = read;
    }

    /// How many bytes the reader holds.
    #[cfg(fuzzing)]
    pub(crate) fn held(&self) -> usize {
        self.partial.len() + self.rest.len()
    }

    /// The length of the frame that `bytes` start with, once its 4 bytes are there.
    fn frame_len(&self, bytes: &[u8]) -> Result<Option<usize>, Malformed> {
        match *bytes {
            [a, b, c, d, ..] => match u32::from_be_bytes([a, b, c, d]) as usize {
                len if len > self.max_frame => Err(Malformed("frame longer than the limit")),
                len => Ok(Some(len)),
            },
            _ => Ok(None),
        }
    }
}

/// Decodes one frame body (without its length prefix).
pub(crate) fn decode(mut body: Bytes) -> Result<Frame, Malformed> {
    let need = |body: &Bytes, n: usize| {
        if body.remaining() < n {
            Err(Malformed("frame too short"))
        } else {
            Ok(())
        }
    };
    need(&body, 1)?;
    let frame = match body.get_u8() {
        HELLO => {
            need(&body, MAGIC.len() + 2)?;
            if &body[..MAGIC.len()] != MAGIC {
                return Err(Malformed("not a tcp-file hello"));
            }
            body.advance(MAGIC.len());
            Frame::Hello {
                version: body.get_u16(),
            }
        }
        OPEN => {
            need(&body, 4 + 1 + 8 + 4)?;
            let stream = body.get_u32();
            let mode = body.get_u8();
            let line = body.get_u64();
            let credit = body.get_u32();
            let start = match mode {
                0 => Start::Line(line),
                1 => Start::Tail,
                _ => return Err(Malformed("unknown stream start")),
            };
            let name = text(body)?;
            return Ok(Frame::Open {
                stream,
                start,
                credit,
                name,
            });
        }
        CANCEL => {
            need(&body, 4)?;
            Frame::Cancel {
                stream: body.get_u32(),
            }
        }
        CREDIT => {
            need(&body, 8)?;
            Frame::Credit {
                stream: body.get_u32(),
                messages: body.get_u32(),
            }
        }
        WELCOME => {
            need(&body, 2)?;
            Frame::Welcome {
                version: body.get_u16(),
            }
        }
        REFUSED => {
            return Ok(Frame::Refused {
                reason: text(body)?,
            });
        }
        MESSAGES => {
            need(&body, 16)?;
            let stream = body.get_u32();
            let first_line = body.get_u64();
            let count = body.get_u32();
            // Check the lengths now, so that taking the messages out later cannot fail.
            let mut rest = &body[..];
            let mut messages = 0u32;
            while !rest.is_empty() {
                if rest.len() < 4 {
                    return Err(Malformed("frame too short"));
                }
                let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                if rest.len() - 4 < len {
                    return Err(Malformed("frame too short"));
                }
                rest = &rest[4 + len..];
                messages = messages.saturating_add(1);
            }
            if messages != count {
                return Err(Malformed("the message count does not match the messages"));
            }
            lines_fit(first_line, count)?;
            return Ok(Frame::Batch {
                stream,
                first_line,
                count,
                layout: Layout::Framed,
                data: body,
            });
        }
        LINES => {
            need(&body, 17)?;
            let stream = body.get_u32();
            let first_line = body.get_u64();
            let count = body.get_u32();
            let crlf = match body.get_u8() {
                0 => false,
                1 => true,
                _ => return Err(Malformed("unknown line ending")),
            };
            lines_fit(first_line, count)?;
            return Ok(Frame::Batch {
                stream,
                first_line,
                count,
                layout: Layout::Lines { crlf },
                data: body,
            });
        }
        END => {
            need(&body, 4)?;
            Frame::End {
                stream: body.get_u32(),
            }
        }
        STREAM_ERROR => {
            need(&body, 5)?;
            let stream = body.get_u32();
            let kind = body.get_u8();
            let text = text(body)?;
            let failure = match kind {
                0 => StreamFailure::FileNotFound(text),
                1 => StreamFailure::Unknown(text),
                _ => return Err(Malformed("unknown stream error kind")),
            };
            return Ok(Frame::StreamError { stream, failure });
        }
        _ => return Err(Malformed("unknown frame type")),
    };
    if body.has_remaining() {
        return Err(Malformed("trailing bytes after the frame"));
    }
    Ok(frame)
}

/// How many lines `data` holds, as [`split_next`] takes them out: a last line without a
/// newline is a line.
#[cfg(any(test, fuzzing))]
pub(crate) fn count_lines(data: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', data).count() + usize::from(data.last().is_some_and(|&b| b != b'\n'))
}

/// A batch's messages are lines `first_line..first_line + count`: all of them numbers.
fn lines_fit(first_line: u64, count: u32) -> Result<(), Malformed> {
    match first_line.checked_add(u64::from(count)) {
        Some(_) => Ok(()),
        None => Err(Malformed("line numbers past the largest")),
    }
}

fn text(body: Bytes) -> Result<String, Malformed> {
    String::from_utf8(body.to_vec()).map_err(|_| Malformed("text is not UTF-8"))
}

#[cfg(all(test, feature = "server", feature = "client"))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame() -> impl Strategy<Value = Frame> {
        let text = "[a-zA-Z0-9 ./_-]{0,40}";
        prop_oneof![
            any::<u16>().prop_map(|version| Frame::Hello { version }),
            (
                any::<u32>(),
                any::<u64>(),
                any::<bool>(),
                any::<u32>(),
                text
            )
                .prop_map(|(stream, line, tail, credit, name)| Frame::Open {
                    stream,
                    start: if tail { Start::Tail } else { Start::Line(line) },
                    credit,
                    name,
                }),
            any::<u32>().prop_map(|stream| Frame::Cancel { stream }),
            (any::<u32>(), any::<u32>())
                .prop_map(|(stream, messages)| Frame::Credit { stream, messages }),
            any::<u16>().prop_map(|version| Frame::Welcome { version }),
            text.prop_map(|reason| Frame::Refused { reason }),
            (
                any::<u32>(),
                0..u64::MAX - 10,
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..50), 0..10)
            )
                .prop_map(|(stream, first_line, messages)| {
                    let mut data = BytesMut::new();
                    for message in &messages {
                        push_message(&mut data, message);
                    }
                    Frame::Batch {
                        stream,
                        first_line,
                        count: messages.len() as u32,
                        layout: Layout::Framed,
                        data: data.freeze(),
                    }
                }),
            (
                any::<u32>(),
                0..u64::MAX - 200,
                any::<bool>(),
                prop::collection::vec(any::<u8>(), 0..200)
            )
                .prop_map(|(stream, first_line, crlf, data)| Frame::Batch {
                    stream,
                    first_line,
                    count: count_lines(&data) as u32,
                    layout: Layout::Lines { crlf },
                    data: Bytes::from(data)
                }),
            any::<u32>().prop_map(|stream| Frame::End { stream }),
            (any::<u32>(), any::<bool>(), text).prop_map(|(stream, missing, text)| {
                Frame::StreamError {
                    stream,
                    failure: if missing {
                        StreamFailure::FileNotFound(text)
                    } else {
                        StreamFailure::Unknown(text)
                    },
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn frames_round_trip(frames in prop::collection::vec(frame(), 1..8), split in 0usize..200) {
            let mut wire = BytesMut::new();
            for f in &frames {
                encode(f, &mut wire);
            }
            // Deliver the bytes in two parts, as a socket may.
            let split = split.min(wire.len());
            let rest = wire.split_off(split);
            let mut reader = FrameReader::new(MAX_SERVER_FRAME, Bytes::new());
            let mut decoded = Vec::new();
            for part in [wire.freeze(), rest.freeze()] {
                reader.rest = part;
                while let Some(f) = reader.buffered().expect("decodes") {
                    decoded.push(f);
                }
            }
            prop_assert!(reader.partial.is_empty() && reader.rest.is_empty());
            prop_assert_eq!(decoded, frames);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut reader = FrameReader::new(MAX_CLIENT_FRAME, Bytes::new());
            reader.rest = Bytes::from(bytes.clone());
            for _ in 0..bytes.len() + 1 {
                match reader.buffered() {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            if let Ok(Frame::Batch { layout, data, .. }) = decode(Bytes::from(bytes)) {
                let mut rest = &data[..];
                while let Some((_, used)) = split_next(rest, layout) {
                    assert!(used > 0 && used <= rest.len());
                    rest = &rest[used..];
                }
            }
        }

        /// The client finds where lines end when a frame arrives, and takes them out
        /// later: it must find the lines `split_next` takes out, and no more than `count`.
        #[test]
        fn line_ends_end_the_lines_split_next_takes(
            data in prop::collection::vec(prop_oneof![Just(b'\n'), Just(b'a')], 0..300),
            count in 0u32..200,
        ) {
            let mut expected = Vec::new();
            let mut at = 0;
            while expected.len() < count as usize {
                let Some((line, used)) = split_next(&data[at..], Layout::Lines { crlf: false })
                else {
                    break;
                };
                expected.push((at + line.len()) as u32);
                at += used;
            }
            prop_assert_eq!(line_ends(&data, count), expected);
        }
    }

    /// Found by the `client_hostile_server` fuzz target: a batch from line `u64::MAX - 1`
    /// of three messages made the client's line numbers overflow.
    #[test]
    fn batches_whose_lines_pass_the_largest_number_do_not_decode() {
        let mut data = BytesMut::new();
        for message in [&b"a"[..], b"b", b"c"] {
            push_message(&mut data, message);
        }
        let batches = [
            (Layout::Framed, data.freeze()),
            (
                Layout::Lines { crlf: false },
                Bytes::from_static(b"a\nb\nc\n"),
            ),
        ];
        for (layout, data) in batches {
            for (first_line, decodes) in [(u64::MAX - 3, true), (u64::MAX - 1, false)] {
                let frame = Frame::Batch {
                    stream: 1,
                    first_line,
                    count: 3,
                    layout,
                    data: data.clone(),
                };
                let mut wire = BytesMut::new();
                encode(&frame, &mut wire);
                let decoded = decode(wire.split_off(4).freeze());
                assert_eq!(
                    decoded.is_ok(),
                    decodes,
                    "{layout:?} from {first_line}: {decoded:?}"
                );
            }
        }
    }

    /// `count_lines`, with which the fuzz targets make honest frames, counts lines as
    /// `split_next` takes them out.
    #[test]
    fn count_lines_counts_lines_as_split_next_takes_them() {
        for (data, lines) in [
            (&b""[..], 0),
            (b"\n", 1),
            (b"a\nb", 2),
            (b"a\r\nb\r\n", 2),
            (b"\n\n\n", 3),
        ] {
            assert_eq!(count_lines(data), lines, "{data:?}");
            let mut rest = data;
            let mut taken = 0;
            while let Some((_, used)) = split_next(rest, Layout::Lines { crlf: true }) {
                rest = &rest[used..];
                taken += 1;
            }
            assert_eq!(taken, lines, "{data:?}");
        }
    }

    fn lines_frame(stream: u32, data: &'static [u8]) -> Frame {
        Frame::Batch {
            stream,
            first_line: 0,
            count: 1,
            layout: Layout::Lines { crlf: false },
            data: Bytes::from_static(data),
        }
    }

    /// Whether a decoded batch's bytes are in the buffer at `within`.
    fn data_is_inside(frame: &Frame, within: &std::ops::Range<*const u8>) -> bool {
        let Frame::Batch { data, .. } = frame else {
            panic!("not a batch: {frame:?}");
        };
        within.contains(&data.as_ptr()) && data.as_ptr_range().end <= within.end
    }

    #[test]
    fn whole_frames_are_cut_out_of_the_read_and_only_a_split_one_is_copied() {
        let frames = [
            lines_frame(1, b"first\n"),
            lines_frame(2, b"second, cut in two by the reads\n"),
            lines_frame(3, b"third\n"),
        ];
        let mut wire = BytesMut::new();
        encode(&frames[0], &mut wire);
        let first_len = wire.len();
        encode(&frames[1], &mut wire);
        let cut = first_len + (wire.len() - first_len) / 2;
        encode(&frames[2], &mut wire);
        let (one, two) = (
            Bytes::from(wire[..cut].to_vec()),
            Bytes::from(wire[cut..].to_vec()),
        );
        // Where the reads' buffers are. A flow keeps a share of each (the rest of its
        // buffer, for later reads): frames are cut out of them all the same.
        let (one_at, two_at) = (one.as_ptr_range(), two.as_ptr_range());
        let _flows_shares = (one.clone(), two.clone());
        let mut reader = FrameReader::new(MAX_SERVER_FRAME, Bytes::new());
        reader.rest = one;
        let first = reader.buffered().expect("decodes").expect("a whole frame");
        assert_eq!(reader.buffered().expect("decodes"), None);
        reader.rest = two;
        let second = reader
            .buffered()
            .expect("decodes")
            .expect("the split frame");
        let third = reader.buffered().expect("decodes").expect("the last frame");
        assert_eq!(
            [&first, &second, &third],
            [&frames[0], &frames[1], &frames[2]]
        );
        assert!(
            data_is_inside(&first, &one_at),
            "the first frame was copied"
        );
        assert!(!data_is_inside(&second, &one_at) && !data_is_inside(&second, &two_at));
        assert!(
            data_is_inside(&third, &two_at),
            "the third frame was copied"
        );
    }

    #[test]
    fn a_frame_reader_that_waits_keeps_nothing_of_the_reads_before() {
        let mut wire = BytesMut::new();
        encode(&Frame::End { stream: 1 }, &mut wire);
        encode(&Frame::End { stream: 2 }, &mut wire);
        let cut = wire.len() + 3;
        encode(&Frame::End { stream: 3 }, &mut wire);
        let mut reader = FrameReader::new(MAX_CLIENT_FRAME, Bytes::new());
        // A read of two frames and the start of a third.
        let first = Bytes::from(wire[..cut].to_vec());
        reader.rest = first.clone();
        for stream in [1, 2] {
            let frame = reader.buffered().expect("decodes");
            assert_eq!(frame, Some(Frame::End { stream }));
        }
        assert_eq!(reader.buffered().expect("decodes"), None);
        assert!(
            first.is_unique(),
            "the reader waits holding the first read's buffer"
        );
        // Then one holding exactly what the third lacks.
        let second = Bytes::from(wire[cut..].to_vec());
        reader.rest = second.clone();
        let frame = reader.buffered().expect("decodes");
        assert_eq!(frame, Some(Frame::End { stream: 3 }));
        assert_eq!(reader.buffered().expect("decodes"), None);
        assert!(
            reader.partial.capacity() == 0 && second.is_unique(),
            "the reader waits holding a buffer"
        );
    }
}
