//! The soak's clients, each on a connection of its own: stalled ones that open a stream
//! and never read it, resuming ones that read a while, leave, and come back with
//! `read_from` the next line, and live ones that tail a file. Every reader checks that its
//! lines follow one another (no gap, no duplicate); the resuming ones also check each
//! message's content.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use camlnet_tcp_connect::WhereToConnect;
use camlnet_tcp_file::{Client, MessageStream, StreamOptions};

use crate::server::{FILES, file_name, is_message};

/// What the clients count, all together.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) delivered: AtomicU64,
    pub(crate) gaps: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) bad_content: AtomicU64,
    pub(crate) resumes: AtomicU64,
    /// Streams that ended with an error, the server's closing of stalled clients included.
    pub(crate) stream_errors: AtomicU64,
    pub(crate) connect_errors: AtomicU64,
}

/// What one client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Stalled,
    Resuming,
    Live,
}

/// The kind of client `i` of `total`: the first tenth stall, the second tenth resume.
pub(crate) fn kind(i: usize, total: usize) -> Kind {
    match i * 10 / total {
        0 => Kind::Stalled,
        1 => Kind::Resuming,
        _ => Kind::Live,
    }
}

pub(crate) async fn connect(address: SocketAddr) -> Result<Client, camlnet_tcp_file::Error> {
    Client::connect(&WhereToConnect::inet_address(address)).await
}

/// Checks that `line` follows `last` (none yet: anything follows), counting a gap or a
/// duplicate otherwise.
fn follows(counts: &Counts, last: Option<u64>, line: u64) -> bool {
    match last {
        Some(last) if line == last + 1 => true,
        None => true,
        Some(last) if line <= last => {
            counts.duplicates.fetch_add(1, Ordering::Relaxed);
            false
        }
        Some(_) => {
            counts.gaps.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// Reads `stream` until `stop`, checking its lines from `last`; returns the last line
/// read. With `check_content`, each message's content too.
async fn read(
    stream: &mut MessageStream,
    file: usize,
    mut last: Option<u64>,
    check_content: bool,
    counts: &Counts,
    stop: impl Fn() -> bool,
) -> Option<u64> {
    while !stop() {
        let batch =
            match tokio::time::timeout(Duration::from_millis(200), stream.next_batch()).await {
                Err(_) => continue,
                Ok(Some(Ok(batch))) => batch,
                Ok(Some(Err(_)) | None) => {
                    counts.stream_errors.fetch_add(1, Ordering::Relaxed);
                    return last;
                }
            };
        let mut n = 0;
        for message in &batch {
            n += 1;
            follows(counts, last, message.line);
            if check_content && !is_message(message.bytes, file, message.line) {
                counts.bad_content.fetch_add(1, Ordering::Relaxed);
            }
            last = Some(message.line);
        }
        counts.delivered.fetch_add(n, Ordering::Relaxed);
    }
    last
}

/// Runs client `i` of `total` until `stop` is set.
pub(crate) async fn run(
    i: usize,
    total: usize,
    address: SocketAddr,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
) {
    let file = i % FILES;
    let name = file_name(file);
    let stopped = || stop.load(Ordering::Relaxed);
    match kind(i, total) {
        Kind::Stalled => {
            let Ok(client) = connect(address).await else {
                counts.connect_errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let _stream = client.read(&name, StreamOptions::new());
            while !stopped() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Kind::Live => {
            let Ok(client) = connect(address).await else {
                counts.connect_errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let mut stream = client.tail(&name, StreamOptions::new());
            read(&mut stream, file, None, false, &counts, stopped).await;
        }
        Kind::Resuming => {
            // Each client stays for its own while, 0.5 to 3 s, so that they come and go
            // at different moments.
            let stay = Duration::from_millis(500 + (i as u64 * 37) % 2500);
            let mut last: Option<u64> = None;
            while !stopped() {
                let Ok(client) = connect(address).await else {
                    counts.connect_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let mut stream = match last {
                    None => client.read(&name, StreamOptions::new()),
                    Some(line) => client.read_from(&name, line + 1, StreamOptions::new()),
                };
                let leave = tokio::time::Instant::now() + stay;
                let stay_stopped = || stopped() || tokio::time::Instant::now() >= leave;
                last = read(&mut stream, file, last, true, &counts, stay_stopped).await;
                drop(stream);
                client.disconnect().await;
                counts.resumes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
