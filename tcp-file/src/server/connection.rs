//! One client connection on the server: the handshake, the requests it reads, and the
//! sender that pulls messages from the logs as fast as the socket takes them.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use camlnet_flow::{Flow, FlowExt, ReadHalf, WriteHalf};
use tokio::task::{JoinError, JoinHandle};

use crate::protocol::{
    self, Frame, FrameReader, MAX_CLIENT_FRAME, MAX_NAME, MAX_STREAMS, ReadFrameError, Start,
    StreamFailure, VERSION,
};
use crate::server::ServerInner;
use crate::server::catch_up::{self, DiskRead, DiskReadDone};
use crate::server::log::{Cursor, Log, Pulled, Wake};
use crate::server::outgoing::{FileLines, Outgoing, Piece, Write};

/// How long a new connection may take to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The sender writes up to about this much at once.
const WRITE_BATCH: usize = 256 * 1024;
/// At most this many streams of one connection read from disk at once.
const READS_AT_ONCE: usize = WRITE_BATCH / FRAME_BYTES;
/// A frame of messages carries about this much at most. A client cuts the frames that
/// arrived whole in one read out of the read's buffer, and copies only the one that spans
/// two reads: frames much smaller than a read (the client's are 64 to 256 KiB) mean few
/// bytes copied, and frames not too small mean little work per frame.
const FRAME_BYTES: usize = 64 * 1024;

/// The server's view of one connection, shared with `debug_snapshot`.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) id: u64,
    pub(crate) peer: String,
    pub(crate) streams: Mutex<BTreeMap<u32, StreamState>>,
    wake: Arc<Wake>,
    /// The server's [`Limits::write_timeout`](crate::Limits::write_timeout).
    write_timeout: Duration,
}

#[derive(Debug)]
pub(crate) struct StreamState {
    pub(crate) log: Option<Arc<Log>>,
    pub(crate) cursor: Cursor,
    pub(crate) credit: u32,
    failure: Option<StreamFailure>,
    /// A catch-up read of this stream is in flight ([`DiskRead`]).
    reading: bool,
    /// What the stream logs goes under it: see [`stream_span`].
    span: tracing::Span,
}

/// The span of one stream, so that a log line says which file it reads and from where.
pub(crate) fn stream_span(name: &str, start: Start) -> tracing::Span {
    match start {
        Start::Line(line) => tracing::info_span!("stream", name, start = line),
        Start::Tail => tracing::info_span!("stream", name, start = "tail"),
    }
}

