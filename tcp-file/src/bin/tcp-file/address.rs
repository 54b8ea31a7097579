//! Where a server listens or a client connects: `HOST:PORT` (TCP) or `unix:PATH` (a Unix
//! socket), checked while the arguments are parsed, so that a bad one is a usage error.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;

/// A server's address, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Address {
    /// A host name or IP address, and a port.
    Tcp { host: String, port: u16 },
    /// The path of a Unix socket.
    Unix(PathBuf),
}

/// What an address looks like, for the messages below.
const FORMS: &str = "HOST:PORT (such as 127.0.0.1:7070 or [::1]:7070) or unix:PATH";

impl Address {
    /// Parses `HOST:PORT`, `[IPV6]:PORT` or `unix:PATH` (clap's value parser).
    pub(crate) fn parse(text: &str) -> Result<Address, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!("no path after unix: (expected {FORMS})"));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        let Some((host, port)) = text.rsplit_once(':') else {
            return Err(format!("no port (expected {FORMS})"));
        };
        let port = match port.parse::<u64>() {
            Ok(port) => {
                u16::try_from(port).map_err(|_| format!("port {port} is out of range 0-65535"))?
            }
            Err(_) => return Err(format!("not a port: {port:?} (expected {FORMS})")),
        };
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(ipv6) if ipv6.parse::<Ipv6Addr>().is_ok() => ipv6,
            Some(_) => return Err(format!("not an IPv6 address: {host} (expected {FORMS})")),
            // An IPv6 address needs its brackets: `::1:7070` could mean two things.
            None if host.contains(':') => {
                return Err(format!("put an IPv6 address in brackets: [{host}]:{port}"));
            }
            None if host.is_empty() => return Err(format!("no host (expected {FORMS})")),
            None => host,
        };
        Ok(Address::Tcp {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for Address {
    /// As it was given: `HOST:PORT`, `[IPV6]:PORT` or `unix:PATH`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Result<Address, String> {
        Ok(Address::Tcp {
            host: host.to_string(),
            port,
        })
    }

    #[test]
    fn addresses_parse_and_print_back() {
        for text in [
            "127.0.0.1:7070",
            "localhost:0",
            "[::1]:7070",
            "unix:/run/app.sock",
        ] {
            let address = Address::parse(text).expect(text);
            assert_eq!(address.to_string(), text);
        }
        assert_eq!(Address::parse("[::1]:80"), tcp("::1", 80));
        assert_eq!(
            Address::parse("unix:rel/s"),
            Ok(Address::Unix(PathBuf::from("rel/s")))
        );
    }

    #[test]
    fn malformed_addresses_say_why() {
        let error = |text| Address::parse(text).expect_err(text);
        assert!(error("127.0.0.1:70000").contains("out of range"));
        assert!(error("127.0.0.1").contains("no port"));
        assert!(error("127.0.0.1:http").contains("not a port"));
        assert!(error(":7070").contains("no host"));
        assert!(error("::1:7070").contains("brackets"));
        assert!(error("[nope]:1").contains("IPv6"));
        assert!(error("unix:").contains("no path"));
    }
}
