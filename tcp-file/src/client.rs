//! The client: many message streams multiplexed over one connection.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use camlnet_flow::{Flow, FlowExt, ReadHalf, WriteHalf};
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::credit::Credit;
use crate::error::Error;
use crate::protocol::{
    self, Frame, FrameReader, Layout, MAX_SERVER_FRAME, MAX_STREAMS, ReadFrameError, Start,
    StreamFailure, VERSION,
};

/// The flow-control window of a stream unless set otherwise, in messages.
const DEFAULT_WINDOW: u32 = 8192;
/// About the most bytes of messages a stream's window holds unless set otherwise.
const DEFAULT_WINDOW_BYTES: usize = 512 * 1024;
/// The fewest bytes a window may be kept to.
const FEWEST_WINDOW_BYTES: usize = 64 * 1024;
/// How long the server may take to answer the hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The read buffer of a TCP connection, which reads fill in turn (each asks for at least a
/// quarter of it): the frames that arrive whole in one read are cut out of its buffer
/// without a copy, so big reads copy little.
const READ_SIZE: usize = 256 * 1024;

/// One message of a file: its line number (from 0) and its bytes, without the newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The line number, counted from 0.
    pub line: u64,
    /// The message, without its line ending.
    pub bytes: Bytes,
}

/// Options of one stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    pushes_back: Option<u32>,
    window_bytes: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            pushes_back: Some(DEFAULT_WINDOW),
            window_bytes: DEFAULT_WINDOW_BYTES,
        }
    }
}

impl StreamOptions {
    /// Default options: the client pushes back, with a window of 8,192 messages kept to
    /// about 512 KiB.
    pub fn new() -> Self {
        StreamOptions::default()
    }

    /// With `true` (the default), credit-based flow control: the server sends at most
    /// `window` messages (kept to about [`window_bytes`](StreamOptions::window_bytes))
    /// beyond the batches the consumer has started on, so a consumer that stops reading
    /// this stream slows only this stream, and the client holds at most `window` messages
    /// for it, and the batch being taken. With `false` the server sends as fast as the
    /// connection goes, and the client buffers what the consumer has not taken, without
    /// limit.
    pub fn client_pushes_back(mut self, pushes_back: bool) -> Self {
        self.pushes_back = pushes_back.then_some(self.pushes_back.unwrap_or(DEFAULT_WINDOW));
        self
    }

    /// Sets the flow-control window in messages (at least 2), and turns pushing back on.
    pub fn window(mut self, messages: u32) -> Self {
        self.pushes_back = Some(messages.max(2));
        self
    }

    /// Keeps the window to about `bytes` bytes of messages (at least 64 KiB; 512 KiB
    /// unless set), and turns pushing back on. The server gets the whole window in messages
    /// at first; from then on, while the messages the consumer takes average more than
    /// `bytes` divided by the window, the client gives back less credit than it took, so
    /// that the server may send only about `bytes` ahead (and at least 2 messages).
    ///
    /// Bytes between the server and the consumer cost more than memory: under a pacing
    /// congestion control (BBR), a server that always has more to send than its reader
    /// takes is paced by a timer, and both sides spend more per byte. A link with a long
    /// round trip needs a bigger budget to stay full: about its bandwidth times its round
    /// trip.
    pub fn window_bytes(mut self, bytes: usize) -> Self {
        self.pushes_back = Some(self.pushes_back.unwrap_or(DEFAULT_WINDOW));
        self.window_bytes = bytes.max(FEWEST_WINDOW_BYTES);
        self
    }
}

/// One message seen in place in a [`Batch`], from [`Batch::iter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef<'a> {
    /// The line number, counted from 0.
    pub line: u64,
    /// The message, without its line ending.
    pub bytes: &'a [u8],
}

