//! A recorded session as a sequence diagram: two lifelines (client and
//! server), time going down, an arrow for every write and for the
//! connect and each half-close, a mark for every read, accept and close,
//! each labelled with its byte count and its bytes. Three forms, all
//! made from the same rows: [`svg`], an [`html`] page with the SVG and a
//! few lines on each event, and a plain-text [`chart`] for a terminal;
//! [`Form`] picks one by a file's name, and [`create`] opens the file.
//!
//! Every row is one event, in the order of their times, so labels never
//! share a row; each label is cut (with `…`) to the room its row has, and
//! in the SVG the whole payload is in the row's `<title>`, shown as a
//! tooltip.

use std::fmt::Write as _;

use tcpkit_wire::{Bytes, Escaped};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{Event, Side, What, time};

mod chart;
mod file;
mod html;
pub use chart::{DEFAULT_COLUMNS, MAX_COLUMNS, MIN_COLUMNS, chart};
mod marks;
pub use file::{Form, create};
pub use html::{explain, html};
use marks::{LEGEND, legend, note_row, segment_row, state_box};

/// Where the parts of the SVG are, in pixels.
const WIDTH: usize = 1240;
const TIME_X: usize = 84;
const CLIENT_X: usize = 390;
const SERVER_X: usize = 900;
const TOP: usize = 96;
const ROW: usize = 34;
/// The width of one character of the 12px monospace font, in tenths of
/// a pixel (0.6 em, as common monospace fonts have it, and a little more).
const CHAR_TENTHS: usize = 74;

/// How many characters fit in `px` pixels.
fn fits(px: usize) -> usize {
    px * 10 / CHAR_TENTHS
}
/// The most payload bytes put in a tooltip.
const TITLE_BYTES: usize = 4096;

/// How one event is drawn.
enum Shape {
    /// From this side's lifeline to the other's.
    Arrow { dashed: bool },
    /// A mark on this side's lifeline.
    Mark { failed: bool },
    /// A box under this side's lifeline (the final TCP state).
    State,
    /// A line across the picture, not a call.
    Note,
    /// A thin arrow from this side's lifeline to the other's: a segment
    /// its kernel sent.
    Segment,
}

/// How each event is drawn: a close is an arrow (its FIN) unless that
/// side shut down its sending half before.
fn shapes(events: &[Event]) -> Vec<Shape> {
    let mut fin_sent = [false, false];
    events
        .iter()
        .map(|e| {
            match e.what {
                // A new connection: neither end has sent its FIN.
                What::Connect { .. } => fin_sent = [false, false],
                // After a reset, no FIN goes either way.
                What::Reset { .. } => fin_sent = [true, true],
                _ => {}
            }
            let sent = &mut fin_sent[e.side as usize];
            match e.what {
                What::ShutdownWrite => *sent = true,
                What::Close if !std::mem::replace(sent, true) => {
                    return Shape::Arrow { dashed: true };
                }
                _ => {}
            }
            shape(&e.what)
        })
        .collect()
}

fn shape(what: &What) -> Shape {
    match what {
        What::Connect { .. } | What::Write(_) => Shape::Arrow { dashed: false },
        What::Reset { .. } => Shape::Arrow { dashed: true },
        What::ShutdownWrite => Shape::Arrow { dashed: true },
        What::Failed(_) => Shape::Mark { failed: true },
        What::State(_) => Shape::State,
        What::Note(_) => Shape::Note,
        What::Segment(_) => Shape::Segment,
        _ => Shape::Mark { failed: false },
    }
}

/// A label's text: what the call did, as short as it reads well.
fn label(what: &What) -> String {
    match what {
        What::Connect { took, .. } => format!("connect: handshake took {}", time(*took)),
        What::Accept => "accept()".into(),
        // As in a trace line.
        What::Write(_) | What::Read(_) | What::Failed(_) => what.words(),
        What::End => "read 0: the other side closed".into(),
        What::ShutdownWrite => "FIN: shutdown(write)".into(),
        What::Close => "close()".into(),
        What::Reset { unread } => format!("RST: close() with {} unread", Bytes::of(*unread)),
        What::State(state) => state.clone(),
        What::Note(note) => note.clone(),
        What::Segment(segment) => segment.words(),
    }
}

