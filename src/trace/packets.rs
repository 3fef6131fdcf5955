//! The packets under the calls: the TCP segments a session's calls made
//! the kernel send, captured on the loopback interface while the session
//! runs, and drawn in the same picture as the calls that caused them
//! (Wireshark shows packets without the program's calls, strace calls
//! without packets).
//!
//! Capturing needs the right to (Linux: root or `CAP_NET_RAW`); without it
//! [`Capture::start`] says why and how to get it, and the picture is drawn
//! from the calls alone. Frames are parsed by `etherparse` and written as
//! a pcap file, which Wireshark and tshark open, by `pcap-file`.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};

use super::{Event, Side, What};
use crate::error::Error;
use crate::setting::Words;
use crate::sys::LoopbackTap;

/// How long a read of the tap waits before looking whether to stop; also
/// how long the loopback must be quiet, once stopping, for the capture to
/// have everything the session sent.
const TICK: Duration = Duration::from_millis(50);
/// The most of one frame kept: a loopback frame is at most 64 KiB and its
/// link header.
const SNAPLEN: usize = 65_550;
/// The most frames kept: other programs' loopback traffic is captured too
/// until the session's connections are known, and must not grow memory
/// without bound.
const MAX_FRAMES: usize = 20_000;
/// The most bytes of frames kept.
const MAX_BYTES: usize = 64 << 20;

/// A TCP segment's flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Opens a connection (carries the initial sequence number).
    pub syn: bool,
    /// Acknowledges the other side's bytes up to `ack`.
    pub ack: bool,
    /// The sender sends no more (its half-close or close).
    pub fin: bool,
    /// A reset: the connection is gone at once.
    pub rst: bool,
    /// "Push": hand the bytes to the reader now.
    pub psh: bool,
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.syn, "SYN"),
            (self.fin, "FIN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        f.write_str(&set.join(", "))
    }
}

/// One TCP segment, its numbers relative to its connection's start, as
/// Wireshark shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Its flags.
    pub flags: Flags,
    /// The sequence number of its first byte (the SYN's is 0).
    pub seq: u32,
    /// The next byte the sender expects from the other side (with ACK).
    pub ack: Option<u32>,
    /// The sender's receive window, in bytes (scaled).
    pub window: u32,
    /// Payload bytes.
    pub len: usize,
    /// Bytes the sender sent before: a retransmission.
    pub retransmission: bool,
}

impl Segment {
    /// The segment in words: `PSH, ACK 9 bytes seq 1 ack 10 win 65536`.
    pub fn words(&self) -> String {
        let mut s = self.flags.to_string();
        if self.retransmission {
            s.push_str(" (retransmission)");
        }
        if self.len > 0 {
            s.push_str(&format!(" {}", tcpkit_wire::Bytes::of(self.len)));
        }
        s.push_str(&format!(" seq {}", self.seq));
        if let Some(ack) = self.ack {
            s.push_str(&format!(" ack {ack}"));
        }
        if !self.flags.rst {
            s.push_str(&format!(" win {}", self.window));
        }
        s
    }
}

/// A frame captured on the loopback interface.
#[derive(Clone, Debug)]
pub struct Frame {
    /// When the kernel took it.
    pub at: SystemTime,
    /// Its bytes (an Ethernet header first, as loopback frames have).
    pub bytes: Vec<u8>,
    /// Its length on the wire (more than `bytes` when cut).
    pub wire_len: usize,
}

/// The frames of a finished capture.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// The frames kept, in the order they came.
    pub frames: Vec<Frame>,
    /// Frames lost: the kernel's drops and those past the bound kept.
    pub lost: u64,
    /// Where `at` of the start was, on both clocks.
    start: Option<(Instant, SystemTime)>,
}

/// A capture running on the loopback interface, in a thread of its own.
#[derive(Debug)]
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Captured>,
}

impl Capture {
    /// Starts capturing every TCP frame on the loopback interface. Fails,
    /// saying why and what to do, without the right to capture.
    pub fn start() -> Result<Capture, Error> {
        let tap = LoopbackTap::open(TICK).map_err(|e| {
            let how = match e.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    "capturing needs root or CAP_NET_RAW: run as root, or sudo setcap \
                     cap_net_raw+ep on the tcpkit binary"
                }
                std::io::ErrorKind::Unsupported => "capturing is done on Linux only",
                _ => "the picture shows the calls only",
            };
            Error::Other {
                message: format!("cannot capture the packets on the loopback interface ({how})")
                    .into(),
                source: Some(Box::new(e)),
            }
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tcpkit-capture".into())
            .spawn(move || capture(&tap, &stopping))
            .map_err(|e| Error::Other {
                message: "cannot start the capture's thread".into(),
                source: Some(Box::new(e)),
            })?;
        Ok(Capture { stop, thread })
    }

