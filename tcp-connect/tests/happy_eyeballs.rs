//! Happy Eyeballs: a host with several addresses, some dead.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use camlnet_tcp_connect::{WhereToConnect, connect_sock};
use tokio::net::TcpListener;

#[tokio::test]
async fn a_black_holed_first_address_does_not_hold_up_a_live_second_one() {
    let hole = support::black_hole("127.0.0.1").await;
    let live = TcpListener::bind("127.0.0.2:0").await.unwrap();
    let live_addr = live.local_addr().unwrap();
    let where_to = WhereToConnect::host_and_port("eyeballs.test", 1)
        .resolver(support::Fixed(vec![hole.addr, live_addr]))
        .timeout(Duration::from_secs(30));
    let start = Instant::now();
    let stream = connect_sock(&where_to).await.unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    // The second attempt starts after the 250 ms delay, not at once.
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert_eq!(stream.peer_addr().unwrap(), live_addr);
    live.accept().await.unwrap();
}

#[tokio::test]
async fn a_failed_attempt_starts_the_next_at_once() {
    let dead = SocketAddr::from(([127, 0, 0, 1], support::free_port("127.0.0.1")));
    let also_dead = SocketAddr::from(([127, 0, 0, 1], support::free_port("127.0.0.1")));
    let live = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let live_addr = live.local_addr().unwrap();
    let where_to = WhereToConnect::host_and_port("eyeballs.test", 1)
        .resolver(support::Fixed(vec![dead, also_dead, live_addr]));
    let start = Instant::now();
    let stream = connect_sock(&where_to).await.unwrap();
    // Waiting out the 250 ms stagger twice would take at least 500 ms.
    assert!(
        start.elapsed() < Duration::from_millis(450),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(stream.peer_addr().unwrap(), live_addr);
}

/// A resolver yields `first` then `second`, and only the listener's address is live.
async fn either_way_round(listener: TcpListener, dead: SocketAddr, live_first: bool) {
    let live = listener.local_addr().unwrap();
    let addrs = if live_first {
        vec![live, dead]
    } else {
        vec![dead, live]
    };
    let where_to = WhereToConnect::host_and_port("dual-stack.test", live.port())
        .resolver(support::Fixed(addrs));
    let start = Instant::now();
    let stream = connect_sock(&where_to).await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(stream.peer_addr().unwrap(), live);
    let (_server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, stream.local_addr().unwrap());
}

#[tokio::test]
async fn ipv6_and_ipv4_where_only_ipv4_listens() {
    let Some(v6) = support::ipv6_listener().await else {
        return;
    };
    // A free IPv6 port: nothing listens on it once this listener is gone.
    let dead_v6 = v6.local_addr().unwrap();
    drop(v6);
    for live_first in [false, true] {
        let v4 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        either_way_round(v4, dead_v6, live_first).await;
    }
}

#[tokio::test]
async fn ipv6_and_ipv4_where_only_ipv6_listens() {
    let dead_v4 = SocketAddr::from(([127, 0, 0, 1], support::free_port("127.0.0.1")));
    for live_first in [false, true] {
        let Some(v6) = support::ipv6_listener().await else {
            return;
        };
        either_way_round(v6, dead_v4, live_first).await;
    }
}

#[tokio::test]
async fn every_black_hole_times_out_naming_each_address() {
    let a = support::black_hole("127.0.0.1").await;
    let b = support::black_hole("127.0.0.2").await;
    let where_to = WhereToConnect::host_and_port("holes.test", 1)
        .resolver(support::Fixed(vec![a.addr, b.addr]))
        .timeout(Duration::from_secs(1));
    let start = Instant::now();
    let error = connect_sock(&where_to).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(error.is_timeout(), "{error}");
    assert_eq!(
        error.to_string(),
        "connecting to holes.test:1 timed out after 1s"
    );
    let attempts: Vec<_> = error.attempts().collect();
    assert!(
        matches!(attempts[..], [(x, None), (y, None)] if x == a.addr && y == b.addr),
        "{attempts:?}"
    );
}
