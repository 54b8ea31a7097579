//! What a failed connect says: refusals, failed lookups, and the addresses tried.

mod support;

use std::net::SocketAddr;

use camlnet_tcp_connect::{ConnectError, WhereToConnect, connect_sock};

#[tokio::test]
async fn a_refused_port_names_the_address() {
    let port = support::free_port("127.0.0.1");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let error = connect_sock(&WhereToConnect::inet_address(addr))
        .await
        .unwrap_err();
    assert!(error.is_refused(), "{error}");
    assert!(!error.is_timeout() && !error.is_interrupted() && !error.is_resolve());
    assert_eq!(error.to_string(), format!("connecting to {addr} failed"));
    assert!(support::cause(&error).to_lowercase().contains("refused"));
    assert_eq!(error.addresses_tried().collect::<Vec<_>>(), [addr]);
    let source = std::error::Error::source(&error).unwrap();
    let io = source.downcast_ref::<std::io::Error>().unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    let attempts: Vec<_> = error.attempts().collect();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].0, addr);
    assert!(
        std::ptr::eq(attempts[0].1.unwrap(), io),
        "the attempt's error is the source"
    );
}

#[tokio::test]
async fn every_address_tried_is_named_with_its_own_failure() {
    let a = SocketAddr::from(([127, 0, 0, 1], support::free_port("127.0.0.1")));
    let b = SocketAddr::from(([127, 0, 0, 2], support::free_port("127.0.0.2")));
    let where_to =
        WhereToConnect::host_and_port("twice.test", 9).resolver(support::Fixed(vec![a, b]));
    let error = connect_sock(&where_to).await.unwrap_err();
    assert!(error.is_refused(), "{error}");
    assert_eq!(error.to_string(), "connecting to twice.test:9 failed");
    let refused = |e: Option<&std::io::Error>| {
        e.map(std::io::Error::kind) == Some(std::io::ErrorKind::ConnectionRefused)
    };
    let attempts: Vec<_> = error.attempts().collect();
    assert_eq!(attempts.iter().map(|a| a.0).collect::<Vec<_>>(), [a, b]);
    assert!(attempts.iter().all(|a| refused(a.1)), "{attempts:?}");
    assert_eq!(support::cause(&error), attempts[0].1.unwrap().to_string());
    assert_eq!(error.addresses_tried().collect::<Vec<_>>(), [a, b]);
}

#[tokio::test]
async fn a_failed_lookup_says_so() {
    let where_to = WhereToConnect::host_and_port("nowhere.test", 80).resolver(support::Failing);
    let error = connect_sock(&where_to).await.unwrap_err();
    assert!(error.is_resolve(), "{error}");
    assert!(!error.is_refused() && !error.is_timeout());
    assert_eq!(
        error.to_string(),
        "connecting to nowhere.test:80 failed: cannot resolve the host name"
    );
    assert_eq!(support::cause(&error), "no such host: nowhere.test");
}

#[tokio::test]
async fn a_lookup_without_addresses_says_so() {
    let where_to =
        WhereToConnect::host_and_port("empty.test", 80).resolver(support::Fixed(Vec::new()));
    let error = connect_sock(&where_to).await.unwrap_err();
    assert!(error.is_resolve(), "{error}");
    assert!(support::cause(&error).contains("no address"), "{error}");
}

#[tokio::test]
async fn resolved_addresses_without_a_port_get_the_targets_port() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let where_to = WhereToConnect::host_and_port("portless.test", port)
        .resolver(support::Fixed(vec!["127.0.0.1:0".parse().unwrap()]));
    let stream = connect_sock(&where_to).await.unwrap();
    assert_eq!(stream.peer_addr().unwrap().port(), port);
}

#[test]
fn a_connect_error_becomes_an_io_error_of_the_matching_kind() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let port = support::free_port("127.0.0.1");
    let error: ConnectError = runtime
        .block_on(connect_sock(&WhereToConnect::inet_address(
            SocketAddr::from(([127, 0, 0, 1], port)),
        )))
        .unwrap_err();
    let text = error.to_string();
    let io = std::io::Error::from(error);
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(io.to_string(), text);
}

#[test]
fn connect_errors_and_targets_are_send_sync_and_debug() {
    fn check<T: Send + Sync + std::fmt::Debug + 'static>() {}
    check::<ConnectError>();
    check::<WhereToConnect<camlnet_tcp_connect::Inet>>();
    check::<WhereToConnect<camlnet_tcp_connect::Unix>>();
}