/// Consecutive messages of one stream, in order, as they arrived together: what
/// [`MessageStream::next_batch`] gives. As an iterator it gives owned [`Message`]s;
/// [`iter`](Batch::iter) shows them in place, without touching the buffer's reference
/// count, the fastest way through a stream.
#[derive(Clone)]
pub struct Batch {
    data: Bytes,
    messages: Messages,
    /// The first message not taken yet.
    next: Cursor,
}

/// Where a batch's messages are in its bytes. No more are taken than the server counted,
/// whatever the bytes hold, so that flow control, which counts with the server's count,
/// holds.
#[derive(Debug, Clone)]
enum Messages {
    /// Each message after its 4-byte length (checked when the frame was decoded): `count`
    /// of them.
    Framed { count: u32 },
    /// Lines: where each ends, as [`protocol::line_ends`] finds them when the frame
    /// arrives. The connection's reader finds them while the frame's bytes are still in
    /// the CPU's caches, just read from the socket; the stream's consumer may take the
    /// batch only after the reader has read many other frames, for other streams.
    Lines { crlf: bool, ends: Vec<u32> },
}

/// How far a batch was taken.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The line of the next message.
    line: u64,
    /// Where the next message starts in the batch's bytes.
    at: usize,
    /// How many messages were taken.
    taken: u32,
}

impl Messages {
    /// The message at `cursor` in `data`, and moves `cursor` past it; `None` once all are
    /// taken.
    fn take<'a>(&self, data: &'a [u8], cursor: &mut Cursor) -> Option<&'a [u8]> {
        let (message, next) = match self {
            Messages::Framed { count } => {
                if cursor.taken >= *count {
                    return None;
                }
                let (message, used) = protocol::split_next(&data[cursor.at..], Layout::Framed)?;
                (message, cursor.at + used)
            }
            Messages::Lines { crlf, ends } => {
                let end = *ends.get(cursor.taken as usize)? as usize;
                let mut line = &data[cursor.at..end];
                // Only when `crlf`: reading the line's last byte would fetch it from
                // memory for nothing, when a consumer only counts messages.
                if *crlf {
                    line = line.strip_suffix(b"\r").unwrap_or(line);
                }
                (line, (end + 1).min(data.len()))
            }
        };
        cursor.at = next;
        cursor.taken += 1;
        cursor.line += 1;
        Some(message)
    }

    fn is_taken(&self, data: &[u8], cursor: &Cursor) -> bool {
        match self {
            Messages::Framed { count } => cursor.taken >= *count || cursor.at >= data.len(),
            Messages::Lines { ends, .. } => cursor.taken as usize >= ends.len(),
        }
    }
}

impl Batch {
    /// The batch of a frame's `count` messages from line `first_line`, laid out in `data`
    /// as `layout` says.
    fn new(first_line: u64, count: u32, layout: Layout, data: Bytes) -> Batch {
        let messages = match layout {
            Layout::Framed => Messages::Framed { count },
            Layout::Lines { crlf } => Messages::Lines {
                crlf,
                ends: protocol::line_ends(&data, count),
            },
        };
        Batch {
            data,
            messages,
            next: Cursor {
                line: first_line,
                at: 0,
                taken: 0,
            },
        }
    }

    /// The line number of the batch's first message not taken yet.
    pub fn first_line(&self) -> u64 {
        self.next.line
    }

    /// The batch holds no message (never so for a batch from
    /// [`next_batch`](MessageStream::next_batch)).
    pub fn is_empty(&self) -> bool {
        self.messages.is_taken(&self.data, &self.next)
    }

    /// The messages of the batch, in place.
    pub fn iter(&self) -> BatchIter<'_> {
        BatchIter {
            data: &self.data,
            messages: &self.messages,
            next: self.next,
        }
    }
}

impl Iterator for Batch {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        let line = self.next.line;
        let message = self.messages.take(&self.data, &mut self.next)?;
        Some(Message {
            line,
            bytes: self.data.slice_ref(message),
        })
    }
}

