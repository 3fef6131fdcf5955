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
use std::time::{Instant, SystemTime};

use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};

mod capture;

pub use capture::Capture;

use super::{Event, Side, What};
use crate::setting::Words;

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
    /// Sent to a receiver whose window is 0, to learn when it opens (a
    /// zero-window probe).
    pub probe: bool,
}

impl Segment {
    /// The segment in words: `PSH, ACK 9 bytes seq 1 ack 10 win 65536`.
    pub fn words(&self) -> String {
        let mut s = self.flags.to_string();
        if self.retransmission {
            s.push_str(" (retransmission)");
        }
        if self.probe {
            s.push_str(" (window probe)");
        }
        if self.len > 0 {
            s.push_str(&format!(" {}", tcpkit_wire::Bytes::of(self.len)));
        }
        s.push_str(&format!(" seq {}", self.seq));
        if let Some(ack) = self.ack {
            s.push_str(&format!(" ack {ack}"));
        }
        match (self.flags.rst, self.window) {
            (true, _) => {}
            (false, 0) => s.push_str(" win 0 (full)"),
            (false, window) => s.push_str(&format!(" win {window}")),
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
    /// Frames lost: the session's past the bound kept, and those the
    /// kernel dropped for want of room in the tap (any program's: it does
    /// not say whose).
    pub lost: u64,
    /// Why the capture stopped before the session ended, if it did: the
    /// segments after are missing.
    pub stopped: Option<String>,
    /// Where `at` of the start was, on both clocks.
    start: Option<(Instant, SystemTime)>,
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
    /// A SYN went this way already: another is its retransmission.
    syn: bool,
    /// The window the last segment this way advertised.
    window: Option<u32>,
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
            let theirs = directions.get(&(conn, other)).copied().unwrap_or_default();
            let mine = directions.entry((conn, side)).or_default();
            // A SYN sent again: the first one got no answer (a full
            // backlog drops it; the retry comes 1 s later, then 3, 7...).
            let syn_again = raw.flags.syn && std::mem::replace(&mut mine.syn, raw.flags.syn);
            if raw.flags.syn {
                mine.scale = raw.scale;
            }
            let isn = *mine.isn.get_or_insert(raw.seq);
            let seq = raw.seq.wrapping_sub(isn);
            let end = seq.wrapping_add(raw.len as u32);
            // The other side's window is shut: the sender asks for news
            // with a segment one byte before its next (Linux sends none
            // of its data in it), again each retransmission timeout.
            let probe = theirs.window == Some(0)
                && raw.len <= 1
                && !(raw.flags.syn || raw.flags.fin || raw.flags.rst)
                && seq.wrapping_add(1) == mine.sent_to;
            let retransmission = syn_again || (raw.len > 0 && end <= mine.sent_to && !probe);
            mine.sent_to = mine.sent_to.max(end);
            // Both ends must offer scaling for either to use it; a SYN's
            // own window is never scaled.
            let shift = match (raw.flags.syn, mine.scale, theirs.scale) {
                (false, Some(a), Some(_)) => a,
                _ => 0,
            };
            let window = u32::from(raw.window) << shift.min(14);
            mine.window = Some(window);
            let ack = raw
                .flags
                .ack
                .then(|| raw.ack.wrapping_sub(theirs.isn.unwrap_or(raw.ack)));
            // Before or after the clocks were read: both are times.
            let at = match frame.at.duration_since(start_wall) {
                Ok(after) => start + after,
                Err(before) => start.checked_sub(before.duration()).unwrap_or(start),
            };
            events.push(Event {
                at: at.saturating_duration_since(origin),
                side,
                conn,
                what: What::Segment(Segment {
                    flags: raw.flags,
                    seq,
                    ack,
                    window,
                    len: raw.len,
                    retransmission,
                    probe,
                }),
                info: None,
            });
        }
        events
    }

    /// Writes the frames of the connections whose clients are `clients`
    /// as a pcap file (Ethernet frames, microsecond times) to `out`.
    pub fn write_pcap(&self, clients: &[SocketAddr], out: impl Write) -> Result<usize, Words> {
        use pcap_file::pcap::{PcapPacket, PcapWriter};
        // The header's snaplen is the longest frame kept: a loopback
        // frame (64 KiB) is longer than the usual 65,535.
        let header = pcap_file::pcap::PcapHeader {
            snaplen: capture::SNAPLEN as u32,
            ..Default::default()
        };
        let mut writer = PcapWriter::with_header(out, header).map_err(|e| crate::words!("{e}"))?;
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
mod tests;
