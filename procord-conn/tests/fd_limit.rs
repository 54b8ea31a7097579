//! Out of file descriptors, in child processes with a low `RLIMIT_NOFILE`: a naive server
//! loop of `wait` + `accept_into_set` + `update_set` sleeps rather than spins while `accept`
//! fails with `EMFILE`, and serves the waiting clients once descriptors free up; a naive
//! `wait` loop whose `poll` keeps failing sleeps too.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Resource, Rlimit};

use camlnet_procord_conn::{Connection, Fd, Options, Set, Waiter};

/// Set in the child's environment to the role it plays instead of the test.
const CHILD_ROLE: &str = "PROCORD_CONN_TEST_FD_LIMIT_CHILD";
/// The child's soft descriptor limit.
const FD_LIMIT: u64 = 32;
/// More clients than the child has descriptors for.
const CLIENTS: usize = 60;
/// How long the `poll` child loops.
const POLL_CHILD_RUN: Duration = Duration::from_secs(1);

fn lower_fd_limit() {
    let limit = rustix::process::getrlimit(Resource::Nofile);
    let lowered = Rlimit {
        current: Some(FD_LIMIT),
        maximum: limit.maximum,
    };
    rustix::process::setrlimit(Resource::Nofile, lowered).expect("setrlimit");
}

/// The server: greets every client, closes it when its input ends, and runs until its
/// standard input ends. Prints how many turns its loop took.
fn accept_child() {
    lower_fd_limit();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    println!(
        "listening on {}",
        listener.local_addr().expect("local_addr")
    );
    std::io::stdout().flush().expect("flush");
    let mut control = Connection::custom(Some(Fd::stdin()), None, (), Options::new());
    let mut set: Set<bool> = Set::new();
    let mut turns = 0u64;
    while control.alive() {
        Waiter::from_list([control.waiter(), set.accept_waiter(&listener), set.waiter()])
            .sleep(None);
        turns += 1;
        control.update();
        set.accept_into_set(&listener, |_| Some(false), &Options::new())
            .expect("accept");
        for conn in set.iter_mut() {
            if !*conn.data() {
                conn.send(b"hi");
                *conn.data_mut() = true;
            }
            if conn.input_ended() {
                conn.close();
            }
        }
        set.update_set();
    }
    println!("turns {turns}");
}

/// A `wait` whose `poll` fails every time: more fds than `RLIMIT_NOFILE` (`EINVAL`), for
/// one second. Prints how many turns its loop took.
fn poll_child() {
    lower_fd_limit();
    let (reader, _writer) = rustix::pipe::pipe().expect("pipe");
    let many: Vec<BorrowedFd<'_>> = vec![reader.as_fd(); 2 * FD_LIMIT as usize];
    let waiter = Waiter::custom(&many, &[], &[]);
    let started = Instant::now();
    let mut turns = 0u64;
    while started.elapsed() < POLL_CHILD_RUN {
        waiter.sleep(None);
        turns += 1;
    }
    println!("turns {turns}");
}

/// The children's side: nothing to do in an ordinary test run.
#[test]
fn fd_limit_child() {
    match std::env::var(CHILD_ROLE).as_deref() {
        Ok("accept") => accept_child(),
        Ok("poll") => poll_child(),
        _ => {}
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs this test binary's `fd_limit_child` as `role`; returns the child and its output
/// lines (read on a thread, so that waiting for them has a deadline).
fn spawn_child(role: &str) -> (KillOnDrop, mpsc::Receiver<String>) {
    let child = Command::new(std::env::current_exe().expect("current_exe"))
        .args([
            "--exact",
            "fd_limit_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ROLE, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let mut child = KillOnDrop(child);
    let stdout: ChildStdout = child.0.stdout.take().expect("the child's stdout");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, lines)
}

/// The text after `prefix` on the first line of the child that has it. libtest may print
/// "test fd_limit_child ... " on the same line before it.
fn line_after(lines: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the child never printed {prefix:?}"));
        if let Some(at) = line.find(prefix) {
            return line[at + prefix.len()..].trim().to_owned();
        }
    }
}

/// Waits for the child to exit, bounded, and checks that it succeeded.
fn wait_for_exit(child: &mut KillOnDrop) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the child did not stop");
        // No readiness signal for a child's exit here: poll it, bounded.
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "child: {status}");
}

/// CPU time (user + system) of process `pid`, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let field = |i: usize| fields[i].parse::<u64>().expect("a tick count");
    field(11) + field(12)
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
        stream.set_read_timeout(Some(left)).expect("read timeout");
        let mut greeting = [0u8; 2];
        if stream.read_exact(&mut greeting).is_ok() {
            assert_eq!(&greeting, b"hi");
            *served = true;
        }
    }
    clients.iter().filter(|(_, served)| *served).count()
}

#[test]
fn out_of_descriptors_a_naive_set_loop_sleeps_and_recovers() {
    let (mut child, lines) = spawn_child("accept");
    let pid = child.0.id();
    let address: SocketAddr = line_after(&lines, "listening on ")
        .parse()
        .expect("an address");
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
    assert_eq!(
        collect_greetings(&mut clients, Duration::from_millis(100)),
        served,
        "nobody else served while out of descriptors"
    );
    assert!(
        child.0.try_wait().expect("try_wait").is_none(),
        "the child died"
    );

    // Free descriptors by closing the served clients: the others are served in turn.
    clients.retain(|(_, served)| !served);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now_served = collect_greetings(&mut clients, Duration::from_millis(500));
        if now_served == clients.len() {
            break;
        }
        clients.retain(|(_, served)| !served);
        assert!(
            Instant::now() < deadline,
            "{} clients never served",
            clients.len()
        );
    }

    drop(clients);
    drop(child.0.stdin.take());
    let turns: u64 = line_after(&lines, "turns ").parse().expect("a count");
    wait_for_exit(&mut child);
    eprintln!("the server loop took {turns} turns");
    assert!(turns < 20_000, "the loop took {turns} turns: it spun");
}

#[test]
fn a_naive_wait_loop_sleeps_while_poll_keeps_failing() {
    let (mut child, lines) = spawn_child("poll");
    let turns: u64 = line_after(&lines, "turns ").parse().expect("a count");
    wait_for_exit(&mut child);
    // A pause of 100 ms makes about 10 turns a second; spinning, millions.
    assert!(
        turns <= 50,
        "{turns} turns in {POLL_CHILD_RUN:?} of failing polls: the loop spun"
    );
}
