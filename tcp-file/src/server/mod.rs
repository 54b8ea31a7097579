//! The file server: files opened for writing or served as they are, and the connections
//! that read them.
//!
//! Where things are: `log.rs` holds a file's state (the count, the window of recent lines
//! in `window.rs`, which the disk and the readers take their bytes from, the disk's
//! progress) under one lock; `appender.rs` is the file's write end, used by `disk.rs`, the
//! thread that appends to the file and syncs it, by a writer whose disk thread is late,
//! and by readers waiting for lines; `scan.rs` counts a file at open; `catch_up.rs` reads
//! lines back for readers behind the window; `connection.rs` serves a binary client (its
//! requests, and the sender that pulls from the logs), `text.rs` a plain-text one,
//! `refused.rs` answers a client that `auth` turned away.
//!
//! Lock order, outermost first: `opening` → the server's `connections` → a connection's
//! `streams` → the `registry` → a log's `appender` → its `state`. A log's state is the
//! innermost lock: nothing is taken under it but a try of the appender, which never waits,
//! and it is never held across a write or a sync.

mod appender;
mod catch_up;
mod connection;
mod disk;
mod file;
mod limits;
mod log;
mod options;
mod outgoing;
mod refused;
mod scan;
mod snapshot;
pub(crate) mod text;
mod window;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::OpenOptions;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Waker};

use bytes::BytesMut;
use camlnet_flow::{Flow, FlowExt, IoFlow, Read};
use camlnet_tcp_server::{OnHandlerError, ServerOptions, WhereToListen};

use crate::file_error::FileError;
use crate::server::appender::Appender;
use crate::server::connection::Connection;
use crate::server::log::{Log, Status};

pub use crate::server::file::FileHandle;
pub use crate::server::limits::{DEFAULT_IDLE_TIMEOUT, DEFAULT_WRITE_TIMEOUT, Limits};
pub use crate::server::options::{FileOptions, LineEnding, SyncPolicy};
pub use crate::server::snapshot::{ConnectionSnapshot, FileSnapshot, ReaderSnapshot, Snapshot};

/// The names a server serves, and their logs.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    files: Mutex<HashMap<String, Arc<Log>>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Log>>> {
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<Log>> {
        self.lock().get(name).cloned()
    }

    /// Removes the name, if it still names this log.
    pub(crate) fn remove(&self, log: &Arc<Log>) {
        let mut files = self.lock();
        if files.get(&log.name).is_some_and(|l| Arc::ptr_eq(l, log)) {
            files.remove(&log.name);
        }
    }
}

/// Whether [`Server::serve`] may be called: once per listener, again after it closed.
#[derive(Default)]
enum Serving {
    #[default]
    No,
    /// A `serve` is binding its socket.
    Binding,
    /// A listener is open until this completion (its `close_finished`) is ready.
    Listening(Pin<Box<dyn Future<Output = Result<(), camlnet_tcp_server::Error>> + Send>>),
}

impl Serving {
    /// Claims the right to listen, unless a listener is open or being bound.
    fn claim(&mut self) -> Result<(), FileError> {
        let free = match self {
            Serving::No => true,
            Serving::Binding => false,
            // The completion is checked, not waited for: ready once the listener closed.
            Serving::Listening(closed) => closed
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_ready(),
        };
        if !free {
            return Err(FileError::already_serving());
        }
        *self = Serving::Binding;
        Ok(())
    }
}

/// Held by a `serve` while it binds: if that `serve` is dropped first, the claim it made
/// is given back, so that `serve` can be called again.
struct BindingClaim<'a>(&'a ServerInner);

impl Drop for BindingClaim<'_> {
    fn drop(&mut self) {
        let mut serving = self.0.serving_lock();
        if matches!(*serving, Serving::Binding) {
            *serving = Serving::No;
        }
    }
}

impl fmt::Debug for Serving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Serving::No => "No",
            Serving::Binding => "Binding",
            Serving::Listening(_) => "Listening",
        })
    }
}

#[derive(Debug, Default)]
pub(crate) struct ServerInner {
    pub(crate) registry: Arc<Registry>,
    pub(crate) connections: Mutex<BTreeMap<u64, Arc<Connection>>>,
    pub(crate) next_connection: AtomicU64,
    serving: Mutex<Serving>,
    pub(crate) limits: Limits,
    /// Held while a file is opened: two opens of one name or one path never interleave.
    opening: Mutex<()>,
    /// Whether text clients may ask `STATS`: see [`Server::answer_stats_requests`].
    pub(crate) stats_requests: AtomicBool,
}

