//! The properties the fuzz targets check, shared with the corpus replay
//! test (`tests/fuzz_corpus.rs`), so `cargo test` runs every committed
//! corpus input through the same checks as `cargo fuzz run`.
//!
//! Each takes arbitrary bytes; the first byte or two choose parameters
//! (framing, a limit, a split), the rest is the input.

use tcpkit_wire::chunked::ChunkedDecoder;
use tcpkit_wire::greeting::{Decoder, Framing, Settings};
use tcpkit_wire::head::{self, Limits};
use tcpkit_wire::proxy::{self, Parsed, Versions};
use tcpkit_wire::range::{self, ContentRange};

/// Feeds `input` to a greeting decoder in reads cut every `cut` bytes,
/// then the end of the stream; the replies and the close.
fn greet(settings: &Settings, input: &[u8], cut: usize) -> (Vec<u8>, Option<String>) {
    let mut decoder = Decoder::new(settings.framing);
    let mut out = Vec::new();
    for read in input.chunks(cut.max(1)) {
        let mut at = 0;
        while at < read.len() {
            let progress = decoder.decode(settings, &read[at..], &mut out, 7);
            if let Some(close) = progress.close {
                return (out, Some(close.to_string()));
            }
            assert!(progress.consumed > 0 || progress.replies > 0, "no progress");
            at += progress.consumed;
        }
    }
    let progress = decoder.finish(settings, &mut out);
    (out, progress.close.map(|c| c.to_string()))
}

/// Line framing answers the same however the stream is cut into reads;
/// no framing panics or loops.
pub fn greeting(data: &[u8]) {
    let [choice, cut, input @ ..] = data else {
        return;
    };
    let framing = match choice % 3 {
        0 => Framing::Line,
        1 => Framing::Auto,
        _ => Framing::Chunk,
    };
    let settings = Settings {
        framing,
        max_message: 1 + usize::from(choice / 3) % 64,
        ..Settings::default()
    };
    let whole = greet(&settings, input, input.len());
    let split = greet(&settings, input, usize::from(*cut % 16) + 1);
    if framing == Framing::Line {
        assert_eq!(whole, split, "line framing depends on the reads");
    }
}

/// The head parser never panics, never claims more bytes than it was
/// given, and its framing decision never panics.
pub fn head(data: &[u8]) {
    let [limit, input @ ..] = data else {
        return;
    };
    let limits = Limits {
        max_head: 16 + usize::from(*limit) * 16,
        max_headers: 1 + usize::from(*limit % 32),
        max_interim: 10,
    };
    if let Ok(Some((parsed, len))) = head::parse(input, &limits) {
        assert!(len <= input.len());
        assert_eq!(parsed.raw, &input[..len]);
        let _ = parsed.framing(false);
        let _ = parsed.framing(true);
    }
}

/// Runs a chunked decoder over `input` cut every `cut` bytes; the body,
/// the bytes used, whether it ended, and the error, if any.
fn unchunk(input: &[u8], cut: usize) -> (Vec<u8>, usize, bool, Option<String>) {
    let mut decoder = ChunkedDecoder::new(64);
    let mut body = Vec::new();
    let mut used = 0;
    let mut pending: Vec<u8> = Vec::new();
    for piece in input.chunks(cut.max(1)) {
        pending.extend_from_slice(piece);
        match decoder.decode(&pending, |r| body.extend_from_slice(&pending[r])) {
            Ok(d) => {
                used += d.consumed;
                pending.drain(..d.consumed);
                if d.done {
                    return (body, used, true, None);
                }
            }
            Err(e) => return (body, used, false, Some(e.to_string())),
        }
    }
    (body, used, false, None)
}

/// The chunked decoder gives the same body, the same end and the same
/// error whether the input comes whole or a few bytes at a time.
pub fn chunked(data: &[u8]) {
    let [cut, input @ ..] = data else {
        return;
    };
    let whole = unchunk(input, input.len());
    let split = unchunk(input, usize::from(*cut % 8) + 1);
    assert_eq!(whole.0, split.0, "body");
    assert_eq!(whole.2, split.2, "done");
    assert_eq!(whole.3.is_some(), split.3.is_some(), "error");
    if whole.2 {
        assert_eq!(whole.1, split.1, "bytes used");
    }
}

/// A PROXY header parses the same however much of it has arrived: every
/// prefix shorter than a whole header asks for more, every longer one
/// gives the same header; once refused, more bytes never make it a
/// header; nothing panics. The first byte chooses the versions.
pub fn proxy(data: &[u8]) {
    let [choice, input @ ..] = data else {
        return;
    };
    let versions = match choice % 3 {
        0 => Versions::V1,
        1 => Versions::V2,
        _ => Versions::Any,
    };
    let whole = proxy::parse(input, versions);
    let mut refused_at = None;
    for cut in 0..=input.len() {
        let part = proxy::parse(&input[..cut], versions);
        match (whole, part) {
            (Parsed::Done { len, .. }, _) if cut < len => {
                assert_eq!(
                    part,
                    Parsed::NeedMore,
                    "cut at {cut} of a {len}-byte header"
                )
            }
            (Parsed::Done { .. }, _) => assert_eq!(part, whole, "cut at {cut}"),
            (_, Parsed::Done { .. }) => panic!("a prefix parsed, the whole did not: {part:?}"),
            (_, Parsed::Refused(_)) => {
                refused_at.get_or_insert(cut);
            }
            (_, Parsed::NeedMore) => assert!(
                refused_at.is_none(),
                "refused at {refused_at:?}, asks for more at {cut}"
            ),
        }
    }
}

/// A `Content-Range` is either refused or a range that holds at least one
/// byte inside the length it names, and says the same when written back.
pub fn range(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match range::parse(text) {
        Err(_) => {}
        Ok(ContentRange::Unsatisfied { complete }) => {
            assert_eq!(
                range::parse(&format!("bytes */{complete}")),
                Ok(ContentRange::Unsatisfied { complete })
            );
        }
        Ok(
            got @ ContentRange::Bytes {
                first,
                last,
                complete,
            },
        ) => {
            assert!(first <= last && !got.is_empty());
            assert!(complete.is_none_or(|c| last < c));
            let length = complete.map_or("*".to_string(), |c| c.to_string());
            assert_eq!(
                range::parse(&format!("bytes {first}-{last}/{length}")),
                Ok(got)
            );
        }
    }
}
