//! One behavioural suite, run over TCP, Unix sockets and the in-memory pair: the Mirage
//! flow contract as a user would check it.

use std::time::Duration;

use bytes::Bytes;
use camlnet_flow::{Flow, FlowExt, Read, Shutdown, TcpFlow, UnixFlow};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::time::timeout;

type BoxFlow = Box<dyn Flow>;

/// Bounds every wait of the suite, so a broken flow fails a test instead of hanging it.
const LIMIT: Duration = Duration::from_secs(20);

async fn tcp() -> (BoxFlow, BoxFlow) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let client = client.expect("connect");
    let (server, _) = accepted.expect("accept");
    (
        Box::new(TcpFlow::from(client)),
        Box::new(TcpFlow::from(server)),
    )
}

async fn unix() -> (BoxFlow, BoxFlow) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    (Box::new(UnixFlow::from(a)), Box::new(UnixFlow::from(b)))
}

async fn memory() -> (BoxFlow, BoxFlow) {
    let (a, b) = camlnet_flow::pair(64 * 1024);
    (Box::new(a), Box::new(b))
}

/// Reads until `Eof`, checking that no `Data` is ever empty.
async fn read_to_end(flow: &mut BoxFlow) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        match timeout(LIMIT, flow.read())
            .await
            .expect("read timed out")
            .expect("read")
        {
            Read::Data(bytes) => {
                assert!(!bytes.is_empty(), "a read returned empty Data");
                all.extend_from_slice(&bytes);
            }
            Read::Eof => return all,
        }
    }
}

/// A pseudo-random pattern of a length that no chunk size divides.
fn pattern() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..1_000_003)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn read_after_peer_close_returns_data_then_eof(a: BoxFlow, mut b: BoxFlow) {
    let mut a = a;
    a.write(Bytes::from_static(b"in flight "))
        .await
        .expect("write");
    a.write(Bytes::from_static(b"then eof"))
        .await
        .expect("write");
    let closer = tokio::spawn(async move { a.close().await });
    assert_eq!(read_to_end(&mut b).await, b"in flight then eof");
    assert_eq!(
        b.read().await.expect("read after eof"),
        Read::Eof,
        "Eof is sticky"
    );
    assert_eq!(
        b.read().await.expect("read after eof"),
        Read::Eof,
        "Eof is sticky"
    );
    b.close().await.expect("close b");
    timeout(LIMIT, closer)
        .await
        .expect("close a timed out")
        .expect("task")
        .expect("close a");
}

async fn close_waits_for_peer_and_reads_go_on(mut a: BoxFlow, mut b: BoxFlow) {
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    let closer = tokio::spawn(async move {
        let result = a.close().await;
        let _ = done_tx.send(());
        (a, result)
    });
    // b sees a's half-close...
    assert_eq!(read_to_end(&mut b).await, b"");
    // ...but a's close must not complete while b has not closed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        done_rx.try_recv().is_err(),
        "close completed before the peer closed"
    );
    // b may still write; a keeps that data for later reads.
    b.write(Bytes::from_static(b"late data"))
        .await
        .expect("b writes after a closed");
    b.close().await.expect("close b");
    let (mut a, result) = timeout(LIMIT, closer)
        .await
        .expect("close timed out")
        .expect("task");
    result.expect("close a");
    assert_eq!(read_to_end(&mut a).await, b"late data");
}

async fn write_after_close_is_closed(mut a: BoxFlow, mut b: BoxFlow) {
    a.shutdown(Shutdown::Write).await.expect("shutdown");
    let err = a
        .write(Bytes::from_static(b"x"))
        .await
        .expect_err("write after shutdown");
    assert!(err.is_closed(), "{err:?}");
    assert_eq!(read_to_end(&mut b).await, b"");
    b.close().await.expect("close b");
    a.close().await.expect("close a");
    let err = a
        .writev(vec![Bytes::from_static(b"y")])
        .await
        .expect_err("write after close");
    assert!(err.is_closed(), "{err:?}");
    assert!(!err.to_string().is_empty());
}

async fn writev_keeps_order(mut a: BoxFlow, mut b: BoxFlow) {
    let parts: Vec<Bytes> = (0..500).map(|i| Bytes::from(format!("<{i}>"))).collect();
    let expected: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    let writer = tokio::spawn(async move {
        a.writev(parts).await.expect("writev");
        a.shutdown(Shutdown::Write).await.expect("shutdown");
        a
    });
    assert_eq!(read_to_end(&mut b).await, expected);
    writer.await.expect("task");
}

