//! Helpers shared by the integration tests: a black-holed address, fixed resolvers, and
//! IPv6 detection. Each test binary uses only some of them.
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use camlnet_tcp_connect::{ConnectError, Resolve, Resolving};
use socket2::{Domain, Socket, Type};
use tokio::net::TcpStream;

/// The text of `error`'s source, after checking that `error`'s own message does not
/// repeat it.
pub fn cause(error: &ConnectError) -> String {
    let source = std::error::Error::source(error)
        .unwrap_or_else(|| panic!("no source: {error}"))
        .to_string();
    assert!(
        !error.to_string().contains(&source),
        "the message {error:?} repeats its source {source:?}"
    );
    source
}

/// A listening socket whose accept queue is full and never drained: the kernel drops
/// further SYNs, so a connect to `addr` goes unanswered until the caller gives up.
pub struct BlackHole {
    pub addr: SocketAddr,
    _listener: Socket,
    _queued: Vec<TcpStream>,
}

/// Makes a [`BlackHole`] on `ip` (port chosen by the system), checking that a connect to
/// it really goes unanswered.
pub async fn black_hole(ip: &str) -> BlackHole {
    let addr: SocketAddr = format!("{ip}:0").parse().unwrap();
    let listener = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    listener.bind(&addr.into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    // Backlog 0 holds one connection on Linux; allow a few more on other systems.
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => queued.push(stream),
            Ok(Err(e)) => panic!("filling the accept queue of {addr}: {e}"),
            Err(_unanswered) => {
                return BlackHole {
                    addr,
                    _listener: listener,
                    _queued: queued,
                };
            }
        }
    }
    panic!(
        "the accept queue of {addr} did not fill up after {} connections",
        queued.len()
    );
}

/// A resolver that answers every name with the same addresses.
#[derive(Debug, Clone)]
pub struct Fixed(pub Vec<SocketAddr>);

impl Resolve for Fixed {
    fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> Resolving<'a> {
        let addrs = self.0.clone();
        Box::pin(async move { Ok(addrs) })
    }
}

/// A resolver that fails every lookup.
#[derive(Debug, Clone)]
pub struct Failing;

impl Resolve for Failing {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> Resolving<'a> {
        let error = io::Error::new(io::ErrorKind::NotFound, format!("no such host: {host}"));
        Box::pin(async move { Err(error) })
    }
}

/// A resolver that never answers.
#[derive(Debug, Clone)]
pub struct Silent;

impl Resolve for Silent {
    fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> Resolving<'a> {
        Box::pin(std::future::pending())
    }
}

/// A listener on `[::1]:0`, or `None` (after saying the test is skipped) when the machine
/// has no `::1`.
pub async fn ipv6_listener() -> Option<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(listener) => Some(listener),
        Err(e) => {
            println!("skipped: no ::1 on this machine ({e})");
            None
        }
    }
}

/// A port that nothing listens on, as far as anyone can tell: bound, then freed.
pub fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
