//! A session recorded call by call, for a picture of it (`tcpkit demo
//! --diagram`, and any program that wants to see TCP): the tutorial's
//! conversation, or one of the pitfalls in [`super::scenario`].
//!
//! Both ends run in this process, so that their calls share one clock:
//! the library's server on a loopback port, its sockets traced
//! ([`crate::server::Builder::trace`]), and [`crate::talk`]'s scripted
//! client, traced too. Real sockets and real calls; nothing in the
//! recording is made up. After both ends have closed, the kernel's state
//! of each end is read (Linux's /proc: the end that closed first waits in
//! TIME_WAIT). What to draw it as is the caller's choice ([`super::draw`]).

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::packets::{Capture, Captured};
use super::scenario::{Scenario, play, server_config};
use super::{Event, Recorder, Side, Tracer, What};
use crate::error::Error;
use crate::server;
use crate::setting::{Setting, Words};
use crate::talk::{self, TalkOptions};
use std::path::Path;

/// How long the ends may take to finish closing, and the kernel to
/// settle their states.
pub(super) const SETTLE: Duration = Duration::from_secs(2);

/// The messages a heading names; the rest are counted.
const HEADING_MESSAGES: usize = 5;

/// A recorded session, ready to draw.
#[derive(Debug)]
pub struct Recording {
    /// Every call drawn, timed from the first connect, in order; notes
    /// and each end's final TCP state included.
    pub events: Vec<Event>,
    /// What the picture is of, in one line.
    pub heading: String,
    /// Reads and writes recorded but left out (see [`Recorder::bounded`]).
    pub left_out: usize,
    /// Segments left out with them: those sent while the reads and
    /// writes left out were made.
    pub segments_left_out: usize,
    /// How the client's side of the session went: an error here is the
    /// session's own (a reply that was not the expected one), and the
    /// recording still shows it.
    pub talked: Result<(), Error>,
    /// The packets under the calls: captured (and among `events` as
    /// segments), not asked for, or why they could not be.
    pub packets: Packets,
}

impl Recording {
    /// What was drawn, for the line that says where it went: `25 calls
    /// and 16 TCP segments`, and what was left out.
    pub fn drawn(&self) -> Words {
        let count = |kind: fn(&What) -> bool| self.events.iter().filter(|e| kind(&e.what)).count();
        let segments = count(|w| matches!(w, What::Segment(_)));
        let calls = count(|w| !matches!(w, What::Segment(_) | What::Note(_) | What::State(_)));
        let left_out = match (self.left_out, self.segments_left_out) {
            (0, _) => String::new(),
            (n, 0) => format!(" ({n} reads and writes between the first and the last left out"),
            (n, m) => format!(
                " ({n} reads and writes between the first and the last left out, and the {m} \
                 segments sent meanwhile"
            ),
        };
        let captured = matches!(self.packets, Packets::Captured { .. });
        match left_out.is_empty() {
            true if !captured => crate::words!("{calls} calls"),
            true => crate::words!("{calls} calls and {segments} TCP segments"),
            false if !captured => crate::words!("{calls} calls{left_out}; {})", Setting::MaxDrawn),
            false => crate::words!(
                "{calls} calls and {segments} TCP segments{left_out}; {})",
                Setting::MaxDrawn
            ),
        }
    }

    /// What to tell of the packets, when anything: why they are missing,
    /// or that the capture lost some.
    pub fn packets_note(&self) -> Option<Words> {
        match &self.packets {
            Packets::Unavailable(why) => Some(crate::words!(
                "the picture shows the calls only: {}",
                crate::chain_in_words(why)
            )),
            Packets::Captured {
                captured: Captured {
                    stopped: Some(why), ..
                },
                ..
            } => Some(crate::words!(
                "the capture stopped early ({}): the segments after are missing from the picture",
                why
            )),
            Packets::Captured { captured, .. } if captured.lost > 0 => Some(crate::words!(
                "{} frames on the loopback interface were lost to the capture (its buffer was \
                 full; the kernel does not say whose they were): segments may be missing from \
                 the picture",
                captured.lost
            )),
            _ => None,
        }
    }