impl ServerInner {
    fn serving_lock(&self) -> MutexGuard<'_, Serving> {
        self.serving
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn connections_lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Connection>>> {
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A file server: Async's `Tcp_file.Server`, as a value (no global state).
///
/// Open files with [`open_file`](Server::open_file) and write messages to them; serve
/// files that do not change with
/// [`serve_existing_static_file`](Server::serve_existing_static_file); let clients in with
/// [`serve`](Server::serve) (TCP or Unix) or [`serve_flow`](Server::serve_flow) (any
/// [`Flow`]). Clients can only read names the server registered: a name is never looked
/// up on disk.
///
/// Memory stays bounded whatever clients do: each file keeps about 4 MiB of recent
/// messages in memory, a reader that falls behind continues from disk, and a client that
/// stops reading costs its socket buffers and one batch of about 256 KiB until its write
/// timeout closes it. [`Limits`] has the whole budget of a connection.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub(crate) inner: Arc<ServerInner>,
}

impl Server {
    /// A server with no files, and the default [`Limits`].
    pub fn new() -> Self {
        Server::default()
    }

    /// A server with no files, and these limits on its connections.
    pub fn with_limits(limits: Limits) -> Self {
        Server {
            inner: Arc::new(ServerInner {
                limits,
                ..ServerInner::default()
            }),
        }
    }

    /// Opens `path` for writing and serves it as `name`.
    ///
    /// # Errors
    ///
    /// A [`FileError`] that [`is_already_open`](FileError::is_already_open) when `name` is
    /// open; [`is_locked`](FileError::is_locked) when the file is open for writing already,
    /// by this server (under any name, served or not) or by another process;
    /// [`is_not_empty`](FileError::is_not_empty) when the file exists with content and
    /// `append` was not asked for; [`is_io`](FileError::is_io) when the file cannot be
    /// opened, read or created, or its disk thread cannot start.
    pub fn open_file(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        options: FileOptions,
    ) -> Result<FileHandle, FileError> {
        let _opening = self
            .inner
            .opening
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(log) = self.inner.registry.get(name) {
            if log.lock().status() == Status::Open {
                return Err(FileError::already_open(name));
            }
        }
        let given = path.as_ref();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(given)
            .map_err(|e| FileError::io(Some(given), e))?;
        let path = std::fs::canonicalize(given).map_err(|e| FileError::io(Some(given), e))?;
        let io = |e| FileError::io(Some(&path), e);
        lock_for_writing(&file, &path)?;
        let mut scan = scan::scan(&mut file).map_err(io)?;
        if scan.bytes > 0 && !options.append {
            return Err(FileError::not_empty(&path));
        }
        let torn = scan.cut_torn_line();
        if torn > 0 {
            // A line without its newline is a write a crash cut short: never a message.
            tracing::warn!(
                name,
                path = %path.display(),
                bytes = torn,
                "cutting off a torn last line (no newline)"
            );
            file.set_len(scan.bytes).map_err(io)?;
        }
        let appender = Appender::new(file, scan.bytes);
        let reader = std::fs::File::open(&path).map_err(io)?;
        let log = Arc::new(Log::new(
            name.to_string(),
            (path, reader),
            &options,
            scan,
            Some(appender),
        ));
        let disk_log = log.clone();
        // Registered only once its disk thread runs: a failed spawn leaves nothing behind
        // (the log, with the file and its lock, goes with the closure).
        std::thread::Builder::new()
            .name(format!("tcp-file disk {name}"))
            .spawn(move || disk::run_disk_thread(disk_log))
            .map_err(|e| FileError::io(None, e))?;
        self.inner
            .registry
            .lock()
            .insert(name.to_string(), log.clone());
        tracing::debug!(name, path = %log.path.display(), "file open");
        Ok(FileHandle::new(log, self.inner.registry.clone()))
    }

    /// Serves the existing file at `path` as `name`, line by line from its beginning to its
    /// end (a last line without a newline included, `\r\n` endings stripped). The file must
    /// not change while it is served. Returns the number of lines.
    ///
    /// # Errors
    ///
    /// A [`FileError`] that [`is_already_open`](FileError::is_already_open) when `name` is
    /// open for writing; [`is_io`](FileError::is_io) when the file cannot be read.
    pub fn serve_existing_static_file(
        &self,
        name: &str,
        path: impl AsRef<Path>,
    ) -> Result<u64, FileError> {
        let path = path.as_ref().to_path_buf();
        let io = |e| FileError::io(Some(&path), e);
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let scan = scan::scan(&mut file).map_err(io)?;
        let lines = scan.lines;
        // Closed from the start; `\r\n` endings are stripped, as `\n` ones are.
        let options = FileOptions::new().line_ending(LineEnding::CrLf);
        let log = Arc::new(Log::new(
            name.to_string(),
            (path, file),
            &options,
            scan,
            None,
        ));
        let mut files = self.inner.registry.lock();
        if files
            .get(name)
            .is_some_and(|l| l.lock().status() == Status::Open)
        {
            return Err(FileError::already_open(name));
        }
        files.insert(name.to_string(), log);
        Ok(lines)
    }

