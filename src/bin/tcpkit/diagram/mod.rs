//! `tcpkit demo --diagram FILE`: the demo's session recorded call by call
//! and drawn as a sequence diagram (`.svg`, `.html`, or a text chart on
//! standard output for `-`).
//!
//! Both ends run in this process, so that their calls share one clock:
//! the library's server on a loopback port, its sockets traced
//! (`server::Builder::trace`), and `talk`'s scripted client, traced too.
//! Real sockets and real calls; nothing in the picture is drawn by hand.
//! After both ends have closed, the kernel's state of each end is read
//! (Linux's /proc: the end that closed first waits in TIME_WAIT).
//! `scenarios.rs` holds `--scenario`'s sessions and their client.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use tcpkit::server;
use tcpkit::talk::{self, TalkOptions};
use tcpkit::trace::Tracer;
use tcpkit::trace::{self, Event, Recorder, Side, What};

mod scenarios;

pub use scenarios::Scenario;
use scenarios::{play, scenario_name, server_config};

/// How long the ends may take to finish closing, and the kernel to
/// settle their states.
const SETTLE: Duration = Duration::from_secs(2);

/// The messages a heading names; the rest are counted.
const HEADING_MESSAGES: usize = 5;

/// What to draw, by the file's name.
enum Form {
    Svg,
    Html,
    Chart,
}

fn form_of(file: &Path) -> anyhow::Result<Form> {
    if file.as_os_str() == "-" {
        return Ok(Form::Chart);
    }
    match file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(e) if e == "svg" => Ok(Form::Svg),
        Some(e) if e == "html" || e == "htm" => Ok(Form::Html),
        _ => Err(tcpkit::Error::InvalidInput(format!(
            "cannot tell what to draw in {}: name a .svg or .html file, or - for a text chart",
            file.display()
        ))
        .into()),
    }
}

/// Runs the demo's session (`scenario`, or the tutorial's with
/// `messages`), traced, and draws it in `file` (`-`: a chart here).
pub fn run(
    messages: &[String],
    scenario: Scenario,
    file: &Path,
    port: u16,
    max_drawn: usize,
) -> anyhow::Result<()> {
    let form = form_of(file)?;
    // Made first: a file that cannot be written is said before the
    // session, not after it.
    let mut out = match form {
        Form::Chart => None,
        _ => Some(
            std::fs::File::create(file).map_err(|e| tcpkit::Error::LocalFile {
                message: format!("cannot create {}", file.display()),
                source: Some(e),
            })?,
        ),
    };
    let recorder = Arc::new(Recorder::bounded(max_drawn));
    let origin = Instant::now();
    let mut states = Vec::new();
    let mut talked = Ok(());
    let mut heading = String::new();
    if scenario == Scenario::Tutorial {
        let (addr, stop, serving) = start_server(recorder.clone(), port, server_config(None))?;
        let opts = TalkOptions {
            addr: addr.to_string(),
            trace: Some(recorder.clone()),
            ..TalkOptions::default()
        };
        talked = talk::script(&opts, messages, &mut Vec::new()).map_err(anyhow::Error::from);
        finish(&recorder, origin, stop, serving);
        // A few, then how many more: the heading is one line.
        let mut said: Vec<String> = messages
            .iter()
            .take(HEADING_MESSAGES)
            .map(|m| tcpkit::wire::Escaped(m.as_bytes()).to_string())
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
        heading = format!("tcpkit demo --scenario {}", scenario_name(scenario));
    }
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
    for event in &mut events {
        event.at = event.at.saturating_sub(shift);
    }
    events.sort_by_key(|e| e.at);
    let drawn = match form {
        Form::Svg => trace::draw::svg(&events, &heading),
        Form::Html => trace::draw::html(&events, &heading),
        Form::Chart => trace::draw::chart(&events),
    };
    match form {
        Form::Chart => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(drawn.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| tcpkit::Error::writing_output("standard output", e))?;
        }
        _ => {
            use std::io::Write;
            if let Some(out) = out.as_mut() {
                out.write_all(drawn.as_bytes())
                    .map_err(|e| tcpkit::Error::writing_output(&file.display().to_string(), e))?;
            }
            crate::logging::sayln!(
                "tcpkit: {} events drawn in {}{}",
                events.len(),
                file.display(),
                left_out(&recorder)
            );
        }
    }
    talked
}

/// How many reads and writes the picture leaves out, when it does.
fn left_out(recorder: &Recorder) -> String {
    match recorder.skipped() {
        0 => String::new(),
        n => {
            format!(" ({n} reads and writes between the first and the last left out; --max-drawn)")
        }
    }
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
            tcpkit::wire::Bytes::of(wrote),
            tcpkit::wire::Bytes::of(read)
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

/// The library's server on 127.0.0.1:`port`, traced, on a thread of its
/// own: its address, the sender that stops it, and its thread.
fn start_server(
    recorder: Arc<Recorder>,
    port: u16,
    (config, backlog): (server::Config, u32),
) -> anyhow::Result<(
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    thread::JoinHandle<()>,
)> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready) = mpsc::channel();
    let serving = thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = ready_tx.send(Err(anyhow::Error::from(e)));
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
                    let named = e.named_by(tcpkit::setting::Setting::DemoPort);
                    let _ = ready_tx.send(Err(named.into()));
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
        .context("the demo's server stopped before it listened")??;
    let addr = *addrs.first().context("the demo's server has no address")?;
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
            (Side::Client, tcpkit::net::tcp_state(client, server)),
            (Side::Server, tcpkit::net::tcp_state(server, client)),
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
        })
        .collect()
}