impl<'a> IntoIterator for &'a Batch {
    type Item = MessageRef<'a>;
    type IntoIter = BatchIter<'a>;

    fn into_iter(self) -> BatchIter<'a> {
        self.iter()
    }
}

/// The messages of a [`Batch`], in place: from [`Batch::iter`].
#[derive(Clone)]
pub struct BatchIter<'a> {
    data: &'a [u8],
    messages: &'a Messages,
    next: Cursor,
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = MessageRef<'a>;

    fn next(&mut self) -> Option<MessageRef<'a>> {
        let line = self.next.line;
        let bytes = self.messages.take(self.data, &mut self.next)?;
        Some(MessageRef { line, bytes })
    }
}

/// What the connection's reader hands a stream: one frame's messages at once (and how
/// many the server says there are, for flow control), or the error that ends it.
enum Delivery {
    Batch { batch: Batch, count: u32 },
    Failed(Error),
}

struct Shared {
    outgoing: mpsc::UnboundedSender<Frame>,
    streams: Mutex<Streams>,
    next_stream: AtomicU32,
}

/// The open streams, and why the connection ended once it has: a stream opened after
/// that gets the error at once instead of waiting for ever.
#[derive(Default)]
struct Streams {
    open: HashMap<u32, OpenStream>,
    ended: Option<Error>,
}

/// An open stream, as the connection's reader sees it.
struct OpenStream {
    tx: mpsc::UnboundedSender<Delivery>,
    /// Messages handed to the stream that its consumer has not taken yet. Under flow
    /// control never more than the window, the credit the server was given: a server that
    /// sends more fails the stream instead of growing its queue.
    queued: Arc<AtomicU64>,
    window: Option<u32>,
}

impl Shared {
    fn streams(&self) -> MutexGuard<'_, Streams> {
        self.streams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends every stream with `why`, and every stream opened later too.
    fn end_all(&self, why: Error, tell_streams: bool) {
        let mut streams = self.streams();
        streams.ended = Some(why.clone());
        for (_, open) in streams.open.drain() {
            if tell_streams {
                let _ = open.tx.send(Delivery::Failed(why.clone()));
            }
        }
    }
}

/// A connection to a file server, over any [`Flow`]. Cheap to clone; every clone shares
/// the connection, which closes when the last clone and stream are gone or on
/// [`disconnect`](Client::disconnect).
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    tasks: Arc<Tasks>,
}