/// The label as drawn: a close drawn as its FIN says so.
fn label_of(event: &Event, shape: &Shape) -> String {
    match (shape, &event.what) {
        (Shape::Arrow { .. }, What::Close) => "FIN: close()".into(),
        _ => label(&event.what),
    }
}

/// `text` cut to `room` columns (an emoji or a CJK character takes two),
/// the last of them `…` when cut.
fn cut(text: &str, room: usize) -> String {
    if text.width() <= room {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room.saturating_sub(1) {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Whether XML 1.0 allows `c` in a document (its `Char` production):
/// not most C0 controls, and not U+FFFE or U+FFFF, which are valid UTF-8
/// but make a document not well-formed (a browser draws only what came
/// before). Other noncharacters are allowed, but are no text either.
fn xml_allows(c: char) -> bool {
    let noncharacter = matches!(c as u32, 0xFDD0..=0xFDEF) || (c as u32 & 0xFFFE) == 0xFFFE;
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..) && !noncharacter
}

/// Text made safe inside an XML element or attribute. Control
/// characters and what XML 1.0 does not allow, which it cannot hold even
/// as references, are shown escaped (`\u{1b}`, `\u{fffe}`), as are the
/// bidirectional overrides.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if tcpkit_wire::escape::is_unsafe(c) || !xml_allows(c) => {
                out.extend(c.escape_default());
            }
            c => out.push(c),
        }
    }
    out
}

/// A payload's bytes, all of them up to [`TITLE_BYTES`], escaped.
fn all_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    let shown = &bytes[..bytes.len().min(TITLE_BYTES)];
    for piece in shown.chunks(tcpkit_wire::escape::LOG_BYTES) {
        let quoted = Escaped(piece).to_string();
        out.push_str(quoted.trim_start_matches('"').trim_end_matches('"'));
    }
    if bytes.len() > shown.len() {
        let _ = write!(out, "… ({} more)", Bytes::of(bytes.len() - shown.len()));
    }
    out
}

/// The tooltip of a row: the whole call, all its bytes.
fn title(event: &Event) -> String {
    let what = match &event.what {
        What::Write(bytes) => format!("write {}: {}", Bytes::of(bytes.len()), all_bytes(bytes)),
        What::Read(bytes) => format!("read {}: {}", Bytes::of(bytes.len()), all_bytes(bytes)),
        other => other.words(),
    };
    format!("+{} {} {}", time(event.at), event.side, what)
}

fn x_of(side: Side) -> usize {
    match side {
        Side::Client => CLIENT_X,
        Side::Server => SERVER_X,
    }
}

/// The session as an SVG picture; `heading` names it.
pub fn svg(events: &[Event], heading: &str) -> String {
    picture(events, heading, true)
}

/// The SVG, its heading drawn at its top or not (the page has it already).
fn picture(events: &[Event], heading: &str, headed: bool) -> String {
    let pauses = pauses(events);
    // A pause takes a row of its own.
    let rows = events.len() + pauses.iter().flatten().count();
    let height = TOP + rows * ROW + 40 + LEGEND;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"monospace\" font-size=\"12\">\n\
         <title>{}</title>\n\
         <defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/></marker>\
         <marker id=\"seg\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10\" \
         fill=\"none\" stroke=\"#36c\" stroke-width=\"1.5\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n",
        xml(heading)
    );
    if headed {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"24\" text-anchor=\"middle\">{}</text>",
            WIDTH / 2,
            xml(&cut(heading, fits(WIDTH - 20)))
        );
    }
    let bottom = TOP + rows * ROW;
    for (side, x) in [(Side::Client, CLIENT_X), (Side::Server, SERVER_X)] {
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"44\" width=\"120\" height=\"28\" rx=\"4\" fill=\"#eef\" \
             stroke=\"#336\"/>\n<text x=\"{x}\" y=\"63\" text-anchor=\"middle\">{side}</text>\n\
             <line x1=\"{x}\" y1=\"72\" x2=\"{x}\" y2=\"{bottom}\" stroke=\"#999\"/>\n",
            x - 60
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{TIME_X}\" y=\"63\" text-anchor=\"end\" fill=\"#666\">time</text>"
    );
    let mut y = TOP;
    for (i, ((event, shape), pause)) in events.iter().zip(shapes(events)).zip(pauses).enumerate() {
        if i > 0 && i % NAMED_EVERY == 0 {
            marks::lifeline_names(&mut s, y - ROW);
        }
        if let Some(pause) = pause {
            marks::pause(&mut s, y, pause);
            y += ROW;
        }
        svg_event(&mut s, y, event, shape);
        y += ROW;
    }
    let packets = events.iter().any(|e| matches!(e.what, What::Segment(_)));
    legend(&mut s, TOP + rows * ROW + 24, packets);
    s.push_str("</svg>\n");
    s
}

