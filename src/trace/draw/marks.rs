//! The picture's marks beyond the calls' own: the legend under it, the
//! packet layer's rows (a segment's thin arrow), a long pause, a note
//! across the picture, and a TCP state's box.

use std::fmt::Write as _;

use super::super::{Event, Side, What};
use unicode_width::UnicodeWidthStr;

use super::{CHAR_TENTHS, CLIENT_X, ROW, SERVER_X, TIME_X, WIDTH, cut, fits, time, xml};

/// The height of the legend's row.
pub(super) const LEGEND: usize = 44;

/// What each mark means, in a row under the picture at height `y`: the
/// arrows (a write, the connect, a FIN, a reset), a read's square, the
/// state box; and, when the packets are drawn, a segment's arrow.
pub(super) fn legend(s: &mut String, y: usize, packets: bool) {
    let _ = writeln!(
        s,
        "<g class=\"legend\"><line x1=\"20\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ccc\"/>",
        y - 16,
        WIDTH - 20,
        y - 16
    );
    let mut items: Vec<(&str, &str)> = vec![
        (
            "<line x1=\"0\" y1=\"0\" x2=\"36\" y2=\"0\" stroke=\"#333\" marker-end=\"url(#head)\"/>",
            "write, connect",
        ),
        (
            "<line x1=\"0\" y1=\"0\" x2=\"36\" y2=\"0\" stroke=\"#333\" \
             stroke-dasharray=\"6 4\" marker-end=\"url(#head)\"/>",
            "FIN (shutdown, close)",
        ),
        (
            "<line x1=\"0\" y1=\"0\" x2=\"36\" y2=\"0\" stroke=\"#c00\" marker-end=\"url(#head)\"/>",
            "RST (a reset)",
        ),
        (
            "<rect x=\"14\" y=\"-4\" width=\"8\" height=\"8\" fill=\"#333\"/>",
            "read, accept, close",
        ),
        (
            "<rect x=\"0\" y=\"-9\" width=\"36\" height=\"18\" rx=\"4\" fill=\"#ffd\" \
             stroke=\"#996\"/>",
            "TCP state after",
        ),
    ];
    if packets {
        items.push((
            "<line x1=\"0\" y1=\"0\" x2=\"36\" y2=\"0\" stroke=\"#36c\" \
             stroke-dasharray=\"2 2\" marker-end=\"url(#seg)\"/>",
            "TCP segment sent",
        ));
    }
    let step = (WIDTH - 40) / items.len();
    for (i, (mark, words)) in items.iter().enumerate() {
        let x = 20 + i * step;
        let _ = writeln!(
            s,
            "<g transform=\"translate({x},{y})\">{mark}</g><text x=\"{}\" y=\"{}\" \
             fill=\"#333\">{words}</text>",
            x + 44,
            y + 4
        );
    }
    s.push_str("</g>\n");
}

/// The colour of a segment's arrow: a reset's red, else the packet
/// layer's blue.
fn segment_colour(event: &Event) -> &'static str {
    match &event.what {
        What::Segment(seg) if seg.flags.rst => "#c00",
        _ => "#36c",
    }
}

/// A segment's row at height `y`: a thin arrow with an open head, its
/// words above it in the packet layer's colour and a smaller type.
pub(super) fn segment_row(s: &mut String, y: usize, event: &Event, text: &str, room: usize) {
    let (from, to) = match event.side {
        Side::Client => (CLIENT_X, SERVER_X),
        Side::Server => (SERVER_X, CLIENT_X),
    };
    let colour = segment_colour(event);
    let _ = write!(
        s,
        "<line x1=\"{from}\" y1=\"{y}\" x2=\"{to}\" y2=\"{y}\" stroke=\"{colour}\" \
         stroke-width=\"0.8\" stroke-dasharray=\"2 2\" marker-end=\"url(#seg)\"/>\n<text x=\"{}\" \
         y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{colour}\">{}</text>\n",
        (CLIENT_X + SERVER_X) / 2,
        y - 5,
        xml(&cut(text, room))
    );
}

/// A pause of `waited` in the row at height `y`: each lifeline broken by
/// two slanted strokes, and how long passed, so a wait that rows spaced
/// one per event would hide is seen.
pub(super) fn pause(s: &mut String, y: usize, waited: std::time::Duration) {
    let _ = writeln!(s, "<g class=\"pause\">");
    for x in [CLIENT_X, SERVER_X] {
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"20\" height=\"10\" fill=\"#fff\"/>\
             <path d=\"M{},{} l12,-6 M{},{} l12,-6\" stroke=\"#999\"/>",
            x - 10,
            y - 5,
            x - 6,
            y,
            x - 6,
            y + 6
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-style=\"italic\" \
         fill=\"#666\">{} pass</text></g>",
        (CLIENT_X + SERVER_X) / 2,
        y + 4 - ROW / 8,
        time(waited)
    );
}

/// A note's row at height `y`: a line across the picture, on a backing
/// so the lifelines do not strike through it.
pub(super) fn note_row(s: &mut String, y: usize, text: &str) {
    let text = cut(text, fits(WIDTH - 2 * TIME_X - 40));
    let width = text.width() * CHAR_TENTHS / 10 + 16;
    let _ = writeln!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"{width}\" height=\"20\" fill=\"#fff\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-style=\"italic\" \
         fill=\"#036\">{}</text>",
        ((CLIENT_X + SERVER_X) / 2).saturating_sub(width / 2),
        y - 11,
        (CLIENT_X + SERVER_X) / 2,
        y + 4,
        xml(&text)
    );
}

/// A TCP state's box under lifeline `x`, in the row at height `y`.
pub(super) fn state_box(s: &mut String, x: usize, y: usize, text: &str) {
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"140\" height=\"22\" rx=\"4\" fill=\"#ffd\" \
         stroke=\"#996\"/>\n<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        x - 70,
        y - 11,
        y + 4,
        xml(&cut(text, 16))
    );
}

/// The lifelines' names again, small, between the row at height `y` and
/// the next, on a backing that breaks each lifeline for them.
pub(super) fn lifeline_names(s: &mut String, y: usize) {
    let _ = writeln!(s, "<g class=\"names\">");
    for (x, name) in [(CLIENT_X, "client"), (SERVER_X, "server")] {
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"44\" height=\"12\" fill=\"#fff\"/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" \
             fill=\"#336\">{name}</text>",
            x - 22,
            y + ROW / 2 - 6,
            y + ROW / 2 + 4
        );
    }
    s.push_str("</g>\n");
}
