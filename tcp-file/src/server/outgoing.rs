//! What a connection's sender writes next: frames encoded into one buffer, and frames
//! whose messages are bytes shared with the log (the window's lines, a long line read from
//! disk), never copied per reader. Twenty stalled readers of a 16 MiB message hold that
//! message once. Frames of lines behind the window may instead be ranges of the log's
//! file, sent from the page cache by connections that can (`sendfile(2)`), never read
//! into this process.

use std::fs::File;
use std::io;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::{self, Layout};

/// A message at least this long goes in a frame of its own, shared, not copied.
pub(crate) const LONG_MESSAGE: usize = 64 * 1024;

/// Frames on their way to one connection.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// What comes before `buf`.
    pieces: Vec<Piece>,
    /// Frames being encoded, after the pieces.
    buf: BytesMut,
    /// The bytes in `pieces`.
    held: usize,
    /// Which lines the connection sends as ranges of their file.
    files: FileLines,
}

/// Which lines a connection sends as ranges of their log's file ([`Piece::File`]),
/// straight from the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileLines {
    /// None: its flow cannot send files.
    None,
    /// Those of files whose lines end with `\n`: a text connection sends lines as they are
    /// on disk only then (it rewrites `\r\n` endings).
    NewlineEnded,
    /// All: a binary connection sends a frame's lines as they are on disk.
    All,
}

/// A range of a log's file, in the page cache when it was planned.
#[derive(Debug, Clone)]
pub(crate) struct FileRange {
    pub(crate) file: Arc<File>,
    pub(crate) offset: u64,
    pub(crate) len: usize,
}

/// What a connection writes, in order.
#[derive(Debug)]
pub(crate) enum Write {
    Bytes(Bytes),
    File(FileRange),
}

/// A run of what [`Outgoing`] holds.
#[derive(Debug)]
pub(crate) enum Piece {
    /// Whole frames.
    Frames(Bytes),
    /// One frame whose messages are shared: `head` is the frame up to them, `body` the
    /// rest, as `layout` lays it out (one message when `Framed`; whole lines when `Lines`,
    /// the last of which may have no line ending).
    Shared {
        head: Bytes,
        layout: Layout,
        body: Bytes,
    },
    /// One frame of whole lines whose bytes are a range of the log's file: `head` is the
    /// frame up to them.
    File {
        head: Bytes,
        layout: Layout,
        body: FileRange,
    },
}

impl Outgoing {
    /// An empty batch whose buffer has room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Outgoing {
            pieces: Vec::new(),
            buf: BytesMut::with_capacity(capacity),
            held: 0,
            files: FileLines::None,
        }
    }

    /// Lets the batch hold [`Piece::File`]s of the lines `files` says.
    pub(crate) fn taking_files(mut self, files: FileLines) -> Self {
        self.files = files;
        self
    }

    /// Whether [`push_file`](Outgoing::push_file) may be called for the lines of a file
    /// whose lines end with `\r\n` (`crlf`) or `\n`.
    pub(crate) fn takes_files(&self, crlf: bool) -> bool {
        match self.files {
            FileLines::None => false,
            FileLines::NewlineEnded => !crlf,
            FileLines::All => true,
        }
    }

    /// The buffer frames are encoded into, after what is held already.
    pub(crate) fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// How many bytes will be written.
    pub(crate) fn len(&self) -> usize {
        self.held + self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a frame of `stream` holding `count` messages from line `line`, whose bytes
    /// are `body` as `layout` lays them out (one message when `Framed`), shared.
    pub(crate) fn push_shared(
        &mut self,
        stream: u32,
        line: u64,
        count: u32,
        layout: Layout,
        body: Bytes,
    ) {
        self.seal();
        let frame = protocol::begin_batch(&mut self.buf, stream, line, layout);
        if layout == Layout::Framed {
            debug_assert_eq!(count, 1, "a shared framed body is one message");
            // A message is at most `MAX_MESSAGE` bytes: its length fits.
            self.buf.put_u32(body.len() as u32);
        }
        frame.finish_before(&mut self.buf, count, body.len());
        let head = self.buf.split().freeze();
        self.held += head.len() + body.len();
        self.pieces.push(Piece::Shared { head, layout, body });
    }

    /// Appends a frame of `stream` holding the `count` whole lines from line `line` that
    /// are `body` of the log's file, as `layout` lays them out. Only for a batch that
    /// [takes them](Outgoing::takes_files).
    pub(crate) fn push_file(
        &mut self,
        stream: u32,
        line: u64,
        count: u32,
        layout: Layout,
        body: FileRange,
    ) {
        debug_assert!(
            self.takes_files(layout == Layout::Lines { crlf: true }),
            "a file range for a connection that cannot send it"
        );
        self.seal();
        let frame = protocol::begin_batch(&mut self.buf, stream, line, layout);
        frame.finish_before(&mut self.buf, count, body.len);
        let head = self.buf.split().freeze();
        self.held += head.len() + body.len;
        self.pieces.push(Piece::File { head, layout, body });
    }

    /// Appends what another batch held.
    pub(crate) fn extend(&mut self, pieces: Vec<Piece>) {
        self.seal();
        for piece in pieces {
            self.held += match &piece {
                Piece::Frames(frames) => frames.len(),
                Piece::Shared { head, body, .. } => head.len() + body.len(),
                Piece::File { head, body, .. } => head.len() + body.len,
            };
            self.pieces.push(piece);
        }
    }

    /// Takes everything out, in order; the buffer keeps its spare room.
    pub(crate) fn take(&mut self) -> Vec<Piece> {
        self.seal();
        self.held = 0;
        std::mem::take(&mut self.pieces)
    }

    /// Moves the frames encoded so far into a piece of their own.
    fn seal(&mut self) {
        if !self.buf.is_empty() {
            let frames = self.buf.split().freeze();
            self.held += frames.len();
            self.pieces.push(Piece::Frames(frames));
        }
    }
}

