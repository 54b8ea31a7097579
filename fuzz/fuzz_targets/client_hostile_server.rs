//! tcp-file's client facing a hostile server: the server's side of the connection sends
//! any bytes (the answer to the hello, then frames for the client's streams), then ends.
//! The client reads three streams: from the start, from line 5 with a window of one
//! message, and a tail.
//!
//! Properties: no panic; the handshake and every stream end (with an error or not) once
//! the server's bytes end; one connection makes the client allocate at most 1 MiB at once.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use camlnet_flow::FlowExt;
use libfuzzer_sys::fuzz_target;
use camlnet_tcp_file::{Client, MessageStream, StreamOptions};

/// Generous: nothing in the client waits once the server's bytes have ended.
const LIMIT: Duration = Duration::from_secs(10);
const BOUND: usize = 1024 * 1024;

async fn drain(mut stream: MessageStream) {
    while let Some(Ok(batch)) = stream.next_batch().await {
        for message in &batch {
            std::hint::black_box(message);
        }
    }
}

fuzz_target!(|input: &[u8]| {
    fuzz::within("a client connection", BOUND, || {
        fuzz::runtime().block_on(async {
            let (client_end, server_end) = camlnet_flow::pair(64 * 1024);
            let (mut requests, mut answers) = server_end.split();
            let input = Bytes::copy_from_slice(input);
            let hostile = tokio::spawn(async move {
                let _ = answers.write(input).await;
                let _ = answers.shutdown().await;
                // Keep reading the client's requests, so that its writes never fill up.
                while let Ok(camlnet_flow::Read::Data(_)) = requests.read().await {}
                answers
            });
            let reading = async {
                let Ok(client) = Client::over(client_end).await else {
                    return;
                };
                let from_start = client.read("a.log", StreamOptions::new());
                let resuming = client.read_from("b.log", 5, StreamOptions::new().window(1));
                let tail = client.tail("c.log", StreamOptions::new().client_pushes_back(false));
                tokio::join!(drain(from_start), drain(resuming), drain(tail));
                client.disconnect().await;
            };
            tokio::time::timeout(LIMIT, reading)
                .await
                .expect("the client's streams end once the server's bytes end");
            hostile.abort();
            let _ = hostile.await;
        })
    });
});