/// The connection's reader task, aborted when the last clone of the client (or of a
/// stream) is gone; the writer task then ends by itself, as its request channel closes.
struct Tasks {
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Client {
    /// Connects to a file server with the `tcp-connect` crate (its timeout, interrupt and
    /// Happy Eyeballs apply) and says hello.
    ///
    /// # Errors
    ///
    /// An error that [`is_transport`](Error::is_transport): when the connection cannot be
    /// made, its source is the [`camlnet_tcp_connect::ConnectError`]; when the server does not
    /// complete the hello, its message names the server and its source is the error of
    /// [`over`](Client::over).
    pub async fn connect<T: camlnet_tcp_connect::ConnectTransport>(
        where_to_connect: &camlnet_tcp_connect::WhereToConnect<T>,
    ) -> Result<Client, Error> {
        let stream = camlnet_tcp_connect::connect_sock(where_to_connect)
            .await
            .map_err(|e| Error::transport_caused("cannot connect to the file server", e))?;
        crate::set_no_delay(&stream);
        let mut flow = camlnet_flow::IoFlow::new(stream);
        flow.set_read_size(READ_SIZE);
        Client::over(flow).await.map_err(|e| {
            let what = format!("the handshake with the file server at {where_to_connect} failed");
            Error::transport_caused(what, e)
        })
    }

    /// Speaks the protocol over `flow`: sends the hello and waits for the server's answer.
    /// Needs a tokio runtime (it spawns the connection's reader and writer).
    ///
    /// # Errors
    ///
    /// An error that [`is_transport`](Error::is_transport) when the server refuses (another
    /// protocol version), or the connection fails, ends or says something else within 10 s.
    pub async fn over<F: Flow + 'static>(flow: F) -> Result<Client, Error> {
        let (mut reader, mut writer) = flow.split();
        let mut out = BytesMut::new();
        protocol::encode(&Frame::Hello { version: VERSION }, &mut out);
        writer
            .write(out.freeze())
            .await
            .map_err(|e| Error::transport_caused("sending the hello failed", e))?;
        let mut frames = FrameReader::new(MAX_SERVER_FRAME, Bytes::new());
        let answer = tokio::time::timeout(HANDSHAKE_TIMEOUT, next_frame(&mut reader, &mut frames))
            .await
            .map_err(|_| Error::transport("no answer to the hello within 10 s"))??;
        match answer {
            Some(Frame::Welcome { version: VERSION }) => {}
            Some(Frame::Refused { reason }) => {
                return Err(Error::transport(format!("the server refused: {reason}")));
            }
            Some(other) => {
                return Err(Error::transport(format!(
                    "unexpected answer to the hello: {other:?}"
                )));
            }
            None => {
                return Err(Error::transport(
                    "the server closed the connection without answering the hello",
                ));
            }
        }
        let (outgoing, requests) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            outgoing,
            streams: Mutex::new(Streams::default()),
            next_stream: AtomicU32::new(1),
        });
        let reader = tokio::spawn(dispatch(shared.clone(), reader, frames));
        tokio::spawn(send_requests(requests, writer));
        Ok(Client {
            shared,
            tasks: Arc::new(Tasks { reader }),
        })
    }

    /// Every message of `name` from line 0: first those on disk, then live ones as they are
    /// written, with no gap and no duplicate; the stream ends when the file is closed.
    ///
    /// A missing file is an error item that [`is_file_not_found`](Error::is_file_not_found),
    /// after which the stream ends.
    /// Dropping the stream cancels it on the server.
    pub fn read(&self, name: &str, options: StreamOptions) -> MessageStream {
        self.open(name, Start::Line(0), options)
    }

    /// As [`read`](Client::read), from line `line` (lines count from 0): to resume after a
    /// reconnect, pass the line after the last one received. A line not written yet is
    /// waited for.
    pub fn read_from(&self, name: &str, line: u64, options: StreamOptions) -> MessageStream {
        self.open(name, Start::Line(line), options)
    }

    /// The messages written to `name` after the request reaches the server (none, for a
    /// static file: its stream just ends).
    pub fn tail(&self, name: &str, options: StreamOptions) -> MessageStream {
        self.open(name, Start::Tail, options)
    }

    fn open(&self, name: &str, start: Start, options: StreamOptions) -> MessageStream {
        let id = self.shared.next_stream.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicU64::new(0));
        let credit = options.pushes_back.unwrap_or(u32::MAX);
        {
            let mut streams = self.shared.streams();
            let open = Frame::Open {
                stream: id,
                start,
                credit,
                name: name.to_string(),
            };
            match &streams.ended {
                Some(why) => {
                    let _ = tx.send(Delivery::Failed(why.clone()));
                }
                // The server would close the whole connection for this one.
                None if streams.open.len() >= MAX_STREAMS => {
                    let _ = tx.send(Delivery::Failed(Error::too_many_streams()));
                }
                None if self.shared.outgoing.send(open).is_err() => {
                    let _ = tx.send(Delivery::Failed(Error::transport(
                        "the connection is closed",
                    )));
                }
                None => {
                    let open = OpenStream {
                        tx,
                        queued: queued.clone(),
                        window: options.pushes_back,
                    };
                    streams.open.insert(id, open);
                }
            }
        }
        MessageStream {
            id,
            rx,
            unread: None,
            client: self.clone(),
            credit: options
                .pushes_back
                .map(|messages| Credit::new(messages, options.window_bytes)),
            queued,
            ended: false,
        }
    }

    /// Closes the connection: every stream of this client ends (its `next` returns
    /// `None`), and a stream opened later fails at once.
    pub async fn disconnect(self) {
        self.tasks.reader.abort();
        self.shared
            .end_all(Error::transport("the client disconnected"), false);
        let _ = self.shared.outgoing.send(Frame::End { stream: 0 });
    }
}

