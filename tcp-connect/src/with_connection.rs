//! `with_connection`: connect, run the caller's code, and close everything whatever it did.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use camlnet_flow::{Reader, Writer};

use crate::connect::{Stream, connect};
use crate::error::ConnectError;
use crate::transport::ConnectTransport;
use crate::where_to_connect::WhereToConnect;

/// How the caller's code ended.
enum Outcome<R> {
    Returned(R),
    WriterFailed(camlnet_flow::Error),
    Panicked(Box<dyn Any + Send>),
}

/// Connects as [`connect`](crate::connect), runs `f` with the stream, a [`Reader`] and a
/// [`Writer`], and closes them all when `f`'s future completes, fails or panics; then
/// returns `f`'s result (or resumes its panic).
///
/// Closing means: the writer is [closed](Writer::close) (what `f` wrote is flushed, then
/// the connection is half-closed), then the socket is shut down both ways
/// (`shutdown(2)`, so that readers and writers that `f` handed elsewhere see the end too),
/// then this function's handles are dropped; the file descriptor closes when the last
/// handle to it is gone.
///
/// If the writer fails while `f` runs (an I/O error, or its
/// [buffer age limit](WhereToConnect::buffer_age_limit) exceeded because the peer stopped
/// reading), `f`'s future is dropped, the connection is closed, and the writer's error is
/// returned. The [timeout](WhereToConnect::timeout) and the
/// [interrupt](WhereToConnect::interrupt) bound the connecting only, not `f`.
///
/// `f`'s error type says how failures reach the caller: it must take a [`ConnectError`]
/// and a [`camlnet_flow::Error`], as `std::io::Error` and `Box<dyn Error + Send + Sync>` do.
///
/// # Errors
///
/// The [`ConnectError`] if the connection could not be made (then `f` is not called);
/// `f`'s own error; the writer's error if it failed while `f` ran; or, when `f` succeeded,
/// the writer's error if flushing what `f` wrote failed.
///
/// # Panics
///
/// Resumes `f`'s panic once the connection is closed.
///
/// # Cancel safety
///
/// Dropping the future drops `f`'s future and this function's handles; the connection
/// then closes once the writer's background flush is done with what it holds (or its
/// buffer age limit is exceeded), without the half-close.
///
/// # Examples
///
/// ```
/// use camlnet_tcp_connect::{WhereToConnect, with_connection};
/// use tokio::io::AsyncReadExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// // An echo server on loopback.
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let where_to = WhereToConnect::inet_address(listener.local_addr()?);
/// tokio::spawn(async move {
///     let (mut stream, _) = listener.accept().await?;
///     let (mut read, mut write) = stream.split();
///     tokio::io::copy(&mut read, &mut write).await
/// });
///
/// let echoed = with_connection(&where_to, |_socket, mut reader, writer| async move {
///     writer.write(b"ping")?;
///     let mut echoed = [0; 4];
///     reader.read_exact(&mut echoed).await?;
///     Ok::<_, std::io::Error>(echoed)
/// })
/// .await?;
/// assert_eq!(&echoed, b"ping");
/// # Ok(())
/// # }
/// ```
pub async fn with_connection<T, F, Fut, R, E>(where_to: &WhereToConnect<T>, f: F) -> Result<R, E>
where
    T: ConnectTransport,
    F: FnOnce(Arc<Stream<T>>, Reader, Writer) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    E: From<ConnectError> + From<camlnet_flow::Error>,
{
    let (socket, reader, writer) = connect(where_to).await?;
    let our_socket = socket.clone();
    let our_writer = writer.clone();
    let outcome = run(f, socket, reader, writer, &our_writer).await;
    let closed = our_writer.close().await;
    let shutdown = socket2::SockRef::from(&*our_socket).shutdown(std::net::Shutdown::Both);
    if let Err(error) = shutdown {
        // NotConnected: the peer is gone already, nothing to end.
        if error.kind() != std::io::ErrorKind::NotConnected {
            tracing::debug!(%error, "with_connection: shutdown failed");
        }
    }
    drop(our_writer);
    drop(our_socket);
    match outcome {
        Outcome::Returned(Ok(value)) => closed.map(|()| value).map_err(E::from),
        Outcome::Returned(Err(error)) => Err(error),
        Outcome::WriterFailed(error) => Err(E::from(error)),
        Outcome::Panicked(panic) => resume_unwind(panic),
    }
}

/// Runs `f` until it completes or panics, or the writer fails. Its future is dropped
/// before this returns.
async fn run<S, F, Fut, R>(
    f: F,
    socket: Arc<S>,
    reader: Reader,
    writer: Writer,
    our_writer: &Writer,
) -> Outcome<R>
where
    F: FnOnce(Arc<S>, Reader, Writer) -> Fut,
    Fut: Future<Output = R>,
{
    let future = match catch_unwind(AssertUnwindSafe(|| f(socket, reader, writer))) {
        Ok(future) => future,
        Err(panic) => return Outcome::Panicked(panic),
    };
    let mut future = pin!(future);
    let mut failed = pin!(our_writer.failed());
    poll_fn(|cx| {
        // tokio has no catch_unwind for futures: catch around each poll instead. A
        // future that panicked is never polled again.
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => return Poll::Ready(Outcome::Returned(value)),
            Ok(Poll::Pending) => {}
            Err(panic) => return Poll::Ready(Outcome::Panicked(panic)),
        }
        match failed.as_mut().poll(cx) {
            Poll::Ready(error) => {
                tracing::debug!(%error, "with_connection: the writer failed, ending the connection");
                Poll::Ready(Outcome::WriterFailed(error))
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
