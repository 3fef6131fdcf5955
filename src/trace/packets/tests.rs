//! The packet layer's numbers, flags and pcap file, from frames built
//! by etherparse.

use super::*;
use etherparse::PacketBuilder;
use std::time::Duration;

const CLIENT: ([u8; 4], u16) = ([127, 0, 0, 1], 40000);
const SERVER: ([u8; 4], u16) = ([127, 0, 0, 1], 9999);

/// A loopback frame from `from` to `to` with `flags` (of "SAFRP"),
/// its numbers, a window scale when given, and `payload`.
fn frame(
    from: ([u8; 4], u16),
    to: ([u8; 4], u16),
    flags: &str,
    (seq, ack, window): (u32, u32, u16),
    scale: Option<u8>,
    payload: &[u8],
) -> Frame {
    let mut tcp = PacketBuilder::ethernet2([0; 6], [0; 6])
        .ipv4(from.0, to.0, 64)
        .tcp(from.1, to.1, seq, window);
    for flag in flags.chars() {
        tcp = match flag {
            'S' => tcp.syn(),
            'A' => tcp.ack(ack),
            'F' => tcp.fin(),
            'R' => tcp.rst(),
            'P' => tcp.psh(),
            _ => unreachable!(),
        };
    }
    if let Some(scale) = scale {
        tcp = tcp
            .options(&[TcpOptionElement::WindowScale(scale)])
            .unwrap();
    }
    let mut bytes = Vec::new();
    tcp.write(&mut bytes, payload).unwrap();
    Frame {
        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1),
        wire_len: bytes.len(),
        bytes,
    }
}

fn words(captured: &Captured) -> Vec<(Side, String)> {
    let client = SocketAddr::from(CLIENT);
    let origin = Instant::now();
    captured
        .segments(&[client], origin)
        .into_iter()
        .map(|e| match e.what {
            What::Segment(s) => (e.side, s.words()),
            other => panic!("not a segment: {other:?}"),
        })
        .collect()
}

#[test]
fn numbers_are_relative_and_windows_scaled_once_both_ends_offer_it() {
    let (c, s) = (CLIENT, SERVER);
    let other = ([127, 0, 0, 1], 5555);
    let captured = Captured {
        frames: vec![
            frame(c, s, "S", (1000, 0, 65495), Some(7), b""),
            // Another connection's frame: not this session's.
            frame(other, s, "S", (5, 0, 100), None, b""),
            frame(s, c, "SA", (70000, 1001, 65483), Some(7), b""),
            frame(c, s, "A", (1001, 70001, 512), None, b""),
            frame(s, c, "PA", (70001, 1001, 512), None, b"Welcome!\n"),
            // The same bytes again: a retransmission.
            frame(s, c, "PA", (70001, 1001, 512), None, b"Welcome!\n"),
            frame(c, s, "FA", (1001, 70010, 512), None, b""),
            frame(s, c, "R", (70010, 0, 0), None, b""),
        ],
        lost: 0,
        stopped: None,
        start: Some((Instant::now(), SystemTime::UNIX_EPOCH)),
    };
    let client = Side::Client;
    let server = Side::Server;
    assert_eq!(
        words(&captured),
        [
            (client, "SYN seq 0 win 65495".to_string()),
            (server, "SYN, ACK seq 0 ack 1 win 65483".into()),
            (client, "ACK seq 1 ack 1 win 65536".into()),
            (server, "PSH, ACK 9 bytes seq 1 ack 1 win 65536".into()),
            (
                server,
                "PSH, ACK (retransmission) 9 bytes seq 1 ack 1 win 65536".into()
            ),
            (client, "FIN, ACK seq 1 ack 10 win 65536".into()),
            (server, "RST seq 10".into()),
        ]
    );
    // The pcap file holds this session's frames only.
    let mut pcap = Vec::new();
    let written = captured
        .write_pcap(&[SocketAddr::from(CLIENT)], &mut pcap)
        .unwrap();
    assert_eq!(written, 7);
    // The global header, then each record's 16-byte header and frame.
    let frames: usize = captured.frames.iter().map(|f| f.bytes.len()).sum();
    let other = captured.frames[1].bytes.len();
    assert_eq!(pcap.len(), 24 + 7 * 16 + frames - other);
}

#[test]
fn without_a_window_scale_from_both_ends_none_is_applied() {
    let (c, s) = (CLIENT, SERVER);
    let captured = Captured {
        frames: vec![
            frame(c, s, "S", (0, 0, 100), Some(7), b""),
            frame(s, c, "SA", (0, 1, 100), None, b""),
            frame(c, s, "A", (1, 1, 100), None, b""),
        ],
        lost: 0,
        stopped: None,
        start: Some((Instant::now(), SystemTime::UNIX_EPOCH)),
    };
    assert_eq!(words(&captured)[2].1, "ACK seq 1 ack 1 win 100");
}

#[test]
fn flags_read_as_wireshark_names_them() {
    let all = Flags {
        syn: true,
        ack: true,
        fin: true,
        rst: true,
        psh: true,
    };
    assert_eq!(all.to_string(), "SYN, FIN, RST, PSH, ACK");
    assert_eq!(Flags::default().to_string(), "");
}

#[test]
fn a_syn_sent_again_is_its_retransmission() {
    let (c, s) = (CLIENT, SERVER);
    let captured = Captured {
        frames: vec![
            frame(c, s, "S", (7, 0, 100), None, b""),
            // Dropped by a full backlog: sent again a second later.
            frame(c, s, "S", (7, 0, 100), None, b""),
            frame(s, c, "SA", (0, 8, 100), None, b""),
        ],
        lost: 0,
        stopped: None,
        start: Some((Instant::now(), SystemTime::UNIX_EPOCH)),
    };
    let said = words(&captured);
    assert_eq!(said[0].1, "SYN seq 0 win 100");
    assert_eq!(said[1].1, "SYN (retransmission) seq 0 win 100");
    assert_eq!(said[2].1, "SYN, ACK seq 0 ack 1 win 100");
}

#[test]
fn frames_taken_before_the_clocks_were_read_keep_their_times() {
    let (c, s) = (CLIENT, SERVER);
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
    let start = Instant::now();
    let mut early = frame(c, s, "S", (0, 0, 100), None, b"");
    early.at = wall - Duration::from_secs(1);
    let mut late = frame(s, c, "SA", (0, 1, 100), None, b"");
    late.at = wall + Duration::from_secs(1);
    let captured = Captured {
        frames: vec![early, late],
        lost: 0,
        stopped: None,
        start: Some((start, wall)),
    };
    let Some(origin) = start.checked_sub(Duration::from_secs(2)) else {
        return; // A monotonic clock too young to go back 2 s.
    };
    let times: Vec<Duration> = captured
        .segments(&[SocketAddr::from(CLIENT)], origin)
        .iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(times, [Duration::from_secs(1), Duration::from_secs(3)]);
}
