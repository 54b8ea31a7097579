//! Reaching a server: a [`Client`] for streams, or a plain connection for one text-mode
//! request (`LIST`, `STATS`); and failures to connect said once, with a hint.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use camlnet_tcp_connect::{ConnectError, ConnectTransport, WhereToConnect, connect_sock};
use camlnet_tcp_file::Client;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Failure;
use crate::address::Address;
use crate::report::error_chain;

/// The most a text-mode answer may hold: a bound on what a server can make us keep.
const MAX_ANSWER: u64 = 256 * 1024 * 1024;

/// `--connect-timeout`, for every subcommand that connects.
#[derive(Debug, clap::Args)]
pub(crate) struct ConnectArgs {
    /// Give up connecting after this long (name resolution included), such as 2s or 500ms.
    #[arg(long = "connect-timeout", value_name = "D", default_value = "10s", value_parser = crate::parse_duration)]
    pub(crate) timeout: Duration,
}

/// Connects a client to the server at `address`, giving up after `timeout`.
pub(crate) async fn client(address: &Address, timeout: Duration) -> Result<Client, Failure> {
    let connected = match address {
        Address::Tcp { host, port } => {
            Client::connect(&WhereToConnect::host_and_port(host, *port).timeout(timeout)).await
        }
        Address::Unix(path) => Client::connect(&WhereToConnect::file(path).timeout(timeout)).await,
    };
    connected.map_err(|e| cannot_connect(address, timeout, &e))
}

/// Sends the text-mode request `request` and returns the lines of its answer after `+OK`.
///
/// # Errors
///
/// A failure to connect (exit code 4, as a refusal by the server is), or the server's
/// `-ERR` reason, or a connection that fails during the answer.
pub(crate) async fn text_request(
    address: &Address,
    timeout: Duration,
    request: &str,
) -> Result<Vec<String>, Failure> {
    let answer = match address {
        Address::Tcp { host, port } => {
            let where_to = WhereToConnect::host_and_port(host, *port).timeout(timeout);
            exchange(connect(address, &where_to, timeout).await?, request).await
        }
        Address::Unix(path) => {
            let where_to = WhereToConnect::file(path).timeout(timeout);
            exchange(connect(address, &where_to, timeout).await?, request).await
        }
    };
    let answer = answer.map_err(|e| {
        let reason = format!("{request} to {address} failed: {}", error_chain(&e));
        Failure::new(Failure::CONNECTION_LOST, reason)
    })?;
    let text = String::from_utf8_lossy(&answer);
    let mut lines = text.lines();
    match lines.next() {
        Some("+OK") => Ok(lines.map(str::to_string).collect()),
        Some(line) if line.starts_with("-ERR ") => {
            let reason = &line["-ERR ".len()..];
            // The words of tcp-file's server for a client that `--allow` turns away.
            if reason.ends_with("is not allowed to connect") {
                let reason = format!("cannot connect to {address}: the server refused: {reason}");
                return Err(Failure::new(Failure::REFUSED, reason));
            }
            Err(Failure::other(format!(
                "{address} refused {request}: {reason}"
            )))
        }
        _ => Err(Failure::new(
            Failure::CONNECTION_LOST,
            format!("{address} did not answer {request} (is it a `tcp-file serve`?)"),
        )),
    }
}

async fn connect<T: ConnectTransport>(
    address: &Address,
    where_to: &WhereToConnect<T>,
    timeout: Duration,
) -> Result<T::Stream, Failure> {
    connect_sock(where_to)
        .await
        .map_err(|e| cannot_connect(address, timeout, &e))
}

/// Writes `request` and its newline, half-closes, and reads the answer to its end.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> io::Result<Vec<u8>> {
    stream.write_all(format!("{request}\n").as_bytes()).await?;
    stream.shutdown().await?;
    let mut answer = Vec::new();
    stream.take(MAX_ANSWER).read_to_end(&mut answer).await?;
    Ok(answer)
}

/// Says why connecting to `address` failed, once and with a hint: `cannot connect to
/// 127.0.0.1:1: connection refused (is `tcp-file serve` running there?)`.
pub(crate) fn cannot_connect(
    address: &Address,
    timeout: Duration,
    error: &(dyn StdError + 'static),
) -> Failure {
    let why = match connect_error(error) {
        Some(e) if e.is_timeout() => {
            format!("no connection within {timeout:?} (see --connect-timeout)")
        }
        Some(e) if e.is_refused() || is_missing_socket(e) => {
            let cause = e.source().map_or_else(|| e.to_string(), system_words);
            format!("{cause} (is `tcp-file serve` running there?)")
        }
        Some(e) if e.is_resolve() => match e.source() {
            Some(cause) => format!("cannot resolve the host name: {}", system_words(cause)),
            None => "cannot resolve the host name".to_string(),
        },
        Some(e) => e.source().map_or_else(|| e.to_string(), system_words),
        // The connection was made, but the server did not say welcome: its own words
        // (the library's first level names the server again).
        None => error
            .source()
            .map_or_else(|| error.to_string(), error_chain),
    };
    Failure::new(
        Failure::REFUSED,
        format!("cannot connect to {address}: {why}"),
    )
}

/// The [`ConnectError`] in `error`'s chain, if connecting itself failed.
fn connect_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a ConnectError> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(connect) = e.downcast_ref::<ConnectError>() {
            return Some(connect);
        }
        next = e.source();
    }
    None
}

/// A Unix socket path where no socket is.
fn is_missing_socket(error: &ConnectError) -> bool {
    error
        .source()
        .and_then(|e| e.downcast_ref::<io::Error>())
        .is_some_and(|e| e.kind() == io::ErrorKind::NotFound)
}

/// The system's words for an error, as a phrase: `connection refused` rather than
/// `Connection refused (os error 111)`.
fn system_words(error: &(dyn StdError + 'static)) -> String {
    let text = error_chain(error);
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => &text[..],
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_words_are_a_phrase() {
        let refused = io::Error::from_raw_os_error(111);
        assert_eq!(system_words(&refused), "connection refused");
        let custom = io::Error::other("Something odd");
        assert_eq!(system_words(&custom), "something odd");
    }
}
