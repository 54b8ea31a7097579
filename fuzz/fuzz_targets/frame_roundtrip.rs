//! tcp-file's frames, built from any field values, encoded one after another and read back
//! through the frame reader in reads cut at any points.
//!
//! Properties: the frames read back are the frames written (decode(encode(x)) == x), in
//! order, with nothing left over; a framed batch gives back its messages, each with its
//! line.
#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use camlnet_tcp_file::fuzzing::{Frame, FrameParts, FrameReader, MAX_SERVER_FRAME};

#[derive(Debug, Arbitrary)]
struct Parts {
    kind: u8,
    stream: u32,
    number: u64,
    count: u32,
    flag: bool,
    text: String,
    messages: Vec<Vec<u8>>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    frames: Vec<Parts>,
    /// Where the encoded bytes are cut into reads (each modulo the length).
    cuts: Vec<u16>,
}

fuzz_target!(|input: Input| {
    let frames: Vec<Frame> = input
        .frames
        .into_iter()
        .map(|p| {
            let messages = p.messages.clone();
            let frame = Frame::from_parts(FrameParts {
                kind: p.kind,
                stream: p.stream,
                number: p.number,
                count: p.count,
                flag: p.flag,
                text: p.text,
                messages: p.messages,
            });
            if p.kind % 10 == 6 {
                // The first line is fitted so that every line is a number.
                let first_line = p.number.min(u64::MAX - messages.len() as u64);
                let expected: Vec<(u64, &[u8])> = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (first_line + i as u64, &m[..]))
                    .collect();
                assert_eq!(frame.messages(), Some(expected), "a batch's messages");
            }
            frame
        })
        .collect();

    let mut wire = BytesMut::new();
    for frame in &frames {
        frame.encode(&mut wire);
    }
    let wire = wire.freeze();
    let mut cuts: Vec<usize> = input
        .cuts
        .iter()
        .map(|&c| usize::from(c) % (wire.len() + 1))
        .collect();
    cuts.push(wire.len());
    cuts.sort_unstable();

    let mut reader = FrameReader::new(MAX_SERVER_FRAME);
    let mut read_back = Vec::new();
    let mut from = 0;
    for cut in cuts {
        let read: Bytes = wire.slice(from..cut);
        from = cut;
        reader.push(read);
        while let Some(frame) = reader.next_frame().expect("an encoded frame decodes") {
            read_back.push(frame);
        }
    }
    assert_eq!(reader.held(), 0, "bytes left over");
    assert_eq!(read_back, frames);
});