/// A file's range straight from the page cache after a head, on flows over sockets; a
/// clear error on flows that cannot; and when the file is shorter than the range, an error
/// that ends the flow's writes (what was sent of the range is on the wire, with nothing
/// after it).
async fn send_file_writes_the_head_then_the_range(a: BoxFlow, mut b: BoxFlow, sockets: bool) {
    use std::io::Write as _;
    let mut file = tempfile::tempfile().expect("file");
    let content = pattern();
    file.write_all(&content).expect("write");
    let head = vec![Bytes::from_static(b"head:"), Bytes::from_static(b"<")];
    assert_eq!(a.can_send_file(), sockets && cfg!(target_os = "linux"));
    let (_, mut writer) = a.split();
    if !writer.can_send_file() {
        let err = writer
            .send_file(head, &file, 0, 1)
            .await
            .expect_err("cannot send files");
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::Unsupported));
        return;
    }
    let range = 1000..content.len() - 7;
    let len = range.len();
    let end = content.len() as u64;
    let writer = tokio::spawn(async move {
        writer
            .send_file(head, &file, range.start as u64, len)
            .await
            .expect("send_file");
        let past_the_end = writer.send_file(Vec::new(), &file, end - 3, 10).await;
        assert_eq!(
            past_the_end.expect_err("the file ends").io_kind(),
            Some(std::io::ErrorKind::UnexpectedEof)
        );
        let after = writer.writev(vec![Bytes::from_static(b"more")]).await;
        assert!(after.is_err(), "writes ended with the range");
    });
    let expected = [
        b"head:<",
        &content[1000..content.len() - 7],
        &content[content.len() - 3..],
    ]
    .concat();
    assert!(
        read_to_end(&mut b).await == expected,
        "not the head, the range, then what the file had of the next"
    );
    writer.await.expect("task");
}

async fn sixty_four_mib_arrive_intact(mut a: BoxFlow, mut b: BoxFlow) {
    const TOTAL: usize = 64 << 20;
    let pattern = std::sync::Arc::new(pattern());
    let source = pattern.clone();
    let writer = tokio::spawn(async move {
        let mut sent = 0;
        let mut size = 1;
        while sent < TOTAL {
            // Chunk sizes vary from 1 byte to 256 KiB so that boundaries fall everywhere.
            size = (size * 7 + 13) % (256 * 1024) + 1;
            let n = size.min(TOTAL - sent);
            let start = sent % source.len();
            let end = (start + n).min(source.len());
            let chunk = Bytes::copy_from_slice(&source[start..end]);
            sent += chunk.len();
            a.write(chunk).await.expect("write");
        }
        a.shutdown(Shutdown::Write).await.expect("shutdown");
        a
    });
    let mut received = 0usize;
    while let Read::Data(mut bytes) = timeout(LIMIT, b.read())
        .await
        .expect("read timed out")
        .expect("read")
    {
        assert!(!bytes.is_empty());
        while !bytes.is_empty() {
            let start = received % pattern.len();
            let n = bytes.len().min(pattern.len() - start);
            assert!(
                bytes[..n] == pattern[start..start + n],
                "corrupt data at byte {received}"
            );
            received += n;
            bytes = bytes.slice(n..);
        }
    }
    assert_eq!(received, TOTAL);
    writer.await.expect("task");
}

async fn shutdown_read_ends_reads(mut a: BoxFlow, mut b: BoxFlow) {
    a.shutdown(Shutdown::Read).await.expect("shutdown read");
    assert_eq!(a.read().await.expect("read"), Read::Eof);
    // Writes still work in the other direction.
    a.write(Bytes::from_static(b"still writing"))
        .await
        .expect("write");
    a.shutdown(Shutdown::Write).await.expect("shutdown write");
    assert_eq!(read_to_end(&mut b).await, b"still writing");
}

async fn split_halves_work_from_two_tasks(a: BoxFlow, mut b: BoxFlow) {
    let (mut reader, mut writer) = a.split();
    let read_task = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Read::Data(bytes) = reader.read().await.expect("read half") {
            all.extend_from_slice(&bytes);
        }
        all
    });
    let write_task = tokio::spawn(async move {
        writer
            .write(Bytes::from_static(b"from the write half"))
            .await
            .expect("write half");
        writer.close().await.expect("close write half");
    });
    assert_eq!(read_to_end(&mut b).await, b"from the write half");
    b.write(Bytes::from_static(b"to the read half"))
        .await
        .expect("write");
    b.close().await.expect("close b");
    assert_eq!(
        timeout(LIMIT, read_task)
            .await
            .expect("read task")
            .expect("task"),
        b"to the read half"
    );
    timeout(LIMIT, write_task)
        .await
        .expect("write task")
        .expect("task");
}

