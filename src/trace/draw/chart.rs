//! The text chart: one row per event, as wide as the terminal it is
//! shown on (`COLUMNS`, 80 when nothing says), aligned by display width
//! (an emoji or a CJK character takes two columns).
//!
//! ```text
//!     +180µs  client ◀────────────── write 9 bytes "Welcome!\n" ── server
//!     +195µs  client ◁┄┄┄┄ PSH, ACK 9 bytes seq 1 ack 1 win 65536 ┄┄ server
//!     +268µs                                           accept()  server
//! ```

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

use super::super::{Event, Side, time};
use super::{Shape, cut, label_of, pauses, shapes, when};

/// The narrowest chart drawn: below it, labels would be all `…`.
pub const MIN_COLUMNS: usize = 60;
/// The widest: past it, rows are too long to follow across.
pub const MAX_COLUMNS: usize = 240;
/// The width when nothing says how wide the terminal is.
pub const DEFAULT_COLUMNS: usize = 80;

/// The time column and the two spaces after it.
const TIME: usize = 12;

/// The session as plain text, one row per event, each at most `columns`
/// wide (kept within [`MIN_COLUMNS`] and [`MAX_COLUMNS`]): arrows between
/// the two ends for writes (`──▶`) and segments (`┄┄▷`), the client's
/// marks after `client`, the server's before `server`, notes wrapped
/// rather than cut.
pub fn chart(events: &[Event], columns: usize) -> String {
    let body = columns.clamp(MIN_COLUMNS, MAX_COLUMNS) - TIME;
    let mut s = String::new();
    for (i, ((event, shape), pause)) in events
        .iter()
        .zip(shapes(events))
        .zip(pauses(events))
        .enumerate()
    {
        if i > 0 && i % super::NAMED_EVERY == 0 {
            row(
                &mut s,
                "",
                &format!("client{}server", " ".repeat(body - 12)),
            );
        }
        if let Some(pause) = pause {
            let said = format!("⋯ {} pass ⋯", time(pause));
            row(&mut s, "", &centred(&said, body));
        }
        let at = when(event);
        let text = label_of(event, &shape);
        match (shape, event.side) {
            (Shape::Arrow { .. }, side) => row(&mut s, &at, &arrow(&text, side, body, '─')),
            (Shape::Segment, side) => row(&mut s, &at, &arrow(&text, side, body, '┄')),
            (Shape::Note, _) => {
                for (i, line) in wrapped(&text, body - 6).iter().enumerate() {
                    let line = format!("── {line} ──");
                    row(&mut s, if i == 0 { &at } else { "" }, &centred(&line, body));
                }
            }
            (_, Side::Client) => row(&mut s, &at, &format!("client  {}", cut(&text, body - 8))),
            (_, Side::Server) => {
                let text = cut(&text, body - 8);
                let pad = " ".repeat(body - 8 - text.width());
                row(&mut s, &at, &format!("{pad}{text}  server"));
            }
        }
    }
    s
}

/// One line: the time column, then `rest`, no trailing blanks.
fn row(s: &mut String, at: &str, rest: &str) {
    let _ = writeln!(s, "{}", format!("{at:>10}  {rest}").trim_end());
}

/// An arrow of `body` columns from `side` to the other, drawn with `line`
/// (`─` for a call, `┄` for a segment), `text` on it.
fn arrow(text: &str, side: Side, body: usize, line: char) -> String {
    // "client " and " server" at the ends; "── ", " ", and the head.
    let room = body - 14;
    let text = cut(text, room - 7);
    let rule: String = std::iter::repeat_n(line, room - 5 - text.width()).collect();
    let ends: String = std::iter::repeat_n(line, 2).collect();
    let (right, left) = match line {
        '─' => ('▶', '◀'),
        _ => ('▷', '◁'),
    };
    match side {
        Side::Client => format!("client {ends} {text} {rule}{right} server"),
        Side::Server => format!("client {left}{rule} {text} {ends} server"),
    }
}

/// `text` in the middle of `width` columns.
fn centred(text: &str, width: usize) -> String {
    let pad = width.saturating_sub(text.width()) / 2;
    format!("{}{text}", " ".repeat(pad))
}

/// `text` in lines of at most `width` columns, broken between words (a
/// word longer than a line is cut).
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let word = cut(word, width);
        if !line.is_empty() && line.width() + 1 + word.width() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    lines.push(line);
    lines
}