/// A stream of one file's messages, from [`Client::read`], [`Client::read_from`] or
/// [`Client::tail`]. Each item is a [`Message`] or, last, an [`Error`]; or take them a
/// [`Batch`] at a time with [`next_batch`](MessageStream::next_batch).
pub struct MessageStream {
    id: u32,
    rx: mpsc::UnboundedReceiver<Delivery>,
    /// The batch being taken apart by `next`.
    unread: Option<Batch>,
    client: Client,
    /// The credit it gives back, under flow control.
    credit: Option<Credit>,
    /// Shared with the connection's reader: see [`OpenStream::queued`].
    queued: Arc<AtomicU64>,
    ended: bool,
}

impl MessageStream {
    /// The next message, or `None` once the stream ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn next(&mut self) -> Option<Result<Message, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The next messages that arrived together (the rest of a batch that
    /// [`next`](MessageStream::next) started on comes first), or the error that ends the
    /// stream, or `None` once it ended. A batch is never empty. Mixing it with `next` is
    /// fine: no message is given twice.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn total(mut stream: camlnet_tcp_file::MessageStream) -> Result<u64, camlnet_tcp_file::Error> {
    /// let mut bytes = 0;
    /// while let Some(batch) = stream.next_batch().await {
    ///     for message in &batch? {
    ///         bytes += message.bytes.len() as u64;
    ///     }
    /// }
    /// # Ok(bytes)
    /// # }
    /// # let _ = total;
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn next_batch(&mut self) -> Option<Result<Batch, Error>> {
        std::future::poll_fn(|cx| self.poll_next_batch(cx)).await
    }

    fn poll_next_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Batch, Error>>> {
        if let Some(batch) = self.unread.take().filter(|b| !b.is_empty()) {
            return Poll::Ready(Some(Ok(batch)));
        }
        match std::task::ready!(self.rx.poll_recv(cx)) {
            Some(Delivery::Batch { batch, count }) => {
                self.queued.fetch_sub(u64::from(count), Ordering::AcqRel);
                self.received(count, batch.data.len());
                Poll::Ready(Some(Ok(batch)))
            }
            Some(Delivery::Failed(e)) => {
                self.ended = true;
                Poll::Ready(Some(Err(e)))
            }
            None => {
                self.ended = true;
                Poll::Ready(None)
            }
        }
    }

    /// Gives the server credit back, as [`Credit`] says, for `count` messages of `bytes`
    /// bytes handed to the consumer.
    fn received(&mut self, count: u32, bytes: usize) {
        if let Some(messages) = self.credit.as_mut().and_then(|c| c.took(count, bytes)) {
            let _ = self.client.shared.outgoing.send(Frame::Credit {
                stream: self.id,
                messages,
            });
        }
    }
}