macro_rules! suite {
    ($($transport:ident),*) => {
        $(
            mod $transport {
                use super::*;

                #[tokio::test]
                async fn read_after_peer_close_returns_data_then_eof() {
                    let (a, b) = $transport().await;
                    super::read_after_peer_close_returns_data_then_eof(a, b).await;
                }

                #[tokio::test]
                async fn close_waits_for_peer_and_reads_go_on() {
                    let (a, b) = $transport().await;
                    super::close_waits_for_peer_and_reads_go_on(a, b).await;
                }

                #[tokio::test]
                async fn write_after_close_is_closed() {
                    let (a, b) = $transport().await;
                    super::write_after_close_is_closed(a, b).await;
                }

                #[tokio::test]
                async fn writev_keeps_order() {
                    let (a, b) = $transport().await;
                    super::writev_keeps_order(a, b).await;
                }

                #[tokio::test]
                async fn send_file_writes_the_head_then_the_range() {
                    let (a, b) = $transport().await;
                    let sockets = stringify!($transport) != "memory";
                    super::send_file_writes_the_head_then_the_range(a, b, sockets).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sixty_four_mib_arrive_intact() {
                    let (a, b) = $transport().await;
                    super::sixty_four_mib_arrive_intact(a, b).await;
                }

                #[tokio::test]
                async fn shutdown_read_ends_reads() {
                    let (a, b) = $transport().await;
                    super::shutdown_read_ends_reads(a, b).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn split_halves_work_from_two_tasks() {
                    let (a, b) = $transport().await;
                    super::split_halves_work_from_two_tasks(a, b).await;
                }
            }
        )*
    };
}

suite!(tcp, unix, memory);

#[tokio::test]
async fn pair_write_larger_than_capacity_waits_for_the_reader() {
    let (mut a, mut b) = camlnet_flow::pair(1024);
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    let writer = tokio::spawn(async move {
        a.write(Bytes::from(vec![7u8; 4096])).await.expect("write");
        let _ = done_tx.send(());
        a.shutdown(Shutdown::Write).await.expect("shutdown");
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        done_rx.try_recv().is_err(),
        "a 4 KiB write completed into a 1 KiB pair unread"
    );
    let mut received = Vec::new();
    while let Read::Data(bytes) = timeout(LIMIT, b.read()).await.expect("read").expect("read") {
        assert!(bytes.len() <= 1024, "more than the capacity was buffered");
        received.extend_from_slice(&bytes);
    }
    assert_eq!(received, vec![7u8; 4096]);
    writer.await.expect("task");
}

#[tokio::test]
async fn close_gives_up_past_its_buffer_limit() {
    let (a, b) = UnixStream::pair().expect("socketpair");
    let mut a = UnixFlow::from(a);
    a.set_close_buffer_limit(1000);
    let mut b = UnixFlow::from(b);
    b.write(Bytes::from(vec![1u8; 5000])).await.expect("write");
    let err = timeout(LIMIT, a.close())
        .await
        .expect("close timed out")
        .expect_err("overflow");
    assert!(err.is_close_overflow(), "{err:?}");
    assert!(err.to_string().contains("1000 bytes"), "{err}");
    // What was kept is still readable.
    let Read::Data(first) = a.read().await.expect("read") else {
        panic!("expected data")
    };
    assert!(!first.is_empty());
}

/// Writes 1,000 bytes of `byte` on `b` and reads them on `a` in one read.
async fn one_read(a: &mut UnixFlow, b: &mut UnixFlow, byte: u8) -> Bytes {
    b.write(Bytes::from(vec![byte; 1000])).await.expect("write");
    let Read::Data(bytes) = timeout(LIMIT, a.read()).await.expect("read").expect("read") else {
        panic!("eof instead of data");
    };
    assert_eq!(&bytes[..], &[byte; 1000][..]);
    bytes
}

#[tokio::test]
async fn reads_fill_a_buffer_and_use_it_again_once_what_was_read_is_dropped() {
    let (a, b) = UnixStream::pair().expect("socketpair");
    let mut a = UnixFlow::from(a);
    let mut b = UnixFlow::from(b);
    a.set_read_size(4096);
    let start = |bytes: &Bytes| bytes.as_ptr() as usize;
    // Four reads of 1,000 bytes fill one 4,096-byte buffer, one after the other, while each
    // read is still held.
    let mut held = Vec::new();
    for byte in 0..4 {
        held.push(one_read(&mut a, &mut b, byte).await);
    }
    let first = start(&held[0]);
    for (i, bytes) in held.iter().enumerate() {
        assert_eq!(
            start(bytes),
            first + 1000 * i,
            "read {i} is not in the first buffer"
        );
    }
    // Too little room is left for a fifth; with every read dropped, the buffer is filled
    // again from its start.
    held.clear();
    let again = one_read(&mut a, &mut b, 4).await;
    assert_eq!(start(&again), first, "the buffer was not used again");
    // While a read of it is held, it is not: the reads go to another buffer.
    for byte in 5..8 {
        one_read(&mut a, &mut b, byte).await;
    }
    let elsewhere = one_read(&mut a, &mut b, 8).await;
    assert!(
        !(first..first + 4096).contains(&start(&elsewhere)),
        "a read overwrote a buffer still held"
    );
    assert_eq!(&again[..], &[4u8; 1000][..]);
    // A reader that lags by a buffer: once the first one's reads are dropped, it is used
    // again (it was kept meanwhile), and four more reads held at once need no third.
    drop(again);
    // Were the first buffer freed now, the allocator would hand its memory to this
    // allocation of the same size: a read can land there only if the flow kept it.
    let decoy = Vec::<u8>::with_capacity(4096);
    let second = start(&elsewhere);
    for byte in 9..13 {
        let read = one_read(&mut a, &mut b, byte).await;
        let at = start(&read);
        assert!(
            (first..first + 4096).contains(&at) || (second..second + 4096).contains(&at),
            "read {byte} went to a third buffer"
        );
        held.push(read);
    }
    assert_eq!(&elsewhere[..], &[8u8; 1000][..]);
    drop(decoy);
}
