//! The newest lines of a log, kept in memory as they are on disk: the writer copies each
//! message once, into the run of lines the disk writes next; the disk writes those bytes,
//! and readers send them in `Lines` frames that share them (`Log::pull_window`).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::server::outgoing::LONG_MESSAGE;

/// Copied lines go into buffers that grow up to this many bytes (a longer line gets a
/// buffer of its own size).
const CHUNK_BYTES: usize = 64 * 1024;
/// The first buffer holds this many bytes, and each next one twice as many: a file written
/// rarely holds little.
const FIRST_CHUNK_BYTES: usize = 256;
/// What the window counts for one line's offset.
const OFFSET_BYTES: usize = std::mem::size_of::<u64>();
/// What the window counts for one run besides its bytes.
const RUN_BYTES: usize = std::mem::size_of::<Run>();

/// Consecutive lines of a log, from line [`start`](Window::start), with where each starts on
/// disk. Lines are sealed into runs when the disk takes them; memory is given back a whole
/// run at a time.
#[derive(Debug)]
pub(crate) struct Window {
    /// Sealed runs, oldest first; the last `unwritten` are not handed to the disk yet.
    runs: VecDeque<Run>,
    unwritten: usize,
    /// Lines copied after the runs, not sealed yet, as they go on disk.
    tail: BytesMut,
    /// How many lines `tail` holds.
    tail_lines: u64,
    /// Where each line held starts on disk, from line `start`.
    offsets: VecDeque<u64>,
    /// The line of the first line held; the log's line count when none is.
    start: u64,
    /// The capacity of the tail's next buffer.
    next_chunk: usize,
    /// The memory counted against the window's limit: the lines' bytes, their offsets and
    /// the runs.
    held: usize,
    /// The file's line ending, written after each line.
    ending: &'static [u8],
}

#[derive(Debug)]
struct Run {
    first_line: u64,
    lines: u64,
    bytes: Bytes,
    /// One message handed over by `schedule_message`, kept as it is (not copied): its bytes
    /// hold no line ending, which the disk writes after them.
    given: bool,
}

impl Run {
    fn end_line(&self) -> u64 {
        self.first_line + self.lines
    }

    fn held(&self) -> usize {
        RUN_BYTES + self.bytes.len() + self.lines as usize * OFFSET_BYTES
    }
}

/// A run of consecutive lines that readers share: [`Window::read`].
#[derive(Debug)]
pub(crate) struct Shared {
    /// The lines as on disk; or one message without its line ending, when `given`.
    pub(crate) bytes: Bytes,
    pub(crate) lines: u32,
    pub(crate) given: bool,
}

impl Window {
    /// An empty window whose next line is `start`, for a file whose lines end with `ending`.
    pub(crate) fn new(start: u64, ending: &'static [u8]) -> Self {
        Window {
            runs: VecDeque::new(),
            unwritten: 0,
            tail: BytesMut::new(),
            tail_lines: 0,
            offsets: VecDeque::new(),
            start,
            next_chunk: FIRST_CHUNK_BYTES,
            held: 0,
            ending,
        }
    }

    /// The line of the first line held.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// How many lines are held.
    pub(crate) fn len(&self) -> u64 {
        self.offsets.len() as u64
    }

    /// Appends a copy of the next line's message, which starts at byte `offset` on disk.
    pub(crate) fn push_copy(&mut self, message: &[u8], offset: u64) {
        let need = message.len() + self.ending.len();
        if self.tail.capacity() - self.tail.len() < need {
            self.seal();
            self.tail = BytesMut::with_capacity(self.next_chunk.max(need));
            self.next_chunk = (self.next_chunk * 2).min(CHUNK_BYTES);
        }
        self.tail.extend_from_slice(message);
        self.tail.extend_from_slice(self.ending);
        self.tail_lines += 1;
        self.offsets.push_back(offset);
        self.held += need + OFFSET_BYTES;
    }

    /// Appends the next line's message, which starts at byte `offset` on disk: a long one
    /// as it is, a short one copied.
    pub(crate) fn push_given(&mut self, message: Bytes, offset: u64) {
        if message.len() < LONG_MESSAGE {
            return self.push_copy(&message, offset);
        }
        self.seal();
        let run = Run {
            first_line: self.start + self.len(),
            lines: 1,
            bytes: message,
            given: true,
        };
        self.held += run.held();
        self.runs.push_back(run);
        self.unwritten += 1;
        self.offsets.push_back(offset);
    }

    /// Makes the tail's lines a run of their own.
    fn seal(&mut self) {
        if self.tail_lines == 0 {
            return;
        }
        let run = Run {
            first_line: self.start + self.len() - self.tail_lines,
            lines: self.tail_lines,
            bytes: self.tail.split().freeze(),
            given: false,
        };
        self.held += RUN_BYTES;
        self.runs.push_back(run);
        self.unwritten += 1;
        self.tail_lines = 0;
    }