/// Rows between the lifelines' names, said again down a long picture
/// (and chart), so that a row far from the top still says which end is
/// which.
const NAMED_EVERY: usize = 40;

/// A wait longer than this between two rows is drawn as a pause, with
/// its length: rows are spaced one per event, so a second's wait (a
/// dropped SYN's retry) would look no longer than a microsecond's.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// Before each row, the wait since the row before it, when it is long
/// enough to draw ([`PAUSE`]); the state rows, checked afterwards, have
/// none.
fn pauses(events: &[Event]) -> Vec<Option<std::time::Duration>> {
    let mut last = None;
    events
        .iter()
        .map(|e| {
            if matches!(e.what, What::State(_)) {
                return None;
            }
            let waited = last.map(|l| e.at.saturating_sub(l));
            last = Some(e.at);
            waited.filter(|w| *w >= PAUSE)
        })
        .collect()
}

/// When a row happened, as its time column says: `+412µs` from the
/// connect; a TCP state is no event but what was checked after the
/// session, so it says `after`.
fn when(event: &Event) -> String {
    match event.what {
        What::State(_) => "after".to_string(),
        _ => format!("+{}", time(event.at)),
    }
}

/// One event's row of the SVG at height `y`: its time, and its arrow,
/// mark, note or state box, with its full words as a tooltip.
fn svg_event(s: &mut String, y: usize, event: &Event, shape: Shape) {
    let arrow_room = fits(SERVER_X - CLIENT_X) - 4;
    // Each side's marks have the room beside their own lifeline.
    let side_room = match event.side {
        Side::Client => fits(CLIENT_X - TIME_X - 24),
        Side::Server => fits(WIDTH - SERVER_X - 14),
    };
    let x = x_of(event.side);
    let text = label_of(event, &shape);
    // A segment is no call: its own class, for whoever reads the rows.
    let class = match shape {
        Shape::Segment => "segment",
        _ => "event",
    };
    let _ = writeln!(
        s,
        "<g class=\"{class}\"><title>{}</title>",
        xml(&title(event))
    );
    // A note is no call: it has no time of its own.
    if !matches!(shape, Shape::Note) {
        let _ = writeln!(
            s,
            "<text x=\"{TIME_X}\" y=\"{}\" text-anchor=\"end\" fill=\"#666\">{}</text>",
            y + 4,
            xml(&when(event))
        );
    }
    match shape {
        Shape::Arrow { dashed } => {
            let to = match event.side {
                Side::Client => SERVER_X,
                Side::Server => CLIENT_X,
            };
            let dash = if dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            };
            let colour = match event.what {
                What::Reset { .. } => "#c00",
                _ => "#333",
            };
            let _ = write!(
                s,
                "<line x1=\"{x}\" y1=\"{y}\" x2=\"{to}\" y2=\"{y}\" stroke=\"{colour}\"{dash} \
                 marker-end=\"url(#head)\"/>\n<text x=\"{}\" y=\"{}\" \
                 text-anchor=\"middle\" fill=\"{colour}\">{}</text>\n",
                (CLIENT_X + SERVER_X) / 2,
                y - 5,
                xml(&cut(&text, arrow_room))
            );
        }
        Shape::Mark { failed } => {
            let colour = if failed { "#c00" } else { "#333" };
            let (tx, anchor) = match event.side {
                Side::Client => (CLIENT_X - 10, "end"),
                Side::Server => (SERVER_X + 10, "start"),
            };
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"{colour}\"/>\n\
                 <text x=\"{tx}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"{colour}\">{}\
                 </text>\n",
                x - 4,
                y - 4,
                y + 4,
                xml(&cut(&text, side_room))
            );
        }
        Shape::Note => note_row(s, y, &text),
        Shape::Segment => segment_row(s, y, event, &text, arrow_room),
        Shape::State => state_box(s, x, y, &text),
    }
    s.push_str("</g>\n");
}

#[cfg(test)]
mod tests;
