//! Catch-up: lines read back from disk for readers behind the in-memory window, straight
//! into the sender's batch.

use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex, Weak};

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::{self, Layout, MAX_MESSAGE};
use crate::server::log::{Cursor, Log};
use crate::server::options::LineEnding;
use crate::server::outgoing::{FileRange, LONG_MESSAGE, Outgoing, Piece};

/// How far one read skips over lines before the one asked for (after `read_from` started at
/// an index entry before it) before it gives its turn back.
const SKIP_STEP: usize = 4 * 1024 * 1024;

/// One catch-up read takes about this many bytes of a stream's lines.
const READ_BYTES: usize = 256 * 1024;

/// A frame sent as a range of the file holds at most this many bytes, as other frames: it
/// costs the server nothing to hold, but the client copies a frame that spans its reads.
pub(crate) const FILE_RUN_BYTES: u64 = 64 * 1024;

/// One stream's catch-up read: planned by the connection's sender (under its lock), done on
/// tokio's blocking pool with no lock held, so that a slow disk stalls no async worker.
#[derive(Debug)]
pub(crate) struct DiskRead {
    stream: u32,
    log: Arc<Log>,
    cursor: Cursor,
    /// The first line not to read (the window's first), and where it starts.
    until: (u64, u64),
    max_messages: u32,
    max_bytes: usize,
}

/// What a [`DiskRead`] did: where the stream's cursor is now, and the frames to send (none
/// after a step over skipped lines), or why the stream fails.
#[derive(Debug)]
pub(crate) struct DiskReadDone {
    pub(crate) stream: u32,
    pub(crate) cursor: Cursor,
    pub(crate) result: Result<(u32, Vec<Piece>), String>,
}

impl DiskRead {
    /// A read for `stream` of `log` from `cursor` to `until` (see
    /// [`Pulled::Disk`](crate::server::log::Pulled::Disk)): at most `max_messages` lines,
    /// about [`READ_BYTES`] in all, in frames of about `max_bytes`.
    pub(crate) fn new(
        stream: u32,
        log: Arc<Log>,
        cursor: Cursor,
        until: (u64, u64),
        (max_messages, max_bytes): (u32, usize),
    ) -> Self {
        DiskRead {
            stream,
            log,
            cursor,
            until,
            max_messages,
            max_bytes,
        }
    }

    /// Does the read (it blocks).
    pub(crate) fn run(self) -> DiskReadDone {
        let DiskRead {
            stream,
            log,
            mut cursor,
            until,
            max_messages,
            max_bytes,
        } = self;
        let mut out = Outgoing::with_capacity(READ_BYTES + 1024);
        let mut sent = 0;
        let mut read = || {
            while out.len() < READ_BYTES && sent < max_messages && cursor.next < until.0 {
                let more = (max_messages - sent, max_bytes);
                match pull_disk(&log, &mut cursor, until, stream, &mut out, more, Wait::Yes) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    // The lines read so far go first: the next read meets it again.
                    Err(e) if sent == 0 => return Err(e),
                    Err(_) => break,
                }
            }
            Ok::<_, io::Error>(())
        };
        let result = read()
            .map(|()| (sent, out.take()))
            .map_err(|e| format!("reading {} failed: {e}", log.path.display()));
        DiskReadDone {
            stream,
            cursor,
            result,
        }
    }
}

/// Whether a read may wait for the disk: an async worker's may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Yes,
    /// From the page cache only: a read that would need the disk fails with `WouldBlock`.
    No,
}

/// As [`pull_disk`], from the page cache only, for an async worker: fails with
/// `WouldBlock`, sending nothing, when the disk would be needed; then a [`DiskRead`] reads
/// on the blocking pool.
pub(crate) fn pull_cached(
    log: &Log,
    cursor: &mut Cursor,
    until: (u64, u64),
    stream: u32,
    outgoing: &mut Outgoing,
    budget: (u32, usize),
) -> io::Result<u32> {
    pull_disk(log, cursor, until, stream, outgoing, budget, Wait::No)
}

