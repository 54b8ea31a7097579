//! What the fuzz targets in `fuzz/` reach inside the crate: the frame codec and the text
//! request parser, behind thin wrappers so that the crate's own types stay crate-private.
//! Compiled only with `--cfg fuzzing` (as `cargo fuzz` builds); not part of the API.

use bytes::{Bytes, BytesMut};

use crate::protocol;

/// The largest frame a server reads from a client.
pub const MAX_CLIENT_FRAME: usize = protocol::MAX_CLIENT_FRAME;
/// The largest frame a client reads from a server.
pub const MAX_SERVER_FRAME: usize = protocol::MAX_SERVER_FRAME;

/// One frame of the wire protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame(protocol::Frame);

/// The parts a fuzz target builds a [`Frame`] from: `kind` picks the variant (modulo the
/// number of variants), and each variant takes the fields it has, fitted to make a frame
/// that decodes (a batch's count is its messages', its lines all numbers).
#[derive(Debug, Clone, Default)]
pub struct FrameParts {
    /// Which variant: hello, open, cancel, credit, welcome, refused, framed batch, lines
    /// batch, end, stream error.
    pub kind: u8,
    /// The stream, where the variant has one.
    pub stream: u32,
    /// The version (its low 16 bits), the first line, or an open's start line.
    pub number: u64,
    /// A credit.
    pub count: u32,
    /// Tail (open), `\r\n` endings (lines batch), file not found (stream error).
    pub flag: bool,
    /// A name, a reason, or an error's text.
    pub text: String,
    /// A framed batch's messages, or a lines batch's bytes (all of them joined).
    pub messages: Vec<Vec<u8>>,
}

impl Frame {
    /// The frame the parts describe.
    pub fn from_parts(parts: FrameParts) -> Frame {
        use protocol::{Frame as F, Layout, Start, StreamFailure};
        let FrameParts {
            kind,
            stream,
            number,
            count,
            flag,
            text,
            messages,
        } = parts;
        let version = number as u16;
        Frame(match kind % 10 {
            0 => F::Hello { version },
            1 => F::Open {
                stream,
                start: if flag {
                    Start::Tail
                } else {
                    Start::Line(number)
                },
                credit: count,
                name: text,
            },
            2 => F::Cancel { stream },
            3 => F::Credit {
                stream,
                messages: count,
            },
            4 => F::Welcome { version },
            5 => F::Refused { reason: text },
            6 => {
                let mut data = BytesMut::new();
                for message in &messages {
                    protocol::push_message(&mut data, message);
                }
                F::Batch {
                    stream,
                    first_line: number.min(u64::MAX - messages.len() as u64),
                    count: messages.len() as u32,
                    layout: Layout::Framed,
                    data: data.freeze(),
                }
            }
            7 => {
                let data = messages.concat();
                let count = protocol::count_lines(&data) as u32;
                F::Batch {
                    stream,
                    first_line: number.min(u64::MAX - u64::from(count)),
                    count,
                    layout: Layout::Lines { crlf: flag },
                    data: Bytes::from(data),
                }
            }
            8 => F::End { stream },
            _ => F::StreamError {
                stream,
                failure: if flag {
                    StreamFailure::FileNotFound(text)
                } else {
                    StreamFailure::Unknown(text)
                },
            },
        })
    }

    /// Whether this is a server's `Welcome` to this crate's protocol version.
    pub fn is_welcome(&self) -> bool {
        self.0
            == protocol::Frame::Welcome {
                version: protocol::VERSION,
            }
    }

    /// Whether this is a server's refusal of a connection.
    pub fn is_refusal(&self) -> bool {
        matches!(self.0, protocol::Frame::Refused { .. })
    }

    /// Appends the frame, with its length prefix, to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        protocol::encode(&self.0, out);
    }

    /// A batch's messages as the client takes them out with
    /// [`split_next`](protocol::split_next) (no more than its count), each with its line;
    /// `None` for a frame that is not a batch.
    pub fn messages(&self) -> Option<Vec<(u64, &[u8])>> {
        let protocol::Frame::Batch {
            first_line,
            count,
            layout,
            data,
            ..
        } = &self.0
        else {
            return None;
        };
        let mut out = Vec::new();
        let mut rest = &data[..];
        while out.len() < *count as usize {
            let Some((message, used)) = protocol::split_next(rest, *layout) else {
                break;
            };
            assert!(
                used > 0 && used <= rest.len(),
                "split_next took {used} bytes"
            );
            out.push((first_line + out.len() as u64, message));
            rest = &rest[used..];
        }
        Some(out)
    }
}

/// Decodes one frame body (without its length prefix); the error is the reason.
pub fn decode(body: Bytes) -> Result<Frame, String> {
    protocol::decode(body).map(Frame).map_err(|e| e.to_string())
}

/// The frame reader of both sides, fed by hand instead of by a flow.
#[derive(Debug)]
pub struct FrameReader(protocol::FrameReader);

impl FrameReader {
    /// A reader of frames of up to `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameReader(protocol::FrameReader::new(max_frame, Bytes::new()))
    }

    /// Hands the reader what one read returned. Take every whole frame out with
    /// [`next_frame`](FrameReader::next_frame) before the next read, as the reader's own loop does.
    pub fn push(&mut self, read: Bytes) {
        self.0.push(read);
    }

    /// The next whole frame among the bytes pushed so far; the error is the reason.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        match self.0.buffered() {
            Ok(frame) => Ok(frame.map(Frame)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// How many bytes the reader holds, of a partial frame or of frames not taken yet.
    pub fn held(&self) -> usize {
        self.0.held()
    }
}

/// Parses a text-mode request line (without its `\n`): the file name and where to start
/// (`None` for a tail); the error is the reason sent to the client.
pub fn parse_text_request(line: &[u8]) -> Result<(String, Option<u64>), String> {
    crate::server::text::parse(line).map(|request| (request.name, request.start))
}
