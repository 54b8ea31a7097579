//! What every tcp-file test binary uses.

#![allow(dead_code, unreachable_pub)]

/// A fresh, empty directory for one test (its name starts with `test`), under the
/// system's temporary directory: removed when dropped, so hold it for the whole test; a
/// test that fails (panics) removes it too.
pub fn fresh_dir(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("tcp-file-{test}-"))
        .tempdir()
        .expect("create the test's directory")
}

/// The binary protocol's `Hello` for `version`, as a raw client sends it.
pub fn hello(version: u16) -> Vec<u8> {
    let mut frame = vec![0, 0, 0, 10, 0x01];
    frame.extend_from_slice(b"TCPFILE");
    frame.extend_from_slice(&version.to_be_bytes());
    frame
}

/// An `Open` frame, as a raw client sends it: stream `stream` of `name` from line `line`,
/// with `credit` messages of flow control.
pub fn open_frame(stream: u32, line: u64, credit: u32, name: &[u8]) -> Vec<u8> {
    let body_len = 1 + 4 + 1 + 8 + 4 + name.len();
    let mut frame = (body_len as u32).to_be_bytes().to_vec();
    frame.push(0x02);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.push(0);
    frame.extend_from_slice(&line.to_be_bytes());
    frame.extend_from_slice(&credit.to_be_bytes());
    frame.extend_from_slice(name);
    frame
}

/// Serves `server` on 127.0.0.1, on a port the system picks.
#[cfg(all(feature = "server", feature = "client"))]
pub async fn listen_on_localhost(
    server: &camlnet_tcp_file::Server,
) -> camlnet_tcp_server::Server<camlnet_flow::Inet> {
    use camlnet_tcp_server::{BindToAddress, BindToPort, WhereToListen};
    server
        .serve(
            WhereToListen::bind_to(BindToAddress::Localhost, BindToPort::OnPortChosenByOs),
            |_| true,
        )
        .await
        .expect("serve on 127.0.0.1")
}

/// The port a child test process prints as `PORT N` on its standard output (the test
/// harness may print its own words before it on the line).
pub fn child_port(stdout: impl std::io::Read) -> u16 {
    use std::io::BufRead;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("read the child's output");
        if let Some((_, port)) = line.split_once("PORT ") {
            return port.trim().parse().expect("a port");
        }
    }
    panic!("the child ended before it listened");
}
