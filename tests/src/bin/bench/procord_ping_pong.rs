//! `procord-ping-pong`: round trips per second of 64-byte messages over loopback, a
//! procord-conn client (`send` + `flush`, then `wait` + `update` until the echo is back) against a
//! blocking `std::net::TcpStream` doing `write_all` + `read_exact`. Both talk to the same
//! kind of server: a plain blocking std echo thread. `TCP_NODELAY` on all sides.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use camlnet_procord_conn::{Connection, Options, State};

use crate::harness::{self, BenchError, Measurement};

const MESSAGE: usize = 64;
const ROUNDS: usize = 5;
const MEASURE: Duration = Duration::from_millis(1500);
const WARM_UP: u64 = 2_000;
/// No single wait may take this long: the server would be stuck.
const STUCK: Duration = Duration::from_secs(10);

pub(crate) fn run() -> Result<Vec<Measurement>, BenchError> {
    let mut ours_rounds = Vec::with_capacity(ROUNDS);
    let (ours, baseline) = harness::alternate_medians(
        ROUNDS,
        || {
            let figure = with_echo_server(procord_client)?;
            ours_rounds.push(figure);
            Ok(figure)
        },
        || with_echo_server(std_client),
    )?;
    ours_rounds.sort_by(f64::total_cmp);
    eprintln!(
        "procord-ping-pong: ours per round min {:.0}, p90 {:.0} round trips/s",
        harness::quantile(&ours_rounds, 0.0),
        harness::quantile(&ours_rounds, 0.9)
    );
    Ok(vec![Measurement::new(
        "procord-ping-pong",
        "round trips",
        "round trips/s",
        ours,
        baseline,
        true,
    )])
}

/// Starts an echo server for one connection, runs `client` against it, and returns the
/// client's round trips per second.
fn with_echo_server(
    client: fn(SocketAddr) -> Result<(u64, Duration), BenchError>,
) -> Result<f64, BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server: JoinHandle<std::io::Result<()>> = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut buf = [0; 4096];
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            stream.write_all(&buf[..n])?;
        }
    });
    let outcome = client(addr);
    let served = server.join().map_err(|_| "echo server panicked")?;
    let (count, elapsed) = outcome?;
    served?;
    Ok(harness::per_second(count, elapsed))
}

/// Round trips until `MEASURE` has passed, after a warm-up; `round_trip` does one.
fn measure(
    mut round_trip: impl FnMut() -> Result<(), BenchError>,
) -> Result<(u64, Duration), BenchError> {
    for _ in 0..WARM_UP {
        round_trip()?;
    }
    let (count, elapsed) = harness::timed(|| -> Result<u64, BenchError> {
        let start = Instant::now();
        let mut count = 0;
        while start.elapsed() < MEASURE {
            round_trip()?;
            count += 1;
        }
        Ok(count)
    });
    Ok((count?, elapsed))
}

fn procord_client(addr: SocketAddr) -> Result<(u64, Duration), BenchError> {
    let mut conn = Connection::connect_addr(addr, (), Options::new().nodelay(true));
    while *conn.state() == State::Connecting {
        conn.waiter().wait(Some(STUCK));
        conn.update();
    }
    if *conn.state() != State::Connected {
        return Err(format!("connect: {:?}", conn.state()).into());
    }
    let message = [0x5a_u8; MESSAGE];
    let figures = measure(|| {
        conn.send(&message);
        conn.flush();
        loop {
            if let Some(echo) = conn.receive_poll(0, MESSAGE) {
                if echo != message {
                    return Err("echo differs".into());
                }
                conn.receive_forget(MESSAGE);
                return Ok(());
            }
            if !conn.alive() {
                return Err(format!("disconnected: {:?}", conn.state()).into());
            }
            if !conn.waiter().wait(Some(STUCK)) {
                return Err("no echo within 10 s".into());
            }
            conn.update();
        }
    });
    conn.close();
    figures
}

fn std_client(addr: SocketAddr) -> Result<(u64, Duration), BenchError> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(STUCK))?;
    let message = [0x5a_u8; MESSAGE];
    let mut echo = [0_u8; MESSAGE];
    measure(|| {
        stream.write_all(&message)?;
        stream.read_exact(&mut echo)?;
        if echo != message {
            return Err("echo differs".into());
        }
        Ok(())
    })
}