    /// Hands every line not handed over yet to the disk: appends their bytes to `batch`,
    /// in order, shared with the window.
    pub(crate) fn take_unwritten(&mut self, batch: &mut Vec<Bytes>) {
        self.seal();
        for run in self.runs.range(self.runs.len() - self.unwritten..) {
            batch.push(run.bytes.clone());
            if run.given {
                batch.push(Bytes::from_static(self.ending));
            }
        }
        self.unwritten = 0;
    }

    /// Drops the oldest runs while the window holds more than `limit` bytes of memory, but
    /// only runs whose lines all come before `keep_from` (the lines not on disk yet).
    pub(crate) fn evict(&mut self, limit: usize, keep_from: u64) {
        while self.held > limit && self.runs.len() > self.unwritten {
            match self.runs.front() {
                Some(run) if run.end_line() <= keep_from => {
                    self.start += run.lines;
                    self.held -= run.held();
                    self.offsets.drain(..run.lines as usize);
                    self.runs.pop_front();
                }
                _ => return,
            }
        }
    }

    /// Drops every line.
    pub(crate) fn clear(&mut self) {
        self.start += self.len();
        self.runs.clear();
        self.unwritten = 0;
        self.tail = BytesMut::new();
        self.tail_lines = 0;
        self.offsets.clear();
        self.held = 0;
    }

    /// Where line `line` starts on disk, if the window holds it.
    pub(crate) fn offset(&self, line: u64) -> Option<u64> {
        let k = line.checked_sub(self.start)?;
        self.offsets.get(usize::try_from(k).ok()?).copied()
    }