/// Sends the lines from the cursor up to line `end.0`, which starts at byte `end.1`, as a
/// range of the log's file that the connection sends from the page cache: nothing is read
/// into this process, and nothing is counted (they are whole index intervals: see
/// `LogState::indexed_run`). Fails with `WouldBlock`, sending nothing, unless every byte
/// of the range is in the page cache: the connection must not wait for the disk. Fails with
/// `UnexpectedEof` if the file no longer holds the range (another program cut it short):
/// `sendfile` would send less than the frame says, which would end the whole connection,
/// where this fails the stream only. A file cut between this check and the write still
/// ends the connection.
pub(crate) fn pull_file(
    log: &Log,
    cursor: &mut Cursor,
    end: (u64, u64),
    stream: u32,
    outgoing: &mut Outgoing,
) -> io::Result<u32> {
    let len = usize::try_from(end.1 - cursor.scan_offset).map_err(io::Error::other)?;
    let count = u32::try_from(end.0 - cursor.next).map_err(io::Error::other)?;
    if !cached(&log.reader, cursor.scan_offset, len) {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    if log.reader.metadata()?.len() < end.1 {
        return Err(shorter_than_counted());
    }
    let layout = Layout::Lines {
        crlf: log.ending == LineEnding::CrLf,
    };
    let range = FileRange {
        file: log.reader.clone(),
        offset: cursor.scan_offset,
        len,
    };
    outgoing.push_file(stream, cursor.next, count, layout, range);
    cursor.scan_offset = end.1;
    cursor.scan_line = end.0;
    cursor.next = end.0;
    Ok(count)
}

/// Set once `cachestat(2)` failed: before Linux 6.5 it does not exist, and a seccomp filter
/// may refuse it. Ranges of a file are then not planned, and catch-up reads with
/// `RWF_NOWAIT` instead.
#[cfg(target_os = "linux")]
static CACHESTAT_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`cached`] can tell which pages the page cache holds, as sending lines as ranges
/// of their file needs: `false` where `cachestat(2)` failed, and off Linux.
pub(crate) fn page_cache_visible() -> bool {
    #[cfg(target_os = "linux")]
    {
        !CACHESTAT_FAILED.load(std::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Whether every page of the `len` bytes of `file` from byte `offset` is in the page cache
/// (`cachestat(2)`, Linux 6.5 and later); `false` where the kernel cannot tell, which
/// [`page_cache_visible`] says from then on.
#[cfg(target_os = "linux")]
pub(crate) fn cached(file: &File, offset: u64, len: usize) -> bool {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::Ordering;

    /// `cachestat`'s number, the same on every architecture (it came after the system
    /// call tables were unified); the `libc` crate does not name it on all of them.
    const SYS_CACHESTAT: libc::c_long = 451;
    #[repr(C)]
    struct Range {
        offset: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct Stat {
        cached: u64,
        dirty: u64,
        writeback: u64,
        evicted: u64,
        recently_evicted: u64,
    }
    if len == 0 || !page_cache_visible() {
        return false;
    }
    let range = Range {
        offset,
        len: len as u64,
    };
    let mut stat = Stat::default();
    // SAFETY: `cachestat(fd, &range, &stat, 0)` reads `range` and writes `stat`, both
    // laid out as the kernel's `struct cachestat_range` and `struct cachestat`.
    let done = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &range as *const Range,
            &mut stat as *mut Stat,
            0,
        )
    };
    if done != 0 {
        let error = io::Error::last_os_error();
        tracing::debug!(%error, "cachestat failed: catch-up reads the file instead of sending it");
        CACHESTAT_FAILED.store(true, Ordering::Relaxed);
        return false;
    }
    let page = rustix::param::page_size() as u64;
    let pages = (offset + len as u64).div_ceil(page) - offset / page;
    stat.cached >= pages
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn cached(_file: &File, _offset: u64, _len: usize) -> bool {
    false
}

/// Sends lines read back from disk, from the cursor up to (not including) line `until.0`,
/// which starts at byte `until.1`: at most `max_messages` lines in one `Lines` frame of
/// about `max_bytes` (more for a single longer line). The file's bytes are read straight
/// into `out` from the log's shared reader; lines are only counted. A long line
/// ([`LONG_MESSAGE`]) comes alone, read once for every reader that has it at the time
/// ([`LongLines`]). Returns how many lines were sent: none when the cursor only moved over
/// lines before the one asked for, at most [`SKIP_STEP`] bytes of them.
fn pull_disk(
    log: &Log,
    cursor: &mut Cursor,
    until: (u64, u64),
    stream: u32,
    outgoing: &mut Outgoing,
    (max_messages, max_bytes): (u32, usize),
    wait: Wait,
) -> io::Result<u32> {
    let file = &log.reader;
    let (until_line, until_offset) = until;
    skip_to_next(file, cursor, until, wait)?;
    if cursor.scan_line >= until_line || cursor.scan_line < cursor.next || max_messages == 0 {
        return Ok(0);
    }
    let available = (until_offset - cursor.scan_offset) as usize;
    let line_limit = u64::from(max_messages).min(until_line - cursor.scan_line);
    let crlf = log.ending == LineEnding::CrLf;
    let layout = Layout::Lines { crlf };
    let budget = max_bytes.max(1);
    let mut want = budget.min(available);
    loop {
        let out = outgoing.buf();
        let frame = protocol::begin_batch(out, stream, cursor.next, layout);
        let data = out.len();
        if let Err(e) = read_exact_at_into(file, out, want, cursor.scan_offset, wait) {
            frame.abandon(out);
            return Err(e);
        }
        let read = &out[data..];
        let first = memchr::memchr(b'\n', read);
        // A read made longer for a long first line still sends lines up to the budget
        // only, or that one line: a frame never holds more than one line over the budget.
        let span = match first {
            Some(first) if want > budget => budget.max(first + 1),
            _ => want,
        };
        let (mut lines, end) = whole_lines(&read[..span], line_limit);
        let mut consumed = end;
        if lines == 0 {
            if want == available {
                // The file's last line, without a newline: send it terminated.
                out.put_u8(b'\n');
                lines = 1;
                consumed = want;
            } else if want < LONG_MESSAGE {
                // A line longer than what was read: read more at once.
                frame.abandon(out);
                want = (want * 2).min(available);
                continue;
            } else {
                frame.abandon(out);
                let line = log
                    .long_lines
                    .get(
                        &log.reader,
                        (cursor.scan_offset, available),
                        log.ending,
                        wait,
                    )
                    .map_err(|e| match e.kind() {
                        io::ErrorKind::InvalidData => io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "line {} is longer than the {MAX_MESSAGE}-byte message limit",
                                cursor.next
                            ),
                        ),
                        _ => e,
                    })?;
                cursor.scan_offset += line.len() as u64;
                outgoing.push_shared(stream, cursor.next, 1, layout, line);
                cursor.scan_line += 1;
                cursor.next = cursor.scan_line;
                return Ok(1);
            }
        } else {
            out.truncate(data + end);
        }
        frame.finish(out, lines as u32);
        cursor.scan_offset += consumed as u64;
        cursor.scan_line += lines;
        cursor.next = cursor.scan_line;
        return Ok(lines as u32);
    }
}

/// The long lines of one log that readers hold now, by where they start on disk: a line
/// read for one reader is shared with every other that reads it while it is held, and
/// freed with its last holder. The cache itself holds none.
#[derive(Debug, Default)]
pub(crate) struct LongLines {
    held: Mutex<Vec<(u64, Weak<Vec<u8>>)>>,
}

/// A long line shared through [`Bytes`].
struct SharedLine(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedLine {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl LongLines {
    /// The line starting at byte `offset` of `file`, with its line ending (none if the
    /// file's last line has none), where at most `available` bytes may be read. Reads it
    /// unless a reader holds it already; one read at a time, so that readers that ask
    /// together share one.
    ///
    /// # Errors
    ///
    /// The read fails, or the line is longer than [`MAX_MESSAGE`] (`InvalidData`), or it
    /// must be read and `wait` is [`Wait::No`] (`WouldBlock`: a long line is read on the
    /// blocking pool, even from the page cache).
    fn get(
        &self,
        file: &File,
        (offset, available): (u64, usize),
        ending: LineEnding,
        wait: Wait,
    ) -> io::Result<Bytes> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.retain(|(_, line)| line.strong_count() > 0);
        if let Some(line) = held
            .iter()
            .find(|(at, _)| *at == offset)
            .and_then(|(_, line)| line.upgrade())
        {
            return Ok(Bytes::from_owner(SharedLine(line)));
        }
        if wait == Wait::No {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let line = Arc::new(read_line_at(file, offset, available, ending)?);
        held.push((offset, Arc::downgrade(&line)));
        Ok(Bytes::from_owner(SharedLine(line)))
    }
}

/// Reads the line starting at byte `offset`, with its ending, in steps, up to `available`
/// bytes.
fn read_line_at(
    file: &File,
    offset: u64,
    available: usize,
    ending: LineEnding,
) -> io::Result<Vec<u8>> {
    const STEP: usize = 256 * 1024;
    let most = available.min(MAX_MESSAGE + ending.len());
    let mut line = BytesMut::new();
    loop {
        let from = line.len();
        let want = STEP.min(available - from);
        read_exact_at_into(file, &mut line, want, offset + from as u64, Wait::Yes)?;
        if let Some(newline) = memchr::memchr(b'\n', &line[from..]) {
            line.truncate(from + newline + 1);
        }
        if line.len() > most {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a line longer than the message limit",
            ));
        }
        if line.len() < from + want || line.len() == available {
            return Ok(line.into());
        }
    }
}

/// How many whole lines `chunk` starts with, at most `limit`, and where they end. Counts
/// newlines in bulk; walks them one by one only when the limit cuts.
fn whole_lines(chunk: &[u8], limit: u64) -> (u64, usize) {
    let Some(last) = memchr::memrchr(b'\n', chunk) else {
        return (0, 0);
    };
    let count = memchr::memchr_iter(b'\n', &chunk[..last]).count() as u64 + 1;
    if count <= limit {
        return (count, last + 1);
    }
    match memchr::memchr_iter(b'\n', chunk).nth(limit as usize - 1) {
        Some(newline) => (limit, newline + 1),
        None => (0, 0),
    }
}

/// Reads what one call gives of `file` from byte `offset` into `room`; with [`Wait::No`],
/// from the page cache only (`RWF_NOWAIT`; on systems and file systems without it, such
/// as tmpfs, such a read always says it would block).
///
/// # Errors
///
/// The read fails; `WouldBlock` when `wait` is [`Wait::No`] and the disk is needed.
fn read_at(
    file: &File,
    room: &mut [MaybeUninit<u8>],
    offset: u64,
    wait: Wait,
) -> io::Result<usize> {
    loop {
        let read = match wait {
            Wait::Yes => rustix::io::pread(file, &mut *room, offset)
                .map(|(filled, _)| filled.len())
                .map_err(io::Error::from),
            Wait::No => read_cached_at(file, room, offset),
        };
        match read {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            read => return read,
        }
    }
}

#[cfg(target_os = "linux")]
fn read_cached_at(file: &File, room: &mut [MaybeUninit<u8>], offset: u64) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let vector = libc::iovec {
        iov_base: room.as_mut_ptr().cast(),
        iov_len: room.len(),
    };
    let offset = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset out of range"))?;
    // SAFETY: the one vector points to `room`, writable for its length for the whole call;
    // the kernel writes at most that many bytes and says how many it wrote.
    let read = unsafe { libc::preadv2(file.as_raw_fd(), &vector, 1, offset, libc::RWF_NOWAIT) };
    usize::try_from(read).map_err(|_| match io::Error::last_os_error() {
        // The file system cannot read from the page cache only (tmpfs): read where the
        // read may wait.
        e if e.raw_os_error() == Some(libc::EOPNOTSUPP) => io::ErrorKind::WouldBlock.into(),
        e => e,
    })
}

