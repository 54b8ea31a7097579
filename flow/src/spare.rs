//! One empty read buffer kept per thread. A reader ([`Reader`](crate::Reader) or
//! [`IoFlow`](crate::IoFlow)) gives its buffer back whenever the socket has nothing, so a
//! connection that waits holds none, and the next read on the thread takes it instead of
//! allocating a new one.

use std::cell::RefCell;

use bytes::BytesMut;

thread_local! {
    static SPARE: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// The largest buffer a thread keeps: a reader made with a huge buffer size does not pin
/// that much memory on every thread it ran on.
const MAX_KEPT: usize = 256 * 1024;

/// An empty buffer with room for `size` bytes: the thread's spare one if it is big enough
/// or can be made so without allocating (what was read into it was dropped), else a new
/// one.
pub(crate) fn take(size: usize) -> BytesMut {
    let mut spare = SPARE.with(RefCell::take);
    if spare.capacity() >= size || spare.try_reclaim(size) {
        spare
    } else {
        BytesMut::with_capacity(size)
    }
}

/// Keeps `buf`, emptied, as the thread's spare buffer, if it is bigger than the one kept
/// and not too big.
pub(crate) fn give(mut buf: BytesMut) {
    if buf.capacity() > MAX_KEPT {
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
