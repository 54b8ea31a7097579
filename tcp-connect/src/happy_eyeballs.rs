//! Happy Eyeballs (RFC 8305, section 5): racing the addresses of one host.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use crate::error::Attempt;

/// How long an attempt may stay unanswered before the next address is tried beside it:
/// RFC 8305's recommended "Connection Attempt Delay".
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Orders `addresses` for racing: without duplicates, the family of the first address
/// first, then the other, alternating (RFC 8305, section 4).
pub(crate) fn interleave(addresses: Vec<SocketAddr>) -> VecDeque<SocketAddr> {
    let Some(first) = addresses.first() else {
        return VecDeque::new();
    };
    let first_is_v6 = first.is_ipv6();
    let mut unique: Vec<SocketAddr> = Vec::with_capacity(addresses.len());
    for address in addresses {
        if !unique.contains(&address) {
            unique.push(address);
        }
    }
    let (mut preferred, mut other): (VecDeque<_>, VecDeque<_>) =
        unique.into_iter().partition(|a| a.is_ipv6() == first_is_v6);
    let mut ordered = VecDeque::with_capacity(preferred.len() + other.len());
    while !preferred.is_empty() || !other.is_empty() {
        ordered.extend(preferred.pop_front());
        ordered.extend(other.pop_front());
    }
    ordered
}

/// Races connections to `addresses` (already [interleaved](interleave)): the first starts
/// at once, each next one when the previous attempts have gone unanswered for
/// [`ATTEMPT_DELAY`] or as soon as one fails. The first success wins and the attempts
/// still running are dropped, which closes their sockets.
///
/// Every attempt started is recorded in `attempts` (with its error once it fails), so that
/// the caller can name them even when it drops this future on a timeout. `None` means
/// that every attempt failed.
pub(crate) async fn race<S, F, Fut>(
    mut addresses: VecDeque<SocketAddr>,
    attempts: &mut Vec<Attempt>,
    connect: F,
) -> Option<S>
where
    F: Fn(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let mut running: Vec<(usize, Pin<Box<Fut>>)> = Vec::new();
    let mut delay = pin!(tokio::time::sleep(ATTEMPT_DELAY));
    let mut start_next = true;
    poll_fn(|cx| {
        // Each turn of this loop that does not return starts one address, so it ends.
        loop {
            if start_next {
                start_next = false;
                if let Some(address) = addresses.pop_front() {
                    tracing::debug!(%address, "happy eyeballs: starting an attempt");
                    attempts.push(Attempt { address, error: None });
                    running.push((attempts.len() - 1, Box::pin(connect(address))));
                    delay.as_mut().reset(tokio::time::Instant::now() + ATTEMPT_DELAY);
                }
            }
            let mut one_failed = false;
            let mut i = 0;
            while i < running.len() {
                match running[i].1.as_mut().poll(cx) {
                    Poll::Ready(Ok(stream)) => {
                        let winner = attempts[running[i].0].address;
                        tracing::debug!(address = %winner, dropped = running.len() - 1, "happy eyeballs: connected");
                        return Poll::Ready(Some(stream));
                    }
                    Poll::Ready(Err(error)) => {
                        let (index, _) = running.swap_remove(i);
                        tracing::debug!(address = %attempts[index].address, %error, "happy eyeballs: attempt failed");
                        attempts[index].error = Some(error);
                        one_failed = true;
                    }
                    Poll::Pending => i += 1,
                }
            }
            if addresses.is_empty() {
                return if running.is_empty() { Poll::Ready(None) } else { Poll::Pending };
            }
            if one_failed || running.is_empty() || delay.as_mut().poll(cx).is_ready() {
                start_next = true;
                continue;
            }
            return Poll::Pending;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn interleaves_families_starting_with_the_first() {
        let ordered = interleave(addrs(&[
            "[::1]:1",
            "[::2]:1",
            "[::3]:1",
            "10.0.0.1:1",
            "10.0.0.2:1",
        ]));
        let expected = addrs(&["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "[::3]:1"]);
        assert_eq!(Vec::from(ordered), expected);
        let ordered = interleave(addrs(&["10.0.0.1:1", "10.0.0.1:1", "[::1]:1"]));
        assert_eq!(Vec::from(ordered), addrs(&["10.0.0.1:1", "[::1]:1"]));
        assert!(interleave(Vec::new()).is_empty());
    }
}
