//! Tests of the greeting codec: framing under every split of the bytes,
//! templates, limits.

use super::*;

fn settings(framing: Framing) -> Settings {
    Settings {
        framing,
        ..Settings::default()
    }
}

/// Feeds each read in turn, then EOF; returns all output and the close.
fn run(s: &Settings, reads: &[&[u8]]) -> (Vec<u8>, Option<Close>) {
    let mut d = Decoder::new(s.framing);
    let mut out = Vec::new();
    for read in reads {
        let p = d.decode(s, read, &mut out, usize::MAX);
        if p.close.is_some() {
            return (out, p.close);
        }
        assert_eq!(p.consumed, read.len());
    }
    let p = d.finish(s, &mut out);
    (out, p.close)
}

#[test]
fn an_unfinished_line_never_holds_more_than_the_longest_message() {
    // The longest line kept, in the pieces a 32 KiB read makes: the
    // buffer stops at max_message + 1, where doubling would reach
    // twice that (what a server's budget counts, and RSS shows).
    let s = settings(Framing::Line);
    for piece in [32 * 1024, 1000, 7] {
        let mut d = Decoder::new(s.framing);
        let mut out = Vec::new();
        let line = vec![b'x'; s.max_message];
        for read in line.chunks(piece) {
            let p = d.decode(&s, read, &mut out, usize::MAX);
            assert_eq!((p.consumed, p.close), (read.len(), None));
        }
        assert_eq!(d.pending(), s.max_message);
        assert!(
            d.buffered() <= s.max_message + 1,
            "{} bytes held for a {}-byte line in {piece}-byte reads",
            d.buffered(),
            s.max_message
        );
        d.decode(&s, b"\r\n", &mut out, usize::MAX);
        assert_eq!(out.len(), s.max_message + "Hello, !\r\n".len());
    }
}

#[test]
fn welcome_has_newline_unless_chunk() {
    assert_eq!(settings(Framing::Auto).welcome_bytes(), b"Welcome!\n");
    assert_eq!(settings(Framing::Line).welcome_bytes(), b"Welcome!\n");
    assert_eq!(settings(Framing::Chunk).welcome_bytes(), b"Welcome!");
    let mut s = settings(Framing::Line);
    s.welcome.clear();
    assert_eq!(s.welcome_bytes(), b"");
}

#[test]
fn chunk_answers_each_read_without_terminator() {
    let s = settings(Framing::Chunk);
    let (out, close) = run(&s, &[b"Michael", b"Tracy\n", b"exit"]);
    assert_eq!(out, b"Hello, Michael!Hello, Tracy\n!");
    assert_eq!(close, Some(Close::Exit));
}

#[test]
fn auto_is_chunk_until_first_newline() {
    let s = settings(Framing::Auto);
    let (out, close) = run(&s, &[b"Michael", b"Tracy\nSar", b"ah\r\n", b"x"]);
    assert_eq!(
        out,
        b"Hello, Michael!Hello, Tracy!\nHello, Sarah!\r\nHello, x!"
    );
    assert_eq!(close, None);
}

#[test]
fn line_keeps_each_terminator() {
    let s = settings(Framing::Line);
    let (out, _) = run(&s, &[b"a\r\nb\n\n\r\n"]);
    assert_eq!(out, b"Hello, a!\r\nHello, b!\nHello, !\nHello, !\r\n");
}

#[test]
fn cr_and_lf_in_different_reads() {
    let s = settings(Framing::Line);
    let (out, _) = run(&s, &[b"ab\r", b"\n"]);
    assert_eq!(out, b"Hello, ab!\r\n");
}

#[test]
fn exit_closes_after_earlier_replies() {
    let s = settings(Framing::Line);
    let (out, close) = run(&s, &[b"a\nex", b"it\nb\n"]);
    assert_eq!(out, b"Hello, a!\n");
    assert_eq!(close, Some(Close::Exit));
    let (out, close) = run(&s, &[b"exit\r\n"]);
    assert_eq!(out, b"");
    assert_eq!(close, Some(Close::Exit));
    // Only exactly `exit` closes.
    let (out, close) = run(&s, &[b"exit \nexits\n"]);
    assert_eq!(out, b"Hello, exit !\nHello, exits!\n");
    assert_eq!(close, None);
}

#[test]
fn fragment_at_eof_is_a_message() {
    let s = settings(Framing::Line);
    assert_eq!(run(&s, &[b"a\nb"]).0, b"Hello, a!\nHello, b!");
    assert_eq!(
        run(&s, &[b"a\nexit"]),
        (b"Hello, a!\n".to_vec(), Some(Close::Exit))
    );
}

