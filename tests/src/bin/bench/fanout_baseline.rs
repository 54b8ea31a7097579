//! What the `file-*` scenarios share: a bare tokio fan-out server that appends to a file
//! and loses nothing (the baseline), its bare clients, and the setup of our `tcp-file`
//! server beside it.
//!
//! The bare server gives each client a queue of bytes (frames of a 4-byte big-endian
//! length and the message) under a mutex; the client's task takes everything queued, up to
//! 64 KiB, and writes it with one write. Queues have no limit: the writer never waits, as
//! `tcp-file`'s never does, and nothing is lost.
//!
//! Both servers set `TCP_NODELAY` on their sockets, as `tcp-file` does.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use camlnet_tcp_server::{BindToAddress, BindToPort, Inet, WhereToListen};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use crate::harness::BenchError;

/// The bare server writes up to this much at once to a client.
const WRITE_BATCH: usize = 64 * 1024;
/// A directory of its own under `std::env::temp_dir()`, removed on drop.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(what: &str) -> io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("bench-{what}-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The runtimes of `file-fanout` and `file-catch-up`: one for the server side (ours or the
/// bare one, and the writer), with one worker thread; one for the clients, on the calling
/// thread. Each side has a core of its own on this 2-core machine, as a server process and
/// a client process would, and neither side's tasks run on the other's thread.
pub(crate) fn two_sides() -> std::io::Result<(tokio::runtime::Runtime, tokio::runtime::Runtime)> {
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-server")
        .enable_all()
        .build()?;
    let clients = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok((servers, clients))
}

