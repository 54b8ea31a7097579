//! The wire format: length-delimited frames (a 4-byte big-endian length, then the frame),
//! opened by a handshake that names the protocol version.
//!
//! Client to server: `Hello`, `Open`, `Cancel`, `Credit`. Server to client: `Welcome` or
//! `Refused`, then `Messages`, `End` and `StreamError` for each stream.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, LengthDelimitedCodec};

/// The protocol version this crate speaks.
pub const VERSION: u16 = 1;
/// What every `Hello` starts with.
pub(crate) const MAGIC: &[u8; 7] = b"TCPFILE";
/// The largest frame a client may send (requests are small).
#[cfg(feature = "server")]
pub(crate) const MAX_CLIENT_FRAME: usize = 64 * 1024;
/// The largest message a file accepts, and so the largest part of a server frame.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;
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
    /// Consecutive messages of one stream, the first with line `first_line`: `body` is
    /// each message's 4-byte length and bytes, checked when decoded; take them out with
    /// [`next_message`].
    Messages {
        stream: u32,
        first_line: u64,
        body: Bytes,
    },
    /// Consecutive messages as they are on disk: lines, each ending with `\n` (or `\r\n`
    /// when `crlf`), the first with line `first_line`. Catching up from disk sends these:
    /// the server copies the file's bytes once and never looks at each line.
    Lines {
        stream: u32,
        first_line: u64,
        crlf: bool,
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

/// The length-delimited codec with a frame limit.
pub(crate) fn codec(max_frame: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .big_endian()
        .length_field_length(4)
        .max_frame_length(max_frame)
        .new_codec()
}

/// Appends `frame`, with its length prefix, to `out`.
pub(crate) fn encode(frame: &Frame, out: &mut BytesMut) {
    match frame {
        Frame::Messages {
            stream,
            first_line,
            body,
        } => {
            let open = begin_messages(out, *stream, *first_line);
            out.extend_from_slice(body);
            return open.finish(out);
        }
        Frame::Lines {
            stream,
            first_line,
            crlf,
            data,
        } => {
            let open = begin_lines(out, *stream, *first_line, *crlf);
            out.extend_from_slice(data);
            return open.finish(out);
        }
        _ => {}
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
        Frame::Messages { .. } | Frame::Lines { .. } => unreachable!("encoded above"),
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

/// A frame being written in place into an output buffer: its length is filled in by
/// [`finish`](OpenFrame::finish).
#[derive(Debug)]
#[must_use = "a frame must be finished"]
pub(crate) struct OpenFrame {
    pub(crate) start: usize,
}

impl OpenFrame {
    fn begin(out: &mut BytesMut, kind: u8) -> Self {
        let start = out.len();
        out.put_u32(0);
        out.put_u8(kind);
        OpenFrame { start }
    }

    pub(crate) fn finish(self, out: &mut BytesMut) {
        let len = (out.len() - self.start - 4) as u32;
        out[self.start..self.start + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// Starts a `Messages` frame; add messages with [`push_message`].
pub(crate) fn begin_messages(out: &mut BytesMut, stream: u32, first_line: u64) -> OpenFrame {
    let open = OpenFrame::begin(out, MESSAGES);
    out.put_u32(stream);
    out.put_u64(first_line);
    open
}

#[cfg(feature = "server")]
pub(crate) fn push_message(out: &mut BytesMut, message: &[u8]) {
    out.put_u32(message.len() as u32);
    out.put_slice(message);
}

/// Starts a `Lines` frame; append whole lines after it.
pub(crate) fn begin_lines(
    out: &mut BytesMut,
    stream: u32,
    first_line: u64,
    crlf: bool,
) -> OpenFrame {
    let open = OpenFrame::begin(out, LINES);
    out.put_u32(stream);
    out.put_u64(first_line);
    out.put_u8(u8::from(crlf));
    open
}

/// Takes the next message out of a checked `Messages` body.
pub(crate) fn next_message(body: &mut Bytes) -> Option<Bytes> {
    if body.len() < 4 {
        return None;
    }
    let len = body.get_u32() as usize;
    Some(body.split_to(len.min(body.len())))
}

/// Takes the next line out of a `Lines` frame's data, without its line ending.
pub(crate) fn next_line(data: &mut Bytes, crlf: bool) -> Option<Bytes> {
    if data.is_empty() {
        return None;
    }
    let end = memchr::memchr(b'\n', data).unwrap_or(data.len());
    let mut line = data.split_to(end);
    if !data.is_empty() {
        data.advance(1);
    }
    if crlf && line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    Some(line)
}

/// Takes the next whole frame out of `buf`, if there is one.
///
/// # Errors
///
/// A frame longer than the codec's limit, or one that does not decode.
pub(crate) fn next_frame(
    codec: &mut LengthDelimitedCodec,
    buf: &mut BytesMut,
) -> Result<Option<Frame>, Malformed> {
    match codec.decode(buf) {
        Ok(Some(frame)) => decode(frame.freeze()).map(Some),
        Ok(None) => Ok(None),
        Err(_) => Err(Malformed("frame longer than the limit")),
    }
}

/// Why [`read_frame`] got no frame.
#[derive(Debug)]
pub(crate) enum ReadFrameError {
    /// A frame broke the limit or did not decode.
    Malformed(Malformed),
    /// The peer closed its side in the middle of a frame.
    Truncated,
    /// The flow failed.
    Flow(flow::Error),
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

/// Reads from `reader` until `buf` holds a whole frame, and takes it out; `Ok(None)` when
/// the peer closed its side between frames.
pub(crate) async fn read_frame<F: flow::Flow>(
    reader: &mut flow::ReadHalf<F>,
    codec: &mut LengthDelimitedCodec,
    buf: &mut BytesMut,
) -> Result<Option<Frame>, ReadFrameError> {
    loop {
        if let Some(frame) = next_frame(codec, buf).map_err(ReadFrameError::Malformed)? {
            return Ok(Some(frame));
        }
        match reader.read().await {
            Ok(flow::Read::Data(bytes)) => buf.extend_from_slice(&bytes),
            Ok(flow::Read::Eof) if buf.is_empty() => return Ok(None),
            Ok(flow::Read::Eof) => return Err(ReadFrameError::Truncated),
            Err(e) => return Err(ReadFrameError::Flow(e)),
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
            need(&body, 12)?;
            let stream = body.get_u32();
            let first_line = body.get_u64();
            // Check the lengths now, so that taking the messages out later cannot fail.
            let mut rest = &body[..];
            while !rest.is_empty() {
                if rest.len() < 4 {
                    return Err(Malformed("frame too short"));
                }
                let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                if rest.len() - 4 < len {
                    return Err(Malformed("frame too short"));
                }
                rest = &rest[4 + len..];
            }
            return Ok(Frame::Messages {
                stream,
                first_line,
                body,
            });
        }
        LINES => {
            need(&body, 13)?;
            let stream = body.get_u32();
            let first_line = body.get_u64();
            let crlf = match body.get_u8() {
                0 => false,
                1 => true,
                _ => return Err(Malformed("unknown line ending")),
            };
            return Ok(Frame::Lines {
                stream,
                first_line,
                crlf,
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
                any::<u64>(),
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..50), 0..10)
            )
                .prop_map(|(stream, first_line, messages)| {
                    let mut body = BytesMut::new();
                    for message in &messages {
                        push_message(&mut body, message);
                    }
                    Frame::Messages {
                        stream,
                        first_line,
                        body: body.freeze(),
                    }
                }),
            (
                any::<u32>(),
                any::<u64>(),
                any::<bool>(),
                prop::collection::vec(any::<u8>(), 0..200)
            )
                .prop_map(|(stream, first_line, crlf, data)| Frame::Lines {
                    stream,
                    first_line,
                    crlf,
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
            let mut buf = BytesMut::from(&wire[..split]);
            let rest = wire.split_off(split);
            let mut codec = codec(MAX_SERVER_FRAME);
            let mut decoded = Vec::new();
            while let Some(f) = next_frame(&mut codec, &mut buf).expect("decodes") {
                decoded.push(f);
            }
            buf.extend_from_slice(&rest);
            while let Some(f) = next_frame(&mut codec, &mut buf).expect("decodes") {
                decoded.push(f);
            }
            prop_assert_eq!(decoded, frames);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut codec = codec(MAX_CLIENT_FRAME);
            let mut buf = BytesMut::from(&bytes[..]);
            for _ in 0..bytes.len() + 1 {
                match next_frame(&mut codec, &mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            let _ = decode(Bytes::from(bytes));
        }
    }
}
