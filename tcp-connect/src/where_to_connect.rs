//! `WhereToConnect`: the target of a connection, with the options of the attempt.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use camlnet_flow::{BufferAgeLimit, Inet, Unix};
use tokio_util::sync::CancellationToken;

use crate::inet::InetTarget;
use crate::options::Options;
use crate::resolve::Resolve;
use crate::transport::ConnectTransport;
use crate::unix::UnixTarget;

/// Where to connect, typed by transport, and how: Async's `where_to_connect` with its
/// `with_connect_options`.
///
/// Make one with [`host_and_port`](WhereToConnect::host_and_port) or
/// [`inet_address`](WhereToConnect::inet_address) for TCP, [`file`](WhereToConnect::file)
/// or [`unix_address`](WhereToConnect::unix_address) for Unix sockets, then set what you
/// need with the builder methods. An option that makes no sense for a transport does not
/// exist on it: [`via_local_port`](WhereToConnect::via_local_port) is there only for
/// `WhereToConnect<Inet>`.
///
/// The value is cheap to clone and can be used for any number of connections.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use camlnet_tcp_connect::WhereToConnect;
///
/// let to_server = WhereToConnect::host_and_port("localhost", 8080)
///     .timeout(Duration::from_secs(2))
///     .reader_buffer_size(16 * 1024);
/// assert_eq!(to_server.to_string(), "localhost:8080");
///
/// let to_daemon = WhereToConnect::file("/run/daemon.sock");
/// assert_eq!(to_daemon.to_string(), "/run/daemon.sock");
/// ```
pub struct WhereToConnect<T: ConnectTransport> {
    pub(crate) target: T::Target,
    pub(crate) options: Options,
}

impl WhereToConnect<Inet> {
    /// TCP to `port` of `host`: a name, resolved when connecting (by the system resolver
    /// unless [another is set](WhereToConnect::resolver)), or an IP address literal
    /// (`"127.0.0.1"`, `"::1"` or `"[::1]"`), used as is. A name with several addresses
    /// is connected with Happy Eyeballs.
    ///
    /// An empty host or port 0 makes the connect fail with a
    /// [`ConnectError::is_invalid_target`](crate::ConnectError::is_invalid_target) error.
    ///
    /// # Examples
    ///
    /// ```
    /// let where_to = camlnet_tcp_connect::WhereToConnect::host_and_port("::1", 443);
    /// assert_eq!(where_to.to_string(), "[::1]:443");
    /// ```
    pub fn host_and_port(host: impl AsRef<str>, port: u16) -> Self {
        WhereToConnect::new(InetTarget::host_and_port(host.as_ref(), port))
    }

    /// TCP to `address`, with no name resolution.
    ///
    /// # Examples
    ///
    /// ```
    /// let address = "127.0.0.1:5432".parse().unwrap();
    /// let where_to = camlnet_tcp_connect::WhereToConnect::inet_address(address);
    /// assert_eq!(where_to.to_string(), "127.0.0.1:5432");
    /// ```
    pub fn inet_address(address: SocketAddr) -> Self {
        WhereToConnect::new(InetTarget::address(address))
    }

    /// Connects from the local address `ip`: the socket is bound (`bind(2)`) to it before
    /// `connect(2)`, so the connection leaves through that interface and the peer sees
    /// that address. Addresses of the other IP version than `ip` fail at once.
    ///
    /// Without [`via_local_port`](WhereToConnect::via_local_port) the system picks the
    /// port at `bind(2)` time, from the whole ephemeral range, rather than at `connect(2)`
    /// time as it does for an unbound socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use camlnet_tcp_connect::WhereToConnect;
    ///
    /// let where_to = WhereToConnect::inet_address("127.0.0.1:80".parse().unwrap())
    ///     .via_local_interface("127.0.0.2".parse().unwrap());
    /// assert_eq!(where_to.to_string(), "127.0.0.1:80 via 127.0.0.2");
    /// ```
    pub fn via_local_interface(mut self, ip: IpAddr) -> Self {
        self.target.set_local_ip(ip);
        self
    }

    /// Connects from the local port `port`: the socket is bound to it before
    /// `connect(2)`, with `SO_REUSEADDR` set so that a port whose previous connection is
    /// still in `TIME_WAIT` can be used again for another peer. The connect fails
    /// (`EADDRINUSE`, or `EADDRNOTAVAIL` at `connect(2)`) when the same local and remote
    /// ends are still in use.
    ///
    /// # Examples
    ///
    /// ```
    /// use camlnet_tcp_connect::WhereToConnect;
    ///
    /// let where_to = WhereToConnect::host_and_port("localhost", 80).via_local_port(40000);
    /// assert_eq!(where_to.to_string(), "localhost:80 via local port 40000");
    /// ```
    pub fn via_local_port(mut self, port: u16) -> Self {
        self.target.set_local_port(port);
        self
    }