    /// Lines from `line`, before line `until`, shared: as many as are in one run and take
    /// at most `max_bytes` (the first always). `None` unless `line` was handed to the disk.
    pub(crate) fn read(&self, line: u64, until: u64, max_bytes: usize) -> Option<Shared> {
        let i = self.runs.partition_point(|run| run.end_line() <= line);
        if i >= self.runs.len() - self.unwritten || line >= until {
            return None;
        }
        let run = &self.runs[i];
        let start_at = self.offset(line)?;
        if run.given {
            return Some(Shared {
                bytes: run.bytes.clone(),
                lines: 1,
                given: true,
            });
        }
        let run_at = self.offset(run.first_line)?;
        let end_at = |end: u64| match self.offset(end) {
            Some(at) if end < run.end_line() => at,
            _ => run_at + run.bytes.len() as u64,
        };
        let most = run.end_line().min(until);
        let end = if end_at(most) - start_at <= max_bytes as u64 {
            most
        } else {
            // The lines before the first one that starts past the budget end within it.
            let limit = start_at.saturating_add(max_bytes as u64);
            let past = self.start + self.offsets.partition_point(|&at| at <= limit) as u64;
            past.saturating_sub(1).clamp(line + 1, most)
        };
        let to = (end_at(end) - run_at) as usize;
        Some(Shared {
            bytes: run.bytes.slice((start_at - run_at) as usize..to),
            // At most `until - line`, which the caller keeps within a frame's count.
            lines: (end - line) as u32,
            given: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages `"m{i}"` repeated, of many sizes, some of them long.
    fn message(i: u64) -> String {
        let repeat = if i % 9 == 8 {
            20_000
        } else {
            1 + (i as usize % 7) * 100
        };
        format!("m{i}").repeat(repeat)
    }

    /// A window of `n` messages from line 10, some copied and some given, with `\r\n`
    /// endings on disk from offset 1000, handed to the disk every `take_every` lines;
    /// also returns each line's offset and what the disk was handed.
    fn window(n: u64, take_every: u64) -> (Window, Vec<u64>, Vec<u8>) {
        let mut window = Window::new(10, b"\r\n");
        let mut offsets = Vec::new();
        let mut disk = Vec::new();
        let mut offset = 1000;
        for i in 0..n {
            let message = message(i);
            offsets.push(offset);
            if i % 5 == 4 {
                window.push_given(Bytes::from(message.clone()), offset);
            } else {
                window.push_copy(message.as_bytes(), offset);
            }
            offset += message.len() as u64 + 2;
            if i % take_every == take_every - 1 {
                let mut batch = Vec::new();
                window.take_unwritten(&mut batch);
                batch.iter().for_each(|bytes| disk.extend_from_slice(bytes));
            }
        }
        (window, offsets, disk)
    }

    /// The messages of what [`Window::read`] shared.
    fn messages(shared: &Shared) -> Vec<Vec<u8>> {
        if shared.given {
            return vec![shared.bytes.to_vec()];
        }
        let lines: Vec<Vec<u8>> = shared
            .bytes
            .split_inclusive(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r\n").expect("a line ending").to_vec())
            .collect();
        assert_eq!(lines.len(), shared.lines as usize);
        lines
    }

    #[test]
    fn the_disk_gets_every_line_once_in_order() {
        let (mut window, _, mut disk) = window(200, 7);
        let mut batch = Vec::new();
        window.take_unwritten(&mut batch);
        batch.iter().for_each(|bytes| disk.extend_from_slice(bytes));
        let want: Vec<u8> = (0..200)
            .flat_map(|i| (message(i) + "\r\n").into_bytes())
            .collect();
        assert!(disk == want, "the disk's bytes differ");
        batch.clear();
        window.take_unwritten(&mut batch);
        assert!(batch.is_empty(), "nothing twice");
    }

    #[test]
    fn offsets_and_runs_match_what_was_pushed() {
        let (mut window, offsets, _) = window(200, 3);
        let mut batch = Vec::new();
        window.take_unwritten(&mut batch);
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
        for (from, until, max_bytes) in [
            (10, 210, usize::MAX),
            (57, 60, usize::MAX),
            (11, 210, 1),
            (30, 210, 20_000),
            (208, 210, 0),
        ] {
            let shared = window
                .read(from, until, max_bytes)
                .expect("handed to the disk");
            let got = messages(&shared);
            assert!(!got.is_empty() && from + got.len() as u64 <= until);
            assert!(
                got.len() == 1 || shared.bytes.len() <= max_bytes,
                "{} bytes",
                shared.bytes.len()
            );
            for (j, message) in got.iter().enumerate() {
                let line = from + j as u64;
                assert_eq!(message, self::message(line - 10).as_bytes(), "line {line}");
            }
        }
        assert!(window.read(210, 211, 100).is_none());
        assert!(window.read(12, 12, 100).is_none());
    }

    #[test]
    fn lines_not_handed_to_the_disk_are_not_read() {
        let mut window = Window::new(0, b"\n");
        window.push_copy(b"a", 0);
        assert!(window.read(0, 1, 100).is_none());
        let mut batch = Vec::new();
        window.take_unwritten(&mut batch);
        window.push_copy(b"b", 2);
        let shared = window.read(0, 2, 100).expect("line 0 is on disk");
        assert_eq!((&shared.bytes[..], shared.lines), (&b"a\n"[..], 1));
        assert!(window.read(1, 2, 100).is_none());
    }

    #[test]
    fn long_given_messages_are_shared_not_copied() {
        let mut window = Window::new(0, b"\n");
        let long = Bytes::from(vec![b'L'; LONG_MESSAGE]);
        window.push_copy(b"a", 0);
        window.push_given(long.clone(), 2);
        window.push_copy(b"b", 2 + LONG_MESSAGE as u64 + 1);
        let mut batch = Vec::new();
        window.take_unwritten(&mut batch);
        assert_eq!(batch.len(), 4, "a, the message, its line ending, b");
        assert_eq!(batch[1].as_ptr(), long.as_ptr());
        let shared = window.read(0, 3, usize::MAX).expect("on disk");
        assert_eq!(shared.lines, 1, "a run ends before it");
        let shared = window.read(1, 3, 10).expect("on disk");
        assert!(shared.given && shared.bytes.as_ptr() == long.as_ptr());
        assert_eq!(window.offset(2), Some(2 + LONG_MESSAGE as u64 + 1));
    }

    #[test]
    fn memory_held_counts_offsets_and_runs_so_empty_messages_stay_bounded() {
        let mut window = Window::new(0, b"\n");
        let mut batch = Vec::new();
        for i in 0..100_000u64 {
            window.push_given(Bytes::new(), i);
            window.take_unwritten(&mut batch);
            window.evict(64 * 1024, i + 1);
        }
        let held = window.runs.iter().map(Run::held).sum::<usize>()
            + window.tail.len()
            + window.tail_lines as usize * OFFSET_BYTES;
        assert_eq!(held, window.held);
        assert!(held <= 64 * 1024, "{held} bytes held");
        assert!(window.len() > 100, "only {} lines kept", window.len());
        assert_eq!(window.start() + window.len(), 100_000);
    }

    #[test]
    fn eviction_keeps_lines_not_on_disk_and_frees_whole_runs() {
        let (mut window, offsets, _) = window(200, 10);
        window.evict(0, 100);
        assert!(
            window.start() <= 100 && window.start() > 10,
            "start {}",
            window.start()
        );
        assert_eq!(window.start() + window.len(), 210);
        let first = window.start();
        assert_eq!(window.offset(first), Some(offsets[(first - 10) as usize]));
        window.push_copy(b"not on disk", 5000);
        window.evict(0, u64::MAX);
        assert_eq!(
            (window.start(), window.len()),
            (210, 1),
            "a line not handed to the disk stays"
        );
        window.clear();
        assert_eq!((window.start(), window.len()), (211, 0));
        assert!(window.read(211, 212, 100).is_none());
        window.push_copy(b"next", 6000);
        assert_eq!(window.offset(211), Some(6000));
    }
}
