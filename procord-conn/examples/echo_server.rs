//! An echo server with no async runtime: one loop that sleeps in `poll(2)` until the
//! listener or a connection has something, then updates the set.
//!
//! ```text
//! cargo run -p camlnet-procord-conn --example echo_server -- 127.0.0.1:7000 30
//! printf 'hello\n' | nc -N 127.0.0.1 7000
//! ```
//!
//! Arguments: where to listen (default `127.0.0.1:0`, a free port) and for how many seconds
//! (default 30). Prints `listening on ADDRESS` first.

use std::error::Error;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use camlnet_procord_conn::{Options, Set, Waiter};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".to_string());
    let seconds: u64 = args.next().map_or(Ok(30), |s| s.parse())?;
    let listener = TcpListener::bind(&listen)?;
    listener.set_nonblocking(true)?;
    println!("listening on {}", listener.local_addr()?);

    let options = Options::new();
    let mut set: Set<()> = Set::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        Waiter::from_list([set.accept_waiter(&listener), set.waiter()])
            .sleep(Some(Duration::from_millis(200)));
        set.accept_into_set(&listener, |_peer| Some(()), &options)?;
        set.update_set();
        for connection in set.iter_mut() {
            let bytes = connection.receive_all();
            connection.send(&bytes);
            if connection.input_ended() {
                // The client half-closed: it still gets its answer, then the connection
                // closes.
                connection.close_nicely(Some(Duration::from_secs(5)));
            }
        }
    }
    Ok(())
}