/// Waits until `done()` holds, checking every millisecond; an error past `deadline`.
pub(crate) async fn wait_until(
    what: &str,
    deadline: Instant,
    mut done: impl FnMut() -> bool,
) -> Result<(), BenchError> {
    while !done() {
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Awaits `future`, or an error naming `what` once `deadline` passed.
pub(crate) async fn before<T>(
    what: &str,
    deadline: Instant,
    future: impl Future<Output = T>,
) -> Result<T, BenchError> {
    tokio::time::timeout_at(deadline.into(), future)
        .await
        .map_err(|_| format!("timed out: {what}").into())
}

/// Our side: a `tcp-file` server serving over TCP on 127.0.0.1, port chosen by the OS.
pub(crate) struct Ours {
    pub(crate) server: camlnet_tcp_file::Server,
    pub(crate) listening: camlnet_tcp_server::Server<Inet>,
    pub(crate) addr: SocketAddr,
}

impl Ours {
    pub(crate) async fn serve(server: camlnet_tcp_file::Server) -> Result<Ours, BenchError> {
        let listening = server
            .serve(
                WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
                |_| true,
            )
            .await?;
        let addr = SocketAddr::from(([127, 0, 0, 1], listening.listening_on()));
        Ok(Ours {
            server,
            listening,
            addr,
        })
    }

    pub(crate) async fn connect(&self) -> Result<camlnet_tcp_file::Client, BenchError> {
        Ok(
            camlnet_tcp_file::Client::connect(&camlnet_tcp_connect::WhereToConnect::inet_address(
                self.addr,
            ))
            .await?,
        )
    }

    /// How many streams read `name` now.
    pub(crate) fn readers(&self, name: &str) -> usize {
        self.server
            .debug_snapshot()
            .files
            .iter()
            .filter(|f| f.name == name)
            .map(|f| f.readers.len())
            .sum()
    }

    /// Closes the listening socket and the connections.
    pub(crate) async fn close(self, deadline: Instant) -> Result<(), BenchError> {
        before(
            "closing the tcp-file server",
            deadline,
            self.listening.close(true),
        )
        .await??;
        Ok(())
    }
}

struct QueueState {
    buf: BytesMut,
    closed: bool,
}

/// One bare client's queue.
struct Queue {
    state: Mutex<QueueState>,
    /// Wakes the client's task: there is data (or the end).
    data: Notify,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `frame`, waking the client's task if it was idle.
    fn push(&self, frame: &[u8]) {
        let was_empty = {
            let mut state = self.lock();
            let was_empty = state.buf.is_empty();
            state.buf.extend_from_slice(frame);
            was_empty
        };
        if was_empty {
            self.data.notify_one();
        }
    }
}

/// The bare fan-out server: accepts `clients` clients, then serves them until the
/// publisher finishes (or the server is dropped, which aborts everything).
pub(crate) struct BareServer {
    pub(crate) addr: SocketAddr,
    queues: Arc<Mutex<Vec<Arc<Queue>>>>,
    task: JoinHandle<()>,
}

impl BareServer {
    pub(crate) async fn start(clients: usize) -> Result<BareServer, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let queues: Arc<Mutex<Vec<Arc<Queue>>>> = Arc::new(Mutex::new(Vec::new()));
        let registry = queues.clone();
        let task = tokio::spawn(async move {
            let mut senders = JoinSet::new();
            for _ in 0..clients {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let _ = stream.set_nodelay(true);
                let queue = Arc::new(Queue {
                    state: Mutex::new(QueueState {
                        buf: BytesMut::with_capacity(WRITE_BATCH),
                        closed: false,
                    }),
                    data: Notify::new(),
                });
                registry
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(queue.clone());
                senders.spawn(send_queue(queue, stream));
            }
            drop(listener);
            while senders.join_next().await.is_some() {}
        });
        Ok(BareServer { addr, queues, task })
    }

    /// How many clients were accepted so far.
    pub(crate) fn clients(&self) -> usize {
        self.queues.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The writer's side, for the clients accepted so far; it appends each message and a
    /// newline to `path` (a new file).
    pub(crate) fn publisher(&self, path: &Path) -> io::Result<Publisher> {
        let queues = self
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let file = BufWriter::with_capacity(WRITE_BATCH, File::create(path)?);
        Ok(Publisher {
            queues,
            file,
            frame: Vec::with_capacity(256),
        })
    }

    /// Waits until every client's queue is written out and closed (after
    /// [`Publisher::finish`]).
    pub(crate) async fn finished(mut self, deadline: Instant) -> Result<(), BenchError> {
        before("the bare server's senders", deadline, &mut self.task).await??;
        Ok(())
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Writes every queued byte, up to 64 KiB at once, until the queue is closed and empty.
async fn send_queue(queue: Arc<Queue>, mut stream: TcpStream) {
    loop {
        let chunk = {
            let mut state = queue.lock();
            if state.buf.is_empty() {
                if state.closed {
                    break;
                }
                None
            } else {
                let n = state.buf.len().min(WRITE_BATCH);
                Some(state.buf.split_to(n).freeze())
            }
        };
        match chunk {
            None => queue.data.notified().await,
            Some(chunk) => {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// The bare writer: appends each message to the file and to every client's queue.
pub(crate) struct Publisher {
    queues: Vec<Arc<Queue>>,
    file: BufWriter<File>,
    frame: Vec<u8>,
}

impl Publisher {
    fn frame(&mut self, message: &[u8]) -> io::Result<()> {
        self.file.write_all(message)?;
        self.file.write_all(b"\n")?;
        self.frame.clear();
        self.frame.put_u32(message.len() as u32);
        self.frame.extend_from_slice(message);
        Ok(())
    }

    /// Publishes `message` to the file and every queue, without waiting.
    pub(crate) fn publish_now(&mut self, message: &[u8]) -> io::Result<()> {
        self.frame(message)?;
        for queue in &self.queues {
            queue.push(&self.frame);
        }
        Ok(())
    }

    /// Flushes the file and closes every queue: the clients' tasks write what is queued,
    /// then end their streams.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.file.flush()?;
        for queue in &self.queues {
            queue.lock().closed = true;
            queue.data.notify_one();
        }
        Ok(())
    }
}

/// A bare client: connects to `addr`, calls `on_message` with each message until the
/// server ends the stream, and returns how many it got.
pub(crate) async fn bare_read(
    addr: SocketAddr,
    mut on_message: impl FnMut(&[u8]),
) -> io::Result<u64> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut buf = BytesMut::with_capacity(2 * WRITE_BATCH);
    let mut count = 0u64;
    loop {
        if buf.capacity() - buf.len() < WRITE_BATCH {
            buf.reserve(WRITE_BATCH);
        }
        let n = stream.read_buf(&mut buf).await?;
        let mut pos = 0;
        while buf.len() - pos >= 4 {
            let len =
                u32::from_be_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]) as usize;
            if buf.len() - pos - 4 < len {
                break;
            }
            on_message(&buf[pos + 4..pos + 4 + len]);
            count += 1;
            pos += 4 + len;
        }
        let _ = buf.split_to(pos);
        if n == 0 {
            return if buf.is_empty() {
                Ok(count)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended inside a frame",
                ))
            };
        }
    }
}