    /// Listens on `where_to_listen` (TCP or Unix) with the `tcp-server` crate and serves
    /// every client that `auth` accepts; `auth` runs once per connection, and `false`
    /// turns the client away: it is told so (a refusal in the protocol its first bytes
    /// show, within 2 s) and disconnected. Returns once the socket listens. The server's
    /// [`Limits`] give the connection limit and the backlog.
    ///
    /// The returned [`camlnet_tcp_server::Server`] is the listener: it tells the port or path
    /// ([`listening_on`](camlnet_tcp_server::Server::listening_on)), and serving lasts as long as
    /// it (or a clone) is kept. Dropping the last clone, or calling its
    /// [`close`](camlnet_tcp_server::Server::close), stops listening; to serve until then, await
    /// its [`close_finished`](camlnet_tcp_server::Server::close_finished). Once the listener has
    /// closed, `serve` may be called again.
    ///
    /// # Errors
    ///
    /// A [`FileError`] that [`is_already_serving`](FileError::is_already_serving) while an
    /// earlier `serve`'s listener is open; [`is_listen`](FileError::is_listen) when the
    /// socket cannot listen (the listener's error is its source).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};
    ///
    /// let server = camlnet_tcp_file::Server::new();
    /// let listening = server
    ///     .serve(WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs), |_peer| true)
    ///     .await?;
    /// println!("serving on port {}", listening.listening_on());
    /// assert!(server.serve(WhereToListen::on_port_chosen_by_os(), |_| true).await.is_err());
    ///
    /// // Serve until something calls `close` on a clone of the listener (here at once).
    /// let closing = listening.clone();
    /// tokio::spawn(async move { closing.close(false).await });
    /// listening.close_finished().await?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use = "the listener closes when the returned server is dropped"]
    pub async fn serve<T: camlnet_tcp_server::Listen>(
        &self,
        where_to_listen: WhereToListen<T>,
        auth: impl Fn(&T::Address) -> bool + Send + Sync + 'static,
    ) -> Result<camlnet_tcp_server::Server<T>, FileError> {
        self.inner.serving_lock().claim()?;
        // A `serve` dropped while it binds gives its claim back.
        let claim = BindingClaim(&self.inner);
        let inner = self.inner.clone();
        let auth = Arc::new(auth);
        // One connection's failure (a panic in `auth`, say) never stops the file server.
        let options = self
            .inner
            .limits
            .server_options(
                ServerOptions::default().on_handler_error(OnHandlerError::call(|peer, error| {
                    tracing::error!(?peer, %error, "a file server connection failed");
                })),
            );
        let listening = camlnet_tcp_server::Server::create_sock(
            where_to_listen,
            options,
            move |peer, stream| {
                let inner = inner.clone();
                let auth = auth.clone();
                // `auth` runs in the connection's task, not in the accept loop.
                async move {
                    if auth(&peer) {
                        crate::set_no_delay(&stream);
                        crate::limit_unsent(&stream);
                        dispatch(inner, IoFlow::from(stream), format!("{peer:?}")).await;
                    } else {
                        tracing::info!("connection refused by auth");
                        let reason = format!("{peer:?} is not allowed to connect");
                        refused::answer(IoFlow::new(stream), &reason).await;
                    }
                    Ok::<(), std::convert::Infallible>(())
                }
            },
        )
        .await;
        let mut serving = self.inner.serving_lock();
        let result = match listening {
            Ok(listening) => {
                // The completion holds no handle on the listener: dropping the listener
                // still closes it.
                *serving = Serving::Listening(Box::pin(listening.close_finished()));
                Ok(listening)
            }
            Err(e) => {
                *serving = Serving::No;
                Err(FileError::listen(e))
            }
        };
        drop(serving);
        drop(claim);
        result
    }