    /// Writes the session's packets to `out` as a pcap file (`path` names
    /// it in errors): how many. An error when they were not captured,
    /// saying why.
    pub fn write_pcap(&self, out: impl std::io::Write, path: &Path) -> Result<usize, Error> {
        let cannot = |why: Words| Error::LocalFile {
            message: crate::words!("cannot write {}: {}", path.display(), why),
            source: None,
        };
        match &self.packets {
            Packets::Captured { captured, clients } => {
                captured.write_pcap(clients, out).map_err(cannot)
            }
            Packets::Unavailable(why) => Err(cannot(crate::chain_in_words(why))),
            Packets::Off => Err(cannot("the packets were not captured".into())),
        }
    }
}

/// The packet layer of a recording.
#[derive(Debug)]
pub enum Packets {
    /// Not asked for.
    Off,
    /// Captured: every frame, and the clients of the connections drawn
    /// (what a pcap file of the session holds).
    Captured {
        /// The capture.
        captured: Captured,
        /// The drawn connections' clients.
        clients: Vec<std::net::SocketAddr>,
    },
    /// Asked for, but this process may not capture: why, and what to do.
    Unavailable(Error),
}

/// Runs the demo's session (`scenario`, or the tutorial's saying
/// `messages`) against a server on 127.0.0.1:`port` (0: a free one),
/// keeping at most `max_drawn` reads and writes (and as many segments);
/// with `packets`, the segments under the calls too, where the process
/// may capture them.
pub fn record(
    messages: &[String],
    scenario: Scenario,
    port: u16,
    max_drawn: usize,
    packets: bool,
) -> Result<Recording, Error> {
    let capture = packets.then(Capture::start);
    let recorder = Arc::new(Recorder::bounded(max_drawn));
    let origin = Instant::now();
    let mut states = Vec::new();
    let mut talked = Ok(());
    let mut heading = String::new();
    if scenario == Scenario::Tutorial {
        let (addr, stop, serving) = start_server(recorder.clone(), port, server_config(None))?;
        watch(&capture, addr);
        let opts = TalkOptions {
            addr: addr.to_string(),
            trace: Some(recorder.clone()),
            ..TalkOptions::default()
        };
        talked = talk::script(&opts, messages, &mut Vec::new());
        finish(&recorder, origin, stop, serving);
        // A few, then how many more: the heading is one line.
        let mut said: Vec<String> = messages
            .iter()
            .take(HEADING_MESSAGES)
            .map(|m| tcpkit_wire::Escaped(m.as_bytes()).to_string())
            .collect();
        if messages.len() > HEADING_MESSAGES {
            said.push(format!("and {} more", messages.len() - HEADING_MESSAGES));
        }
        heading = format!(
            "tcpkit demo: the tutorial's client, saying {}",
            said.join(", ")
        );
        states.extend(ends(&recorder, origin, addr));
    }
    for session in scenario.sessions() {
        let (addr, stop, serving) =
            start_server(recorder.clone(), port, server_config(Some(&session)))?;
        watch(&capture, addr);
        if let Some(note) = session.note {
            let nobody = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
            recorder.event(
                Instant::now(),
                Side::Client,
                nobody,
                What::Note(note.into()),
            );
        }
        let result = play(&recorder, addr, &session);
        finish(&recorder, origin, stop, serving);
        lost_bytes(&recorder, origin);
        states.extend(ends(&recorder, origin, addr));
        talked = talked.and(result);
        heading = format!("tcpkit demo --scenario {}", scenario.name());
    }
    let (events, segments_left_out, packets) = assemble(&recorder, origin, states, capture);
    Ok(Recording {
        events,
        heading,
        left_out: recorder.skipped(),
        segments_left_out,
        talked,
        packets,
    })
}

