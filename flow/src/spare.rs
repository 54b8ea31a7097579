//! A few empty read buffers kept per thread. A reader ([`Reader`](crate::Reader) or
//! [`IoFlow`](crate::IoFlow)) gives its buffer back whenever the socket has nothing, so a
//! connection that waits holds none, and the next read on the thread takes one instead of
//! allocating. An `IoFlow` also gives back a buffer it filled whose reads are still held:
//! once they are dropped, the whole of it is used again. A reader whose consumer lags by a
//! few buffers so reuses them instead of allocating and freeing one per read (which made
//! glibc's allocator give memory back to the system and fault it in again, page by page).

use std::cell::RefCell;

use bytes::BytesMut;

thread_local! {
    static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// The largest buffer a thread keeps: a reader made with a huge buffer size does not pin
/// that much memory on every thread it ran on.
const MAX_KEPT: usize = 256 * 1024;
/// How many buffers a thread keeps: at most 2 MiB.
const KEPT: usize = 8;

/// An empty buffer with room for at least `min` bytes: one the thread kept if it has that
/// much or can be given room for `size` without allocating (what was read into it was
/// dropped), else a new one of `size` bytes.
pub(crate) fn take(min: usize, size: usize) -> BytesMut {
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        match spare
            .iter_mut()
            .position(|buf| buf.capacity() >= min || buf.try_reclaim(size))
        {
            Some(i) => spare.swap_remove(i),
            None => BytesMut::with_capacity(size),
        }
    })
}

/// Keeps `buf`, emptied, for a later [`take`] on this thread, unless its reader's buffers
/// are too big: `size`, the size of those, bounds what `buf` may pin (its room may be the
/// end of such a buffer). The thread keeps the [`KEPT`] buffers given last.
pub(crate) fn give(mut buf: BytesMut, size: usize) {
    if size.max(buf.capacity()) > MAX_KEPT {
        return;
    }
    buf.clear();
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() == KEPT {
            spare.remove(0);
        }
        spare.push(buf);
    });
}
