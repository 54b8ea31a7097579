//! `ConnectError`: why a connection could not be made, and to where.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// The error of [`connect_sock`](crate::connect_sock), [`connect`](crate::connect) and the
/// connecting part of [`with_connection`](crate::with_connection).
///
/// Opaque on purpose, as hyper's error: ask it what happened with
/// [`is_timeout`](ConnectError::is_timeout), [`is_interrupted`](ConnectError::is_interrupted),
/// [`is_refused`](ConnectError::is_refused) and [`is_resolve`](ConnectError::is_resolve).
///
/// Its [`Display`](fmt::Display) names the target and what went wrong, and only that
/// (`connecting to localhost:7 failed`); the cause is its
/// [`source`](std::error::Error::source): the operating system's (or the resolver's)
/// error, or, when addresses were tried, the first address's failure. Print the chain of
/// sources to show it. [`attempts`](ConnectError::attempts) gives every address tried
/// with its own failure. A time-out or an interrupt is the whole reason: it has no source.
///
/// # Examples
///
/// ```
/// use std::error::Error;
/// use camlnet_tcp_connect::{WhereToConnect, connect_sock};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// // A port that nothing listens on: bind one, then free it.
/// let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
/// let error = connect_sock(&WhereToConnect::inet_address(addr)).await.unwrap_err();
/// assert!(error.is_refused());
/// assert_eq!(error.to_string(), format!("connecting to {addr} failed"));
/// let cause = error.source().and_then(|e| e.downcast_ref::<std::io::Error>());
/// assert_eq!(cause.map(|e| e.kind()), Some(std::io::ErrorKind::ConnectionRefused));
/// # Ok(())
/// # }
/// ```
pub struct ConnectError {
    inner: Box<Inner>,
}

struct Inner {
    target: String,
    kind: Kind,
    attempts: Vec<Attempt>,
    source: Option<io::Error>,
}

#[derive(Debug)]
enum Kind {
    /// The target cannot be connected to whatever happens (empty host, port 0, ...), and
    /// why.
    InvalidTarget { why: &'static str },
    /// Name resolution failed or found no address.
    Resolve,
    /// Preparing the socket failed (the caller's socket, or creating one).
    Socket,
    /// Every connection attempt failed.
    Connect,
    /// The whole attempt took longer than the timeout.
    TimedOut { after: Duration, resolving: bool },
    /// The interrupt fired before the connection was made.
    Interrupted { resolving: bool },
}

/// One address tried, and how it failed (`None`: still waiting for an answer when the
/// attempt ended).
#[derive(Debug)]
pub(crate) struct Attempt {
    pub(crate) address: SocketAddr,
    pub(crate) error: Option<io::Error>,
}

/// Why a bounded attempt stopped before it finished.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stop {
    TimedOut(Duration),
    Interrupted,
}

impl ConnectError {
    fn new(
        target: &dyn fmt::Display,
        kind: Kind,
        attempts: Vec<Attempt>,
        source: Option<io::Error>,
    ) -> Self {
        let target = target.to_string();
        ConnectError {
            inner: Box::new(Inner {
                target,
                kind,
                attempts,
                source,
            }),
        }
    }

    pub(crate) fn invalid_target(target: &dyn fmt::Display, why: &'static str) -> Self {
        ConnectError::new(target, Kind::InvalidTarget { why }, Vec::new(), None)
    }

    pub(crate) fn resolve(target: &dyn fmt::Display, source: io::Error) -> Self {
        ConnectError::new(target, Kind::Resolve, Vec::new(), Some(source))
    }

    pub(crate) fn socket(target: &dyn fmt::Display, source: io::Error) -> Self {
        ConnectError::new(target, Kind::Socket, Vec::new(), Some(source))
    }

    /// Every address in `attempts` failed.
    pub(crate) fn attempts_failed(target: &dyn fmt::Display, attempts: Vec<Attempt>) -> Self {
        ConnectError::new(target, Kind::Connect, attempts, None)
    }

    /// The one connection attempt (to the target itself) failed with `source`.
    pub(crate) fn failed(target: &dyn fmt::Display, source: io::Error) -> Self {
        ConnectError::new(target, Kind::Connect, Vec::new(), Some(source))
    }

    pub(crate) fn stopped(
        target: &dyn fmt::Display,
        stop: Stop,
        resolving: bool,
        attempts: Vec<Attempt>,
    ) -> Self {
        let kind = match stop {
            Stop::TimedOut(after) => Kind::TimedOut { after, resolving },
            Stop::Interrupted => Kind::Interrupted { resolving },
        };
        ConnectError::new(target, kind, attempts, None)
    }