impl Stream for MessageStream {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(message) = this.unread.as_mut().and_then(Iterator::next) {
                return Poll::Ready(Some(Ok(message)));
            }
            match std::task::ready!(this.poll_next_batch(cx)) {
                Some(Ok(batch)) => this.unread = Some(batch),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl Drop for MessageStream {
    fn drop(&mut self) {
        if self.client.shared.streams().open.remove(&self.id).is_some() {
            let _ = self
                .client
                .shared
                .outgoing
                .send(Frame::Cancel { stream: self.id });
        }
    }
}

/// Reads the server's frames and hands each stream its items.
async fn dispatch<F: Flow>(shared: Arc<Shared>, mut reader: ReadHalf<F>, mut frames: FrameReader) {
    let failure = loop {
        let frame = match next_frame(&mut reader, &mut frames).await {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                break Error::transport("the server closed the connection");
            }
            Err(e) => break e,
        };
        match frame {
            Frame::Batch {
                stream,
                first_line,
                count,
                layout,
                data,
            } => {
                // Nothing to take (a server's batch of no messages): dropped, so that it
                // holds no memory however many come.
                if count == 0 || data.is_empty() {
                    continue;
                }
                // The lines are found only in a batch the stream takes: one past its
                // credit, or for a stream gone, is not looked at.
                if let Some(queue) = admit(&shared, stream, count) {
                    let batch = Batch::new(first_line, count, layout, data);
                    let _ = queue.send(Delivery::Batch { batch, count });
                }
            }
            Frame::End { stream } => {
                shared.streams().open.remove(&stream);
            }
            Frame::StreamError { stream, failure } => {
                if let Some(open) = shared.streams().open.remove(&stream) {
                    let _ = open.tx.send(Delivery::Failed(match failure {
                        StreamFailure::FileNotFound(name) => Error::file_not_found(name),
                        StreamFailure::Unknown(text) => Error::server(text),
                    }));
                }
            }
            other => {
                break Error::transport(format!("unexpected frame from the server: {other:?}"));
            }
        }
    };
    tracing::debug!(error = %failure, "file client connection ended");
    shared.end_all(failure, true);
}

/// The queue of stream `stream`, counting `count` more messages in it; `None` if the
/// stream is gone, or if the server sent past its credit: that fails the stream (and
/// cancels it on the server), so the queue stays within the window.
fn admit(shared: &Shared, stream: u32, count: u32) -> Option<mpsc::UnboundedSender<Delivery>> {
    let mut streams = shared.streams();
    let open = streams.open.get(&stream)?;
    let queued = open.queued.fetch_add(u64::from(count), Ordering::AcqRel) + u64::from(count);
    if open.window.is_none_or(|window| queued <= u64::from(window)) {
        return Some(open.tx.clone());
    }
    if let Some(open) = streams.open.remove(&stream) {
        let _ = open.tx.send(Delivery::Failed(Error::transport(
            "the server sent more messages than the stream's credit",
        )));
        let _ = shared.outgoing.send(Frame::Cancel { stream });
    }
    None
}

/// Writes requests as they come, several at once when they queue up.
async fn send_requests<F: Flow>(
    mut requests: mpsc::UnboundedReceiver<Frame>,
    mut writer: WriteHalf<F>,
) {
    let mut out = BytesMut::new();
    while let Some(frame) = requests.recv().await {
        // `End` is never sent by a client: here it means "disconnect".
        if matches!(frame, Frame::End { .. }) {
            break;
        }
        protocol::encode(&frame, &mut out);
        while let Ok(frame) = requests.try_recv() {
            if matches!(frame, Frame::End { .. }) {
                let _ = writer.write(out.split().freeze()).await;
                let _ = writer.shutdown().await;
                return;
            }
            protocol::encode(&frame, &mut out);
        }
        if writer.write(out.split().freeze()).await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

async fn next_frame<F: Flow>(
    reader: &mut ReadHalf<F>,
    frames: &mut FrameReader,
) -> Result<Option<Frame>, Error> {
    frames.next(reader).await.map_err(|e| match e {
        ReadFrameError::Flow(e) => Error::transport_caused("reading from the server failed", e),
        other => Error::transport(other.to_string()),
    })
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("streams", &self.shared.streams().open.len())
            .finish()
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("first_line", &self.next.line)
            .field("bytes", &(self.data.len() - self.next.at))
            .finish()
    }
}

impl fmt::Debug for BatchIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchIter")
            .field("line", &self.next.line)
            .field("bytes", &(self.data.len() - self.next.at))
            .finish()
    }
}

impl fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageStream")
            .field("id", &self.id)
            .field("ended", &self.ended)
            .finish()
    }
}
