//! `with_connection` leaks no file descriptor: 2,000 rounds that return, fail and panic.
//! The only test in its binary, so that no other test opens or closes descriptors
//! meanwhile.

use std::io;
use std::time::Duration;

use camlnet_tcp_connect::{WhereToConnect, with_connection};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const ROUNDS: usize = 2_000;
const WARM_UP: usize = 30;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// One round: the closure returns, fails or panics, depending on `round`.
async fn round(where_to: WhereToConnect<camlnet_tcp_connect::Inet>, round: usize) {
    let task = tokio::spawn(async move {
        with_connection(&where_to, move |_socket, _reader, writer| async move {
            writer.write(b"x")?;
            match round % 3 {
                0 => Ok(round),
                1 => Err(io::Error::other("failing on purpose")),
                _ => panic!("panicking on purpose"),
            }
        })
        .await
    });
    match (round % 3, task.await) {
        (0, Ok(Ok(n))) => assert_eq!(n, round),
        (1, Ok(Err(e))) => assert_eq!(e.to_string(), "failing on purpose"),
        (2, Err(e)) => assert!(e.is_panic()),
        (_, other) => panic!("round {round}: unexpected {other:?}"),
    }
}

#[test]
fn with_connection_leaks_no_file_descriptor() {
    if std::fs::read_dir("/proc/self/fd").is_err() {
        println!("skipped: no /proc/self/fd on this system");
        return;
    }
    // 667 deliberate panics: keep them off stderr.
    std::panic::set_hook(Box::new(|_| {}));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let where_to = WhereToConnect::inet_address(listener.local_addr().unwrap());
        // The server reads each connection to its end, closes it, and says so.
        let (closed_tx, mut closed_rx) = mpsc::unbounded_channel();
        let server = tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let closed_tx = closed_tx.clone();
                tokio::spawn(async move {
                    let mut sink = Vec::new();
                    let _ = stream.read_to_end(&mut sink).await;
                    drop(stream);
                    let _ = closed_tx.send(());
                });
            }
        });
        let wait_closed = async |n: usize, rx: &mut mpsc::UnboundedReceiver<()>| {
            for _ in 0..n {
                tokio::time::timeout(Duration::from_secs(10), rx.recv())
                    .await
                    .unwrap()
                    .unwrap();
            }
        };

        for i in 0..WARM_UP {
            round(where_to.clone(), i).await;
        }
        wait_closed(WARM_UP, &mut closed_rx).await;
        let before = open_fds();

        for i in 0..ROUNDS {
            round(where_to.clone(), i).await;
        }
        wait_closed(ROUNDS, &mut closed_rx).await;
        let after = open_fds();
        assert_eq!(
            after, before,
            "open file descriptors: {before} before {ROUNDS} rounds, {after} after"
        );
        server.abort();
    });
    let _ = std::panic::take_hook();
}
