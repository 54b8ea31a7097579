//! procord-conn's receive path: a connection whose input is a real pipe, fed any bytes in
//! any pieces, with `update()` and every way of taking received bytes (`receive`,
//! `receive_poll`, `receive_poll_part`, `receive_part`, `receive_all`, `receive_forget`)
//! in any order, with any soft limit.
//!
//! Properties: no panic; the bytes taken are exactly the bytes written, in order, none
//! lost and none twice (checked against a model); the buffer never holds more than was
//! written and not taken; one `update()` allocates at most 3 MiB plus four times what the
//! buffer holds (a read's largest reservation is 1 MiB, which a `Vec` may round up to
//! twice the capacity it had, the old block counted until it is freed), however many
//! bytes a `receive` asked for.
#![no_main]

use std::io::Write;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use camlnet_procord_conn::{Connection, Fd, Options};

const MAX_RESERVE: usize = 1024 * 1024;

#[derive(Debug, Arbitrary)]
enum Op {
    Write(Vec<u8>),
    Update,
    Receive(u32),
    ReceivePoll(u16, u32),
    ReceivePollPart(u16, u32),
    ReceivePart(u32),
    ReceiveAll,
    ReceiveForget(u32),
}

#[derive(Debug, Arbitrary)]
struct Input {
    soft_limit: u16,
    ops: Vec<Op>,
}

/// What was written and what of it was taken.
struct Model {
    written: Vec<u8>,
    taken: usize,
}

impl Model {
    fn unread(&self) -> &[u8] {
        &self.written[self.taken..]
    }

    fn took(&mut self, bytes: &[u8], what: &str) {
        assert_eq!(
            bytes,
            &self.unread()[..bytes.len()],
            "{what} gave bytes that were not next"
        );
        self.taken += bytes.len();
    }
}

fn update(conn: &mut Connection<()>) {
    let (_, peak) = fuzz::measure(|| conn.update());
    let bound = 3 * MAX_RESERVE + 4 * conn.receive_buffer_length();
    assert!(
        peak <= bound,
        "update() allocated {peak} bytes at once, more than the bound of {bound}"
    );
}

fuzz_target!(|input: Input| {
    let (reader, mut writer) = std::io::pipe().expect("a pipe");
    let options = Options::new().receive_soft_limit(usize::from(input.soft_limit));
    let mut conn = Connection::custom(Some(Fd::owned(reader)), None, (), options);
    let mut model = Model {
        written: Vec::new(),
        taken: 0,
    };
    // A pipe holds 64 KiB: stay below, so that a write never blocks.
    let mut in_pipe_at_most = 0usize;
    for op in input.ops {
        match op {
            Op::Write(bytes) => {
                if in_pipe_at_most + bytes.len() > 60 * 1024 {
                    continue;
                }
                writer.write_all(&bytes).expect("write to the pipe");
                in_pipe_at_most += bytes.len();
                model.written.extend_from_slice(&bytes);
            }
            Op::Update => {
                update(&mut conn);
                in_pipe_at_most = model.written.len() - model.taken - conn.receive_buffer_length();
            }
            Op::Receive(n) => {
                if let Some(bytes) = conn.receive(n as usize) {
                    assert_eq!(bytes.len(), n as usize);
                    model.took(&bytes, "receive");
                }
            }
            Op::ReceivePoll(offset, n) => {
                let (offset, n) = (usize::from(offset), n as usize);
                if let Some(bytes) = conn.receive_poll(offset, n) {
                    assert_eq!(bytes, &model.unread()[offset..offset + n]);
                }
            }
            Op::ReceivePollPart(offset, n) => {
                let bytes = conn.receive_poll_part(usize::from(offset), n as usize);
                let unread = model.unread();
                if !bytes.is_empty() {
                    let offset = usize::from(offset);
                    assert_eq!(bytes, &unread[offset..offset + bytes.len()]);
                }
            }
            Op::ReceivePart(n) => {
                let bytes = conn.receive_part(n as usize);
                model.took(&bytes, "receive_part");
            }
            Op::ReceiveAll => {
                let bytes = conn.receive_all();
                model.took(&bytes, "receive_all");
            }
            Op::ReceiveForget(n) => {
                let before = conn.receive_buffer_length();
                let forgotten = conn.receive_forget(n as usize);
                assert_eq!(forgotten, before.min(n as usize));
                model.taken += forgotten;
            }
        }
        assert!(
            conn.receive_buffer_length() <= model.unread().len(),
            "the buffer holds more than was written"
        );
    }

    // The end of input: everything written comes out, once, then the input has ended.
    drop(writer);
    for _ in 0..64 {
        update(&mut conn);
        let bytes = conn.receive_all();
        model.took(&bytes, "receive_all");
        if conn.input_ended() && conn.receive_buffer_empty() {
            break;
        }
    }
    assert!(
        model.unread().is_empty(),
        "bytes written were never received"
    );
    assert!(conn.input_ended(), "the end of input was not seen");
});
