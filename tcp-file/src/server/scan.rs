//! Counting the lines of an existing file when it is opened, and cutting a torn last line.

use std::fs::File;
use std::io::{self, Read};

use crate::server::log::INDEX_EVERY;

/// What a scan of an existing file found.
#[derive(Debug, Default)]
pub(crate) struct DiskScan {
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
    pub(crate) index: Vec<u64>,
    /// The file is empty or ends with a newline.
    pub(crate) terminated: bool,
    /// Where the last line starts.
    last_line: u64,
}

impl DiskScan {
    /// Forgets the last line when it has no newline: a write torn by a crash. Returns its
    /// length in bytes (0 when the file was whole); the file must be cut to `bytes`.
    pub(crate) fn cut_torn_line(&mut self) -> u64 {
        if self.terminated {
            return 0;
        }
        let torn = self.bytes - self.last_line;
        self.bytes = self.last_line;
        self.lines -= 1;
        self.terminated = true;
        if self.index.last() == Some(&self.bytes) {
            // It pointed at the torn line, which the next append writes again.
            self.index.pop();
        }
        torn
    }
}

/// Counts the lines of `file` (a last line without a newline counts) and indexes them.
pub(crate) fn scan(file: &mut File) -> io::Result<DiskScan> {
    let mut scan = DiskScan {
        terminated: true,
        ..DiskScan::default()
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if scan.bytes == 0 {
            scan.index.push(0);
        }
        for newline in memchr::memchr_iter(b'\n', &buf[..n]) {
            scan.lines += 1;
            scan.last_line = scan.bytes + newline as u64 + 1;
            if scan.lines % INDEX_EVERY == 0 {
                scan.index.push(scan.last_line);
            }
        }
        scan.bytes += n as u64;
        scan.terminated = buf[n - 1] == b'\n';
    }
    if !scan.terminated {
        scan.lines += 1;
    } else if scan.index.last() == Some(&scan.bytes) && scan.bytes > 0 {
        // The last entry points at the end: a line that does not exist yet, which the
        // first append will index.
        scan.index.pop();
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(content: &[u8]) -> DiskScan {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        std::fs::write(&path, content).expect("write");
        scan(&mut File::open(&path).expect("open")).expect("scan")
    }

    #[test]
    fn a_torn_last_line_is_cut_with_its_index_entry() {
        let mut whole = Vec::new();
        for i in 0..INDEX_EVERY {
            whole.extend_from_slice(format!("{i}\n").as_bytes());
        }
        let mut torn = whole.clone();
        torn.extend_from_slice(b"torn");

        let mut scan = scan_of(&torn);
        assert_eq!((scan.lines, scan.terminated), (INDEX_EVERY + 1, false));
        assert_eq!(scan.index, [0, whole.len() as u64]);
        assert_eq!(scan.cut_torn_line(), 4);
        assert_eq!((scan.lines, scan.bytes), (INDEX_EVERY, whole.len() as u64));
        assert_eq!(scan.index, [0], "the entry of the cut line is gone");

        let mut scan = scan_of(&whole);
        assert_eq!(scan.cut_torn_line(), 0);
        assert_eq!(scan.index, [0]);

        let mut scan = scan_of(b"torn");
        assert_eq!(scan.cut_torn_line(), 4);
        assert_eq!((scan.lines, scan.bytes), (0, 0));
        assert!(scan.index.is_empty(), "an empty file has no entry");
    }
}
