//! A set of 1,000 connections served by one loop of `wait` + `update_set`, with every
//! byte accounted for.

mod common;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::process::{Resource, Rlimit};

use camlnet_procord_conn::{Connection, DisconnectReason, Options, Set, State, Waiter};

use common::{LIMIT, pattern};

const CLIENTS: usize = 1000;
const IDLE: Duration = Duration::from_secs(30);

fn raise_fd_limit() {
    let limit = rustix::process::getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    rustix::process::setrlimit(Resource::Nofile, raised).expect("raise RLIMIT_NOFILE");
    let now = rustix::process::getrlimit(Resource::Nofile);
    if let Some(current) = now.current {
        assert!(
            current > 2 * CLIENTS as u64 + 64,
            "need more fds than {current}"
        );
    }
}

/// A non-blocking listener with a backlog large enough for all the clients at once.
fn listener() -> (TcpListener, SocketAddr) {
    let fd = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .expect("socket");
    rustix::net::bind(&fd, &SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).expect("bind");
    rustix::net::listen(&fd, CLIENTS as i32 + 24).expect("listen");
    let listener = TcpListener::from(fd);
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

/// Echoes everything; returns (connections accepted, bytes echoed).
fn serve(listener: TcpListener) -> (usize, u64) {
    let options = Options::new().timeout(IDLE).nodelay(true);
    let mut set: Set<u64> = Set::new();
    let mut accepted = 0;
    let mut echoed = 0;
    let deadline = Instant::now() + LIMIT;
    while (accepted < CLIENTS || !set.is_empty()) && Instant::now() < deadline {
        Waiter::from_list([Waiter::from_listener(&listener), set.waiter()])
            .wait(Some(Duration::from_millis(100)));
        accepted += set
            .accept_into_set(&listener, |_| Some(0), &options)
            .expect("accept");
        for conn in set.iter_mut() {
            assert_eq!(
                conn.timeout(),
                Some(IDLE),
                "every accepted connection has the options"
            );
            let bytes = conn.receive_all();
            *conn.data_mut() += bytes.len() as u64;
            echoed += bytes.len() as u64;
            conn.send(&bytes);
            if conn.input_ended() {
                // The client closed nicely: its end of input leaves our output open, and
                // closing is up to us.
                conn.close_nicely(Some(LIMIT));
            }
        }
        let dead = set.update_set();
        assert!(
            dead.is_empty(),
            "a connection died with unread data: {:?}",
            dead[0].state()
        );
    }
    (accepted, echoed)
}

#[test]
fn one_loop_serves_a_thousand_connections() {
    raise_fd_limit();
    let (listener, addr) = listener();
    let server = std::thread::spawn(move || serve(listener));

    let options = Options::new().timeout(IDLE).nodelay(true);
    let mut clients: Set<(usize, Vec<u8>)> = Set::new();
    let mut expected_total = 0u64;
    for i in 0..CLIENTS {
        let mut conn = Connection::connect_addr(addr, (i, Vec::new()), options.clone());
        let message = pattern(1000 + i, i as u8);
        expected_total += message.len() as u64;
        conn.send(&message);
        clients.insert(conn);
    }

    let mut verified = 0;
    let mut closed_nicely = 0;
    let deadline = Instant::now() + LIMIT;
    while !clients.is_empty() && Instant::now() < deadline {
        clients.waiter().wait(Some(Duration::from_millis(100)));
        for conn in clients.iter_mut() {
            let bytes = conn.receive_all();
            let connected = *conn.state() == State::Connected;
            let (i, got) = conn.data_mut();
            got.extend(bytes);
            let want = 1000 + *i;
            assert!(got.len() <= want, "client {i} got more than it sent");
            if got.len() == want && connected {
                assert!(
                    *got == pattern(want, *i as u8),
                    "client {i} got other bytes"
                );
                verified += 1;
                conn.close_nicely(Some(LIMIT));
            }
        }
        // Update here first to see how those that end here end: by the nice close only.
        for conn in clients.iter_mut() {
            conn.update();
            if let State::Disconnected(reason) = conn.state() {
                assert_eq!(*reason, DisconnectReason::ClosedLocally);
            }
        }
        let before = clients.len();
        let dead = clients.update_set();
        closed_nicely += before - clients.len();
        assert!(dead.is_empty(), "no client ends with unread data");
    }
    assert_eq!(verified, CLIENTS);
    assert_eq!(closed_nicely, CLIENTS);
    let (accepted, echoed) = server.join().expect("server");
    assert_eq!(accepted, CLIENTS);
    assert_eq!(echoed, expected_total);
}
