//! Catch-up: lines read back from disk for readers behind the in-memory window, straight
//! into the sender's batch.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use bytes::{BufMut, BytesMut};

use crate::protocol::{self, Layout, MAX_MESSAGE};
use crate::server::log::{Cursor, Log};
use crate::server::options::LineEnding;

/// Sends lines read back from disk, from the cursor up to (not including) line `until.0`,
/// which starts at byte `until.1`: at most `max_messages` lines in one `Lines` frame of
/// about `max_bytes` (more for a single longer line). The file's bytes are read straight
/// into `out` from the log's shared reader; lines are only counted. Returns how many were
/// sent.
pub(crate) fn pull_disk(
    log: &Log,
    cursor: &mut Cursor,
    until: (u64, u64),
    stream: u32,
    out: &mut BytesMut,
    (max_messages, max_bytes): (u32, usize),
) -> io::Result<u32> {
    let file = &log.reader;
    let (until_line, until_offset) = until;
    skip_to_next(file, cursor, until)?;
    if cursor.scan_line >= until_line || max_messages == 0 {
        return Ok(0);
    }
    let available = (until_offset - cursor.scan_offset) as usize;
    let line_limit = u64::from(max_messages).min(until_line - cursor.scan_line);
    let crlf = log.ending == LineEnding::CrLf;
    let layout = Layout::Lines { crlf };
    let budget = max_bytes.max(1);
    let mut want = budget.min(available);
    loop {
        let frame = protocol::begin_batch(out, stream, cursor.next, layout);
        let data = out.len();
        if let Err(e) = read_exact_at_into(file, out, want, cursor.scan_offset) {
            frame.abandon(out);
            return Err(e);
        }
        let read = &out[data..];
        let first = memchr::memchr(b'\n', read);
        // Only a read made longer for a long first line can hold a line over the limit,
        // which no client would take: that fails this stream alone.
        if want > MAX_MESSAGE && first.unwrap_or(want) > MAX_MESSAGE + usize::from(crlf) {
            frame.abandon(out);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {} is longer than the {MAX_MESSAGE}-byte message limit",
                    cursor.next
                ),
            ));
        }
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
            } else {
                // A line longer than what was read: read more at once.
                frame.abandon(out);
                want = (want * 2).min(available);
                continue;
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

/// Appends `len` bytes of `file`, from byte `offset`, to `out`, reading them straight into
/// its spare room (not zeroed first: on a catch-up that would write every byte twice).
///
/// # Errors
///
/// The read fails, or the file ends before `len` bytes; what was read stays in `out`.
fn read_exact_at_into(file: &File, out: &mut BytesMut, len: usize, offset: u64) -> io::Result<()> {
    out.reserve(len);
    let mut done = 0;
    while done < len {
        let room = &mut out.spare_capacity_mut()[..len - done];
        let read = match rustix::io::pread(file, room, offset + done as u64) {
            Ok((filled, _)) => filled.len(),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than the lines counted in it",
            ));
        }
        // SAFETY: `pread` initialised the first `read` bytes of the spare room.
        unsafe { out.set_len(out.len() + read) };
        done += read;
    }
    Ok(())
}

/// Moves the cursor's scan position forward to its next line, reading and counting the
/// lines between (after `read_from` started at an index entry before the line asked for).
fn skip_to_next(file: &File, cursor: &mut Cursor, until: (u64, u64)) -> io::Result<()> {
    let (until_line, until_offset) = until;
    let mut chunk = 256 * 1024;
    let mut buf = Vec::new();
    while cursor.scan_line < cursor.next.min(until_line) {
        let available = (until_offset - cursor.scan_offset) as usize;
        let want = chunk.min(available);
        // A buffer of this call's own: a stream holds none between pulls.
        buf.resize(want, 0);
        file.read_exact_at(&mut buf, cursor.scan_offset)?;
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
    fn reads_into_spare_room_append_exactly_and_a_short_file_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        let file = File::open(&path).expect("open");
        let mut out = BytesMut::from(&b"head:"[..]);
        read_exact_at_into(&file, &mut out, 4, 3).expect("read");
        assert_eq!(&out[..], b"head:3456");
        let err = read_exact_at_into(&file, &mut out, 8, 5).expect_err("past the end");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(&out[..], b"head:345656789", "what was read stays");
    }
}