#[cfg(not(target_os = "linux"))]
fn read_cached_at(_: &File, _: &mut [MaybeUninit<u8>], _: u64) -> io::Result<usize> {
    Err(io::ErrorKind::WouldBlock.into())
}

/// Appends `len` bytes of `file`, from byte `offset`, to `out`, reading them straight into
/// its spare room (not zeroed first: on a catch-up that would write every byte twice).
///
/// # Errors
///
/// The read fails (`WouldBlock`: see [`Wait::No`]), or the file ends before `len` bytes;
/// `out` is then as it was.
fn read_exact_at_into(
    file: &File,
    out: &mut BytesMut,
    len: usize,
    offset: u64,
    wait: Wait,
) -> io::Result<()> {
    out.reserve(len);
    let room = &mut out.spare_capacity_mut()[..len];
    let mut done = 0;
    while done < len {
        match read_at(file, &mut room[done..], offset + done as u64, wait)? {
            0 => return Err(shorter_than_counted()),
            read => done += read,
        }
    }
    // SAFETY: the reads initialised the first `len` bytes of the spare room.
    unsafe { out.set_len(out.len() + len) };
    Ok(())
}

/// The error of a file that another program cut short behind the server's back.
fn shorter_than_counted() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the file is shorter than the lines counted in it",
    )
}