    /// Serves one client connection over `flow` (one end of [`camlnet_flow::pair`], a TCP or Unix
    /// flow, anything), until the client leaves or breaks the protocol. `peer` names the
    /// client in logs and in the snapshot.
    ///
    /// The first bytes tell the protocol: the binary protocol of [`Client`](crate::Client)
    /// (every frame starts with a zero byte), or else the text mode for plain clients such
    /// as `nc`: one request line, `READ NAME`, `TAIL NAME` or `FROM LINE NAME` (lines count
    /// from 0), answered by `+OK` and then each message as a line until the file is
    /// closed, or by `-ERR reason`. Two more requests ask about the server: `LIST`, answered
    /// by `+OK` and a line `NAME LINES` for each name served (any client may list them), and
    /// `STATS`, answered by `+OK` and the [`debug_snapshot`](Server::debug_snapshot) as one
    /// line of JSON, when [`answer_stats_requests`](Server::answer_stats_requests) allows.
    pub async fn serve_flow<F: Flow>(&self, flow: F, peer: impl Into<String>) {
        dispatch(self.inner.clone(), flow, peer.into()).await;
    }

    /// Whether text clients may ask `STATS` (off at first): the answer, the
    /// [`debug_snapshot`](Server::debug_snapshot), tells every client's address and the
    /// paths of the files on disk to any client that `auth` lets in. When off, `STATS` is
    /// answered by `-ERR`.
    pub fn answer_stats_requests(&self, answer: bool) {
        self.inner.stats_requests.store(answer, Ordering::Relaxed);
    }

    /// Every file and connection at this moment.
    pub fn debug_snapshot(&self) -> Snapshot {
        let mut readers: HashMap<*const Log, Vec<ReaderSnapshot>> = HashMap::new();
        let mut connections = Vec::new();
        for connection in self.inner.connections_lock().values() {
            let streams = connection.lock();
            connections.push(ConnectionSnapshot {
                id: connection.id,
                peer: connection.peer.clone(),
                streams: streams.len(),
            });
            for (id, stream) in streams.iter() {
                let Some(log) = &stream.log else { continue };
                readers
                    .entry(Arc::as_ptr(log))
                    .or_default()
                    .push(ReaderSnapshot {
                        connection: connection.id,
                        stream: *id,
                        next_line: stream.cursor.next,
                        // The same lock order as the sender's: connection, then log.
                        lag: log.lock().lines().saturating_sub(stream.cursor.next),
                        credit: (stream.credit != u32::MAX).then_some(stream.credit),
                    });
            }
        }
        let logs: Vec<Arc<Log>> = self.inner.registry.lock().values().cloned().collect();
        let mut files: Vec<FileSnapshot> = logs
            .iter()
            .map(|log| {
                let state = log.lock();
                let file_readers = readers.remove(&Arc::as_ptr(log)).unwrap_or_default();
                FileSnapshot {
                    name: log.name.clone(),
                    path: log.path.display().to_string(),
                    lines: state.lines(),
                    bytes: state.bytes(),
                    lines_on_disk: state.disk_lines(),
                    lines_synced: state.synced_lines(),
                    lines_in_memory: state.lines_in_memory(),
                    state: match state.status() {
                        Status::Open => "open",
                        Status::Closed => "closed",
                    },
                    disk_error: state.disk_error().map(|e| e.to_string()),
                    readers: file_readers,
                }
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Snapshot {
            files,
            connections,
            limits: self.inner.limits,
        }
    }
}

/// Takes the exclusive lock (`flock(2)`, `LOCK_EX | LOCK_NB`) that makes `file` the one
/// writer of `path`: two writers, in this process or another, would interleave their lines
/// and count them differently. The lock lives with this open file: it goes when the disk
/// thread, which owns the file, ends at close.
fn lock_for_writing(file: &std::fs::File, path: &Path) -> Result<(), FileError> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(FileError::locked(path)),
        Err(e) => Err(FileError::io(Some(path), e.into())),
    }
}

/// How long a new connection may take to send its first bytes.
const FIRST_BYTES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the first bytes of a connection and serves it in the protocol they tell: a binary
/// frame starts with its 4-byte big-endian length, whose first byte is 0 for any frame a
/// client may send; anything else is a text request.
async fn dispatch<F: Flow>(inner: Arc<ServerInner>, mut flow: F, peer: String) {
    let first = match tokio::time::timeout(FIRST_BYTES_TIMEOUT, flow.read()).await {
        Ok(Ok(Read::Data(bytes))) => bytes,
        Ok(Ok(Read::Eof)) => return,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "connection read failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "closing a connection that sent nothing within 10 s");
            return;
        }
    };
    if first.first() == Some(&0) {
        connection::serve(inner, flow, peer, first).await;
    } else {
        text::serve(inner, flow, peer, BytesMut::from(&first[..])).await;
    }
}
