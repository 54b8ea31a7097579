//! What a flow error says: its own message once, the operating system's error as its source.

use std::error::Error as _;
use std::io;

#[test]
fn an_io_error_is_the_source_and_not_repeated_in_the_message() {
    let error = camlnet_flow::Error::from_io(io::Error::new(
        io::ErrorKind::PermissionDenied,
        "the disk says no",
    ));
    assert_eq!(error.to_string(), "flow I/O error");
    let source = error.source().expect("the I/O error is the source");
    assert_eq!(source.to_string(), "the disk says no");
    let source = source.downcast_ref::<io::Error>().expect("an io::Error");
    assert_eq!(source.kind(), io::ErrorKind::PermissionDenied);
    assert_eq!(error.io_kind(), Some(io::ErrorKind::PermissionDenied));
}

#[test]
fn a_closed_flow_keeps_the_reset_as_its_source() {
    let error = camlnet_flow::Error::from_io(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "the peer reset it",
    ));
    assert!(error.is_closed());
    assert_eq!(error.to_string(), "flow closed");
    let source = error.source().expect("the reset is the source");
    assert_eq!(source.to_string(), "the peer reset it");
}

#[test]
fn as_an_io_error_the_chain_is_the_same() {
    let error =
        camlnet_flow::Error::from_io(io::Error::new(io::ErrorKind::BrokenPipe, "pipe gone"));
    let io = io::Error::from(error);
    assert_eq!(io.kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(io.to_string(), "flow closed");
    let source = io.source().expect("the broken pipe is the source");
    assert_eq!(source.to_string(), "pipe gone");
}