#[test]
fn too_long_line_is_refused() {
    let mut s = settings(Framing::Line);
    s.max_message = 4;
    assert_eq!(run(&s, &[b"abcd\n"]).0, b"Hello, abcd!\n");
    assert_eq!(run(&s, &[b"abcd\r\n"]).0, b"Hello, abcd!\r\n");
    assert_eq!(run(&s, &[b"ab", b"cd\r", b"\n"]).0, b"Hello, abcd!\r\n");
    let (out, close) = run(&s, &[b"a\nabcde\nb\n"]);
    assert_eq!(out, b"Hello, a!\nError: message longer than 4 bytes\n");
    assert_eq!(close, Some(Close::TooLong));
    // Refused before the newline arrives: the decoder never holds more.
    let (out, close) = run(&s, &[b"a\nabc", b"de"]);
    assert_eq!(out, b"Hello, a!\nError: message longer than 4 bytes\n");
    assert_eq!(close, Some(Close::TooLong));
    s.framing = Framing::Chunk;
    let (out, close) = run(&s, &[b"abcde"]);
    assert_eq!(out, b"Error: message longer than 4 bytes");
    assert_eq!(close, Some(Close::TooLong));
}

#[test]
fn a_too_long_rest_of_a_line_stream_gets_a_line() {
    // max + 1 bytes may still be a line and its `\r`; at the end of the
    // stream it is a message one byte too long, refused with a line.
    let mut s = settings(Framing::Line);
    s.max_message = 4;
    let (out, close) = run(&s, &[b"abcd\r"]);
    assert_eq!(out, b"Error: message longer than 4 bytes\n");
    assert_eq!(close, Some(Close::TooLong));
    // Chunk framing has no lines: no newline there.
    s.framing = Framing::Chunk;
    assert_eq!(
        run(&s, &[b"abcde"]).0,
        b"Error: message longer than 4 bytes"
    );
}

#[test]
fn budget_stops_early_and_resumes() {
    let s = settings(Framing::Line);
    let mut d = Decoder::new(Framing::Line);
    let mut out = Vec::new();
    let input = b"a\nb\nc\n";
    let p = d.decode(&s, input, &mut out, 1);
    assert_eq!((p.consumed, p.replies), (2, 1));
    let p = d.decode(&s, &input[2..], &mut out, 5);
    assert_eq!((p.consumed, p.replies), (4, 2));
    assert_eq!(out, b"Hello, a!\nHello, b!\nHello, c!\n");
}

#[test]
fn output_limit_stops_after_the_reply_that_crosses_it() {
    let s = settings(Framing::Line);
    let mut d = Decoder::new(Framing::Line);
    let mut out = Vec::new();
    let input = b"a\nb\nc\n";
    // "Hello, a!\n" is 10 bytes: the limit of 11 is crossed by the second reply.
    let p = d.decode_until(&s, input, &mut out, usize::MAX, 11);
    assert_eq!((p.consumed, p.replies), (4, 2));
    let p = d.decode_until(&s, &input[4..], &mut out, usize::MAX, 11);
    assert_eq!(
        (p.consumed, p.replies),
        (0, 0),
        "a full output takes nothing more"
    );
    out.clear();
    let p = d.decode_until(&s, &input[4..], &mut out, usize::MAX, 1);
    assert_eq!((p.consumed, p.replies), (2, 1));
    assert_eq!(out, b"Hello, c!\n");
}

#[test]
fn templates() {
    let mut s = settings(Framing::Line);
    s.reply = Template::parse("{}");
    assert_eq!(run(&s, &[b"echo\n"]).0, b"echo\n");
    s.reply = Template::parse("[{}|{}]");
    assert_eq!(run(&s, &[b"x", b"y\n"]).0, b"[xy|xy]\n");
    s.reply = Template::parse("pong");
    assert_eq!(run(&s, &[b"ping\n"]).0, b"pong\n");
}

#[test]
fn bytes_are_echoed_as_they_came() {
    let s = settings(Framing::Line);
    assert_eq!(run(&s, &[b"\xff\x00\xfe\n"]).0, b"Hello, \xff\x00\xfe!\n");
}

/// A server keeps a decoder in every idle connection's state: the partial
/// line is one pointer, not a `Vec`'s three words.
#[test]
fn a_decoder_is_two_words() {
    assert_eq!(std::mem::size_of::<Decoder>(), 16);
}
