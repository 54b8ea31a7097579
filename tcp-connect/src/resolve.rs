//! Name resolution: the `Resolve` trait and the system resolver.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

/// The future a [`Resolve`] implementation returns.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

/// Turns a host name and a port into the socket addresses to try, in order of preference.
///
/// [`SystemResolver`] is the default; set another one with
/// [`WhereToConnect::resolver`](crate::WhereToConnect::resolver), to use a DNS client of
/// your own, or to give tests fixed answers. A host that is an IP address literal (`"::1"`,
/// `"[::1]"`, `"127.0.0.1"`) is never handed to the resolver.
///
/// The whole attempt's [timeout](crate::WhereToConnect::timeout) and
/// [interrupt](crate::WhereToConnect::interrupt) bound the resolution too: the future is
/// dropped when either fires.
///
/// # Examples
///
/// A resolver that sends every name to one address:
///
/// ```
/// use std::net::SocketAddr;
/// use camlnet_tcp_connect::{Resolve, Resolving};
///
/// #[derive(Debug)]
/// struct Fixed(SocketAddr);
///
/// impl Resolve for Fixed {
///     fn resolve<'a>(&'a self, _host: &'a str, port: u16) -> Resolving<'a> {
///         let mut addr = self.0;
///         addr.set_port(port);
///         Box::pin(async move { Ok(vec![addr]) })
///     }
/// }
///
/// let where_to = camlnet_tcp_connect::WhereToConnect::host_and_port("db.internal", 5432)
///     .resolver(Fixed("127.0.0.1:0".parse().unwrap()));
/// # drop(where_to);
/// ```
pub trait Resolve: Send + Sync {
    /// The addresses of `host`, each with `port`, in order of preference.
    ///
    /// # Errors
    ///
    /// Whatever made the lookup fail; it becomes the source of a
    /// [`ConnectError::is_resolve`](crate::ConnectError::is_resolve) error. An empty list is
    /// reported the same way.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a>;
}

impl<R: Resolve + ?Sized> Resolve for Arc<R> {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a> {
        (**self).resolve(host, port)
    }
}

/// The operating system's resolver (`getaddrinfo(3)` on a blocking thread, through
/// [`tokio::net::lookup_host`]): `/etc/hosts`, DNS, and whatever else the system is set up
/// to use.
///
/// `getaddrinfo` cannot be cancelled: when the timeout or the interrupt fires during a
/// lookup, the connect attempt ends at once but the lookup goes on in the background
/// until the system gives up, holding one of tokio's blocking threads.
///
/// # Examples
///
/// ```
/// use camlnet_tcp_connect::{Resolve, SystemResolver};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let addrs = SystemResolver.resolve("localhost", 80).await?;
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}
