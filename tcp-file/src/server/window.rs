//! The newest messages of a log, kept in memory as a `Messages` frame carries them: a
//! reader copies a run of them into its frame with one copy, and the writer appends
//! without allocating per message or touching a shared counter.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol;
use crate::server::outgoing::LONG_MESSAGE;

/// Copied messages are stored in chunks that grow up to this many bytes (a longer message
/// gets a chunk of its own size).
const CHUNK_BYTES: usize = 64 * 1024;
/// What a chunk of copied messages that follows a scheduled one holds at first: it may
/// hold only one message before the next scheduled one.
const FIRST_CHUNK_BYTES: usize = 256;

/// Consecutive lines of a log, from line [`start`](Window::start), with where each starts on
/// disk. Memory is given back a whole chunk at a time.
#[derive(Debug)]
pub(crate) struct Window {
    chunks: VecDeque<Chunk>,
    /// The line of the first message held; the log's line count when none is.
    start: u64,
    /// How many messages are held.
    len: u64,
    /// The memory the chunks hold, what eviction keeps under its limit.
    held: usize,
    /// The length of the line ending on disk, to tell where each line starts there.
    ending_len: u64,
}

#[derive(Debug)]
struct Chunk {
    first_line: u64,
    /// Where the chunk's first line starts on disk.
    first_offset: u64,
    store: Store,
}

#[derive(Debug)]
enum Store {
    /// Copied messages, each after its 4-byte big-endian length; message `k`'s length is
    /// at `starts[k]`.
    Framed { data: Vec<u8>, starts: Vec<u32> },
    /// One message handed over by `schedule_message`, kept as it is (not copied).
    Given(Bytes),
}

impl Chunk {
    fn len(&self) -> u64 {
        match &self.store {
            Store::Framed { starts, .. } => starts.len() as u64,
            Store::Given(_) => 1,
        }
    }

    fn end_line(&self) -> u64 {
        self.first_line + self.len()
    }

    /// The memory the chunk holds: its buffers (a given message counts its length) and
    /// itself, so that even empty messages count.
    fn held(&self) -> usize {
        std::mem::size_of::<Chunk>()
            + match &self.store {
                Store::Framed { data, starts } => data.capacity() + 4 * starts.capacity(),
                Store::Given(message) => message.len(),
            }
    }

    /// Where the chunk's message `k` starts on disk: on disk, each message's 4-byte length
    /// is replaced by the line ending after it.
    fn offset(&self, k: usize, ending_len: u64) -> u64 {
        match &self.store {
            Store::Framed { starts, .. } => {
                self.first_offset + u64::from(starts[k]) + k as u64 * ending_len - 4 * k as u64
            }
            Store::Given(_) => self.first_offset,
        }
    }
}

impl Window {
    /// An empty window whose next line is `start`.
    pub(crate) fn new(start: u64, ending_len: usize) -> Self {
        Window {
            chunks: VecDeque::new(),
            start,
            len: 0,
            held: 0,
            ending_len: ending_len as u64,
        }
    }

    /// The line of the first message held.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// How many messages are held.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends a copy of the next line's message, which starts at byte `offset` on disk. A
    /// long message is kept alone, so that readers share it.
    pub(crate) fn push_copy(&mut self, message: &[u8], offset: u64) {
        if message.len() >= LONG_MESSAGE {
            return self.push_given(Bytes::copy_from_slice(message), offset);
        }
        let need = 4 + message.len();
        let fits = matches!(
            self.chunks.back(),
            Some(Chunk { store: Store::Framed { data, .. }, .. })
                if data.len() + need <= CHUNK_BYTES
        );
        if !fits {
            // After a full chunk, a whole one at once; after a scheduled message (or none),
            // a small one that grows as copies follow.
            let after_full = matches!(
                self.chunks.back(),
                Some(Chunk {
                    store: Store::Framed { .. },
                    ..
                })
            );
            let capacity = if after_full {
                CHUNK_BYTES
            } else {
                FIRST_CHUNK_BYTES
            };
            let chunk = Chunk {
                first_line: self.start + self.len,
                first_offset: offset,
                store: Store::Framed {
                    data: Vec::with_capacity(need.max(capacity)),
                    starts: Vec::with_capacity(capacity / 128),
                },
            };
            self.held += chunk.held();
            self.chunks.push_back(chunk);
        }
        if let Some(Chunk {
            store: Store::Framed { data, starts },
            ..
        }) = self.chunks.back_mut()
        {
            let before = data.capacity() + 4 * starts.capacity();
            // A chunk holds at most max(CHUNK_BYTES, one message) bytes: it fits in a u32.
            starts.push(data.len() as u32);
            data.put_u32(message.len() as u32);
            data.extend_from_slice(message);
            self.held += data.capacity() + 4 * starts.capacity() - before;
        }
        self.len += 1;
    }

