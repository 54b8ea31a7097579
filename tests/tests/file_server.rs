//! The crates composed: the file server running on `tcp-server`, read by one client
//! connected with `tcp-connect` over TCP and one over an in-memory `camlnet_flow::pair`, and by a
//! Unix-socket client, all seeing the same lines.

use std::time::Duration;

use camlnet_tcp_connect::WhereToConnect;
use camlnet_tcp_file::{Client, StreamOptions};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(30);

async fn lines_of(client: &Client, name: &str) -> Vec<(u64, Vec<u8>)> {
    let mut stream = client.read(name, StreamOptions::new());
    let mut all = Vec::new();
    while let Some(item) = timeout(LIMIT, stream.next()).await.expect("stream stalled") {
        let message = item.expect("message");
        all.push((message.line, message.bytes.to_vec()));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_unix_and_in_memory_clients_read_the_same_file() {
    let (dir, server, file, listening) = tests::serve_one_file("composed", "events").await;

    let tcp = Client::connect(&WhereToConnect::inet_address(
        ([127, 0, 0, 1], listening.listening_on()).into(),
    ))
    .await
    .expect("tcp client");
    let (client_end, server_end) = camlnet_flow::pair(64 * 1024);
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_flow(server_end, "in-memory").await });
    let memory = Client::over(client_end).await.expect("in-memory client");
    let (a, b) = tokio::net::UnixStream::pair().expect("socketpair");
    let serving = server.clone();
    tokio::spawn(async move {
        serving
            .serve_flow(camlnet_flow::UnixFlow::from(b), "unix")
            .await
    });
    let unix = Client::over(camlnet_flow::UnixFlow::from(a))
        .await
        .expect("unix client");

    let readers = [tcp, memory, unix]
        .map(|client| tokio::spawn(async move { lines_of(&client, "events").await }));
    let mut expected = Vec::new();
    for i in 0..20_000u64 {
        let text = format!("event {i} {}", "x".repeat((i % 97) as usize));
        file.write_message(text.as_bytes()).expect("write");
        expected.push((i, text.into_bytes()));
        if i % 500 == 0 {
            tokio::task::yield_now().await;
        }
    }
    file.close_with(false).await.expect("close");
    for reader in readers {
        let got = timeout(LIMIT, reader).await.expect("reader").expect("task");
        assert!(
            got == expected,
            "a client saw different lines ({} of {})",
            got.len(),
            expected.len()
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("events"))
            .expect("file")
            .lines()
            .count(),
        20_000
    );
}
