//! tcp-file's text-mode request parser (`READ NAME`, `TAIL NAME`, `FROM LINE NAME`) on any
//! request line.
//!
//! Properties: no panic; a request that parses names a file, and written back in the
//! canonical form (`TAIL NAME` or `FROM LINE NAME`, ended by the `\r` of a `\r\n` line,
//! so that a name ending in `\r` stays whole) parses to the same request; the parser
//! allocates at most linearly in the line's length (an error quotes the line, escaped:
//! up to 10 bytes for one), 32 times it plus 1 KiB.
#![no_main]

use libfuzzer_sys::fuzz_target;
use camlnet_tcp_file::fuzzing::parse_text_request;

fuzz_target!(|line: &[u8]| {
    let bound = 32 * line.len() + 1024;
    let parsed = fuzz::within("parsing a request", bound, || parse_text_request(line));
    let Ok((name, start)) = parsed else {
        return;
    };
    assert!(!name.is_empty(), "a request without a name parsed");
    let canonical = match start {
        None => format!("TAIL {name}\r"),
        Some(line) => format!("FROM {line} {name}\r"),
    };
    assert_eq!(
        parse_text_request(canonical.as_bytes()),
        Ok((name, start)),
        "{canonical:?} parses differently"
    );
});