/// Keeps the frames of the server at `addr`, when capturing.
fn watch(capture: &Option<Result<Capture, Error>>, addr: std::net::SocketAddr) {
    if let Some(Ok(capture)) = capture {
        capture.watch(addr.port());
    }
}

/// The recording's rows: the drawn connections' calls, their segments
/// when captured (but those sent while the calls left out were made),
/// the notes and the `states`, timed from the first connect's call, in
/// order; how many segments were left out.
fn assemble(
    recorder: &Recorder,
    origin: Instant,
    states: Vec<Event>,
    capture: Option<Result<Capture, Error>>,
) -> (Vec<Event>, usize, Packets) {
    // Times count from the first connect's call.
    let connected = recorder.events(origin).iter().find_map(|e| match e.what {
        What::Connect { .. } => Some(origin + e.at),
        _ => None,
    });
    let shift = connected.map_or(Duration::ZERO, |c| c - origin);
    // Only connections a traced client made (the scenarios' other
    // clients are not drawn), and the notes.
    let mut events = recorder.events(origin);
    let drawn: std::collections::HashSet<_> = events
        .iter()
        .filter(|e| matches!(e.what, What::Connect { .. }))
        .map(|e| e.conn)
        .collect();
    events.retain(|e| drawn.contains(&e.conn) || matches!(e.what, What::Note(_)));
    events.extend(states);
    let mut left_out = 0;
    let packets = match capture {
        None => Packets::Off,
        Some(Err(why)) => Packets::Unavailable(why),
        Some(Ok(capture)) => {
            let captured = capture.finish();
            let clients: Vec<_> = drawn.into_iter().collect();
            let mut segments = captured.segments(&clients, origin);
            if let Some((from, to)) = recorder.gap(origin) {
                let before = segments.len();
                segments.retain(|s| s.at < from || s.at >= to);
                left_out = before - segments.len();
            }
            events.extend(segments);
            Packets::Captured { captured, clients }
        }
    };
    for event in &mut events {
        event.at = event.at.saturating_sub(shift);
    }
    events.sort_by_key(|e| e.at);
    (events, left_out, packets)
}

/// Waits for the server's close of the session, then stops the server.
fn finish(
    recorder: &Recorder,
    origin: Instant,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: thread::JoinHandle<()>,
) {
    let closes = |events: &[Event]| {
        let count = |side| {
            events
                .iter()
                .filter(|e| e.side == side && matches!(e.what, What::Close | What::Reset { .. }))
                .count()
        };
        count(Side::Server) >= count(Side::Client) && count(Side::Client) > 0
    };
    wait_for(recorder, origin, closes);
    let _ = stop.send(());
    let _ = serving.join();
}

/// A note after the last session when bytes the server wrote never
/// reached the client (a reset dropped them in the server's kernel).
fn lost_bytes(recorder: &Recorder, origin: Instant) {
    let events = recorder.events(origin);
    let Some(conn) = events.iter().rev().find_map(|e| match e.what {
        What::Connect { .. } => Some(e.conn),
        _ => None,
    }) else {
        return;
    };
    // Every byte, also of reads and writes the picture leaves out.
    let (wrote, read) = (
        recorder.bytes(Side::Server, conn).0,
        recorder.bytes(Side::Client, conn).1,
    );
    if read < wrote {
        let note = format!(
            "the server wrote {}; the client got {}: the reset destroyed the rest",
            tcpkit_wire::Bytes::of(wrote),
            tcpkit_wire::Bytes::of(read)
        );
        let nobody = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        recorder.event(Instant::now(), Side::Client, nobody, What::Note(note));
    }
}

/// The TCP states of the last session's two ends (its client's address
/// is the last connect's).
fn ends(recorder: &Recorder, origin: Instant, server: std::net::SocketAddr) -> Vec<Event> {
    let client = recorder
        .events(origin)
        .iter()
        .rev()
        .find_map(|e| match e.what {
            What::Connect { .. } => Some(e.conn),
            _ => None,
        });
    client.map_or_else(Vec::new, |client| states(client, server, origin))
}

