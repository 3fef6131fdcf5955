//! The packets under the calls (`demo --diagram`, `--pcap`): where this
//! process may capture on the loopback interface (root, as CI runs), the
//! picture holds each segment the session's calls made the kernel send,
//! in the order the kernel took them, and the pcap file holds the same
//! segments; where it may not, one line says why and how, and `--pcap`
//! fails without leaving a file.

mod common;

use std::process::Command;

use common::{stderr_of, tcpkit};

/// Each row of an SVG picture, in order: whether it is a segment, and
/// its tooltip without the time (`client segment SYN seq 0 win 65495`).
fn rows(svg: &str) -> Vec<(bool, String)> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.root_element()
        .descendants()
        .filter_map(|n| match n.attribute("class") {
            Some("event") => Some((false, n)),
            Some("segment") => Some((true, n)),
            _ => None,
        })
        .map(|(segment, row)| {
            let title = row.first_element_child().unwrap().text().unwrap_or("");
            let rest = title.split_once(' ').map_or(title, |(_, rest)| rest);
            (segment, rest.to_string())
        })
        .collect()
}

/// The payload bytes a row says it carried or moved: a segment's `N
/// bytes`, a call's `write N bytes` / `read N bytes`.
fn bytes_of(row: &str) -> usize {
    let words: Vec<&str> = row.split(' ').collect();
    words
        .windows(2)
        .find(|w| w[1] == "bytes" || w[1] == "bytes:" || w[1] == "byte" || w[1] == "byte:")
        .and_then(|w| w[0].replace(',', "").parse().ok())
        .unwrap_or(0)
}

