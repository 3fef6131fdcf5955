//! Tests of the three forms drawn from the same rows.

use super::*;
use std::time::Duration;

fn events() -> Vec<Event> {
    let conn = "127.0.0.1:40000".parse().unwrap();
    let at = |us| Duration::from_micros(us);
    [
        (
            0,
            Side::Client,
            What::Connect {
                took: at(95),
                to: "127.0.0.1:9999".parse().unwrap(),
            },
        ),
        (120, Side::Server, What::Accept),
        (180, Side::Server, What::Write(b"Welcome!\n".to_vec())),
        (210, Side::Client, What::Read(b"Welcome!\n".to_vec())),
        (300, Side::Client, What::Write(vec![b'<'; 500])),
        (900, Side::Server, What::State("TIME_WAIT".into())),
    ]
    .into_iter()
    .map(|(us, side, what)| Event {
        at: at(us),
        side,
        conn,
        what,
        info: None,
    })
    .collect()
}

#[test]
fn the_chart_has_a_row_per_event_with_arrows_the_right_way() {
    let chart = chart(&events(), DEFAULT_COLUMNS);
    let rows: Vec<&str> = chart.lines().collect();
    assert_eq!(rows.len(), 6);
    // A state is checked after the session: no time of its own.
    assert!(rows[5].trim_start().starts_with("after "), "{chart}");
    assert!(
        rows[0].contains("client ── connect: handshake took 95µs") && rows[0].ends_with("▶ server")
    );
    assert!(rows[2].contains("client ◀") && rows[2].contains("write 9 bytes \"Welcome!\\n\""));
    assert!(
        rows[3]
            .trim_start()
            .starts_with("+210µs  client  read 9 bytes")
    );
    assert!(rows[4].contains('…'), "a long payload is cut: {}", rows[4]);
}

#[test]
fn svg_labels_are_cut_and_escaped_and_the_title_has_every_byte() {
    let svg = svg(&events(), "a <demo> & more");
    assert!(svg.contains("a &lt;demo&gt; &amp; more"));
    // The 500 `<` are cut in the label, whole in the tooltip.
    assert!(svg.contains("&lt;&lt;…</text>"), "{svg}");
    assert!(svg.contains(&"&lt;".repeat(500)));
    assert!(!svg.contains("<<"));
    assert!(svg.contains(">TIME_WAIT</text>"));
}

#[test]
fn the_chart_aligns_by_display_width_and_cuts_within_it() {
    let conn = "127.0.0.1:40000".parse().unwrap();
    let row = |bytes: &[u8]| Event {
        at: Duration::ZERO,
        side: Side::Client,
        conn,
        what: What::Write(bytes.to_vec()),
        info: None,
    };
    let events = [
        row(b"Michael\n"),
        row("日本語 😀\n".as_bytes()),
        row("é".repeat(60).as_bytes()),
    ];
    let chart = chart(&events, DEFAULT_COLUMNS);
    // Every arrow ends in the same column, whatever its label holds.
    let ends: Vec<usize> = chart
        .lines()
        .map(|line| line[..line.find("▶ server").unwrap()].width())
        .collect();
    assert!(ends.iter().all(|&e| e == ends[0]), "{ends:?}\n{chart}");
    // Cut by columns: two-column characters never cross the room.
    let cut_wide = cut(&"日".repeat(10), 7);
    assert_eq!(cut_wide, "日日日…");
    assert!(cut_wide.width() <= 7);
}

#[test]
fn the_chart_fits_its_width_and_wraps_notes_whole() {
    let conn = "127.0.0.1:40000".parse().unwrap();
    let note = "the backlog (listen(5)) full too: the kernel drops this client's SYN, \
                and its retry comes a second later";
    let mut events = events();
    events.insert(
        0,
        Event {
            at: Duration::ZERO,
            side: Side::Client,
            conn,
            what: What::Note(note.into()),
            info: None,
        },
    );
    events.push(Event {
        at: Duration::from_millis(1),
        side: Side::Server,
        conn,
        what: What::Read("日本語 😀 ".repeat(30).into_bytes()),
        info: None,
    });
    for columns in [0, MIN_COLUMNS, DEFAULT_COLUMNS, 133, MAX_COLUMNS, 10_000] {
        let chart = chart(&events, columns);
        let widest = chart.lines().map(UnicodeWidthStr::width).max().unwrap_or(0);
        let room = columns.clamp(MIN_COLUMNS, MAX_COLUMNS);
        assert!(widest <= room, "{columns}: a line of {widest}\n{chart}");
        // The note is wrapped, every word of it shown.
        for word in note.split(' ') {
            assert!(chart.contains(word), "{columns}: {word:?} lost\n{chart}");
        }
        // The server's marks end at its lifeline, the arrows' too.
        let server_column = |line: &str| line[..line.find("server").unwrap()].width();
        let lines: Vec<&str> = chart.lines().filter(|l| l.ends_with("server")).collect();
        assert!(lines.len() >= 4, "{chart}");
        assert!(
            lines
                .iter()
                .all(|l| server_column(l) == server_column(lines[0])),
            "{columns}:\n{chart}"
        );
    }
}

#[test]
fn a_long_picture_names_its_lifelines_again_every_forty_rows() {
    let conn = "127.0.0.1:40000".parse().unwrap();
    let events: Vec<Event> = (0..100)
        .map(|i| Event {
            at: Duration::from_micros(i),
            side: if i % 2 == 0 {
                Side::Client
            } else {
                Side::Server
            },
            conn,
            what: What::Write(b"Michael\n".to_vec()),
            info: None,
        })
        .collect();
    let chart = chart(&events, DEFAULT_COLUMNS);
    let names = chart
        .lines()
        .filter(|l| l.trim_start().starts_with("client") && l.trim_end().ends_with("server"))
        .filter(|l| l.split_whitespace().count() == 2)
        .count();
    assert_eq!(names, 2, "{chart}");
    assert_eq!(svg(&events, "long").matches("class=\"names\"").count(), 2);
    // A short one is named once, at its top.
    assert_eq!(
        svg(&events[..40], "short")
            .matches("class=\"names\"")
            .count(),
        0
    );
}
