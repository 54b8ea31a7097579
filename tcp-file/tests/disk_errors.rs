//! Disk errors are never dropped silently: a child process whose file-size limit is small
//! (`RLIMIT_FSIZE`, with `SIGXFSZ` ignored so that writes fail with `EFBIG`) writes until
//! the disk refuses, and the writer, `flushed`, the readers and the snapshot all say so.
#![cfg(all(feature = "server", feature = "client"))]

use std::process::Command;
use std::time::Duration;

use camlnet_tcp_file::{Client, FileOptions, Server, StreamOptions};

mod support;

const ROLE: &str = "TCP_FILE_DISK_ERRORS_CHILD";

#[test]
fn a_full_file_is_reported_to_writer_readers_and_snapshot() {
    let exe = std::env::current_exe().expect("current_exe");
    // `trap '' XFSZ` is inherited through exec; `ulimit -f 64` allows 32 or 64 KiB.
    let out = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$@\"")
        .arg(&exe)
        .args([
            "--exact",
            "child_writes_until_the_disk_refuses",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("CHILD OK"),
        "the child did not run its checks:\n{stdout}\n{stderr}"
    );
}

#[test]
fn child_writes_until_the_disk_refuses() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = support::fresh_dir("disk");
        let server = Server::new();
        let file = server
            .open_file("log", dir.path().join("log"), FileOptions::new())
            .expect("open");
        let (client_end, server_end) = camlnet_flow::pair(1 << 20);
        let serving = server.clone();
        tokio::spawn(async move { serving.serve_flow(server_end, "child").await });
        let client = Client::over(client_end).await.expect("handshake");
        let mut stream = client.read("log", StreamOptions::new().client_pushes_back(false));

        let message = vec![b'x'; 1000];
        let mut failure = None;
        let mut written = 0u64;
        for _ in 0..10_000 {
            let result = match file.write_message(&message) {
                Ok(()) => {
                    written += 1;
                    file.flushed().await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                failure = Some(e);
                break;
            }
        }
        let failure = failure.expect("the disk never refused a write");
        assert!(failure.is_disk(), "{failure:?}");
        let path = std::fs::canonicalize(dir.path().join("log")).expect("canonical");
        assert_eq!(failure.path(), Some(path.as_path()));
        // The system's error is the source, and only the source.
        let source = std::error::Error::source(&failure).expect("a source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("an io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::FileTooLarge, "{io}");
        assert!(io.to_string().contains("File too large"), "{io}");
        assert!(!failure.to_string().contains(&io.to_string()), "{failure}");
        // Every later write and flush says so too.
        assert!(file.write_message(b"more").is_err_and(|e| e.is_disk()));
        assert!(file.flushed().await.is_err_and(|e| e.is_disk()));

        // The reader gets every line that reached the file, and no other, then an error
        // item.
        let mut received = 0u64;
        let end = loop {
            match tokio::time::timeout(Duration::from_secs(20), stream.next())
                .await
                .expect("reader stalled")
            {
                Some(Ok(m)) => {
                    assert_eq!(m.line, received);
                    received += 1;
                }
                Some(Err(e)) => break e,
                None => panic!("the stream ended without an error"),
            }
        };
        let on_disk = std::fs::read(dir.path().join("log")).expect("read the file");
        let whole_lines = on_disk.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(
            received, whole_lines,
            "the reader got lines that never reached the file"
        );
        assert!(
            received < written,
            "the last accepted line never reached the file"
        );
        assert!(
            end.is_server_error() && end.to_string().contains("File too large"),
            "{end:?}"
        );

        let snapshot = server.debug_snapshot();
        let disk_error = snapshot.files[0]
            .disk_error
            .as_deref()
            .expect("snapshot shows the error");
        assert!(disk_error.contains("File too large"), "{disk_error}");
        println!("CHILD OK: {written} messages written before: {failure}");
    });
}
