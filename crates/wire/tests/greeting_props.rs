//! Properties of the greeting protocol decoder: however the byte stream is
//! split into reads, line framing answers the same messages; auto framing
//! follows its documented rule.

use proptest::prelude::*;
use tcpkit_wire::greeting::{Close, Decoder, Framing, Settings, Template};

/// Feeds the reads in turn, then EOF; returns the output and the close.
fn feed(settings: &Settings, reads: &[Vec<u8>]) -> (Vec<u8>, Option<Close>) {
    let mut decoder = Decoder::new(settings.framing);
    let mut out = Vec::new();
    for read in reads {
        let p = decoder.decode(settings, read, &mut out, usize::MAX);
        if p.close.is_some() {
            return (out, p.close);
        }
    }
    let p = decoder.finish(settings, &mut out);
    (out, p.close)
}

/// Cuts `bytes` at the given points.
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut reads = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        if cut > start {
            reads.push(bytes[start..cut].to_vec());
            start = cut;
        }
    }
    reads
}

/// The error reply for a message over `max` bytes.
fn too_long(max: usize, terminator: &str) -> Vec<u8> {
    format!(
        "Error: message longer than {}{terminator}",
        tcpkit_wire::Bytes::of(max)
    )
    .into_bytes()
}

/// What line framing must answer for a whole stream, computed the naive way.
fn expected_lines(settings: &Settings, stream: &[u8]) -> (Vec<u8>, Option<Close>) {
    let mut out = Vec::new();
    let mut pieces: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    let fragment = pieces.pop().unwrap_or_default();
    for piece in pieces {
        let (msg, term): (&[u8], &[u8]) = match piece.strip_suffix(b"\r") {
            Some(m) => (m, b"\r\n"),
            None => (piece, b"\n"),
        };
        if msg.len() > settings.max_message {
            out.extend(too_long(settings.max_message, "\n"));
            return (out, Some(Close::TooLong));
        }
        if msg == b"exit" {
            return (out, Some(Close::Exit));
        }
        out.extend(settings.reply.reply_to(msg));
        out.extend_from_slice(term);
    }
    if fragment.len() > settings.max_message + 1
        || (fragment.len() == settings.max_message + 1 && !fragment.ends_with(b"\r"))
    {
        out.extend(too_long(settings.max_message, "\n"));
        return (out, Some(Close::TooLong));
    }
    if fragment.len() > settings.max_message {
        // Held as a possible `\r\n`, then EOF: too long as a message,
        // refused with a line as every line-framed error is.
        out.extend(too_long(settings.max_message, "\n"));
        return (out, Some(Close::TooLong));
    }
    if fragment == b"exit" {
        return (out, Some(Close::Exit));
    }
    if !fragment.is_empty() {
        out.extend(settings.reply.reply_to(fragment));
    }
    (out, None)
}

/// Streams built from a small alphabet so `exit`, `\r\n` and long lines occur.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"a".to_vec()),
        Just(b"bc".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"exit".to_vec()),
        Just(b"\xff\x00".to_vec()),
    ];
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

/// Streams of lines of any length up to 80 bytes (`\r` and `exit` among
/// them), each ending in `\n` or `\r\n`, maybe an unfinished one last:
/// lines shorter and longer than the decoder's fixed-size copies, and
/// `\n`s at every offset of its word-at-a-time search.
fn lines() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        4 => prop::collection::vec(prop_oneof![Just(b'x'), Just(b'\r'), Just(0xff)], 0..80),
        1 => Just(b"exit".to_vec()),
    ];
    let line = (body, any::<bool>()).prop_map(|(mut body, crlf)| {
        body.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        body
    });
    (
        prop::collection::vec(line, 0..30),
        prop::collection::vec(Just(b'y'), 0..40),
    )
        .prop_map(|(lines, rest)| [lines.concat(), rest].concat())
}

/// A template with one `{}`, its two pieces up to 40 bytes each: shorter
/// and longer than the decoder's fixed-size copies.
fn one_slot_template() -> impl Strategy<Value = String> {
    ("[a-z ,!]{0,40}", "[a-z ,!]{0,40}").prop_map(|(before, after)| format!("{before}{{}}{after}"))
}

fn settings(framing: Framing, max_message: usize) -> Settings {
    Settings {
        framing,
        reply: Template::parse("<{}>"),
        max_message,
        ..Settings::default()
    }
}

proptest! {
    #[test]
    fn line_framing_ignores_how_reads_split(
        bytes in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max in 1usize..12,
    ) {
        let s = settings(Framing::Line, max);
        let whole = feed(&s, std::slice::from_ref(&bytes));
        let pieces = feed(&s, &split(&bytes, &cuts));
        prop_assert_eq!(&whole, &pieces);
        prop_assert_eq!(whole, expected_lines(&s, &bytes));
    }

    #[test]
    fn any_template_answers_lines_of_any_length_however_reads_split(
        bytes in lines(),
        template in one_slot_template(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max in 0usize..100,
    ) {
        let s = Settings {
            reply: Template::parse(&template),
            ..settings(Framing::Line, max)
        };
        let whole = feed(&s, std::slice::from_ref(&bytes));
        prop_assert_eq!(&whole, &expected_lines(&s, &bytes));
        prop_assert_eq!(whole, feed(&s, &split(&bytes, &cuts)));
    }

    #[test]
    fn one_byte_reads_match_one_big_read(bytes in stream()) {
        let s = settings(Framing::Line, 64);
        let singles: Vec<Vec<u8>> = bytes.iter().map(|b| vec![*b]).collect();
        prop_assert_eq!(feed(&s, std::slice::from_ref(&bytes)), feed(&s, &singles));
    }

    #[test]
    fn auto_is_chunk_until_the_read_with_the_first_newline(
        bytes in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let auto = settings(Framing::Auto, 64);
        let reads = split(&bytes, &cuts);
        let first_line_read = reads.iter().position(|r| r.contains(&b'\n')).unwrap_or(reads.len());
        // Reads before it are chunk messages; from it on, line framing.
        let chunk = settings(Framing::Chunk, 64);
        let (mut expected, mut close) = feed(&chunk, &reads[..first_line_read]);
        if close.is_none() {
            let line = settings(Framing::Line, 64);
            let (more, line_close) = feed(&line, &reads[first_line_read..]);
            expected.extend(more);
            close = line_close;
        }
        prop_assert_eq!(feed(&auto, &reads), (expected, close));
    }

    #[test]
    fn budget_never_changes_the_answer(bytes in stream(), budget in 1usize..4) {
        let s = settings(Framing::Line, 64);
        let mut decoder = Decoder::new(Framing::Line);
        let mut out = Vec::new();
        let mut rest: &[u8] = &bytes;
        let mut close = None;
        while !rest.is_empty() {
            let p = decoder.decode(&s, rest, &mut out, budget);
            prop_assert!(p.replies <= budget);
            rest = &rest[p.consumed..];
            if p.close.is_some() {
                close = p.close;
                break;
            }
        }
        if close.is_none() {
            close = decoder.finish(&s, &mut out).close;
        }
        prop_assert_eq!((out, close), feed(&s, std::slice::from_ref(&bytes)));
    }
}
