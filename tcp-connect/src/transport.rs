//! `ConnectTransport`: the transports this crate connects, and what each must provide.

use std::fmt;
use std::future::Future;

use socket2::Socket;

use crate::error::ConnectError;
use crate::options::Options;

pub(crate) mod sealed {
    use super::*;

    /// What a transport provides to the connect functions. Private, so that `Inet` and
    /// `Unix` stay the only transports.
    pub trait Sealed: camlnet_flow::Transport {
        /// Where to connect: the target without the shared options.
        type Target: Clone + fmt::Debug + fmt::Display + Send + Sync + 'static;

        /// Connects to `target` within the options' timeout and interrupt, through
        /// `socket` if the caller gave one.
        fn connect(
            target: &Self::Target,
            options: &Options,
            socket: Option<Socket>,
        ) -> impl Future<Output = Result<Self::Stream, ConnectError>> + Send;
    }
}

/// A transport that this crate connects: [`Inet`](camlnet_flow::Inet) (TCP, giving a
/// [`TcpStream`](tokio::net::TcpStream)) or [`Unix`](camlnet_flow::Unix) (giving a
/// [`UnixStream`](tokio::net::UnixStream)). Sealed: the two are all there is.
pub trait ConnectTransport: sealed::Sealed {}

impl ConnectTransport for camlnet_flow::Inet {}
impl ConnectTransport for camlnet_flow::Unix {}
