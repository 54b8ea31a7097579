//! Unix sockets: serving, the file removed on close, a stale file replaced, a live one
//! (or a file that is not a socket) never taken over, and a live server never connected
//! to by a second one: its lock file tells.

mod common;

use std::os::unix::net::UnixListener as StdUnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use camlnet_tcp_server::{Server, ServerOptions, Unix, WhereToListen};
use common::{PATIENCE, temp_socket_path};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

async fn hello_server(path: &std::path::Path) -> Result<Server<Unix>, camlnet_tcp_server::Error> {
    Server::create_sock(
        WhereToListen::of_file(path),
        ServerOptions::default(),
        |_peer, mut stream: UnixStream| async move {
            stream.write_all(b"hello").await?;
            Ok::<_, std::io::Error>(())
        },
    )
    .await
}

/// The messages of `error` and its sources.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text += &format!(": {e}");
        source = e.source();
    }
    text
}

/// The lock file a server holds beside its socket file.
fn lock_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    lock.into()
}

async fn greeting(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut stream = UnixStream::connect(path).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn serves_and_removes_its_file_on_close() {
    let (_dir, path) = temp_socket_path("serve");
    let server = hello_server(&path).await.unwrap();
    assert_eq!(server.listening_on(), path);
    assert_eq!(
        server.listening_on_address().as_pathname(),
        Some(path.as_path())
    );
    assert_eq!(greeting(&path).await.unwrap(), b"hello");
    tokio::time::timeout(PATIENCE, server.close(false))
        .await
        .unwrap()
        .unwrap();
    assert!(!path.exists(), "the socket file is gone after close");
}

#[tokio::test]
async fn a_stale_file_is_replaced() {
    let (_dir, path) = temp_socket_path("stale");
    // A socket file whose server is gone.
    drop(StdUnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = hello_server(&path).await.expect("a stale file is replaced");
    assert_eq!(greeting(&path).await.unwrap(), b"hello");
    server.close(false).await.unwrap();
    assert!(!path.exists());
}

#[tokio::test]
async fn a_live_socket_is_never_stolen() {
    let (_dir, path) = temp_socket_path("live");
    let first = hello_server(&path).await.unwrap();
    let error = hello_server(&path).await.expect_err("the path is taken");
    assert!(error.is_listen() && error.is_address_in_use(), "{error:?}");
    assert!(chain(&error).contains("already listening"), "{error}");
    // The first server still has its file and serves.
    assert_eq!(greeting(&path).await.unwrap(), b"hello");
    first.close(false).await.unwrap();
    assert!(!path.exists());
}

#[tokio::test]
async fn a_live_socket_of_another_kind_is_never_stolen_either() {
    let (_dir, path) = temp_socket_path("other");
    let other = StdUnixListener::bind(&path).unwrap();
    let error = hello_server(&path).await.expect_err("the path is taken");
    assert!(error.is_address_in_use(), "{error:?}");
    assert!(path.exists());
    drop(other);
    std::fs::remove_file(&path).unwrap();
    assert!(!lock_path(&path).exists());
}

#[tokio::test]
async fn a_file_that_is_not_a_socket_is_left_alone() {
    let (_dir, path) = temp_socket_path("regular");
    std::fs::write(&path, b"precious").unwrap();
    let error = hello_server(&path).await.expect_err("not a socket");
    assert!(error.is_address_in_use(), "{error:?}");
    assert!(chain(&error).contains("not a socket"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    std::fs::remove_file(&path).unwrap();
    assert!(!lock_path(&path).exists());
}

#[tokio::test]
async fn the_file_of_a_successor_is_not_removed() {
    let (_dir, path) = temp_socket_path("successor");
    let server = hello_server(&path).await.unwrap();
    // Someone replaces the file while the server runs.
    std::fs::remove_file(&path).unwrap();
    let successor = StdUnixListener::bind(&path).unwrap();
    server.close(false).await.unwrap();
    assert!(path.exists(), "the successor's file stays");
    drop(successor);
    std::fs::remove_file(&path).unwrap();
}

// On one thread, the first server's accept loop runs only once the second `create_sock`
// has returned: whatever that did to the socket is done by then.
#[tokio::test(flavor = "current_thread")]
async fn a_second_server_never_runs_the_live_servers_handler() {
    let (_dir, path) = temp_socket_path("greeter");
    let handled = Arc::new(AtomicUsize::new(0));
    // Greets at once, and fails (which stops the server, under the default `Raise`)
    // if the peer is gone before the greeting.
    let greeter = {
        let handled = handled.clone();
        move |_peer, mut stream: UnixStream| {
            let handled = handled.clone();
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                stream.write_all(b"hello\n").await?;
                stream.shutdown().await?;
                Ok::<_, std::io::Error>(())
            }
        }
    };
    let first = Server::create_sock(
        WhereToListen::of_file(&path),
        ServerOptions::default(),
        greeter.clone(),
    )
    .await
    .unwrap();
    let error = Server::create_sock(
        WhereToListen::of_file(&path),
        ServerOptions::default(),
        greeter,
    )
    .await
    .expect_err("the path is taken");
    assert!(error.is_listen() && error.is_address_in_use(), "{error:?}");
    // The first server goes on: a new client is greeted, by the only handler run.
    let answer = tokio::time::timeout(PATIENCE, greeting(&path))
        .await
        .expect("greeted in time")
        .expect("greeted");
    assert_eq!(answer, b"hello\n");
    assert_eq!(
        handled.load(Ordering::SeqCst),
        1,
        "a handler ran for a probe"
    );
    assert!(path.exists());
    tokio::time::timeout(PATIENCE, first.close(false))
        .await
        .unwrap()
        .expect("no handler error stopped the server");
    assert!(!path.exists());
}

#[tokio::test]
async fn the_lock_file_is_held_while_listening_and_removed_on_close() {
    let (_dir, path) = temp_socket_path("lock");
    let lock = lock_path(&path);
    let server = hello_server(&path).await.unwrap();
    assert!(lock.exists());
    let file = std::fs::File::open(&lock).unwrap();
    assert_eq!(
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared),
        Err(rustix::io::Errno::WOULDBLOCK),
        "the server holds the lock"
    );
    drop(file);
    server.close(false).await.unwrap();
    assert!(!path.exists() && !lock.exists());
}

#[tokio::test]
async fn a_stale_file_and_its_lock_file_are_replaced() {
    let (_dir, path) = temp_socket_path("stale-lock");
    let lock = lock_path(&path);
    // What a server that crashed leaves: the socket file and an unlocked lock file.
    drop(StdUnixListener::bind(&path).unwrap());
    std::fs::write(&lock, b"").unwrap();
    let server = hello_server(&path).await.expect("a stale file is replaced");
    assert_eq!(greeting(&path).await.unwrap(), b"hello");
    server.close(false).await.unwrap();
    assert!(!path.exists() && !lock.exists());
}