#[cfg(target_os = "linux")]
fn may_capture() -> bool {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Capturing is done on Linux only.
#[cfg(not(target_os = "linux"))]
fn may_capture() -> bool {
    false
}

#[test]
fn the_segments_are_drawn_under_the_calls_that_caused_them() {
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("session.svg");
    let pcap_path = dir.path().join("session.pcap");
    let out = Command::new(tcpkit())
        .args(["-q", "demo", "--diagram"])
        .arg(&svg_path)
        .arg("--pcap")
        .arg(&pcap_path)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    if !may_capture() {
        // A local file that could not be written, and why.
        assert_eq!(out.status.code(), Some(13), "{stderr}");
        assert!(
            stderr.contains("CAP_NET_RAW") || stderr.contains("on Linux only"),
            "{stderr}"
        );
        assert!(!pcap_path.exists(), "an empty capture was left");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let rows = rows(&svg);
    let segments: Vec<&str> = rows
        .iter()
        .filter(|(s, _)| *s)
        .map(|(_, r)| r.as_str())
        .collect();
    // The handshake, as Wireshark shows it, numbers relative.
    assert_eq!(
        segments[..3]
            .iter()
            .map(|s| s.split(" win").next().unwrap())
            .collect::<Vec<_>>(),
        [
            "client segment SYN seq 0",
            "server segment SYN, ACK seq 0 ack 1",
            "client segment ACK seq 1 ack 1"
        ],
        "{segments:#?}"
    );
    // Every byte each side wrote went out in its segments, once.
    for side in ["client", "server"] {
        let written: usize = rows
            .iter()
            .filter(|(s, r)| !s && r.starts_with(&format!("{side} write ")))
            .map(|(_, r)| bytes_of(r))
            .sum();
        let carried: usize = segments
            .iter()
            .filter(|r| r.starts_with(&format!("{side} segment")))
            .map(|r| bytes_of(r))
            .sum();
        assert_eq!(written, carried, "{side}: {rows:#?}");
        assert!(written > 0);
    }
    // Each end's FIN went out.
    for side in ["client", "server"] {
        assert!(
            segments
                .iter()
                .any(|s| s.starts_with(&format!("{side} segment FIN"))),
            "{segments:#?}"
        );
    }
    // Order: a segment follows the write that made it, and a read follows
    // the segments that brought its bytes.
    let mut written = [0usize; 2];
    let mut sent = [0usize; 2];
    let mut read = [0usize; 2];
    for (segment, row) in &rows {
        let me = usize::from(row.starts_with("server"));
        let n = bytes_of(row);
        match (segment, row.split(' ').nth(1)) {
            (true, _) => {
                sent[me] += n;
                assert!(
                    sent[me] <= written[me],
                    "sent before written at {row}: {rows:#?}"
                );
            }
            (false, Some("write")) => written[me] += n,
            (false, Some("read")) => {
                read[me] += n;
                assert!(
                    read[me] <= sent[1 - me],
                    "read before it came at {row}: {rows:#?}"
                );
            }
            _ => {}
        }
    }
    // The legend names the packet layer's mark.
    assert!(svg.contains(">TCP segment sent<"), "no legend entry");
    // The pcap file holds the same segments.
    let pcap = std::fs::read(&pcap_path).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(&pcap[..]).unwrap();
    let mut frames = 0;
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        assert!(etherparse::SlicedPacket::from_ethernet(&packet.data).is_ok());
        frames += 1;
    }
    assert_eq!(frames, segments.len());
    assert!(
        stderr.contains(&format!("{frames} packets written to")),
        "{stderr}"
    );
}

#[test]
fn a_reset_is_drawn_as_the_rst_segment_it_is() {
    let out = Command::new(tcpkit())
        .args(["-q", "demo", "--scenario", "reset", "--diagram", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let chart = String::from_utf8_lossy(&out.stdout);
    if !may_capture() {
        assert!(stderr_of(&out).contains("the picture shows the calls only"));
        return;
    }
    // The server closed with input unread: its kernel sent the RST.
    assert!(
        chart.lines().any(|l| l.contains("◁") && l.contains(" RST")),
        "{chart}"
    );
}

#[test]
fn no_packets_draws_the_calls_alone_and_says_nothing_of_capture() {
    let out = Command::new(tcpkit())
        .args(["-q", "demo", "--no-packets", "--diagram", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let chart = String::from_utf8_lossy(&out.stdout);
    assert!(!chart.contains('┄'), "{chart}");
    assert!(chart.contains("connect: handshake took"), "{chart}");
    assert!(!stderr_of(&out).contains("calls only"));
    // --pcap needs the packets.
    let out = Command::new(tcpkit())
        .args(["demo", "--no-packets", "--pcap", "x.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

#[test]
fn a_reader_that_stops_shuts_the_window_and_is_probed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("window.svg");
    let out = Command::new(tcpkit())
        .args(["-q", "demo", "--scenario", "window", "--diagram"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let rows = rows(&std::fs::read_to_string(&path).unwrap());
    // Every reply read, whatever the window did: 1,000 of 16 bytes.
    let read: usize = rows
        .iter()
        .filter(|(s, r)| !s && r.starts_with("client read "))
        .map(|(_, r)| bytes_of(r))
        .sum();
    assert_eq!(read, 9 + 16_000, "{rows:#?}");
    if !may_capture() {
        return;
    }
    let segment = |side: &str, says: &str| {
        rows.iter()
            .position(|(s, r)| *s && r.starts_with(&format!("{side} segment")) && r.contains(says))
    };
    let shut = segment("client", "win 0 (full)").expect("the client's window never shut");
    let probe = segment("server", "(window probe)").expect("the server never probed");
    assert!(shut < probe, "{rows:#?}");
    // The reader reads again: its window opens, and the rest flow.
    let opened = rows[probe..]
        .iter()
        .position(|(s, r)| *s && r.starts_with("client segment") && !r.contains("win 0"))
        .expect("the window never opened");
    let after: usize = rows[probe + opened..]
        .iter()
        .filter(|(s, r)| *s && r.starts_with("server segment"))
        .map(|(_, r)| bytes_of(r))
        .sum();
    assert!(
        after > 0,
        "nothing flowed after the window opened: {rows:#?}"
    );
}

#[test]
fn nagle_holds_a_small_write_until_the_ack_and_nodelay_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nagle.svg");
    let out = Command::new(tcpkit())
        .args(["-q", "demo", "--scenario", "nagle", "--diagram"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let rows = rows(&std::fs::read_to_string(&path).unwrap());
    let second = rows
        .iter()
        .position(|(_, r)| r.contains("TCP_NODELAY"))
        .expect("no second session");
    let (nagle, nodelay) = rows.split_at(second);
    // Both sessions said the same: Tracy's reply came whole.
    for session in [nagle, nodelay] {
        assert!(
            session
                .iter()
                .any(|(s, r)| !s && r.starts_with("client read 14 bytes")),
            "{session:#?}"
        );
    }
    if !may_capture() {
        return;
    }
    // The rows from the second small write ("cy\n", the client's bytes
    // 12 to 14 after "Michael\n" and "Tra") to the segment that carried it.
    let held = |session: &[(bool, String)]| -> Vec<String> {
        let write = session
            .iter()
            .position(|(s, r)| !s && r.starts_with("client write 3 bytes: cy"))
            .expect("no second write");
        let sent = session[write..]
            .iter()
            .position(|(s, r)| {
                *s && r.starts_with("client segment") && r.contains(" 3 bytes seq 12 ")
            })
            .expect("the second write never left");
        session[write + 1..write + sent]
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    };
    // Nagle: not before the server's kernel acknowledged the first.
    let between = held(nagle);
    assert!(
        between
            .iter()
            .any(|r| r.starts_with("server segment ACK") && r.contains(" ack 12 ")),
        "with Nagle the second write left before the first was acknowledged: {between:#?}"
    );
    // TCP_NODELAY: at once.
    let between = held(nodelay);
    assert!(
        !between.iter().any(|r| r.starts_with("server segment")),
        "with TCP_NODELAY the second write waited: {between:#?}"
    );
}

#[test]
fn a_session_that_cannot_run_leaves_no_empty_files() {
    // The port demo is asked to use is taken: no session, so no picture
    // and no capture, and the files made to fail early are gone again.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (svg, pcap) = (dir.path().join("a.svg"), dir.path().join("a.pcap"));
    let out = Command::new(tcpkit())
        .args(["-q", "demo", "--port", &port, "--diagram"])
        .arg(&svg)
        .arg("--pcap")
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert!(!svg.exists() && !pcap.exists(), "a file was left");
}