impl Piece {
    /// What to write, in order, for a binary client.
    pub(crate) fn into_writes(pieces: Vec<Piece>) -> Vec<Write> {
        let mut writes = Vec::with_capacity(pieces.len() + 1);
        for piece in pieces {
            match piece {
                Piece::Frames(frames) => writes.push(Write::Bytes(frames)),
                Piece::Shared { head, body, .. } => {
                    writes.extend([Write::Bytes(head), Write::Bytes(body)]);
                }
                Piece::File { head, body, .. } => {
                    writes.extend([Write::Bytes(head), Write::File(body)]);
                }
            }
        }
        writes
    }
}

impl FileRange {
    /// Reads the range (`pread(2)`; it may wait for the disk), for a writer that cannot
    /// send files.
    ///
    /// # Errors
    ///
    /// The read fails, or the file is shorter than the range (`UnexpectedEof`).
    pub(crate) fn read(&self) -> io::Result<Bytes> {
        let mut bytes = vec![0; self.len];
        std::os::unix::fs::FileExt::read_exact_at(&*self.file, &mut bytes, self.offset)?;
        Ok(bytes.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Frame, decode};

    /// The frames a binary client would read from what `outgoing` holds.
    fn frames(outgoing: &mut Outgoing) -> Vec<Frame> {
        let mut wire = BytesMut::new();
        for write in Piece::into_writes(outgoing.take()) {
            match write {
                Write::Bytes(bytes) => wire.extend_from_slice(&bytes),
                Write::File(range) => wire.extend_from_slice(&range.read().expect("read")),
            }
        }
        let mut frames = Vec::new();
        while !wire.is_empty() {
            let len = u32::from_be_bytes(wire[..4].try_into().expect("4 bytes")) as usize;
            let mut frame = wire.split_to(4 + len);
            let _ = frame.split_to(4);
            frames.push(decode(frame.freeze()).expect("a frame"));
        }
        frames
    }

    #[test]
    fn long_messages_share_their_bytes_between_whole_frames() {
        let message = Bytes::from(vec![b'x'; LONG_MESSAGE]);
        let line = Bytes::from(format!("{}\r\n", "y".repeat(LONG_MESSAGE)));
        let mut outgoing = Outgoing::with_capacity(1024);
        protocol::encode(&Frame::End { stream: 1 }, outgoing.buf());
        outgoing.push_shared(2, 7, 1, Layout::Framed, message.clone());
        outgoing.push_shared(3, 9, 1, Layout::Lines { crlf: true }, line.clone());
        protocol::encode(&Frame::End { stream: 4 }, outgoing.buf());
        let total = outgoing.len();
        let pieces = outgoing.take();
        let shared = pieces.iter().filter_map(|piece| match piece {
            Piece::Shared { body, .. } => Some(body.as_ptr()),
            Piece::Frames(_) | Piece::File { .. } => None,
        });
        assert!(shared.eq([message.as_ptr(), line.as_ptr()]), "not copied");
        assert_eq!(
            Piece::into_writes(pieces)
                .iter()
                .map(|write| match write {
                    Write::Bytes(bytes) => bytes.len(),
                    Write::File(range) => range.len,
                })
                .sum::<usize>(),
            total
        );
        assert!(outgoing.is_empty());

        protocol::encode(&Frame::End { stream: 1 }, outgoing.buf());
        outgoing.push_shared(2, 7, 1, Layout::Framed, message.clone());
        let mut framed = BytesMut::new();
        protocol::push_message(&mut framed, &message);
        assert_eq!(
            frames(&mut outgoing),
            [
                Frame::End { stream: 1 },
                Frame::Batch {
                    stream: 2,
                    first_line: 7,
                    count: 1,
                    layout: Layout::Framed,
                    data: framed.freeze(),
                },
            ]
        );
        outgoing.push_shared(3, 9, 1, Layout::Lines { crlf: true }, line.clone());
        assert_eq!(
            frames(&mut outgoing),
            [Frame::Batch {
                stream: 3,
                first_line: 9,
                count: 1,
                layout: Layout::Lines { crlf: true },
                data: line,
            }]
        );
    }

    #[test]
    fn file_ranges_are_frames_of_the_file_s_lines() {
        let mut file = tempfile::tempfile().expect("file");
        std::io::Write::write_all(&mut file, b"zero\none\ntwo\nthree\n").expect("write");
        let file = Arc::new(file);
        let layout = Layout::Lines { crlf: false };
        let mut outgoing = Outgoing::with_capacity(64).taking_files(FileLines::All);
        assert!(outgoing.takes_files(false) && outgoing.takes_files(true));
        let text = Outgoing::with_capacity(0).taking_files(FileLines::NewlineEnded);
        assert!(
            text.takes_files(false) && !text.takes_files(true),
            "text rewrites \r\n"
        );
        assert!(!Outgoing::with_capacity(0).takes_files(false));
        protocol::encode(&Frame::End { stream: 1 }, outgoing.buf());
        let range = FileRange {
            file,
            offset: 5,
            len: 8,
        };
        outgoing.push_file(2, 1, 2, layout, range);
        protocol::encode(&Frame::End { stream: 3 }, outgoing.buf());
        let total = outgoing.len();
        assert_eq!(
            frames(&mut outgoing),
            [
                Frame::End { stream: 1 },
                Frame::Batch {
                    stream: 2,
                    first_line: 1,
                    count: 2,
                    layout,
                    data: Bytes::from_static(b"one\ntwo\n"),
                },
                Frame::End { stream: 3 },
            ]
        );
        assert!(total > 8 && outgoing.is_empty());
    }
}
