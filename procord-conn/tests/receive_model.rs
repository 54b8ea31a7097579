//! The `receive*` family against a plain `VecDeque` model, fed through a pipe, with soft
//! limits small enough that reading pauses and must resume on demand.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;

use proptest::prelude::*;

use camlnet_procord_conn::{Connection, Fd, Options};

#[derive(Debug, Clone)]
enum Op {
    Push(Vec<u8>),
    Receive(usize),
    Poll(usize, usize),
    PollPart(usize, usize),
    Part(usize),
    All,
    Forget(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 1..1500).prop_map(Op::Push),
        2 => (0usize..3000).prop_map(Op::Receive),
        1 => (0usize..2000, 0usize..2000).prop_map(|(o, n)| Op::Poll(o, n)),
        1 => (0usize..2000, 0usize..2000).prop_map(|(o, n)| Op::PollPart(o, n)),
        1 => (0usize..3000).prop_map(Op::Part),
        1 => Just(Op::All),
        1 => (0usize..3000).prop_map(Op::Forget),
    ]
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let n = rustix::io::write(fd, bytes).expect("write to pipe");
        bytes = &bytes[n..];
    }
}

/// Retries `attempt` with updates in between until it succeeds (it must, the model says
/// the bytes were written), a bounded number of times.
fn eventually<T>(
    conn: &mut Connection<()>,
    mut attempt: impl FnMut(&mut Connection<()>) -> Option<T>,
) -> T {
    for _ in 0..1000 {
        if let Some(v) = attempt(conn) {
            return v;
        }
        conn.update();
    }
    panic!("stalled: the bytes are in the pipe but never reach the buffer");
}

fn run(limit: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (reader, writer) = rustix::pipe::pipe().expect("pipe");
    let options = Options::new().receive_soft_limit(limit);
    let mut conn = Connection::custom(Some(Fd::owned(reader)), None, (), options);
    let mut model: VecDeque<u8> = VecDeque::new();
    for op in ops {
        match op {
            Op::Push(bytes) => {
                write_all(&writer, &bytes);
                model.extend(&bytes);
                conn.update();
            }
            Op::Receive(n) => {
                if model.len() >= n {
                    let got = eventually(&mut conn, |c| c.receive(n));
                    let want: Vec<u8> = model.drain(..n).collect();
                    prop_assert_eq!(got, want);
                } else {
                    conn.update();
                    prop_assert_eq!(conn.receive(n), None);
                }
            }
            Op::Poll(offset, n) => {
                if model.len() >= offset + n {
                    let got =
                        eventually(&mut conn, |c| c.receive_poll(offset, n).map(<[u8]>::to_vec));
                    let want: Vec<u8> = model.range(offset..offset + n).copied().collect();
                    prop_assert_eq!(got, want);
                } else {
                    conn.update();
                    prop_assert!(conn.receive_poll(offset, n).is_none());
                }
            }
            Op::PollPart(offset, n) => {
                let len = conn.receive_buffer_length();
                let got = conn.receive_poll_part(offset, n).to_vec();
                let (from, to) = (offset.min(len), (offset + n).min(len));
                let want: Vec<u8> = model.range(from..to).copied().collect();
                prop_assert_eq!(got, want);
            }
            Op::Part(n) => {
                let len = conn.receive_buffer_length();
                let got = conn.receive_part(n);
                prop_assert_eq!(got.len(), n.min(len));
                let want: Vec<u8> = model.drain(..got.len()).collect();
                prop_assert_eq!(got, want);
            }
            Op::All => {
                let len = conn.receive_buffer_length();
                let got = conn.receive_all();
                prop_assert_eq!(got.len(), len);
                let want: Vec<u8> = model.drain(..len).collect();
                prop_assert_eq!(got, want);
            }
            Op::Forget(n) => {
                let len = conn.receive_buffer_length();
                let forgotten = conn.receive_forget(n);
                prop_assert_eq!(forgotten, n.min(len));
                model.drain(..forgotten);
            }
        }
        // The buffer is always a prefix of the stream that the model holds.
        let len = conn.receive_buffer_length();
        prop_assert!(len <= model.len());
        prop_assert_eq!(conn.receive_buffer_empty(), len == 0);
        let held = conn.receive_poll_part(0, usize::MAX).to_vec();
        let prefix: Vec<u8> = model.range(..len).copied().collect();
        prop_assert_eq!(held, prefix);
    }
    // With everything asked for, nothing stays stuck in the pipe.
    let rest = model.len();
    let got = eventually(&mut conn, |c| c.receive(rest));
    prop_assert_eq!(got, model.into_iter().collect::<Vec<u8>>());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn receive_family_matches_a_vecdeque(
        limit in prop_oneof![Just(1usize), Just(7), Just(100), Just(1000), Just(64 * 1024)],
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        run(limit, ops)?;
    }
}
