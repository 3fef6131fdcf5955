//! The HTML page: the SVG, and a few lines on each call it shows.

use std::fmt::Write as _;

use super::super::{Event, What};
use super::{picture, xml};

/// A few lines on what an event's call did, for the HTML page.
pub fn explain(what: &What) -> &'static str {
    match what {
        What::Connect { .. } => {
            "connect() returns once the three-way handshake is done (SYN, SYN-ACK, ACK). \
             No data has moved yet; the time is one round trip and the kernels' work. When \
             the server's backlog is full, its kernel drops the SYN and the client's sends it \
             again after 1 s (then 3 s, 7 s...): a slow connect, not a refusal."
        }
        What::Accept => {
            "accept() hands the server a socket for this client. The kernel completed the \
             handshake before: a client can connect, and even send, before the server accepts."
        }
        What::Write(_) => {
            "A write copies bytes into the kernel's send buffer and returns; TCP sends them \
             when it can. The other side may read them in one read, in several, or together \
             with later writes: TCP carries bytes, not messages."
        }
        What::Read(_) => {
            "A read returns whatever has arrived, up to the buffer's size. One read is not one \
             message: the protocol's framing (here, lines ending in \\n) says where messages end."
        }
        What::End => {
            "A read of 0 bytes is the end of the stream: the other side shut down its sending \
             half (its FIN arrived). This side may still send."
        }
        What::ShutdownWrite => {
            "shutdown(SHUT_WR) sends a FIN: this side sends nothing more but goes on reading. \
             The lingering close reads what is left before close(), so that unread input does \
             not turn the close into a reset."
        }
        What::Close => {
            "close() gives the socket back to the kernel. Had input been left unread in it, \
             the kernel would have sent a reset (RST), which can destroy replies the other \
             side has not read yet."
        }
        What::Reset { .. } => {
            "close() with input still unread: instead of a FIN, the kernel answers with a reset \
             (RST). The other side's next call fails with \"connection reset\", and what it had \
             not read yet may be lost: Windows drops it; Linux hands over what had arrived, but \
             a client that stops at its failed write never reads it."
        }
        What::Failed(_) => {
            "The call failed. \"Connection reset\" means the other side's kernel answered with \
             a reset (RST): its socket was closed with input unread, or is gone."
        }
        What::Note(_) => "A note, not a call: what the rows after it show.",
        What::Segment(_) => {
            "Not a call: a TCP segment the kernel sent, captured on the loopback interface. \
             SYN opens a connection, ACK acknowledges the other side's bytes up to its number, \
             FIN ends one direction, RST ends the connection at once. seq counts this side's \
             bytes from 0 (the SYN), ack the next byte it expects; win is how many more bytes \
             it can take: the other side may not send past it."
        }
        What::State(_) => {
            "The kernel's state of this side's socket, checked after the session (not an \
             event at that time). The side that closed first keeps its end in TIME_WAIT (60 s \
             on Linux), so that late packets of this connection cannot be taken for a new one \
             with the same addresses. A reset skips all that: the socket that sent or got the \
             RST is CLOSED at once, with no TIME_WAIT."
        }
    }
}

/// What the kernel's numbers under a call mean, said at the first.
const NUMBERS: &str = "Under a call, what this side's kernel knew of the connection as it \
     was made (Linux's TCP_INFO): rtt, its estimate of the round-trip time; cwnd, the \
     congestion window, how many segments it may have in flight before an ACK; how many \
     segments are unacknowledged; and how many it has sent again since the connection opened.";

/// The session as a self-contained HTML page: the picture, then each
/// event with a few lines on what its call did.
pub fn html(events: &[Event], heading: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{h}</title>\n<style>\nbody {{ font-family: sans-serif; max-width: 1260px; \
         margin: 1em auto; }}\nol {{ font-size: 14px; }}\ncode {{ background: #f4f4f4; }}\n\
         li p {{ margin: 0.2em 0 0.8em; color: #444; }}\n</style>\n</head>\n<body>\n\
         <h1>{h}</h1>\n<p>Every arrow and mark is a call the program really made, with its \
         real time since the client called connect(). Hover over a row for all its bytes.</p>\n",
        h = xml(heading)
    );
    // The heading is the page's: the picture under it does not repeat it.
    s.push_str(&picture(events, heading, false));
    s.push_str("<ol class=\"events\">\n");
    // Each kind of call is explained once, at its first row; so are the
    // kernel's numbers.
    let mut explained = std::collections::HashSet::new();
    let mut numbers_explained = false;
    for event in events {
        // A note says what the rows after it show: no call, no side.
        if let What::Note(note) = &event.what {
            let _ = writeln!(s, "<li><em>{}</em></li>", xml(note));
            continue;
        }
        let first = explained.insert(std::mem::discriminant(&event.what));
        let numbers = match &event.info {
            Some(info) if !std::mem::replace(&mut numbers_explained, true) => {
                format!(
                    "<br><small>{}</small><p>{}</p>",
                    xml(&info.to_string()),
                    NUMBERS
                )
            }
            Some(info) => format!("<br><small>{}</small>", xml(&info.to_string())),
            None => String::new(),
        };
        let _ = write!(
            s,
            "<li><code>{} {}</code> {}{numbers}\n{}</li>\n",
            xml(&super::when(event)),
            event.side,
            xml(&event.what.words()),
            if first {
                format!("<p>{}</p>", xml(explain(&event.what)))
            } else {
                String::new()
            }
        );
    }
    s.push_str("</ol>\n</body>\n</html>\n");
    s
}