    /// Appends the next line's message as it is; it starts at byte `offset` on disk.
    pub(crate) fn push_given(&mut self, message: Bytes, offset: u64) {
        let chunk = Chunk {
            first_line: self.start + self.len,
            first_offset: offset,
            store: Store::Given(message),
        };
        self.held += chunk.held();
        self.len += 1;
        self.chunks.push_back(chunk);
    }

    /// Drops the oldest chunks while they hold more than `limit` bytes of memory, but only
    /// chunks whose lines all come before `keep_from` (the lines not on disk yet).
    pub(crate) fn evict(&mut self, limit: usize, keep_from: u64) {
        while self.held > limit {
            match self.chunks.front() {
                Some(chunk) if chunk.end_line() <= keep_from => {
                    self.start += chunk.len();
                    self.len -= chunk.len();
                    self.held -= chunk.held();
                    self.chunks.pop_front();
                }
                _ => return,
            }
        }
    }

    /// Drops every message.
    pub(crate) fn clear(&mut self) {
        self.start += self.len;
        self.len = 0;
        self.held = 0;
        self.chunks.clear();
    }

    /// The chunk holding `line`, and the line's index in it.
    fn find(&self, line: u64) -> Option<(usize, usize)> {
        if line < self.start || line >= self.start + self.len {
            return None;
        }
        let i = self.chunks.partition_point(|c| c.end_line() <= line);
        let chunk = self.chunks.get(i)?;
        Some((i, (line - chunk.first_line) as usize))
    }

    /// Where line `line` starts on disk, if the window holds it.
    pub(crate) fn offset(&self, line: u64) -> Option<u64> {
        let (i, k) = self.find(line)?;
        Some(self.chunks[i].offset(k, self.ending_len))
    }

    /// Line `line`'s message if it is a long one, which readers share instead of copying it
    /// (see [`LONG_MESSAGE`]); [`encode`](Window::encode) stops before such a message.
    pub(crate) fn long_at(&self, line: u64) -> Option<&Bytes> {
        let (i, _) = self.find(line)?;
        match &self.chunks[i].store {
            Store::Given(message) if message.len() >= LONG_MESSAGE => Some(message),
            _ => None,
        }
    }

