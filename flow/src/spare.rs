//! One empty read buffer kept per thread. A reader ([`Reader`](crate::Reader) or
//! [`IoFlow`](crate::IoFlow)) gives its buffer back whenever the socket has nothing, so a
//! connection that waits holds none, and the next read on the thread takes it instead of
//! allocating a new one. A buffer given back may be the rest of one whose first part was
//! handed out in reads; once those are dropped, the whole of it can be used again.

use std::cell::RefCell;

use bytes::BytesMut;

thread_local! {
    static SPARE: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// The largest buffer a thread keeps: a reader made with a huge buffer size does not pin
/// that much memory on every thread it ran on.
const MAX_KEPT: usize = 256 * 1024;

/// An empty buffer with room for at least `min` bytes: the thread's spare one if it has
/// that much or can be given room for `size` without allocating (what was read into it was
/// dropped), else a new one of `size` bytes.
pub(crate) fn take(min: usize, size: usize) -> BytesMut {
    let mut spare = SPARE.with(RefCell::take);
    if spare.capacity() >= min || spare.try_reclaim(size) {
        spare
    } else {
        BytesMut::with_capacity(size)
    }
}

/// Keeps `buf`, emptied, as the thread's spare buffer, if it has more room than the one
/// kept and its reader's buffers are not too big: `size`, the size of those, bounds what
/// `buf` may pin (its room may be the end of such a buffer).
pub(crate) fn give(mut buf: BytesMut, size: usize) {
    if size.max(buf.capacity()) > MAX_KEPT {
        return;
    }
    buf.clear();
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        if buf.capacity() > spare.capacity() {
            *spare = buf;
        }
    });
}