impl Connection {
    /// A new connection from `peer`, listed by the server (and its snapshot) until
    /// [`close`](Connection::close).
    pub(crate) fn open(server: &ServerInner, peer: String) -> Arc<Connection> {
        let id = server.next_connection.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            id,
            peer,
            streams: Mutex::new(BTreeMap::new()),
            wake: Arc::new(Wake::default()),
            write_timeout: server.limits.write_timeout,
        });
        server.connections_lock().insert(id, connection.clone());
        connection
    }

    /// Ends every stream and removes the connection from the server's list.
    pub(crate) fn close(&self, server: &ServerInner) {
        server.connections_lock().remove(&self.id);
        let mut streams = self.lock();
        let ids: Vec<u32> = streams.keys().copied().collect();
        for stream in ids {
            self.remove_stream(&mut streams, stream);
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, StreamState>> {
        self.streams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn remove_stream(&self, streams: &mut BTreeMap<u32, StreamState>, id: u32) {
        if let Some(log) = streams.remove(&id).and_then(|s| s.log) {
            if !streams
                .values()
                .any(|s| s.log.as_ref().is_some_and(|l| Arc::ptr_eq(l, &log)))
            {
                log.unsubscribe(&self.wake);
            }
        }
    }
}

/// A request that breaks the protocol: the connection is closed with this reason.
pub(crate) struct Violation(pub(crate) String);

/// Serves one connection until the client leaves or breaks the protocol.
pub(crate) async fn serve<F: Flow>(server: Arc<ServerInner>, flow: F, peer: String, first: Bytes) {
    let (mut reader, mut writer) = flow.split();
    let mut frames = FrameReader::new(MAX_CLIENT_FRAME, first);
    let hello = tokio::time::timeout(HANDSHAKE_TIMEOUT, next_frame(&mut reader, &mut frames)).await;
    let refusal = match hello {
        Ok(Ok(Some(Frame::Hello { version: VERSION }))) => None,
        Ok(Ok(Some(Frame::Hello { version }))) => Some(format!(
            "protocol version {version} is not supported: this server speaks version {VERSION}"
        )),
        Ok(Ok(Some(_))) => Some("the first frame must be a hello".to_string()),
        Ok(Ok(None)) => return,
        Ok(Err(Violation(reason))) => Some(reason),
        Err(_) => Some("no hello within 10 s".to_string()),
    };
    let mut out = BytesMut::new();
    if let Some(reason) = refusal {
        tracing::info!(%peer, %reason, "refusing a connection");
        protocol::encode(&Frame::Refused { reason }, &mut out);
        let _ = writer.write(out.freeze()).await;
        let _ = writer.shutdown().await;
        return;
    }
    protocol::encode(&Frame::Welcome { version: VERSION }, &mut out);
    if writer.write(out.split().freeze()).await.is_err() {
        return;
    }

    let connection = Connection::open(&server, peer.clone());
    let id = connection.id;
    tracing::debug!(%peer, id, "connection open");
    // Set once the client's requests have ended: it half-closed, or left, or the server
    // shut the socket down (which reads the same). The connection then lasts until what
    // its streams have to send now is sent (nothing more can be asked for, not even
    // credit), so a client that left never leaves its connection behind.
    let requests_ended = AtomicBool::new(false);
    let ended = {
        let sending = send(&connection, &mut writer, FileLines::All, |pieces| {
            let done = requests_ended.load(Ordering::Acquire)
                && (pieces.is_empty() || connection.lock().is_empty());
            (Piece::into_writes(pieces), done.then_some(Ok(())))
        });
        tokio::pin!(sending);
        tokio::select! {
            r = requests(&server, &connection, &mut reader, &mut frames) => {
                if r.is_ok() {
                    // The client may half-close after its requests: what there is of what
                    // it asked for still comes (what the sender took already included).
                    requests_ended.store(true, Ordering::Release);
                    connection.wake.notify.notify_one();
                    let _ = (&mut sending).await;
                }
                r
            }
            // The sender alone ends only when a write fails or times out: the client left.
            _ = &mut sending => Ok(()),
            () = idle(&connection, server.limits.idle_timeout) => {
                tracing::info!(%peer, id, "closing a connection with no stream for its idle timeout");
                Ok(())
            }
        }
    };
    match ended {
        Ok(()) => tracing::debug!(%peer, id, "connection closed"),
        Err(Violation(reason)) => {
            tracing::warn!(%peer, id, %reason, "closing a connection that broke the protocol")
        }
    }
    connection.close(&server);
    let _ = writer.shutdown().await;
}

/// Completes once `connection` has had no stream for `timeout`, looking about every
/// quarter of it.
async fn idle(connection: &Connection, timeout: Duration) {
    let step = (timeout / 4).max(Duration::from_millis(10));
    let mut idle_since = None;
    loop {
        let now = tokio::time::Instant::now();
        if !connection.lock().is_empty() {
            idle_since = None;
        } else if now.duration_since(*idle_since.get_or_insert(now)) >= timeout {
            return;
        }
        tokio::time::sleep(step).await;
    }
}

/// The next request: a broken frame is a violation, a failed read the client's leaving.
async fn next_frame<F: Flow>(
    reader: &mut ReadHalf<F>,
    frames: &mut FrameReader,
) -> Result<Option<Frame>, Violation> {
    match frames.next(reader).await {
        Ok(frame) => Ok(frame),
        Err(ReadFrameError::Flow(e)) => {
            tracing::debug!(error = %e, "connection read failed");
            Ok(None)
        }
        Err(e) => Err(Violation(e.to_string())),
    }
}

/// Reads and applies requests until the client leaves.
async fn requests<F: Flow>(
    server: &ServerInner,
    connection: &Connection,
    reader: &mut ReadHalf<F>,
    frames: &mut FrameReader,
) -> Result<(), Violation> {
    while let Some(frame) = next_frame(reader, frames).await? {
        match frame {
            Frame::Open {
                stream,
                start,
                credit,
                name,
            } => {
                open_stream(server, connection, stream, start, credit, &name)?;
            }
            Frame::Cancel { stream } => {
                let mut streams = connection.lock();
                connection.remove_stream(&mut streams, stream);
            }
            Frame::Credit { stream, messages } => {
                if let Some(s) = connection.lock().get_mut(&stream) {
                    s.credit = s.credit.saturating_add(messages);
                }
            }
            other => {
                return Err(Violation(format!(
                    "unexpected frame from a client: {other:?}"
                )));
            }
        }
        connection.wake.notify.notify_one();
    }
    Ok(())
}

/// Opens stream `stream` of `connection` on file `name` (a missing file is a stream that
/// fails with `FileNotFound`), with `credit` messages of flow control.
///
/// # Errors
///
/// The stream is open already, or the connection has [`MAX_STREAMS`] streams.
pub(crate) fn open_stream(
    server: &ServerInner,
    connection: &Connection,
    stream: u32,
    start: Start,
    credit: u32,
    name: &str,
) -> Result<(), Violation> {
    let mut streams = connection.lock();
    if streams.contains_key(&stream) {
        return Err(Violation(format!("stream {stream} is open already")));
    }
    if streams.len() >= MAX_STREAMS {
        return Err(Violation(format!(
            "more than {MAX_STREAMS} streams on one connection"
        )));
    }
    let found = if name.len() > MAX_NAME {
        Err(StreamFailure::Unknown(format!(
            "a file name is at most {MAX_NAME} bytes"
        )))
    } else {
        server
            .registry
            .get(name)
            .ok_or_else(|| StreamFailure::FileNotFound(name.to_string()))
    };
    let span = stream_span(name, start);
    span.in_scope(|| tracing::debug!(stream, "stream open"));
    let state = match found {
        Ok(log) => {
            log.subscribe(&connection.wake);
            let cursor = log.cursor(match start {
                Start::Line(line) => Some(line),
                Start::Tail => None,
            });
            StreamState {
                log: Some(log),
                cursor,
                credit,
                failure: None,
                reading: false,
                span,
            }
        }
        Err(failure) => StreamState {
            log: None,
            cursor: Cursor::default(),
            credit,
            failure: Some(failure),
            reading: false,
            span,
        },
    };
    streams.insert(stream, state);
    Ok(())
}

/// Pulls from every stream's log in turn and writes what it gets, batched; waits when
/// there is nothing to send. Never holds more than one batch: a client that does not read
/// stalls here, and its streams fall back to disk.
///
/// `shape` turns each batch of frames into what is written (the frames themselves for
/// binary clients, lines for text clients), and says when the connection's work is done:
/// the sender then returns that. It is also asked, with no frames, before the sender
/// sleeps. The sender also returns, with `Ok`, when a write fails. Where the flow can send
/// files, the lines `files` says go as ranges of their file.
pub(crate) async fn send<F: Flow>(
    connection: &Connection,
    writer: &mut WriteHalf<F>,
    files: FileLines,
    mut shape: impl FnMut(Vec<Piece>) -> (Vec<Write>, Option<Result<(), String>>),
) -> Result<(), String> {
    let files = if writer.can_send_file() {
        files
    } else {
        FileLines::None
    };
    let mut out = Outgoing::with_capacity(0).taking_files(files);
    let mut after: u32 = 0;
    // Catch-up reads in flight on the blocking pool: one set at a time, done while the
    // batch before them is written.
    let mut reading: Option<JoinHandle<Vec<DiskReadDone>>> = None;
    loop {
        connection.wake.arm();
        if let Some(done) = reading.take_if(|handle| handle.is_finished()) {
            read_done(connection, done.await, &mut out)?;
        }
        let mut reads = Vec::new();
        fill(
            connection,
            &mut out,
            &mut after,
            reading.is_none().then_some(&mut reads),
        );
        if !reads.is_empty() {
            reading = Some(tokio::task::spawn_blocking(move || {
                reads.into_iter().map(DiskRead::run).collect()
            }));
        }
        if out.is_empty() {
            if let Some(handle) = &mut reading {
                tokio::select! {
                    done = handle => {
                        reading = None;
                        read_done(connection, done, &mut out)?;
                    }
                    () = connection.wake.notify.notified() => {}
                }
                continue;
            }
            if let (_, Some(done)) = shape(Vec::new()) {
                return done;
            }
            // Give the batch's buffer back while waiting: most connections wait most of
            // the time (a live reader between writes), and a waiting one then holds none.
            // The next batch grows one as big as it needs.
            out = Outgoing::with_capacity(0).taking_files(files);
            connection.wake.notify.notified().await;
            continue;
        }
        // A full batch means more is likely to follow at once (catching up): keep a whole
        // batch's room for it then, not otherwise.
        let full = out.len() >= WRITE_BATCH / 2;
        let (writes, done) = shape(out.take());
        if !writes.is_empty() {
            match tokio::time::timeout(connection.write_timeout, write_all(writer, writes)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(peer = %connection.peer, error = %e, "connection write failed");
                    return Ok(());
                }
                Err(_) => {
                    tracing::warn!(
                        peer = %connection.peer,
                        id = connection.id,
                        timeout = ?connection.write_timeout,
                        "closing a connection whose socket took nothing for its write timeout"
                    );
                    return Ok(());
                }
            }
        }
        if let Some(done) = done {
            return done;
        }
        if full && out.buf().capacity() < WRITE_BATCH {
            out.buf().reserve(WRITE_BATCH);
        }
    }
}

/// Writes `writes` in order: ranges of a file straight from the page cache, each with the
/// bytes before it as its head (so that a frame's head leaves with its lines), and the
/// bytes after the last with one vectored write. A range no longer all in the page cache
/// (evicted since it was planned) is read on the blocking pool instead, so that this
/// worker does not wait for the disk.
async fn write_all<F: Flow>(
    writer: &mut WriteHalf<F>,
    writes: Vec<Write>,
) -> Result<(), camlnet_flow::Error> {
    let mut bytes = Vec::with_capacity(writes.len());
    for write in writes {
        match write {
            Write::Bytes(b) => bytes.push(b),
            Write::File(range) if catch_up::cached(&range.file, range.offset, range.len) => {
                let head = std::mem::take(&mut bytes);
                writer
                    .send_file(head, &range.file, range.offset, range.len)
                    .await?;
            }
            Write::File(range) => {
                let read = match tokio::task::spawn_blocking(move || range.read()).await {
                    Ok(read) => read,
                    Err(e) => Err(std::io::Error::other(e)),
                };
                bytes.push(read.map_err(camlnet_flow::Error::from_io)?);
            }
        }
    }
    if bytes.is_empty() {
        return Ok(());
    }
    writer.writev(bytes).await
}

/// Hands the frames of finished catch-up reads to their streams' batch, or fails the
/// streams whose read failed. A stream cancelled meanwhile gets nothing.
///
/// # Errors
///
/// The reads panicked, or the runtime is shutting down.
fn read_done(
    connection: &Connection,
    done: Result<Vec<DiskReadDone>, JoinError>,
    out: &mut Outgoing,
) -> Result<(), String> {
    let done = done.map_err(|e| format!("catching up from disk failed: {e}"))?;
    let mut streams = connection.lock();
    for read in done {
        let Some(stream) = streams.get_mut(&read.stream).filter(|s| s.reading) else {
            continue;
        };
        stream.reading = false;
        stream.cursor = read.cursor;
        match read.result {
            Ok((sent, frames)) => {
                if stream.credit != u32::MAX {
                    stream.credit = stream.credit.saturating_sub(sent);
                }
                out.extend(frames);
            }
            Err(reason) => {
                protocol::encode(
                    &Frame::StreamError {
                        stream: read.stream,
                        failure: StreamFailure::Unknown(reason),
                    },
                    out.buf(),
                );
                connection.remove_stream(&mut streams, read.stream);
            }
        }
    }
    Ok(())
}

/// Rounds over the streams until `out` holds a batch or no stream has more to send.
/// Streams whose log has no news by its hint are skipped; only when that leaves `out`
/// empty, so that the sender is about to sleep, is every log asked under its lock.
/// Streams whose next lines are on disk only are added to `reads`, a few at most; with
/// no `reads` (some are in flight), they wait.
fn fill(
    connection: &Connection,
    out: &mut Outgoing,
    after: &mut u32,
    mut reads: Option<&mut Vec<DiskRead>>,
) {
    let mut streams = connection.lock();
    for exact in [false, true] {
        loop {
            let before = out.len();
            fill_round(
                connection,
                &mut streams,
                out,
                after,
                exact,
                reads.as_deref_mut(),
            );
            if out.len() >= WRITE_BATCH || out.len() == before {
                break;
            }
        }
        if !out.is_empty() {
            return;
        }
    }
}

/// One frame from each stream (from each with news by its hint, unless `exact`), starting
/// after the one served last.
fn fill_round(
    connection: &Connection,
    streams: &mut BTreeMap<u32, StreamState>,
    out: &mut Outgoing,
    after: &mut u32,
    exact: bool,
    mut reads: Option<&mut Vec<DiskRead>>,
) {
    let ids: Vec<u32> = streams
        .range((Bound::Excluded(*after), Bound::Unbounded))
        .chain(streams.range(..=*after))
        .map(|(id, _)| *id)
        .collect();
    let mut finished = Vec::new();
    for id in ids {
        if out.len() >= WRITE_BATCH {
            break;
        }
        *after = id;
        let Some(stream) = streams.get_mut(&id) else {
            continue;
        };
        if let Some(failure) = stream.failure.take() {
            protocol::encode(
                &Frame::StreamError {
                    stream: id,
                    failure,
                },
                out.buf(),
            );
            finished.push(id);
            continue;
        }
        let Some(log) = &stream.log else { continue };
        if stream.reading || (!exact && !log.may_have_news(stream.cursor.next)) {
            continue;
        }
        let budget = FRAME_BYTES.min(WRITE_BATCH - out.len()).max(4096);
        match log.pull(&mut stream.cursor, id, out, stream.credit, budget) {
            Pulled::Sent(n) => {
                if stream.credit != u32::MAX {
                    stream.credit -= n;
                }
            }
            Pulled::Nothing => {}
            Pulled::Disk { until } => {
                if let Some(reads) = reads.as_deref_mut().filter(|r| r.len() < READS_AT_ONCE) {
                    let budget = (stream.credit, FRAME_BYTES);
                    reads.push(DiskRead::new(id, log.clone(), stream.cursor, until, budget));
                    stream.reading = true;
                }
            }
            Pulled::End => {
                protocol::encode(&Frame::End { stream: id }, out.buf());
                finished.push(id);
            }
            Pulled::Failed(reason) => {
                stream
                    .span
                    .in_scope(|| tracing::warn!(%reason, "ending a stream that failed"));
                protocol::encode(
                    &Frame::StreamError {
                        stream: id,
                        failure: StreamFailure::Unknown(reason),
                    },
                    out.buf(),
                );
                finished.push(id);
            }
        }
    }
    for id in finished {
        connection.remove_stream(streams, id);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{IoSlice, Write as _};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    use camlnet_flow::{FlowExt, IoFlow, Read, Shutdown};
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::server::outgoing::FileRange;

    /// A flow that counts the bytes it sent with `poll_send_file`.
    struct CountsSentFiles<F> {
        flow: F,
        sent: Arc<AtomicUsize>,
    }

    impl<F: Flow> Flow for CountsSentFiles<F> {
        fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, camlnet_flow::Error>> {
            self.flow.poll_read(cx)
        }

        fn poll_write(
            &mut self,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<Result<usize, camlnet_flow::Error>> {
            self.flow.poll_write(cx, buf)
        }

        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<Result<usize, camlnet_flow::Error>> {
            self.flow.poll_write_vectored(cx, bufs)
        }

        fn poll_send_file(
            &mut self,
            cx: &mut Context<'_>,
            head: &[IoSlice<'_>],
            file: &std::fs::File,
            offset: u64,
            len: usize,
        ) -> Poll<Result<usize, camlnet_flow::Error>> {
            let sent = self.flow.poll_send_file(cx, head, file, offset, len);
            if let Poll::Ready(Ok(n)) = sent {
                self.sent.fetch_add(n, Ordering::Relaxed);
            }
            sent
        }

        fn can_send_file(&self) -> bool {
            self.flow.can_send_file()
        }

        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), camlnet_flow::Error>> {
            self.flow.poll_flush(cx)
        }

        fn poll_shutdown(
            &mut self,
            cx: &mut Context<'_>,
            how: Shutdown,
        ) -> Poll<Result<(), camlnet_flow::Error>> {
            self.flow.poll_shutdown(cx, how)
        }

        fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), camlnet_flow::Error>> {
            self.flow.poll_close(cx)
        }
    }

    /// Two ends of a TCP connection on loopback: ours, and the peer's.
    async fn tcp_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (peer, accepted) = tokio::join!(
            async { tokio::net::TcpStream::connect(addr).await.expect("connect") },
            async { listener.accept().await.expect("accept").0 }
        );
        (accepted, peer)
    }

    /// A file of 256 KiB, its bytes, and the range of 200 KiB from its byte 1000.
    fn file_and_range() -> (Vec<u8>, FileRange) {
        let mut file = tempfile::tempfile().expect("file");
        let content: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
        file.write_all(&content).expect("write");
        let range = FileRange {
            file: Arc::new(file),
            offset: 1000,
            len: 200 * 1024,
        };
        (content, range)
    }

    /// Writes `"head"` and `range` of `content` with `write_all` from `ours`, and checks
    /// that the peer gets them, in order.
    async fn head_and_range_arrive<F: Flow>(
        ours: F,
        mut peer: tokio::net::TcpStream,
        range: FileRange,
        content: &[u8],
    ) {
        let (_, mut writer) = ours.split();
        let expected = [b"head", &content[range.offset as usize..][..range.len]].concat();
        let writes = vec![
            Write::Bytes(Bytes::from_static(b"head")),
            Write::File(range),
        ];
        let reading = async {
            let mut got = vec![0; expected.len()];
            peer.read_exact(&mut got).await.expect("read");
            got
        };
        let (written, got) = tokio::join!(write_all(&mut writer, writes), reading);
        written.expect("written");
        assert!(got == expected, "the peer got other bytes");
    }

    /// A range in the page cache goes with its head through `sendfile`: none of it is read
    /// into the server. The peer gets the same bytes either way: only the count tells.
    #[tokio::test]
    async fn a_cached_range_is_sent_from_the_page_cache_with_its_head() {
        let (content, range) = file_and_range();
        if !catch_up::cached(&range.file, range.offset, range.len) {
            eprintln!("skipped: the kernel cannot say that the range is in its page cache");
            return;
        }
        let (ours, peer) = tcp_pair().await;
        let sent = Arc::new(AtomicUsize::new(0));
        let flow = CountsSentFiles {
            flow: IoFlow::from(ours),
            sent: sent.clone(),
        };
        head_and_range_arrive(flow, peer, range, &content).await;
        assert_eq!(sent.load(Ordering::Relaxed), 4 + 200 * 1024);
    }

    /// A range the page cache no longer holds when it is written is read on the blocking
    /// pool and sent all the same, after its head.
    #[tokio::test]
    async fn a_range_evicted_before_it_is_written_is_read_instead() {
        let (content, range) = file_and_range();
        range.file.sync_all().expect("sync");
        rustix::fs::fadvise(&*range.file, 0, None, rustix::fs::Advice::DontNeed).expect("fadvise");
        if catch_up::cached(&range.file, range.offset, range.len) {
            eprintln!("skipped: the kernel kept the range in its page cache");
            return;
        }
        let (ours, peer) = tcp_pair().await;
        head_and_range_arrive(IoFlow::from(ours), peer, range, &content).await;
    }
}
