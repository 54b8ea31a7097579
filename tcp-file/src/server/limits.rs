//! `Limits`: how many connections a server takes, and how long one may idle or stall.
//! With the fixed bounds of the protocol, they make the budget of one connection.

use std::time::Duration;

use serde::Serialize;

/// The default [`Limits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [`Limits::write_timeout`].
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What one client connection may make a [`Server`](crate::Server) hold, and for how
/// long: set with [`Server::with_limits`](crate::Server::with_limits).
///
/// # The budget of one connection
///
/// Whatever a client sends, one connection holds at most:
///
/// | what | bound |
/// |---|---|
/// | streams open at once | [`MAX_STREAMS`](crate::MAX_STREAMS) (1,024); more close the connection (a [`Client`](crate::Client) never asks) |
/// | a requested name | [`MAX_NAME`](crate::MAX_NAME) (1 KiB): a longer one fails its stream, and a failed stream keeps at most that |
/// | what it sends | a request frame up to 64 KiB, a text request line up to 4 KiB; reads go into a 64 KiB buffer held only while bytes arrive, none while the connection waits |
/// | messages on their way out | one batch of about 256 KiB, and none while the connection waits for news; lines from memory share the file's window (runs of 16 KiB or more; shorter runs are copied), so a batch may keep up to 1 MiB of it after the window let it go; a line of 64 KiB or more read back from disk is read once and shared by every reader that has it, never copied per reader; a stream waiting for credit holds nothing |
/// | catch-up from disk | from one read-only file per log (no file descriptor per stream), straight into the batch when the lines are in the page cache; at most 4 streams at once read from the disk on the blocking pool, about 256 KiB each |
/// | time before the hello or the text request | 10 s |
/// | time with no stream open | [`idle_timeout`](Limits::idle_timeout) |
/// | time the socket takes nothing while data waits | [`write_timeout`](Limits::write_timeout) |
///
/// Beside the connections, each open file keeps about 4 MiB of recent messages in memory
/// for all its readers, and up to 8 MiB more while its disk lags.
/// [`debug_snapshot`](crate::Server::debug_snapshot) shows the limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    max_connections: Option<usize>,
    backlog: u32,
    #[serde(serialize_with = "seconds")]
    pub(crate) idle_timeout: Duration,
    #[serde(serialize_with = "seconds")]
    pub(crate) write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: None,
            backlog: camlnet_tcp_server::DEFAULT_BACKLOG,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

impl Limits {
    /// The defaults: `tcp-server`'s connection limit and backlog, a 60 s idle timeout and
    /// a 30 s write timeout.
    pub fn new() -> Self {
        Limits::default()
    }

    /// The most connections [`serve`](crate::Server::serve) serves at once (at least 1;
    /// `tcp-server`'s default: 10,000, or 90% of the file-descriptor limit). At the limit
    /// the server does not accept: new clients wait in the listen backlog.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max.max(1));
        self
    }

    /// The backlog that [`serve`](crate::Server::serve) passes to `listen(2)` (default
    /// 1,024).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// How long a connection may have no stream open before it is closed (default 60 s,
    /// checked about every quarter of it): a client that connects and asks for nothing
    /// does not keep its place for ever.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long the socket may take none of a batch (up to 256 KiB) waiting to go out
    /// before the connection is closed, with a logged reason (default 30 s): a client
    /// that stopped reading does not keep its connection for ever.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    pub(crate) fn server_options<T: camlnet_tcp_server::Listen>(
        &self,
        options: camlnet_tcp_server::ServerOptions<T>,
    ) -> camlnet_tcp_server::ServerOptions<T> {
        let options = options.backlog(self.backlog);
        match self.max_connections {
            Some(max) => options.max_connections(max),
            None => options,
        }
    }
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}
