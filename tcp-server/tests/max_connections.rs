//! `max_connections`: never more handlers at once than the limit, every client served in
//! the end, and `num_connections` agreeing with the handlers' own count.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use camlnet_tcp_server::{Server, ServerOptions};
use common::{PATIENCE, eventually, localhost};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const LIMIT: usize = 4;
const CLIENTS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_at_a_time_and_every_client_served() {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    // Each handler waits for one permit of this gate before it answers.
    let gate = Arc::new(Semaphore::new(0));
    let server = {
        let (running, most, served, gate) =
            (running.clone(), most.clone(), served.clone(), gate.clone());
        Server::create_sock(
            localhost(),
            ServerOptions::default().max_connections(LIMIT),
            move |_peer, mut stream: TcpStream| {
                let (running, most, served, gate) =
                    (running.clone(), most.clone(), served.clone(), gate.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    gate.acquire()
                        .await
                        .map_err(std::io::Error::other)?
                        .forget();
                    running.fetch_sub(1, Ordering::SeqCst);
                    served.fetch_add(1, Ordering::SeqCst);
                    stream.write_all(b"served").await?;
                    Ok::<_, std::io::Error>(())
                }
            },
        )
        .await
        .expect("listen")
    };
    assert_eq!(server.max_connections(), LIMIT);
    let address = *server.listening_on_address();

    // Checks the invariant and the limits continuously while the clients run.
    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (server, running, done) = (server.clone(), running.clone(), done.clone());
        tokio::spawn(async move {
            let mut checks = 0u64;
            while !done.load(Ordering::SeqCst) {
                server.invariant();
                assert!(server.num_connections() <= LIMIT, "{server:?}");
                assert!(running.load(Ordering::SeqCst) <= LIMIT);
                checks += 1;
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            checks
        })
    };

    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(address).await?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                assert_eq!(answer, b"served");
                Ok::<_, std::io::Error>(())
            })
        })
        .collect();

    // Release the handlers one at a time; between releases, when things are quiet, the
    // server's count and the handlers' agree.
    let mut released = 0;
    while released < CLIENTS {
        let expected_running = LIMIT.min(CLIENTS - released);
        eventually("the next handlers to start", PATIENCE, || {
            running.load(Ordering::SeqCst) == expected_running
                && server.num_connections() == expected_running
        })
        .await;
        server.invariant();
        if released == 0 {
            // Give a fifth handler every chance to start: none does.
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(running.load(Ordering::SeqCst), LIMIT);
            assert_eq!(server.num_connections(), LIMIT);
        }
        gate.add_permits(1);
        released += 1;
        eventually("the released handler to finish", PATIENCE, || {
            served.load(Ordering::SeqCst) == released
        })
        .await;
    }
    for client in clients {
        tokio::time::timeout(PATIENCE, client)
            .await
            .expect("client done")
            .unwrap()
            .unwrap();
    }
    eventually("all connections to end", PATIENCE, || {
        server.num_connections() == 0
    })
    .await;
    done.store(true, Ordering::SeqCst);
    assert!(monitor.await.unwrap() > 0);
    assert_eq!(most.load(Ordering::SeqCst), LIMIT);
    assert_eq!(served.load(Ordering::SeqCst), CLIENTS);
    server.invariant();
    server.close(false).await.unwrap();
    server.invariant();
}

#[tokio::test]
async fn the_default_limit_follows_the_file_descriptor_limit() {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let expected = match soft {
        Some(soft) => usize::try_from(soft * 9 / 20).unwrap().clamp(1, 10_000),
        None => 10_000,
    };
    let server = Server::create_sock(
        localhost(),
        ServerOptions::default(),
        |_, _s: TcpStream| async { Ok::<_, std::io::Error>(()) },
    )
    .await
    .unwrap();
    assert_eq!(server.max_connections(), expected);
    server.close(false).await.unwrap();
}
