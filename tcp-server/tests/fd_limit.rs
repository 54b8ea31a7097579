//! Out of file descriptors: in a child process with a low `RLIMIT_NOFILE`, clients past the
//! limit wait without stopping the server, the accept loop sleeps rather than spins
//! meanwhile, and once descriptors free up the waiting clients are served.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camlnet_tcp_server::{Server, ServerOptions};

/// Set in the child's environment: it then runs the server instead of the test.
const CHILD_ROLE: &str = "TCP_SERVER_TEST_FD_LIMIT_CHILD";
/// The child's soft descriptor limit.
const FD_LIMIT: u64 = 40;
/// More clients than the child has descriptors for.
const CLIENTS: usize = 60;

/// The server side, run in the child process.
#[test]
fn fd_limit_child() {
    if std::env::var_os(CHILD_ROLE).is_none() {
        return; // An ordinary test run: nothing to do.
    }
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: Some(FD_LIMIT),
            maximum: limit.maximum,
        },
    )
    .expect("setrlimit");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = Server::create_sock(
            common::localhost(),
            // Far more than the descriptors allow, so that accept runs into EMFILE.
            ServerOptions::default().max_connections(1000),
            |_peer, mut stream: tokio::net::TcpStream| async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                stream.write_all(b"hi").await?;
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).await?;
                Ok::<_, std::io::Error>(())
            },
        )
        .await
        .expect("listen");
        println!("listening on {}", server.listening_on_address());
        std::io::stdout().flush().unwrap();
        // Serve until the parent closes our standard input.
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .unwrap();
        eprintln!("child stopping: {server:?}");
        server.close(true).await.unwrap();
    });
}

/// CPU time (user + system) of process `pid`, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Tries to read the two-byte greeting of each client not yet served, briefly.
fn collect_greetings(clients: &mut [(TcpStream, bool)], wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    for (stream, served) in clients.iter_mut() {
        if *served {
            continue;
        }
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(left)).unwrap();
        let mut greeting = [0u8; 2];
        if stream.read_exact(&mut greeting).is_ok() {
            assert_eq!(&greeting, b"hi");
            *served = true;
        }
    }
    clients.iter().filter(|(_, served)| *served).count()
}

#[test]
fn out_of_descriptors_the_server_waits_without_spinning_and_recovers() {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fd_limit_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ROLE, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let mut child = KillOnDrop(child);
    let pid = child.0.id();
    // The child's output, line by line, read on a thread so that waiting has a deadline.
    // libtest may print "test fd_limit_child ... " on the same line before ours.
    let stdout = child.0.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let address: SocketAddr = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the child listens");
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().parse().unwrap();
        }
    };
    let mut clients: Vec<(TcpStream, bool)> = (0..CLIENTS)
        .map(|_| (TcpStream::connect(address).expect("connect"), false))
        .collect();
    let served = collect_greetings(&mut clients, Duration::from_secs(3));
    assert!(served > 0, "nobody served");
    assert!(
        served < CLIENTS,
        "all {CLIENTS} clients served under a limit of {FD_LIMIT} descriptors"
    );

    // Now accept fails with EMFILE. Over two seconds, a spinning loop would use about two
    // seconds of CPU; a sleeping one next to nothing.
    let before = cpu_ticks(pid);
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - before;
    let elapsed_ticks = window.elapsed().as_millis() as u64 / 10;
    assert!(
        used * 5 < elapsed_ticks,
        "the child used {used} ticks of CPU in {elapsed_ticks} ticks while out of descriptors"
    );
    // Still nobody else served, and the child is alive.
    assert_eq!(
        collect_greetings(&mut clients, Duration::from_millis(100)),
        served
    );
    assert!(child.0.try_wait().unwrap().is_none(), "the child died");

    // Free descriptors by closing the served clients: the others are served in turn.
    clients.retain(|(_, served)| !served);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now_served = collect_greetings(&mut clients, Duration::from_millis(500));
        if now_served == clients.len() {
            break;
        }
        // Let the served ones go, freeing their descriptors for the rest.
        clients.retain(|(_, served)| !served);
        assert!(
            Instant::now() < deadline,
            "{} clients never served",
            clients.len()
        );
    }

    drop(clients);
    drop(child.0.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the child did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "child: {status}");
}
