//! How much credit a stream gives back to the server: a window in messages, kept to about
//! a budget of bytes.
//!
//! The server may send as many messages as it has credit for; the client gives credit back
//! as its consumer takes them. Counted in messages only, a window of big messages puts
//! megabytes between the server and the consumer. That costs more than memory: under a
//! pacing congestion control (BBR), a sender that always has more to send than its reader
//! takes is paced by a timer, about a segment per tick: a reader catching up on a file on a
//! busy machine ran at half speed with 1 MB or more in flight, and at full speed with
//! 800 KB or less. So while the messages the consumer takes are big, the client gives back
//! less than it took, and the window shrinks to what the budget holds.

/// The fewest messages a stream lets the server send, however big they are.
const FEWEST: u32 = 2;

/// The credit of one stream under flow control.
#[derive(Debug)]
pub(crate) struct Credit {
    /// The most messages the server may send beyond those taken: the window.
    messages: u32,
    /// About the most bytes of them.
    bytes: usize,
    /// The credit the server had when some was last given back (or at the start): what it
    /// may send beyond what the consumer had taken then.
    given: u32,
    /// Messages taken since credit was last given back, and their bytes.
    taken: u32,
    taken_bytes: usize,
}

impl Credit {
    /// A stream whose server gets `messages` messages of credit at first (what it asks with
    /// its `Open`), kept to about `bytes` bytes from then on.
    pub(crate) fn new(messages: u32, bytes: usize) -> Self {
        Credit {
            messages,
            bytes,
            given: messages,
            taken: 0,
            taken_bytes: 0,
        }
    }

    /// Counts `count` messages of `bytes` bytes that the consumer took; returns the credit
    /// to give back, if any. Credit goes back once the consumer took a quarter of the
    /// window, and brings the server's back to the whole window: `messages`, or fewer (at
    /// least 2) while the messages taken since the last time average more than `bytes /
    /// messages`. Giving back early keeps the server sending while the credit is on its way.
    pub(crate) fn took(&mut self, count: u32, bytes: usize) -> Option<u32> {
        self.taken = self.taken.saturating_add(count);
        self.taken_bytes = self.taken_bytes.saturating_add(bytes);
        let left = self.given.saturating_sub(self.taken);
        let average = (self.taken_bytes / self.taken.max(1) as usize).max(1);
        let window = u32::try_from(self.bytes / average)
            .unwrap_or(u32::MAX)
            .clamp(FEWEST, self.messages);
        if left > window - window.div_ceil(4) {
            return None;
        }
        self.given = window;
        self.taken = 0;
        self.taken_bytes = 0;
        Some(window - left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: usize = 512 * 1024;

    /// Takes batches of `count` messages of `size` bytes until credit goes back: how many
    /// messages were taken, and the credit given back.
    fn until_given(credit: &mut Credit, count: u32, size: usize) -> (u32, u32) {
        let mut taken = 0;
        for _ in 0..1_000_000 {
            taken += count;
            if let Some(given) = credit.took(count, count as usize * size) {
                return (taken, given);
            }
        }
        panic!("no credit given back after {taken} messages");
    }

    #[test]
    fn small_messages_get_a_quarter_of_the_window_back_at_a_time() {
        let mut credit = Credit::new(8192, BUDGET);
        // 8192 messages of 64 bytes are 512 KiB: the budget holds the whole window.
        assert_eq!(until_given(&mut credit, 512, 64), (2048, 2048));
        assert_eq!(until_given(&mut credit, 512, 64), (2048, 2048));
    }

    #[test]
    fn big_messages_shrink_the_window_to_the_budget_and_keep_it() {
        let mut credit = Credit::new(8192, BUDGET);
        // The budget holds 2621 lines of 200 bytes: credit goes back once the server has
        // at most 2621 - 656 left. It was given 8192 at first: after 98 batches of 64 it
        // has 1920 left, and gets what brings it to 2621.
        assert_eq!(until_given(&mut credit, 64, 200), (6272, 2621 - 1920));
        // From then on the window is 2621, and a quarter of it goes back at a time.
        assert_eq!(until_given(&mut credit, 2, 200), (656, 656));
        assert_eq!(until_given(&mut credit, 2, 200), (656, 656));
    }

    #[test]
    fn the_window_grows_back_when_the_messages_get_small_again() {
        let mut credit = Credit::new(8192, BUDGET);
        until_given(&mut credit, 64, 200);
        // 10-byte messages: the window is the whole 8192 again, and the server at once gets
        // what brings its 2621 (less the 2 just taken) back there.
        assert_eq!(until_given(&mut credit, 2, 10), (2, 8192 - (2621 - 2)));
    }

    #[test]
    fn huge_messages_still_come_a_few_at_a_time() {
        let mut credit = Credit::new(8192, BUDGET);
        // 16 MiB messages: the window is the fewest, 2. The server had 8192: it gets one
        // back once it is down to one, and then one for each taken.
        assert_eq!(until_given(&mut credit, 1, 16 << 20), (8191, 1));
        assert_eq!(until_given(&mut credit, 1, 16 << 20), (1, 1));
    }

    #[test]
    fn a_window_of_two_gives_one_back_at_a_time() {
        let mut credit = Credit::new(2, BUDGET);
        assert_eq!(until_given(&mut credit, 1, 100), (1, 1));
        assert_eq!(until_given(&mut credit, 1, 100), (1, 1));
    }
}
