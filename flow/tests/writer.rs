//! Async's `Writer` over real sockets: direct and background writes, `flushed`, `close`,
//! the high-water mark and the buffer age limit.

use std::time::{Duration, Instant};

use camlnet_flow::{BufferAgeLimit, WriterOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (client.expect("connect"), accepted.expect("accept").0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_written_arrives_in_order_then_eof() {
    let (a, mut b) = tcp_pair().await;
    let (_socket, _reader, writer) = camlnet_flow::reader_writer(a, 4096, WriterOptions::default());
    let reading = tokio::spawn(async move {
        let mut all = Vec::new();
        b.read_to_end(&mut all).await.expect("read");
        all
    });
    let mut expected = Vec::new();
    for i in 0..20_000u32 {
        let line = format!("line {i}\n");
        writer.write(line.as_bytes()).expect("write");
        expected.extend_from_slice(line.as_bytes());
        if i % 1000 == 0 {
            writer
                .schedule(bytes::Bytes::from_static(b"scheduled\n"))
                .expect("schedule");
            expected.extend_from_slice(b"scheduled\n");
        }
    }
    timeout(LIMIT, writer.flushed())
        .await
        .expect("flushed timed out")
        .expect("flushed");
    assert_eq!(writer.bytes_to_write(), 0);
    assert_eq!(writer.bytes_written(), expected.len() as u64);
    timeout(LIMIT, writer.close())
        .await
        .expect("close timed out")
        .expect("close");
    let err = writer.write(b"late").expect_err("write after close");
    assert!(err.is_closed());
    let received = timeout(LIMIT, reading)
        .await
        .expect("reader")
        .expect("task");
    assert_eq!(received, expected);
}

#[tokio::test]
async fn reader_reads_lines_from_a_shared_socket() {
    let (a, b) = UnixStream::pair().expect("socketpair");
    let (_socket, reader, writer) = camlnet_flow::reader_writer(a, 16, WriterOptions::default());
    let (_peer, peer_reader, peer_writer) =
        camlnet_flow::reader_writer(b, 16, WriterOptions::default());
    // A line longer than the reader's buffer still comes through whole.
    peer_writer
        .write(b"a line longer than sixteen bytes\nshort\n")
        .expect("write");
    peer_writer.close().await.expect("close");
    let mut lines = reader.lines();
    assert_eq!(
        lines.next_line().await.expect("line").as_deref(),
        Some("a line longer than sixteen bytes")
    );
    assert_eq!(
        lines.next_line().await.expect("line").as_deref(),
        Some("short")
    );
    assert_eq!(lines.next_line().await.expect("eof"), None);
    writer.write(b"reply\n").expect("write back");
    writer.close().await.expect("close");
    let mut back = String::new();
    let mut peer_reader = peer_reader;
    peer_reader
        .read_to_string(&mut back)
        .await
        .expect("read back");
    assert_eq!(back, "reply\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_waiting_for_room_stays_under_the_high_water_mark() {
    const MARK: usize = 256 * 1024;
    const CHUNK: usize = 8 * 1024;
    const TOTAL: usize = 32 << 20;
    let (a, mut b) = tcp_pair().await;
    let (_socket, _reader, writer) =
        camlnet_flow::reader_writer(a, 4096, WriterOptions::default().high_water_mark(MARK));
    // A slow consumer: small reads with pauses, so the writer's buffer fills up.
    let reading = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0usize;
        let mut reads = 0u64;
        loop {
            let n = b.read(&mut buf).await.expect("read");
            if n == 0 {
                return total;
            }
            total += n;
            reads += 1;
            if reads % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    let chunk = vec![3u8; CHUNK];
    let mut highest = 0;
    for _ in 0..TOTAL / CHUNK {
        timeout(LIMIT, writer.wait_for_room())
            .await
            .expect("room timed out")
            .expect("room");
        writer.write(&chunk).expect("write");
        highest = highest.max(writer.bytes_to_write());
    }
    assert!(
        highest <= MARK + CHUNK,
        "buffer grew to {highest} bytes, mark {MARK}"
    );
    timeout(LIMIT, writer.close())
        .await
        .expect("close timed out")
        .expect("close");
    assert_eq!(
        timeout(LIMIT, reading)
            .await
            .expect("reader")
            .expect("task"),
        TOTAL
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_to_a_peer_that_stops_reading_fails_once_after_the_age_limit() {
    let limit = Duration::from_secs(1);
    let (a, _never_read) = tcp_pair().await;
    let (_socket, _reader, writer) = camlnet_flow::reader_writer(
        a,
        4096,
        WriterOptions::default().buffer_age_limit(BufferAgeLimit::AtMost(limit)),
    );
    // Far more than the kernel's socket buffers hold.
    let chunk = vec![1u8; 1 << 20];
    let start = Instant::now();
    for _ in 0..32 {
        writer.write(&chunk).expect("write");
    }
    let err = timeout(LIMIT, writer.failed())
        .await
        .expect("the age limit never fired");
    let took = start.elapsed();
    assert!(
        took >= limit,
        "failed after {took:?}, before the {limit:?} limit"
    );
    assert!(
        took < limit + Duration::from_secs(5),
        "failed only after {took:?}"
    );
    assert!(err.is_buffer_age_exceeded(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("bytes pending") && text.contains("oldest for"),
        "{text}"
    );
    // Reported once: every later call sees that same error.
    let again = writer.failed().await;
    assert_eq!(again.to_string(), text);
    let write_err = writer.write(b"more").expect_err("write after failure");
    assert_eq!(write_err.to_string(), text);
}

#[tokio::test]
async fn unlimited_age_never_fails() {
    let (a, _never_read) = tcp_pair().await;
    let (_socket, _reader, writer) = camlnet_flow::reader_writer(
        a,
        4096,
        WriterOptions::default().buffer_age_limit(BufferAgeLimit::Unlimited),
    );
    for _ in 0..16 {
        writer.write(&vec![1u8; 1 << 20]).expect("write");
    }
    assert!(
        timeout(Duration::from_millis(1500), writer.failed())
            .await
            .is_err()
    );
    assert!(writer.bytes_to_write() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_reads_a_trickle_still_trips_the_age_limit() {
    let limit = Duration::from_secs(1);
    let (a, mut b) = tcp_pair().await;
    let (_socket, _reader, writer) = camlnet_flow::reader_writer(
        a,
        4096,
        WriterOptions::default().buffer_age_limit(BufferAgeLimit::AtMost(limit)),
    );
    let chunk = vec![1u8; 1 << 20];
    for _ in 0..32 {
        writer.write(&chunk).expect("write");
    }
    // Read a little every 50 ms: the socket becomes writable again and again, but the
    // oldest buffered byte keeps getting older.
    let trickle = tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        let deadline = Instant::now() + LIMIT;
        while Instant::now() < deadline {
            if b.read(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let start = Instant::now();
    let err = timeout(LIMIT, writer.failed())
        .await
        .expect("the age limit never fired");
    assert!(err.is_buffer_age_exceeded(), "{err:?}");
    assert!(
        start.elapsed() < limit + Duration::from_secs(5),
        "fired only after {:?}",
        start.elapsed()
    );
    trickle.abort();
}
