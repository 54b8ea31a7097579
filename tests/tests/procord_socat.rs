//! procord-conn against a real outside peer: socat connects to our listener and echoes
//! through `cat`.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use camlnet_procord_conn::{Connection, DisconnectReason, Options, Set, State, Waiter};

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn socat_echoes_and_exits_after_close_nicely() {
    let Some(socat) = tests::outside_tool("socat") else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let port = listener.local_addr().expect("local_addr").port();
    let mut child = Command::new(socat)
        .arg(format!("TCP:127.0.0.1:{port}"))
        .arg("EXEC:cat")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn socat");

    // Accept socat's connection.
    let options = Options::new().timeout(LIMIT).nodelay(true);
    let mut set: Set<()> = Set::new();
    let deadline = Instant::now() + LIMIT;
    while set.is_empty() && Instant::now() < deadline {
        Waiter::from_listener(&listener).wait(Some(Duration::from_millis(200)));
        set.accept_into_set(&listener, |_| Some(()), &options)
            .expect("accept");
    }
    let mut conn: Connection<()> = set.into_iter().next().expect("socat connected");
    assert!(
        conn.remote_address()
            .as_inet()
            .is_some_and(|a| a.ip().is_loopback())
    );

    let message: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    conn.send(&message);
    let mut echoed = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while echoed.len() < message.len() && conn.alive() && Instant::now() < deadline {
        conn.waiter().wait(Some(Duration::from_millis(200)));
        conn.update();
        echoed.extend(conn.receive_all());
    }
    assert!(
        echoed == message,
        "echoed {} of {} bytes",
        echoed.len(),
        message.len()
    );

    // Half-close: socat passes the end of stream to cat, cat exits, socat closes and exits.
    conn.close_nicely(Some(LIMIT));
    while conn.alive() && Instant::now() < deadline {
        conn.waiter().wait(Some(Duration::from_millis(200)));
        conn.update();
    }
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::ClosedLocally)
    );
    assert!(conn.receive_buffer_empty());

    // No readiness signal for a child's exit here: poll it, bounded.
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let status = status.expect("socat exits after the close");
    assert!(status.success(), "socat: {status}");
}
