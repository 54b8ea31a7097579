//! `close(true)` shuts down the connections' own sockets, never whatever socket holds a
//! connection's descriptor number by then.
//!
//! A handler owns its socket's descriptor and may close it while it runs; the number is
//! then free for any other file of the process. Here a handler's helper thread swaps the
//! number between the connection's socket and an unrelated one (`dup2(2)`, as fast as it
//! can) while the server closes with `close(true)`. A server that reached the socket by
//! its number (checking it, then shutting it down) would now and then shut down the
//! unrelated socket; one that holds its own reference to the socket never does.

mod common;

use std::io::Read;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use camlnet_tcp_server::{Server, ServerOptions};
use common::{PATIENCE, localhost};
use rustix::io::Errno;
use rustix::net::SendFlags;
use tokio::net::TcpStream;

/// Rounds at most, and time at most: each round gives the race one chance.
const ROUNDS: usize = 300;
const TIME: Duration = Duration::from_secs(20);

#[test]
fn close_true_never_shuts_down_a_socket_that_took_a_connections_number() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let mut rounds = 0;
    while rounds < ROUNDS && start.elapsed() < TIME {
        runtime.block_on(round());
        rounds += 1;
    }
    assert!(rounds > 0);
}

/// One server, one connection whose number flips between its socket and `unrelated`
/// while the server closes; then `unrelated` must still work.
async fn round() {
    let (unrelated, unrelated_peer) = UnixStream::pair().unwrap();
    let unrelated = Arc::new(OwnedFd::from(unrelated));
    let (flipping_tx, flipping) = tokio::sync::oneshot::channel();
    let flipping_tx = Mutex::new(Some(flipping_tx));
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (unrelated, stop) = (unrelated.clone(), stop.clone());
        Server::create_sock(
            localhost(),
            ServerOptions::default(),
            move |_peer, stream: TcpStream| {
                let (unrelated, stop) = (unrelated.clone(), stop.clone());
                let flipping_tx = flipping_tx.lock().unwrap().take();
                async move {
                    let ours = stream.as_fd().try_clone_to_owned()?;
                    let number = stream.as_raw_fd();
                    let flipper = std::thread::spawn(move || {
                        // SAFETY: `number` is the handler's socket, which the handler
                        // keeps, unused, until this thread has put the socket back at
                        // that number and ended.
                        let mut at_number =
                            ManuallyDrop::new(unsafe { OwnedFd::from_raw_fd(number) });
                        let mut flipping_tx = flipping_tx;
                        while !stop.load(Ordering::SeqCst) {
                            rustix::io::dup2(&*unrelated, &mut at_number)?;
                            rustix::io::dup2(&ours, &mut at_number)?;
                            if let Some(tx) = flipping_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok::<_, std::io::Error>(())
                    });
                    let flipped = tokio::task::spawn_blocking(move || flipper.join())
                        .await
                        .map_err(std::io::Error::other)?;
                    flipped.map_err(|_| std::io::Error::other("the flipper panicked"))??;
                    drop(stream);
                    Ok::<_, std::io::Error>(())
                }
            },
        )
        .await
        .unwrap()
    };
    let _client = TcpStream::connect(server.listening_on_address())
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, flipping)
        .await
        .expect("the handler runs")
        .unwrap();
    let closed = server.close(true);
    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(PATIENCE, closed)
        .await
        .expect("close completes")
        .expect("no handler error");
    let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
    match rustix::net::send(&*unrelated, b"!", flags) {
        Ok(1) => {}
        Err(Errno::PIPE) => panic!("close(true) shut down an unrelated socket"),
        other => panic!("writing to the unrelated socket: {other:?}"),
    }
    let mut one = [0u8; 1];
    (&unrelated_peer).read_exact(&mut one).unwrap();
    assert_eq!(&one, b"!");
}
