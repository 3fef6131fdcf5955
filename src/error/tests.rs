//! Tests of the error's causes, kinds and words.

use super::*;
use std::error::Error as _;

#[test]
fn causes_are_kept_and_kinds_found_through_context() {
    let err = Error::Listen {
        addr: "127.0.0.1:1".parse().unwrap(),
        source: io::Error::from(io::ErrorKind::OutOfMemory),
    };
    assert!(err.source().is_some());
    let chained = err.context("starting the server");
    assert_eq!(chained.kind(), ErrorKind::Listen);
    assert_eq!(ErrorKind::of(&chained), Some(ErrorKind::Listen));
    assert_eq!(chained.to_string(), "starting the server");
    let plain = io::Error::other("plain");
    assert_eq!(ErrorKind::of(&plain), None);

    let chunked = Error::from(ChunkError::SizeOverflow);
    assert_eq!(chunked.kind(), ErrorKind::Protocol);
    assert!(chunked.source().is_some());
}

#[test]
fn a_timeout_keeps_its_io_error_but_does_not_repeat_it() {
    let err = Error::Timeout {
        what: "waiting for the reply".into(),
        after: Duration::from_secs(3),
        source: Some(io::Error::from(io::ErrorKind::TimedOut)),
    };
    assert!(err.source().is_some());
    let chained = err.context("talking to 127.0.0.1:1");
    assert_eq!(
        chained.in_words().render(Naming::Flags),
        "talking to 127.0.0.1:1: waiting for the reply timed out after 3s"
    );
}
