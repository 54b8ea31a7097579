//! A peer that half-closes still gets its answer: the end of the input leaves the output
//! open until the application closes. Against a plain std client and against `nc -N`.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camlnet_procord_conn::{Connection, DisconnectReason, Fd, Options, Set, State, Waiter};

use common::{LIMIT, drive, listener};

/// The answer to a request: its length, then the request backwards.
fn answer(request: &[u8]) -> Vec<u8> {
    let mut answer = format!("{} bytes: ", request.len()).into_bytes();
    answer.extend(request.iter().rev());
    answer
}

/// Serves `clients` connections with a `Set`: each request is read until the client's end of
/// input, then answered and closed nicely. Returns the requests in the order they ended.
fn serve(listener: &TcpListener, clients: usize) -> Vec<Vec<u8>> {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let options = Options::new().timeout(LIMIT);
    let mut set: Set<Vec<u8>> = Set::new();
    let mut accepted = 0;
    let mut requests = Vec::new();
    let deadline = Instant::now() + LIMIT;
    while (accepted < clients || !set.is_empty()) && Instant::now() < deadline {
        Waiter::from_list([Waiter::from_listener(listener), set.waiter()])
            .wait(Some(Duration::from_millis(200)));
        accepted += set
            .accept_into_set(listener, |_| Some(Vec::new()), &options)
            .expect("accept");
        let dead = set.update_set();
        assert!(dead.is_empty(), "a connection ended with unread data");
        for conn in set.iter_mut() {
            let bytes = conn.receive_all();
            conn.data_mut().extend(bytes);
            if conn.input_ended() && *conn.state() == State::Connected {
                // The request is complete; the connection is still open for the answer.
                let request = conn.data().clone();
                conn.send(&answer(&request));
                conn.close_nicely(Some(LIMIT));
                requests.push(request);
            }
        }
    }
    requests
}

#[test]
fn a_std_client_that_shuts_down_writing_gets_its_answer() {
    let (listener, addr) = listener();
    let request = b"hello from a half-closed client".to_vec();
    let sent = request.clone();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(LIMIT)).expect("read timeout");
        stream.write_all(&sent).expect("write the request");
        stream.shutdown(Shutdown::Write).expect("half-close");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read the answer");
        answer
    });
    assert_eq!(serve(&listener, 1), vec![request.clone()]);
    assert_eq!(client.join().expect("client"), answer(&request));
}

/// Kills and reaps the child if the test fails before it exits.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn nc_that_half_closes_gets_its_answer() {
    let Some(nc) = common::outside_tool("nc") else {
        return;
    };
    let (listener, addr) = listener();
    // printf REQUEST | nc -N 127.0.0.1 PORT: -N shuts the socket down at the end of input.
    let child = Command::new(nc)
        .args(["-N", "127.0.0.1", &addr.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn nc");
    let mut child = KillOnDrop(child);
    let request = b"GET /answer\n".to_vec();
    let mut stdin = child.0.stdin.take().expect("nc's stdin");
    stdin.write_all(&request).expect("write to nc");
    drop(stdin);
    let mut stdout = child.0.stdout.take().expect("nc's stdout");
    let output = std::thread::spawn(move || {
        let mut all = Vec::new();
        stdout.read_to_end(&mut all).expect("read nc's output");
        all
    });

    assert_eq!(serve(&listener, 1), vec![request.clone()]);
    // No readiness signal for a child's exit here: poll it, bounded.
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "nc did not exit after the answer"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "nc: {status}");
    assert_eq!(output.join().expect("nc's output"), answer(&request));
}

#[test]
fn a_connection_left_open_after_its_input_ended_still_times_out_without_pinging() {
    let (listener, addr) = listener();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(LIMIT)).expect("read timeout");
        stream.write_all(b"bye").expect("write");
        stream.shutdown(Shutdown::Write).expect("half-close");
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).expect("read to end");
        rest
    });
    let (accepted, _) = listener.accept().expect("accept");
    let timeout = Duration::from_millis(400);
    let options = Options::new().timeout(timeout).ping(&b"PING"[..]);
    let mut conn = Connection::from_socket(Fd::owned(accepted), (), options);
    assert!(drive(&mut conn, LIMIT, |c| c.input_ended()));
    let ended = Instant::now();
    assert_eq!(*conn.state(), State::Connected);
    assert!(
        !conn.waiter().is_empty(),
        "the idle timer is still due after the input ended"
    );
    // The application forgets the connection: the idle timeout ends it.
    assert!(drive(&mut conn, LIMIT, |c| !c.alive()));
    let took = ended.elapsed();
    assert_eq!(
        *conn.state(),
        State::Disconnected(DisconnectReason::Timeout)
    );
    assert!(took <= timeout + Duration::from_secs(5), "{took:?}");
    assert_eq!(conn.receive_all(), b"bye");
    assert_eq!(
        client.join().expect("client"),
        b"",
        "no ping once the input has ended: no answer could come"
    );
}