    /// Resolves host names with `resolver` instead of the [`SystemResolver`](crate::SystemResolver).
    ///
    /// # Examples
    ///
    /// See [`Resolve`].
    pub fn resolver(mut self, resolver: impl Resolve + 'static) -> Self {
        self.target.set_resolver(Arc::new(resolver));
        self
    }
}

impl WhereToConnect<Unix> {
    /// The Unix socket at `path`. On Linux, a path that starts with a NUL byte names the
    /// abstract namespace, as with [`tokio::net::UnixStream::connect`].
    ///
    /// # Examples
    ///
    /// ```
    /// let where_to = camlnet_tcp_connect::WhereToConnect::file("/tmp/app.sock");
    /// assert_eq!(where_to.to_string(), "/tmp/app.sock");
    /// ```
    pub fn file(path: impl Into<PathBuf>) -> Self {
        WhereToConnect::new(UnixTarget::file(path.into()))
    }

    /// The Unix socket at `address`: a path, or on Linux an abstract name. An unnamed
    /// address makes the connect fail with a
    /// [`ConnectError::is_invalid_target`](crate::ConnectError::is_invalid_target) error.
    ///
    /// # Examples
    ///
    /// ```
    /// let address = std::os::unix::net::SocketAddr::from_pathname("/tmp/app.sock")?;
    /// let where_to = camlnet_tcp_connect::WhereToConnect::unix_address(address);
    /// assert_eq!(where_to.to_string(), "/tmp/app.sock");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unix_address(address: std::os::unix::net::SocketAddr) -> Self {
        WhereToConnect::new(UnixTarget::address(address))
    }
}

impl<T: ConnectTransport> WhereToConnect<T> {
    fn new(target: T::Target) -> Self {
        WhereToConnect {
            target,
            options: Options::default(),
        }
    }

    /// Bounds the whole attempt, name resolution included, to `timeout` (default
    /// [`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT), ten seconds). Past it the connect
    /// fails with a [`ConnectError::is_timeout`](crate::ConnectError::is_timeout) error
    /// and every socket it opened is closed. `Duration::MAX` waits as long as the system
    /// does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let where_to = camlnet_tcp_connect::WhereToConnect::host_and_port("example.com", 80)
    ///     .timeout(Duration::from_millis(1500));
    /// # drop(where_to);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Aborts an attempt still in progress when `interrupt` is cancelled (an attempt
    /// started after that fails at once), with a
    /// [`ConnectError::is_interrupted`](crate::ConnectError::is_interrupted) error. It has
    /// no effect on a connection once made.
    ///
    /// # Examples
    ///
    /// ```
    /// use tokio_util::sync::CancellationToken;
    ///
    /// let shutdown = CancellationToken::new();
    /// let where_to = camlnet_tcp_connect::WhereToConnect::host_and_port("example.com", 80)
    ///     .interrupt(shutdown.child_token());
    /// # drop(where_to);
    /// ```
    pub fn interrupt(mut self, interrupt: CancellationToken) -> Self {
        self.options.interrupt = Some(interrupt);
        self
    }

    /// The buffer size of the [`Reader`](camlnet_flow::Reader) that [`connect`](crate::connect)
    /// and [`with_connection`](crate::with_connection) make (default
    /// [`camlnet_flow::DEFAULT_READER_BUFFER_SIZE`], 64 KiB).
    ///
    /// # Examples
    ///
    /// ```
    /// let where_to = camlnet_tcp_connect::WhereToConnect::file("/tmp/app.sock").reader_buffer_size(4096);
    /// # drop(where_to);
    /// ```
    pub fn reader_buffer_size(mut self, bytes: usize) -> Self {
        self.options.reader_buffer_size = bytes;
        self
    }

    /// The [`BufferAgeLimit`] of the [`Writer`](camlnet_flow::Writer) that
    /// [`connect`](crate::connect) and [`with_connection`](crate::with_connection) make
    /// (default two minutes). Under `with_connection`, a writer that exceeds it ends the
    /// connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use camlnet_flow::BufferAgeLimit;
    ///
    /// let where_to = camlnet_tcp_connect::WhereToConnect::file("/tmp/app.sock")
    ///     .buffer_age_limit(BufferAgeLimit::AtMost(Duration::from_secs(30)));
    /// # drop(where_to);
    /// ```
    pub fn buffer_age_limit(mut self, limit: BufferAgeLimit) -> Self {
        self.options.buffer_age_limit = limit;
        self
    }
}

impl<T: ConnectTransport> Clone for WhereToConnect<T> {
    fn clone(&self) -> Self {
        WhereToConnect {
            target: self.target.clone(),
            options: self.options.clone(),
        }
    }
}

impl<T: ConnectTransport> fmt::Debug for WhereToConnect<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhereToConnect")
            .field("target", &self.target)
            .field("options", &self.options)
            .finish()
    }
}

impl<T: ConnectTransport> fmt::Display for WhereToConnect<T> {
    /// The target, as connect errors name it: `host:port`, an address, or a path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.target, f)
    }
}