    /// Appends the messages from line `line` to `out` as a `Messages` frame's body: at
    /// most `max_messages`, and about `max_bytes` (the first always), up to the next long
    /// message. Returns how many.
    pub(crate) fn encode(
        &self,
        line: u64,
        out: &mut BytesMut,
        max_messages: u32,
        max_bytes: usize,
    ) -> u32 {
        let Some((mut i, mut k)) = self.find(line) else {
            return 0;
        };
        let mut sent = 0u32;
        let mut bytes = 0usize;
        while let Some(chunk) = self.chunks.get(i) {
            let most = (max_messages - sent) as usize;
            if most == 0 {
                break;
            }
            let taken = match &chunk.store {
                Store::Given(message) => {
                    if message.len() >= LONG_MESSAGE
                        || (sent > 0 && bytes + 4 + message.len() > max_bytes)
                    {
                        break;
                    }
                    protocol::push_message(out, message);
                    bytes += 4 + message.len();
                    1
                }
                Store::Framed { data, starts } => {
                    let from = starts[k] as usize;
                    let end_of = |j: usize| starts.get(j + 1).map_or(data.len(), |s| *s as usize);
                    let room = max_bytes.saturating_sub(bytes);
                    let last = (k + most).min(starts.len());
                    let mut end = k;
                    while end < last && (end_of(end) - from <= room || (sent == 0 && end == k)) {
                        end += 1;
                    }
                    if end == k {
                        break;
                    }
                    let to = end_of(end - 1);
                    out.extend_from_slice(&data[from..to]);
                    bytes += to - from;
                    end - k
                }
            };
            sent += taken as u32;
            if k + taken < chunk.len() as usize {
                // The budget ends inside this chunk.
                break;
            }
            i += 1;
            k = 0;
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Layout;

    fn messages(body: &[u8]) -> Vec<Vec<u8>> {
        let mut rest = body;
        let mut all = Vec::new();
        while let Some((message, used)) = protocol::split_next(rest, Layout::Framed) {
            all.push(message.to_vec());
            rest = &rest[used..];
        }
        all
    }

    /// A window of `n` messages `"m{i}"` from line 10, some copied and some given, with
    /// `\r\n` endings on disk from offset 1000; also returns each line's offset.
    fn window(n: u64) -> (Window, Vec<u64>) {
        let mut window = Window::new(10, 2);
        let mut offsets = Vec::new();
        let mut offset = 1000;
        for i in 0..n {
            let message = format!("m{i}").repeat(1 + (i as usize % 7) * 1000);
            offsets.push(offset);
            if i % 5 == 4 {
                window.push_given(Bytes::from(message.clone()), offset);
            } else {
                window.push_copy(message.as_bytes(), offset);
            }
            offset += message.len() as u64 + 2;
        }
        (window, offsets)
    }

    #[test]
    fn offsets_and_runs_match_what_was_pushed() {
        let (window, offsets) = window(200);
        assert_eq!((window.start(), window.len()), (10, 200));
        for (i, offset) in offsets.iter().enumerate() {
            assert_eq!(
                window.offset(10 + i as u64),
                Some(*offset),
                "line {}",
                10 + i
            );
        }
        assert_eq!(window.offset(9), None);
        assert_eq!(window.offset(210), None);
        for (from, max_messages, max_bytes) in [
            (10, 200, usize::MAX),
            (57, 3, usize::MAX),
            (11, 200, 1),
            (30, 200, 20_000),
        ] {
            let mut out = BytesMut::new();
            let n = window.encode(from, &mut out, max_messages, max_bytes);
            let got = messages(&out);
            assert_eq!(got.len(), n as usize);
            assert!(n >= 1 && n <= max_messages);
            assert!(n == 1 || out.len() <= max_bytes, "{} bytes", out.len());
            for (j, message) in got.iter().enumerate() {
                let i = (from - 10) as usize + j;
                let want = format!("m{i}").repeat(1 + (i % 7) * 1000);
                assert_eq!(message, want.as_bytes(), "line {}", from as usize + j);
            }
        }
    }

    #[test]
    fn long_messages_are_kept_alone_and_runs_stop_before_them() {
        let mut window = Window::new(0, 1);
        let long = vec![b'L'; LONG_MESSAGE];
        window.push_copy(b"a", 0);
        window.push_copy(&long, 2);
        window.push_copy(b"b", 2 + LONG_MESSAGE as u64 + 1);
        assert!(window.long_at(0).is_none());
        assert_eq!(window.long_at(1).map(|m| &m[..]), Some(&long[..]));
        assert_eq!(window.offset(2), Some(2 + LONG_MESSAGE as u64 + 1));
        let mut out = BytesMut::new();
        assert_eq!(
            window.encode(0, &mut out, 10, usize::MAX),
            1,
            "stops before it"
        );
        assert_eq!(messages(&out), [b"a".to_vec()]);
        let mut out = BytesMut::new();
        assert_eq!(window.encode(2, &mut out, 10, usize::MAX), 1);
        assert_eq!(messages(&out), [b"b".to_vec()]);
    }

    #[test]
    fn memory_held_counts_buffers_so_mixed_and_empty_messages_stay_bounded() {
        let mut window = Window::new(0, 1);
        for i in 0..100_000u64 {
            if i % 2 == 0 {
                window.push_copy(b"", i);
            } else {
                window.push_given(Bytes::new(), i);
            }
            window.evict(64 * 1024, i + 1);
        }
        let held: usize = window.chunks.iter().map(Chunk::held).sum();
        assert_eq!(held, window.held);
        assert!(held <= 64 * 1024 + 1024, "{held} bytes held");
        assert!(window.len() > 100, "only {} messages kept", window.len());
        assert_eq!(window.start() + window.len(), 100_000);
    }

    #[test]
    fn eviction_keeps_lines_not_on_disk_and_frees_whole_chunks() {
        let (mut window, offsets) = window(200);
        window.evict(0, 100);
        assert!(
            window.start() <= 100 && window.start() > 10,
            "start {}",
            window.start()
        );
        assert_eq!(window.start() + window.len(), 210);
        let first = window.start();
        assert_eq!(window.offset(first), Some(offsets[(first - 10) as usize]));
        window.clear();
        assert_eq!((window.start(), window.len()), (210, 0));
        let mut out = BytesMut::new();
        assert_eq!(window.encode(210, &mut out, 10, 100), 0);
        window.push_copy(b"next", 5000);
        assert_eq!(window.offset(210), Some(5000));
    }
}
