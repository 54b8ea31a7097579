//! A tcp-file server's side of a connection (the first bytes that pick the protocol, the
//! binary handshake and requests, or the text-mode request line) fed any bytes a client
//! may send, then the client's end of input. The server has one file, of three lines.
//!
//! Properties: no panic; the server answers and ends the connection once the client's
//! input ends; a binary answer is whole frames starting with a welcome or a refusal, a text
//! answer starts with `+OK` or `-ERR`; one connection makes the server allocate at most
//! 1 MiB at once.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use camlnet_flow::FlowExt;
use libfuzzer_sys::fuzz_target;
use camlnet_tcp_file::Server;
use camlnet_tcp_file::fuzzing::{FrameReader, MAX_SERVER_FRAME};

/// Generous: nothing in a connection waits once the client's input has ended.
const LIMIT: Duration = Duration::from_secs(10);
const BOUND: usize = 1024 * 1024;

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("fuzz-server-{}.log", std::process::id()));
        std::fs::write(&path, b"one\ntwo\r\nthree").expect("write the served file");
        let server = Server::new();
        server
            .serve_existing_static_file("a.log", &path)
            .expect("serve the file");
        server
    })
}

fuzz_target!(|input: &[u8]| {
    let server = server();
    let answer = fuzz::within("a connection", BOUND, || {
        fuzz::runtime().block_on(async {
            let (client, server_end) = camlnet_flow::pair(64 * 1024);
            let serving = server.clone();
            let serve = tokio::spawn(async move { serving.serve_flow(server_end, "fuzz").await });
            let (mut reader, mut writer) = client.split();
            let input = Bytes::copy_from_slice(input);
            let talk = async move {
                // The server may close before it has read everything: that is its right.
                let _ = writer.write(input).await;
                let _ = writer.shutdown().await;
                writer
            };
            let listen = async {
                let mut answer = Vec::new();
                while let Ok(camlnet_flow::Read::Data(bytes)) = reader.read().await {
                    answer.extend_from_slice(&bytes);
                }
                answer
            };
            let (_writer, answer) =
                tokio::time::timeout(LIMIT, async { tokio::join!(talk, listen) })
                    .await
                    .expect("the server ends the connection after the client's input ends");
            tokio::time::timeout(LIMIT, serve)
                .await
                .expect("the connection's task ends")
                .expect("the connection's task does not panic");
            answer
        })
    });

    match input.first() {
        None => assert!(answer.is_empty(), "an answer to nothing"),
        Some(0) => {
            let mut frames = FrameReader::new(MAX_SERVER_FRAME);
            frames.push(Bytes::from(answer));
            let first = frames.next_frame().expect("the server's frames decode");
            if let Some(first) = first {
                assert!(
                    first.is_welcome() || first.is_refusal(),
                    "the first frame is {first:?}"
                );
            }
            while frames
                .next_frame()
                .expect("the server's frames decode")
                .is_some()
            {}
            assert_eq!(frames.held(), 0, "the server's answer ends inside a frame");
        }
        Some(_) => assert!(
            answer.starts_with(b"+OK\n") || answer.starts_with(b"-ERR "),
            "a text answer starts with {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(20)])
        ),
    }
});
