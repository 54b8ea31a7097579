//! The timeout and the interrupt, against an address that never answers.

mod support;

use std::time::{Duration, Instant};

use camlnet_tcp_connect::{WhereToConnect, connect_sock};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_timeout_fires_near_the_configured_time_and_says_so() {
    let hole = support::black_hole("127.0.0.1").await;
    let where_to = WhereToConnect::inet_address(hole.addr).timeout(Duration::from_secs(1));
    let start = Instant::now();
    let error = connect_sock(&where_to).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(error.is_timeout(), "{error}");
    assert!(!error.is_interrupted() && !error.is_refused() && !error.is_resolve());
    assert_eq!(
        error.to_string(),
        format!("connecting to {} timed out after 1s", hole.addr)
    );
    // The time-out is the whole reason; the address tried had not answered.
    assert!(std::error::Error::source(&error).is_none());
    let attempts: Vec<_> = error.attempts().collect();
    assert!(
        matches!(attempts[..], [(addr, None)] if addr == hole.addr),
        "{attempts:?}"
    );
}

#[tokio::test]
async fn the_timeout_bounds_name_resolution_too() {
    let where_to = WhereToConnect::host_and_port("slow.example", 80)
        .resolver(support::Silent)
        .timeout(Duration::from_millis(500));
    let start = Instant::now();
    let error = connect_sock(&where_to).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(error.is_timeout(), "{error}");
    assert!(
        error.to_string().contains("while resolving the host name"),
        "{error}"
    );
}

#[tokio::test]
async fn an_interrupt_fires_before_the_timeout_and_says_so() {
    let hole = support::black_hole("127.0.0.1").await;
    let interrupt = CancellationToken::new();
    let where_to = WhereToConnect::host_and_port("127.0.0.1", hole.addr.port())
        .timeout(Duration::from_secs(30))
        .interrupt(interrupt.clone());
    let trigger = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        interrupt.cancel();
    });
    let start = Instant::now();
    let error = connect_sock(&where_to).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(error.is_interrupted(), "{error}");
    assert!(!error.is_timeout());
    assert!(error.to_string().contains("was interrupted"), "{error}");
    trigger.await.unwrap();
}

#[tokio::test]
async fn an_interrupt_that_already_fired_stops_the_attempt_at_once() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let interrupt = CancellationToken::new();
    interrupt.cancel();
    let where_to =
        WhereToConnect::inet_address(listener.local_addr().unwrap()).interrupt(interrupt);
    let error = connect_sock(&where_to).await.unwrap_err();
    assert!(error.is_interrupted(), "{error}");
}

#[tokio::test]
async fn an_interrupt_does_not_touch_a_connection_once_made() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let interrupt = CancellationToken::new();
    let where_to =
        WhereToConnect::inet_address(listener.local_addr().unwrap()).interrupt(interrupt.clone());
    let stream = connect_sock(&where_to).await.unwrap();
    interrupt.cancel();
    let (_server, peer) = listener.accept().await.unwrap();
    assert_eq!(stream.local_addr().unwrap(), peer);
}

#[tokio::test]
async fn an_endless_timeout_does_not_overflow() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let where_to =
        WhereToConnect::inet_address(listener.local_addr().unwrap()).timeout(Duration::MAX);
    connect_sock(&where_to).await.unwrap();
}
