//! tcp-file's frame reader and decoder on any bytes a peer may send, delivered in reads of
//! any sizes, with either side's frame limit.
//!
//! Properties: no panic; every frame that decodes encodes back to bytes that decode to it
//! (decode(encode(x)) == x), and a batch's messages come out whole; the reader allocates at
//! most four times the bytes it was given plus 4 KiB (the reads, a partial frame's copy
//! as it grows, the frames taken out), whatever a length prefix claims.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use camlnet_tcp_file::fuzzing::{Frame, FrameReader, MAX_CLIENT_FRAME, MAX_SERVER_FRAME, decode};

/// What reading one input may allocate at once beyond four times its length.
const SLACK: usize = 4096;

fuzz_target!(|input: &[u8]| {
    let Some((&control, wire)) = input.split_first() else {
        return;
    };
    // The low bit picks the side, the rest how the bytes are cut into reads.
    let max_frame = if control & 1 == 0 {
        MAX_CLIENT_FRAME
    } else {
        MAX_SERVER_FRAME
    };
    let read_size = usize::from(control >> 1) + 1;
    let reads: Vec<Bytes> = wire.chunks(read_size).map(Bytes::copy_from_slice).collect();

    // Room for every frame there can be (the shortest takes 5 bytes), made before the
    // count starts: what is measured is the reader's, not this list's growth.
    let mut frames = Vec::with_capacity(wire.len() / 5 + 1);
    let frames = fuzz::within("reading frames", 4 * wire.len() + SLACK, || {
        let mut reader = FrameReader::new(max_frame);
        for read in reads {
            reader.push(read);
            loop {
                match reader.next_frame() {
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => break,
                    Err(_) => return frames,
                }
            }
        }
        assert!(reader.held() < wire.len() + 1);
        frames
    });

    for frame in frames {
        round_trips(&frame);
        let _ = frame.messages();
    }
});

fn round_trips(frame: &Frame) {
    let mut wire = BytesMut::new();
    frame.encode(&mut wire);
    let body = wire.split_off(4).freeze();
    assert_eq!(
        u32::from_be_bytes([wire[0], wire[1], wire[2], wire[3]]) as usize,
        body.len(),
        "the length prefix of {frame:?}"
    );
    assert_eq!(decode(body).as_ref(), Ok(frame), "decode(encode(x)) != x");
}