/// An error of the demo's own machinery, with no cause beneath it.
fn machinery(message: &str) -> Error {
    Error::Other {
        message: message.into(),
        source: None,
    }
}

/// The library's server on 127.0.0.1:`port`, traced, on a thread of its
/// own: its address, the sender that stops it, and its thread.
fn start_server(
    recorder: Arc<Recorder>,
    port: u16,
    (config, backlog): (server::Config, u32),
) -> Result<
    (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        thread::JoinHandle<()>,
    ),
    Error,
> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready) = mpsc::channel();
    let serving = thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = ready_tx.send(Err(Error::other("cannot start the demo's server", e)));
                return;
            }
        };
        runtime.block_on(async move {
            let listening = server::Builder::new(config)
                .backlog(backlog)
                .bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
                .trace(recorder)
                .listen()
                .await;
            let server = match listening {
                Ok(server) => server,
                Err(e) => {
                    let named = e.named_by(crate::setting::Setting::DemoPort);
                    let _ = ready_tx.send(Err(named));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(server.local_addrs()));
            server
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    let addrs = ready
        .recv()
        .map_err(|_| machinery("the demo's server stopped before it listened"))??;
    let addr = *addrs
        .first()
        .ok_or_else(|| machinery("the demo's server has no address"))?;
    Ok((addr, stop, serving))
}

/// Waits (at most [`SETTLE`]) until the events so far satisfy `done`.
pub(super) fn wait_for(recorder: &Recorder, origin: Instant, done: impl Fn(&[Event]) -> bool) {
    let deadline = Instant::now() + SETTLE;
    while !done(&recorder.events(origin)) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
}

/// Each end's TCP state once the kernel has settled them (an end still
/// closing goes on to its final state within a round trip), as events
/// after the last call.
fn states(
    client: std::net::SocketAddr,
    server: std::net::SocketAddr,
    origin: Instant,
) -> Vec<Event> {
    let read = || {
        [
            (Side::Client, crate::net::tcp_state(client, server)),
            (Side::Server, crate::net::tcp_state(server, client)),
        ]
    };
    let settling = |s: &Option<Option<&str>>| {
        matches!(
            s,
            Some(Some(
                "FIN_WAIT1" | "FIN_WAIT2" | "LAST_ACK" | "CLOSING" | "CLOSE_WAIT"
            ))
        )
    };
    let deadline = Instant::now() + SETTLE;
    let mut now = read();
    while now.iter().any(|(_, s)| settling(s)) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
        now = read();
    }
    let at = Instant::now();
    now.into_iter()
        .map(|(side, state)| Event {
            at: at.saturating_duration_since(origin),
            side,
            conn: client,
            what: What::State(match state {
                Some(Some(name)) => name.to_string(),
                Some(None) => "CLOSED (gone)".to_string(),
                None => "not shown here".to_string(),
            }),
            info: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setting::Naming;

    fn with(captured: Captured) -> Recording {
        Recording {
            events: Vec::new(),
            heading: String::new(),
            left_out: 0,
            segments_left_out: 0,
            talked: Ok(()),
            packets: Packets::Captured {
                captured,
                clients: Vec::new(),
            },
        }
    }

    #[test]
    fn what_the_capture_lost_or_why_it_stopped_is_said() {
        assert!(with(Captured::default()).packets_note().is_none());
        let mut lost = Captured::default();
        lost.lost = 3;
        let lost = with(lost);
        let said = lost.packets_note().unwrap().render(Naming::Flags);
        assert!(
            said.starts_with("3 frames on the loopback interface were lost"),
            "{said}"
        );
        let mut stopped = Captured::default();
        stopped.lost = 3;
        stopped.stopped = Some("network is down".into());
        let stopped = with(stopped);
        let said = stopped.packets_note().unwrap().render(Naming::Flags);
        assert!(said.contains("stopped early (network is down)"), "{said}");
    }
}