/// Moves the cursor's scan position forward towards its next line, reading and counting
/// the lines between (after `read_from` started at an index entry before the line asked
/// for), about [`SKIP_STEP`] bytes at most.
fn skip_to_next(file: &File, cursor: &mut Cursor, until: (u64, u64), wait: Wait) -> io::Result<()> {
    let (until_line, until_offset) = until;
    let mut chunk = 256 * 1024;
    let mut buf = BytesMut::new();
    let mut scanned = 0;
    while cursor.scan_line < cursor.next.min(until_line) && scanned < SKIP_STEP {
        let available = (until_offset - cursor.scan_offset) as usize;
        let want = chunk.min(available);
        // A buffer of this call's own: a stream holds none between pulls.
        buf.clear();
        read_exact_at_into(file, &mut buf, want, cursor.scan_offset, wait)?;
        let mut skipped = 0;
        for newline in memchr::memchr_iter(b'\n', &buf) {
            cursor.scan_line += 1;
            skipped = newline + 1;
            if cursor.scan_line == cursor.next {
                break;
            }
        }
        if skipped == 0 {
            if want == available {
                // Only the last line, without a newline, is left.
                cursor.scan_line += 1;
                skipped = want;
            } else if want > MAX_MESSAGE + 2 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a line longer than the message limit",
                ));
            } else {
                chunk *= 2;
            }
        }
        cursor.scan_offset += skipped as u64;
        scanned += skipped;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_stop_at_the_last_newline_or_the_limit() {
        let chunk = b"a\nbb\nccc\ndd";
        assert_eq!(whole_lines(chunk, 10), (3, 9));
        assert_eq!(whole_lines(chunk, 3), (3, 9));
        assert_eq!(whole_lines(chunk, 2), (2, 5));
        assert_eq!(whole_lines(chunk, 1), (1, 2));
        assert_eq!(whole_lines(b"no newline", 5), (0, 0));
        assert_eq!(whole_lines(b"\n\n", 5), (2, 2));
    }

    #[test]
    fn long_lines_are_read_once_while_held_and_bounded() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        let long = "x".repeat(600_000);
        std::fs::write(&path, format!("{long}\r\nshort\r\n{long}")).expect("write");
        let file = File::open(&path).expect("open");
        let size = std::fs::metadata(&path).expect("metadata").len() as usize;
        let lines = LongLines::default();
        let get =
            |at: usize, wait| lines.get(&file, (at as u64, size - at), LineEnding::CrLf, wait);
        let would_block = get(0, Wait::No).expect_err("not held");
        assert_eq!(would_block.kind(), io::ErrorKind::WouldBlock);
        let first = get(0, Wait::Yes).expect("first");
        assert_eq!(&first[..], format!("{long}\r\n").as_bytes());
        let again = get(0, Wait::No).expect("held, so no read");
        assert_eq!(first.as_ptr(), again.as_ptr(), "shared while held");
        let last_at = first.len() + 7;
        let last = get(last_at, Wait::Yes);
        assert_eq!(
            &last.expect("last")[..],
            long.as_bytes(),
            "no ending at the end"
        );
        drop((first, again));
        assert!(
            lines.held.lock().expect("lock")[0].1.upgrade().is_none(),
            "freed"
        );
        std::fs::write(&path, "y".repeat(MAX_MESSAGE + 3)).expect("write");
        let err = read_line_at(&file, 0, MAX_MESSAGE + 3, LineEnding::CrLf).expect_err("long");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_skip_over_a_gap_gives_its_turn_back_after_a_step() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        let line = format!("{}\n", "z".repeat(999));
        std::fs::write(&path, line.repeat(10_000)).expect("write");
        let file = File::open(&path).expect("open");
        let mut cursor = Cursor {
            next: 9_999,
            scan_line: 0,
            scan_offset: 0,
        };
        let until = (10_000, 10_000_000);
        let mut steps = 0;
        while cursor.scan_line < cursor.next {
            let before = cursor.scan_offset;
            skip_to_next(&file, &mut cursor, until, Wait::Yes).expect("skip");
            let step = (cursor.scan_offset - before) as usize;
            assert!(step > 0 && step <= SKIP_STEP + 256 * 1024, "{step} bytes");
            assert_eq!(cursor.scan_offset, cursor.scan_line * 1000);
            steps += 1;
        }
        assert_eq!((cursor.scan_line, steps), (9_999, 3));
    }

    #[test]
    fn reads_into_spare_room_append_exactly_and_a_short_file_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        let file = File::open(&path).expect("open");
        let mut out = BytesMut::from(&b"head:"[..]);
        read_exact_at_into(&file, &mut out, 4, 3, Wait::Yes).expect("read");
        assert_eq!(&out[..], b"head:3456");
        let err = read_exact_at_into(&file, &mut out, 8, 5, Wait::Yes).expect_err("past the end");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(&out[..], b"head:3456", "nothing added");

        // Without waiting: from the page cache, or `WouldBlock` with nothing added.
        let mut data = vec![b'd'; 1 << 20];
        data[1234] = b'!';
        std::fs::write(&path, &data).expect("write");
        let file = File::open(&path).expect("open");
        file.sync_all().expect("sync");
        let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed);
        let mut out = BytesMut::new();
        match read_exact_at_into(&file, &mut out, 1 << 20, 0, Wait::No) {
            Ok(()) => assert!(out[..] == data[..]),
            Err(e) => assert_eq!((e.kind(), out.len()), (io::ErrorKind::WouldBlock, 0)),
        }
        let err = read_exact_at_into(&file, &mut out, 10, 1 << 20, Wait::No).expect_err("end");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let mut out = BytesMut::new();
        read_exact_at_into(&file, &mut out, 1 << 20, 0, Wait::Yes).expect("read");
        let mut cached = BytesMut::new();
        read_exact_at_into(&file, &mut cached, 1 << 20, 0, Wait::No).expect("cached now");
        assert!(out[..] == data[..] && cached[..] == data[..]);
    }
}
