//! Tracing a session: the events come from the calls the two ends really
//! made, on real loopback sockets, and the pictures drawn from them are
//! sound (valid XML, no label over another, every byte in a tooltip).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{LineClient, Proc, stderr_of, stdout_of, talk, tcpkit};
use tcpkit::server::{self, Config};
use tcpkit::talk::TalkOptions;
use tcpkit::trace::{Event, Recorder, Side, What};

/// A traced session of the tutorial's client against the library's
/// traced server, with `messages`; its events, timed from the connect.
fn session(messages: &[&str]) -> Vec<Event> {
    let recorder = Arc::new(Recorder::default());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(
            server::Builder::new(Config {
                linger: Duration::from_millis(500),
                ..Config::default()
            })
            .bind("127.0.0.1:0")
            .trace(recorder.clone())
            .listen(),
        )
        .unwrap();
    let addr = server.local_addrs()[0];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = runtime.spawn(server.run(async {
        let _ = stopped.await;
    }));
    let origin = Instant::now();
    let opts = TalkOptions {
        addr: addr.to_string(),
        trace: Some(recorder.clone()),
        ..TalkOptions::default()
    };
    let messages: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
    tcpkit::talk::script(&opts, &messages, &mut Vec::new()).unwrap();
    let deadline = Instant::now() + common::PATIENCE;
    let server_closed = |events: &[Event]| {
        events
            .iter()
            .any(|e| e.side == Side::Server && e.what == What::Close)
    };
    while !server_closed(&recorder.events(origin)) {
        assert!(Instant::now() < deadline, "the server never closed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = stop.send(());
    runtime.block_on(serving).unwrap();
    recorder.events(origin)
}

/// Every byte `from` wrote, in order, and every byte `to` read.
fn bytes(events: &[Event], side: Side, written: bool) -> Vec<u8> {
    events
        .iter()
        .filter(|e| e.side == side)
        .flat_map(|e| match (&e.what, written) {
            (What::Write(b), true) | (What::Read(b), false) => b.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// The time at which `side`'s `n`th byte written (or read) went (or came).
fn time_of_byte(events: &[Event], side: Side, written: bool, n: usize) -> Duration {
    let mut seen = 0;
    for e in events.iter().filter(|e| e.side == side) {
        let len = match (&e.what, written) {
            (What::Write(b), true) | (What::Read(b), false) => b.len(),
            _ => 0,
        };
        if n < seen + len {
            return e.at;
        }
        seen += len;
    }
    panic!(
        "byte {n} of {side} never {}",
        if written { "written" } else { "read" }
    );
}

#[test]
fn a_traced_session_has_every_byte_once_and_every_read_after_its_write() {
    for _ in 0..5 {
        let events = session(&["Michael", "Tracy", "Sarah"]);
        let conn = events[0].conn;
        assert!(events.iter().all(|e| e.conn == conn), "one connection");
        assert!(
            matches!(events[0].what, What::Connect { .. }),
            "{events:#?}"
        );
        assert_eq!(events[0].side, Side::Client);
        // What one end wrote, the other read: all of it, once, in order.
        let down = bytes(&events, Side::Server, true);
        assert_eq!(
            down,
            b"Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
        );
        assert_eq!(bytes(&events, Side::Client, false), down);
        let up = bytes(&events, Side::Client, true);
        assert_eq!(up, b"Michael\nTracy\nSarah\nexit\n");
        assert_eq!(bytes(&events, Side::Server, false), up);
        // Cause before effect, byte by byte.
        for n in 0..down.len() {
            assert!(
                time_of_byte(&events, Side::Server, true, n)
                    <= time_of_byte(&events, Side::Client, false, n),
                "byte {n} read before it was written: {events:#?}"
            );
        }
        for n in 0..up.len() {
            assert!(
                time_of_byte(&events, Side::Client, true, n)
                    <= time_of_byte(&events, Side::Server, false, n)
            );
        }
        // The server's lingering close: its FIN first, the client's end of
        // stream after it, each side's close last of its calls.
        let index = |side, what: &What| {
            events
                .iter()
                .position(|e| e.side == side && &e.what == what)
                .unwrap_or_else(|| panic!("no {what:?} from {side}: {events:#?}"))
        };
        assert!(index(Side::Server, &What::ShutdownWrite) < index(Side::Client, &What::End));
        assert!(index(Side::Client, &What::Close) < index(Side::Server, &What::End));
        for side in [Side::Client, Side::Server] {
            let last = events.iter().rposition(|e| e.side == side).unwrap();
            assert_eq!(events[last].what, What::Close, "{side}");
        }
    }
}

#[test]
fn demo_diagram_charts_the_session_and_each_ends_tcp_state() {
    // Wide, so that no label is cut (the width's own test is the chart's).
    let out = Command::new(tcpkit())
        .env("COLUMNS", "200")
        .args(["-q", "demo", "--diagram", "-", "Michael"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let chart = stdout_of(&out);
    let rows: Vec<&str> = chart.lines().collect();
    assert!(
        rows[0].contains("client ── connect: handshake took"),
        "{chart}"
    );
    assert!(rows[0].trim_start().starts_with("+0µs"), "{chart}");
    let find = |text: &str| {
        rows.iter()
            .position(|r| r.contains(text))
            .unwrap_or_else(|| panic!("no {text:?} in\n{chart}"))
    };
    assert!(
        find("write 9 bytes \"Welcome!\\n\" ── server")
            < find("client  read 9 bytes \"Welcome!\\n\"")
    );
    assert!(
        find("client ── write 8 bytes \"Michael\\n\"")
            < find("read 8 bytes \"Michael\\n\"  server")
    );
    assert!(find("FIN: shutdown(write) ── server") < find("client ── FIN: close()"));
    if cfg!(target_os = "linux") {
        // The server closed first: its end waits in TIME_WAIT.
        let state = rows.iter().rev().find(|r| r.ends_with("  server")).unwrap();
        assert!(state.ends_with("TIME_WAIT  server"), "{chart}");
        let state = rows.iter().rev().find(|r| r.contains("client  ")).unwrap();
        assert!(state.ends_with("client  CLOSED (gone)"), "{chart}");
    }
    let bad = Command::new(tcpkit())
        .args(["demo", "--diagram", "picture.png"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr_of(&bad).contains("name a .svg or .html file, or - for a text chart"));
    // A file that cannot be made is said at once, before any session.
    let nowhere = tempfile::tempdir().unwrap().path().join("gone/x.svg");
    let out = Command::new(tcpkit())
        .args(["demo", "--scenario", "backlog", "--diagram"])
        .arg(&nowhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(13), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("cannot create"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        !stderr_of(&out).contains("Waiting for connection"),
        "a session ran first: {}",
        stderr_of(&out)
    );
    // A scenario says its own messages: others are refused, not dropped.
    let out = Command::new(tcpkit())
        .args(["demo", "--scenario", "split", "Alice"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--scenario plays its own messages"));
}

/// A text element's box: left, right, top, bottom, in pixels, its width
/// at 0.6 em a character (a common monospace font's).
fn text_box(node: roxmltree::Node) -> (f64, f64, f64, f64) {
    let n = |a: &str| node.attribute(a).unwrap().parse::<f64>().unwrap();
    let size = node
        .attribute("font-size")
        .map_or(12.0, |s| s.parse().unwrap());
    let width = node.text().unwrap_or("").chars().count() as f64 * size * 0.6;
    let (x, y) = (n("x"), n("y"));
    let left = match node.attribute("text-anchor") {
        Some("end") => x - width,
        Some("middle") => x - width / 2.0,
        _ => x,
    };
    (left, left + width, y - size, y)
}

/// The SVG parses, and no label meets another or leaves the picture.
fn assert_labels_apart(svg: &str) {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let width: f64 = root.attribute("width").unwrap().parse().unwrap();
    let texts: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(text_box)
        .collect();
    for (i, a) in texts.iter().enumerate() {
        assert!(
            a.0 >= 0.0 && a.1 <= width,
            "a label leaves the picture: {a:?}"
        );
        for b in &texts[i + 1..] {
            let apart = a.1 <= b.0 || b.1 <= a.0 || a.3 <= b.2 || b.3 <= a.2;
            assert!(apart, "labels overlap: {a:?} {b:?}\n{svg}");
        }
    }
}

/// The picture says what its marks mean: each kind of arrow, the read's
/// square and the state box, under the last row.
fn assert_legend(svg: &str) {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let legend = doc
        .root_element()
        .descendants()
        .find(|n| n.attribute("class") == Some("legend"))
        .unwrap_or_else(|| panic!("no legend: {svg}"));
    let words: Vec<&str> = legend
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    for meaning in [
        "write, connect",
        "FIN (shutdown, close)",
        "RST (a reset)",
        "read, accept, close",
        "TCP state after",
    ] {
        assert!(
            words.contains(&meaning),
            "the legend lacks {meaning}: {words:?}"
        );
    }
    // Under the last row: below every event's text.
    let y = |n: roxmltree::Node| n.attribute("y").and_then(|y| y.parse::<f64>().ok());
    let lowest_event = doc
        .root_element()
        .descendants()
        .filter(|n| n.attribute("class") == Some("event"))
        .flat_map(|row| row.descendants().filter_map(y))
        .fold(0.0, f64::max);
    let legend_top = legend
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(y)
        .fold(f64::MAX, f64::min);
    assert!(legend_top > lowest_event, "{legend_top} {lowest_event}");
}

#[test]
fn the_svg_is_valid_xml_and_no_label_overlaps_another() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(300);
    for (file, messages) in [
        ("plain.svg", vec!["Michael", "Tracy", "Sarah"]),
        (
            "long.svg",
            vec![long.as_str(), "<b>&amp;'\"</b>", "\u{1b}[2J"],
        ),
    ] {
        let path = dir.path().join(file);
        let out = Command::new(tcpkit())
            .arg("-q")
            .arg("demo")
            .arg("--diagram")
            .arg(&path)
            .args(&messages)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        let svg = std::fs::read_to_string(&path).unwrap();
        assert_labels_apart(&svg);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let root = doc.root_element();
        // Every event's row carries the whole call in its tooltip.
        let rows: Vec<_> = root
            .descendants()
            .filter(|n| n.attribute("class") == Some("event"))
            .collect();
        assert!(rows.len() >= 15, "{svg}");
        for row in &rows {
            assert!(row.first_element_child().unwrap().has_tag_name("title"));
        }
        assert_legend(&svg);
        if file == "long.svg" {
            // Cut in the label, whole in the tooltip; the escape sequence
            // is shown escaped, never raw.
            assert!(svg.contains('…'));
            assert!(svg.contains(&format!("write 301 bytes: {long}\\n")));
            assert!(!svg.contains('\u{1b}') && svg.contains("\\x1b[2J"));
            // The picture's own title (a tooltip) holds the message as text.
            let title = root.first_element_child().unwrap();
            assert!(title.has_tag_name("title"));
            let said = title.text().unwrap_or("");
            assert!(said.contains("<b>&amp;'\\\"</b>"), "{said}");
            assert!(
                svg.contains("&lt;b&gt;&amp;amp;&apos;\\&quot;&lt;/b&gt;"),
                "{svg}"
            );
        }
    }
}

#[test]
fn the_html_page_holds_the_picture_and_a_word_on_each_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.html");
    let out = Command::new(tcpkit())
        .args(["-q", "demo", "--diagram"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
    let items = html.matches("<li>").count();
    // Calls and (where captured) the segments under them.
    let rows = html.matches("class=\"event\"").count() + html.matches("class=\"segment\"").count();
    assert_eq!(items, rows, "one item per row");
    assert!(html.contains("One read is not one message"));
    assert!(html.contains("three-way handshake"));
    // Each kind of call is explained once (the tutorial's session reads
    // eight times), and the title is shown once, as the page's heading.
    assert_eq!(html.matches("One read is not one message").count(), 1);
    assert!(html.matches("<code>+").count() > html.matches("<p>").count());
    assert_eq!(html.matches("<h1>tcpkit demo: the tutorial").count(), 1);
    // Under each call, what the kernel knew of the connection (Linux's
    // TCP_INFO), its meaning said once.
    if cfg!(target_os = "linux") {
        let accept = html
            .lines()
            .find(|l| l.contains("server</code> accept returned"))
            .unwrap_or_else(|| panic!("no accept in {html}"));
        assert!(
            accept.contains("<small>rtt ") && accept.contains(" segments · "),
            "{accept}"
        );
        assert_eq!(html.matches("Linux's TCP_INFO").count(), 1);
    }
    assert!(
        !html.contains("text-anchor=\"middle\">tcpkit demo: the tutorial"),
        "the picture repeats the page's heading: {html}"
    );
}

#[test]
fn talk_and_serve_trace_every_call_on_stderr() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--trace"]);
    let out = talk(&[&server.addr.to_string(), "--trace", "Michael"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let client = stderr_of(&out);
    let lines: Vec<&str> = client.lines().collect();
    assert!(
        lines[0].starts_with("trace +0µs client 127.0.0.1:"),
        "{client}"
    );
    assert!(lines[0].contains(&format!("connect to {} returned after", server.addr)));
    assert!(client.contains(" client 127.0.0.1:"));
    assert!(client.contains("write 8 bytes \"Michael\\n\""), "{client}");
    assert!(client.contains("read 0 bytes: the other side closed its half"));
    assert!(lines.last().unwrap().ends_with(" close"), "{client}");
    // The server's lines, from its accept to its close.
    let deadline = Instant::now() + common::PATIENCE;
    let closed = |log: String| {
        log.lines()
            .any(|l| l.starts_with("trace ") && l.ends_with(" close"))
    };
    while !closed(server.log()) {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    assert!(log.contains("trace +0µs server 127.0.0.1:"), "{log}");
    assert!(log.contains("accept returned the connection"));
    assert!(log.contains("read 8 bytes \"Michael\\n\""), "{log}");
    assert!(log.contains("shutdown(write): FIN sent"), "{log}");
    // Without --trace, nothing of the kind.
    let quiet = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let mut c = LineClient::connect(quiet.addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"exit\n");
    assert_eq!(c.rest(), b"");
    assert!(!quiet.log().contains("trace +"), "{}", quiet.log());
}

/// The calls of a picture, each end's in its order (how the two ends'
/// calls interleave is the machine's timing, which another run need not
/// repeat), without their times and addresses, from each row's tooltip.
fn calls_in(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let mut calls: Vec<String> = doc
        .root_element()
        .descendants()
        .filter(|n| n.attribute("class") == Some("event"))
        .map(|row| {
            let title = row.first_element_child().unwrap().text().unwrap_or("");
            // "+412µs server read 8 bytes: ..." without the time.
            let call = title.split_once(' ').map_or(title, |(_, rest)| rest);
            match call.split_once(" connect to ") {
                Some((side, _)) => format!("{side} connect"),
                None => call.to_string(),
            }
        })
        .collect();
    // Stable: each end's calls keep their order.
    calls.sort_by_key(|call| call.starts_with("server"));
    // Bulk bytes may be cut into reads differently from run to run (the
    // kernel's segments): counts of 1,000 or more are N, and calls that
    // are alike then count once.
    let mut kept: Vec<String> = Vec::new();
    for call in calls {
        let call = bulk_counts(&call);
        if kept.last() != Some(&call) {
            kept.push(call);
        }
    }
    kept
}

/// The Nagle picture's calls with its second session's two server reads
/// of "Tra" and "cy\n" written as the one read of "Tracy\n" they usually
/// are: with TCP_NODELAY both pieces leave at once, and whether the
/// server's read finds one or both is the kernel's timing (a loaded CI
/// machine drew two). The first session's pieces stay apart: Nagle's
/// algorithm holds the second for the ACK, and `tests/packets.rs` checks
/// that on the wire.
fn nodelay_pieces_as_one_read(calls: Vec<String>) -> Vec<String> {
    let second = calls
        .iter()
        .enumerate()
        .filter(|(_, call)| call.as_str() == "server accept returned the connection")
        .nth(1)
        .map_or(calls.len(), |(at, _)| at);
    let (first, rest) = calls.split_at(second);
    let mut out = first.to_vec();
    let mut rest = rest.iter().peekable();
    while let Some(call) = rest.next() {
        if call == "server read 3 bytes: Tra"
            && rest.peek().map(|next| next.as_str()) == Some("server read 3 bytes: cy\\n")
        {
            rest.next();
            out.push("server read 6 bytes: Tracy\\n".to_string());
        } else {
            out.push(call.clone());
        }
    }
    out
}

/// `call` with every number of three digits or more written N, and the
/// bytes of a call that moved that many left out (where bulk bytes are
/// cut is the kernel's doing).
fn bulk_counts(call: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in call.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        out.push_str(if digits.len() >= 3 { "N" } else { &digits });
        digits.clear();
        out.push(c);
    }
    out.pop();
    match out.split_once(" N bytes: ") {
        Some((call, _)) => format!("{call} N bytes"),
        None => out,
    }
}

#[test]
fn the_pictures_in_the_learning_guide_are_what_the_program_draws() {
    // docs/learning.md shows these; each is made again, and its calls (not
    // their times) must be the committed picture's.
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let guide = std::fs::read_to_string(docs.join("learning.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for scenario in [
        "tutorial", "split", "merged", "framing", "reset", "backlog", "window", "nagle",
    ] {
        let name = format!("pictures/{scenario}.svg");
        assert!(
            guide.contains(&format!("({name})")),
            "learning.md shows no {name}"
        );
        let committed = std::fs::read_to_string(docs.join(&name)).unwrap();
        let fresh = drawn(dir.path(), scenario, "svg");
        assert_labels_apart(&fresh);
        assert_legend(&fresh);
        assert_legend(&committed);
        let calls = |svg: &str| {
            let calls = calls_in(svg);
            if scenario == "nagle" {
                nodelay_pieces_as_one_read(calls)
            } else {
                calls
            }
        };
        assert_eq!(
            calls(&fresh),
            calls(&committed),
            "docs/{name} no longer shows what `tcpkit demo --scenario {scenario}` does: \
             make it again with `tcpkit demo --scenario {scenario} --force --diagram docs/{name}`"
        );
    }
}

#[test]
fn a_close_with_input_unread_is_drawn_as_the_reset_it_is() {
    let out = Command::new(tcpkit())
        .env("COLUMNS", "200")
        .args(["-q", "demo", "--scenario", "reset"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let chart = stdout_of(&out);
    let (plain, lingering) = chart
        .split_once("the lingering close")
        .unwrap_or_else(|| panic!("{chart}"));
    // A plain close with input unread: a reset, and the client's next
    // call fails; no FIN from the server; and the replies that were still
    // in the server's kernel (the client's small window had not taken
    // them) are gone.
    assert!(plain.contains("RST: close() with "), "{chart}");
    assert!(
        plain.contains("client  failed: connection reset"),
        "{chart}"
    );
    assert!(!plain.contains("FIN: shutdown(write)"), "{chart}");
    assert!(plain.contains("the reset destroyed the rest"), "{chart}");
    // The lingering close: every reply, then the FIN, the rest read and
    // dropped, a clean end.
    assert!(
        lingering.contains("FIN: shutdown(write) ── server"),
        "{chart}"
    );
    assert!(
        lingering.contains("client  read 0: the other side closed"),
        "{chart}"
    );
    assert!(
        !lingering.contains("RST") && !lingering.contains("failed"),
        "{chart}"
    );
    assert!(!lingering.contains("destroyed"), "{chart}");
}

#[test]
fn a_full_backlog_makes_the_connect_wait_for_room() {
    // The backlog scenario's second client finds the server's place taken
    // and its listen(5) queue full: Linux drops its SYN, and its connect
    // returns only after the SYN's retry, a second later, once there is
    // room. The first client, with room in the queue, is connected at once.
    let out = Command::new(tcpkit())
        .env("COLUMNS", "200")
        .args(["-q", "demo", "--scenario", "backlog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // Waiting is the lesson: no warning (-q shows warnings) about a
    // connection limit the learner never set.
    assert!(
        !stderr_of(&out).contains("Connection limit"),
        "{}",
        stderr_of(&out)
    );
    let chart = stdout_of(&out);
    let took: Vec<f64> = chart
        .lines()
        .filter_map(|row| row.split_once("handshake took ")?.1.split_once(' '))
        .map(|(time, _)| {
            let seconds = |t: &str, unit: f64| t.parse::<f64>().unwrap() * unit;
            match time {
                t if t.ends_with("µs") => seconds(t.trim_end_matches("µs"), 1e-6),
                t if t.ends_with("ms") => seconds(t.trim_end_matches("ms"), 1e-3),
                t => seconds(t.trim_end_matches('s'), 1.0),
            }
        })
        .collect();
    assert_eq!(took.len(), 2, "{chart}");
    assert!(took[0] < 0.5, "the first connect waited: {chart}");
    if cfg!(target_os = "linux") {
        assert!(took[1] >= 0.9, "the second connect did not wait: {chart}");
    }
    // Connected, and its message taken, before the server accepted it.
    let rows: Vec<&str> = chart.lines().collect();
    let first = |text: &str| rows.iter().position(|r| r.contains(text)).unwrap();
    assert!(
        first("client ── write 8 bytes \"Michael\\n\"") < first("accept()  server"),
        "{chart}"
    );
}

#[test]
fn pictures_stay_well_formed_whatever_is_said() {
    // Valid UTF-8 that XML 1.0 does not allow, and a noncharacter.
    let said = ["a\u{FFFE}b", "c\u{FFFF}d", "e\u{FDD0}f\u{1FFFE}"];
    let dir = tempfile::tempdir().unwrap();
    for file in ["odd.svg", "odd.html"] {
        let path = dir.path().join(file);
        let out = Command::new(tcpkit())
            .args(["-q", "demo", "--diagram"])
            .arg(&path)
            .args(said)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        let text = std::fs::read_to_string(&path).unwrap();
        for c in ['\u{FFFE}', '\u{FFFF}', '\u{FDD0}', '\u{1FFFE}'] {
            assert!(!text.contains(c), "{file}: {c:?} written raw");
        }
        assert!(text.contains("a\\u{fffe}b"), "{file}: shown escaped");
        let svg = match text.find("<svg") {
            Some(at) => &text[at..text.find("</svg>").unwrap() + "</svg>".len()],
            None => panic!("{file}: no picture"),
        };
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn a_long_session_is_drawn_in_part_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.svg");
    let names: Vec<String> = (0..40).map(|i| format!("n{i}")).collect();
    let out = Command::new(tcpkit())
        .args(["demo", "--max-drawn", "10", "--diagram"])
        .arg(&path)
        .args(&names)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let svg = std::fs::read_to_string(&path).unwrap();
    let calls = calls_in(&svg);
    let data = calls
        .iter()
        .filter_map(|c| c.split_once(' ').map(|(_, call)| call))
        .filter(|c| c.starts_with("write ") || c.starts_with("read ") && !c.starts_with("read 0"))
        .count();
    assert_eq!(data, 10, "{calls:#?}");
    // The first messages and the last are drawn, the rest counted.
    assert!(
        svg.contains("Hello, n0!") && svg.contains("Hello, n39!"),
        "{svg}"
    );
    assert!(!svg.contains("Hello, n20!"));
    assert!(svg.contains("reads and writes not drawn here (the first 5 and the last 5 are)"));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("reads and writes between the first and the last left out")
            && stderr.contains("; --max-drawn)"),
        "{stderr}"
    );
    // The heading names a few messages and counts the rest.
    assert!(svg.contains("and 35 more"), "{svg}");
    // The limit's edges: 2 is the least that shows a first and a last.
    for (n, code) in [("1", 2), ("0", 2), ("2", 0)] {
        let out = Command::new(tcpkit())
            .args(["-q", "demo", "--max-drawn", n, "--diagram", "-"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "--max-drawn {n}: {}",
            stderr_of(&out)
        );
    }
}

#[test]
fn a_picture_never_replaces_a_file_unasked_nor_writes_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let draw = |path: &std::path::Path, force: bool| {
        let mut cmd = Command::new(tcpkit());
        cmd.args(["-q", "demo"]);
        if force {
            cmd.arg("--force");
        }
        cmd.arg("--diagram").arg(path).output().unwrap()
    };
    // An existing file stays as it was without --force, and says how.
    let existing = dir.path().join("kept.svg");
    std::fs::write(&existing, "mine").unwrap();
    let out = draw(&existing, false);
    assert_eq!(out.status.code(), Some(13), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("kept.svg exists: add --force to replace it"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "mine");
    // With --force it is replaced by the picture.
    let out = draw(&existing, true);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(std::fs::read_to_string(&existing).unwrap().contains("<svg"));
    // A link is never written through: refused, then replaced itself.
    #[cfg(unix)]
    {
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("link.svg");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let out = draw(&link, false);
        assert_eq!(out.status.code(), Some(13), "{}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("is a symbolic link"),
            "{}",
            stderr_of(&out)
        );
        let out = draw(&link, true);
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(
            meta.is_file(),
            "the link itself was replaced by the picture"
        );
    }
    // --force alone replaces nothing: it needs --diagram.
    let out = Command::new(tcpkit())
        .args(["demo", "--force"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

/// `tcpkit -q demo --scenario SCENARIO --diagram DIR/SCENARIO.FORM`: the
/// picture it made.
fn drawn(dir: &std::path::Path, scenario: &str, form: &str) -> String {
    let path = dir.join(format!("{scenario}.{form}"));
    let out = Command::new(tcpkit())
        .args(["-q", "demo", "--scenario", scenario, "--diagram"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    std::fs::read_to_string(&path).unwrap()
}

#[test]
fn a_picture_shows_its_point_whole_and_says_what_to_look_at() {
    let dir = tempfile::tempdir().unwrap();
    let draw = |scenario: &str| {
        let svg = drawn(dir.path(), scenario, "svg");
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts: Vec<String> = doc
            .root_element()
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::to_string))
            .collect();
        texts
    };
    // merged: the three replies in one write, as a label, not cut.
    let merged = draw("merged");
    assert!(
        merged
            .iter()
            .any(|t| t == "write 44 bytes \"Hello, Michael!\\nHello, Tracy!\\nHello, Sarah!\\n\""),
        "{merged:?}"
    );
    assert!(
        merged
            .iter()
            .any(|t| t.starts_with("three messages in one write")),
        "{merged:?}"
    );
    let split = draw("split");
    assert!(
        split
            .iter()
            .any(|t| t.starts_with("one message in two writes")),
        "{split:?}"
    );
    // A note is no call: no time of its own, and a backing under it so
    // the lifelines do not strike through; in the page, no side either.
    let html = drawn(dir.path(), "framing", "html");
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap() + 6];
    let doc = roxmltree::Document::parse(svg).unwrap();
    let notes: Vec<_> = doc
        .root_element()
        .descendants()
        .filter(|n| n.attribute("class") == Some("event"))
        .filter(|row| {
            row.descendants()
                .any(|n| n.attribute("font-style") == Some("italic"))
        })
        .collect();
    assert_eq!(notes.len(), 2, "{svg}");
    for note in notes {
        let texts = note.children().filter(|n| n.has_tag_name("text")).count();
        assert_eq!(texts, 1, "a note has its words and no time");
        assert!(note.children().any(|n| n.has_tag_name("rect")));
    }
    assert!(
        html.contains("<li><em>the tutorial&apos;s framing: each read is one message</em></li>"),
        "{html}"
    );
}

#[test]
fn the_pictures_server_speaks_in_its_window_not_in_raw_log_lines() {
    let out = Command::new(tcpkit())
        .args(["demo", "--diagram", "-", "Michael"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let log = stderr_of(&out);
    assert!(
        log.contains("server | Accept new connection from 127.0.0.1:"),
        "{log}"
    );
    for line in log.lines() {
        assert!(line.starts_with("server | "), "{log}");
    }
}

#[test]
fn the_chart_is_as_wide_as_columns_says_and_draws_long_waits() {
    use unicode_width::UnicodeWidthStr;
    for (columns, widest) in [(Some("60"), 60), (None, 80)] {
        let mut cmd = Command::new(tcpkit());
        cmd.args(["-q", "demo", "--scenario", "backlog", "--diagram", "-"]);
        match columns {
            Some(c) => cmd.env("COLUMNS", c),
            // Not a terminal, and nothing said: 80.
            None => cmd.env_remove("COLUMNS"),
        };
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        let chart = stdout_of(&out);
        let lines: Vec<usize> = chart.lines().map(UnicodeWidthStr::width).collect();
        assert!(lines.iter().all(|w| *w <= widest), "{columns:?}:\n{chart}");
        assert!(
            lines.iter().any(|w| *w >= widest - 2),
            "{columns:?}: narrower:\n{chart}"
        );
        // The dropped SYN's second is a line of its own.
        assert!(
            chart
                .lines()
                .any(|l| l.contains("⋯ 1.") && l.ends_with("s pass ⋯")),
            "{chart}"
        );
    }
}