    /// True when the attempt, name resolution included, took longer than the
    /// [timeout](crate::WhereToConnect::timeout).
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, Kind::TimedOut { .. })
    }

    /// True when the [interrupt](crate::WhereToConnect::interrupt) fired before the
    /// connection was made.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.inner.kind, Kind::Interrupted { .. })
    }

    /// True when every address tried refused the connection (`ECONNREFUSED`): nothing
    /// listens there.
    pub fn is_refused(&self) -> bool {
        let refused = |e: &io::Error| e.kind() == io::ErrorKind::ConnectionRefused;
        matches!(self.inner.kind, Kind::Connect)
            && match &self.inner.source {
                Some(source) => refused(source),
                None => {
                    !self.inner.attempts.is_empty()
                        && self
                            .inner
                            .attempts
                            .iter()
                            .all(|a| a.error.as_ref().is_some_and(refused))
                }
            }
    }

    /// True when the host name could not be resolved, or resolved to no address.
    pub fn is_resolve(&self) -> bool {
        matches!(self.inner.kind, Kind::Resolve)
    }

    /// True when the target itself is invalid (an empty host name, port 0, an unnamed
    /// Unix socket address), so that no attempt was made.
    pub fn is_invalid_target(&self) -> bool {
        matches!(self.inner.kind, Kind::InvalidTarget { .. })
    }

    /// The addresses tried, in the order they were started (empty for Unix sockets and
    /// when no attempt was made).
    pub fn addresses_tried(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.inner.attempts.iter().map(|a| a.address)
    }

    /// Every address tried, in the order they were started, with how it failed: `None`
    /// when it was still waiting for an answer as the attempt ended (a time-out, an
    /// interrupt). Empty for Unix sockets and when no attempt was made.
    pub fn attempts(&self) -> impl Iterator<Item = (SocketAddr, Option<&io::Error>)> + '_ {
        self.inner
            .attempts
            .iter()
            .map(|a| (a.address, a.error.as_ref()))
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let target = &inner.target;
        match &inner.kind {
            Kind::InvalidTarget { why } => write!(f, "cannot connect to {target}: {why}"),
            Kind::Resolve => write!(
                f,
                "connecting to {target} failed: cannot resolve the host name"
            ),
            Kind::Socket => write!(f, "connecting to {target} failed: cannot set up the socket"),
            Kind::Connect => write!(f, "connecting to {target} failed"),
            Kind::TimedOut { after, resolving } => {
                write!(f, "connecting to {target} timed out after {after:?}")?;
                if *resolving {
                    f.write_str(" while resolving the host name")?;
                }
                Ok(())
            }
            Kind::Interrupted { resolving } => {
                write!(f, "connecting to {target} was interrupted")?;
                if *resolving {
                    f.write_str(" while resolving the host name")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut d = f.debug_struct("ConnectError");
        d.field("target", &inner.target).field("kind", &inner.kind);
        if !inner.attempts.is_empty() {
            d.field("attempts", &inner.attempts);
        }
        if let Some(source) = &inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for ConnectError {
    /// The cause: the system's or the resolver's error, else the first failure of the
    /// addresses tried; none for a time-out or an interrupt.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        if matches!(
            self.inner.kind,
            Kind::TimedOut { .. } | Kind::Interrupted { .. }
        ) {
            return None;
        }
        let first_failure = || self.inner.attempts.iter().find_map(|a| a.error.as_ref());
        let source = self.inner.source.as_ref().or_else(first_failure)?;
        Some(source)
    }
}

impl From<ConnectError> for io::Error {
    /// An I/O error of a matching kind (`TimedOut`, `Interrupted`, `ConnectionRefused`,
    /// `InvalidInput`, `NotFound` for resolution, else the first failure's kind) that
    /// keeps the `ConnectError` as its inner error.
    fn from(error: ConnectError) -> Self {
        let kind = match &error.inner.kind {
            Kind::TimedOut { .. } => io::ErrorKind::TimedOut,
            Kind::Interrupted { .. } => io::ErrorKind::Interrupted,
            Kind::InvalidTarget { .. } => io::ErrorKind::InvalidInput,
            Kind::Resolve => io::ErrorKind::NotFound,
            Kind::Socket | Kind::Connect => std::error::Error::source(&error)
                .and_then(|e| e.downcast_ref::<io::Error>())
                .map_or(io::ErrorKind::Other, io::Error::kind),
        };
        io::Error::new(kind, error)
    }
}