    /// Stops once the loopback has been quiet for a moment (the session's
    /// last segments read), and hands over what was captured.
    pub fn finish(self) -> Captured {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The capture's thread: frames until asked to stop and the tap is quiet.
fn capture(tap: &LoopbackTap, stop: &AtomicBool) -> Captured {
    let mut captured = Captured {
        start: Some(clocks()),
        ..Captured::default()
    };
    let mut buf = vec![0; SNAPLEN];
    let mut kept_bytes = 0;
    loop {
        match tap.next(&mut buf) {
            Ok(Some(frame)) => {
                let bytes = &buf[..frame.len];
                if parse(bytes).is_none() {
                    continue;
                }
                if captured.frames.len() >= MAX_FRAMES || kept_bytes + bytes.len() > MAX_BYTES {
                    captured.lost += 1;
                    continue;
                }
                kept_bytes += bytes.len();
                captured.frames.push(Frame {
                    at: frame.at,
                    bytes: bytes.to_vec(),
                    wire_len: frame.wire_len,
                });
            }
            Ok(None) if stop.load(Ordering::Relaxed) => break,
            Ok(None) => {}
            Err(_) => break,
        }
    }
    captured.lost += tap.dropped();
    captured
}

/// The same moment on both clocks: the kernel stamps frames on the wall
/// clock, the calls are timed on the monotonic one. Read as the tightest
/// of a few brackets, so that a thread preempted between two readings
/// does not shift every packet by the time it waited.
fn clocks() -> (Instant, SystemTime) {
    (0..5)
        .map(|_| {
            let before = Instant::now();
            let wall = SystemTime::now();
            let after = Instant::now();
            (after - before, before + (after - before) / 2, wall)
        })
        .min_by_key(|(bracket, ..)| *bracket)
        .map(|(_, at, wall)| (at, wall))
        .unwrap_or_else(|| (Instant::now(), SystemTime::now()))
}

/// A frame's TCP segment, raw: its two ends, flags, numbers and options.
struct Raw {
    from: SocketAddr,
    to: SocketAddr,
    flags: Flags,
    seq: u32,
    ack: u32,
    window: u16,
    scale: Option<u8>,
    len: usize,
}

/// The TCP segment in an Ethernet frame, if it holds one.
fn parse(frame: &[u8]) -> Option<Raw> {
    let packet = SlicedPacket::from_ethernet(frame).ok()?;
    let (from, to): (IpAddr, IpAddr) = match packet.net? {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        _ => return None,
    };
    let TransportSlice::Tcp(tcp) = packet.transport? else {
        return None;
    };
    let scale = tcp.options_iterator().find_map(|o| match o {
        Ok(TcpOptionElement::WindowScale(s)) => Some(s),
        _ => None,
    });
    Some(Raw {
        from: SocketAddr::new(from, tcp.source_port()),
        to: SocketAddr::new(to, tcp.destination_port()),
        flags: Flags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            psh: tcp.psh(),
        },
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        window: tcp.window_size(),
        scale,
        len: tcp.payload().len(),
    })
}

/// What is known of one direction of a connection: where its numbers
/// start, its window scale, and the furthest byte it sent.
#[derive(Default, Clone, Copy)]
struct Direction {
    isn: Option<u32>,
    scale: Option<u8>,
    sent_to: u32,
}

impl Captured {
    /// The frames of the connections whose clients are `clients`, in
    /// order (what a pcap file of the session holds).
    pub fn of(&self, clients: &[SocketAddr]) -> Vec<&Frame> {
        self.frames
            .iter()
            .filter(|f| {
                parse(&f.bytes)
                    .is_some_and(|r| clients.contains(&r.from) || clients.contains(&r.to))
            })
            .collect()
    }

    /// The segments of the connections whose clients are `clients`, as
    /// events timed from `origin`: the sending side's, on the connection
    /// of that client.
    pub fn segments(&self, clients: &[SocketAddr], origin: Instant) -> Vec<Event> {
        let Some((start, start_wall)) = self.start else {
            return Vec::new();
        };
        let mut directions: HashMap<(SocketAddr, Side), Direction> = HashMap::new();
        let mut events = Vec::new();
        for frame in self.of(clients) {
            let Some(raw) = parse(&frame.bytes) else {
                continue;
            };
            let (side, conn) = if clients.contains(&raw.from) {
                (Side::Client, raw.from)
            } else {
                (Side::Server, raw.to)
            };
            let other = match side {
                Side::Client => Side::Server,
                Side::Server => Side::Client,
            };
            let mine = directions.entry((conn, side)).or_default();
            if raw.flags.syn {
                mine.scale = raw.scale;
            }
            let isn = *mine.isn.get_or_insert(raw.seq);
            let seq = raw.seq.wrapping_sub(isn);
            let end = seq.wrapping_add(raw.len as u32);
            let retransmission = raw.len > 0 && end <= mine.sent_to;
            mine.sent_to = mine.sent_to.max(end);
            let mine = *mine;
            let theirs = directions.get(&(conn, other)).copied().unwrap_or_default();
            // Both ends must offer scaling for either to use it; a SYN's
            // own window is never scaled.
            let shift = match (raw.flags.syn, mine.scale, theirs.scale) {
                (false, Some(a), Some(_)) => a,
                _ => 0,
            };
            let ack = raw
                .flags
                .ack
                .then(|| raw.ack.wrapping_sub(theirs.isn.unwrap_or(raw.ack)));
            let at = start + frame.at.duration_since(start_wall).unwrap_or_default();
            events.push(Event {
                at: at.saturating_duration_since(origin),
                side,
                conn,
                what: What::Segment(Segment {
                    flags: raw.flags,
                    seq,
                    ack,
                    window: u32::from(raw.window) << shift.min(14),
                    len: raw.len,
                    retransmission,
                }),
            });
        }
        events
    }

    /// Writes the frames of the connections whose clients are `clients`
    /// as a pcap file (Ethernet frames, microsecond times) to `out`.
    pub fn write_pcap(&self, clients: &[SocketAddr], out: impl Write) -> Result<usize, Words> {
        use pcap_file::pcap::{PcapPacket, PcapWriter};
        let mut writer = PcapWriter::new(out).map_err(|e| crate::words!("{e}"))?;
        let frames = self.of(clients);
        for frame in &frames {
            let at = frame
                .at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            let wire = u32::try_from(frame.wire_len).unwrap_or(u32::MAX);
            writer
                .write_packet(&PcapPacket::new(at, wire, &frame.bytes))
                .map_err(|e| crate::words!("{e}"))?;
        }
        writer
            .into_writer()
            .flush()
            .map_err(|e| crate::words!("{e}"))?;
        Ok(frames.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

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
}
