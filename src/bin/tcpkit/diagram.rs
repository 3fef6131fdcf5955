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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use tcpkit::server;
use tcpkit::talk::{self, TalkOptions};
use tcpkit::trace::{self, Event, Recorder, Side, What};

/// How long the ends may take to finish closing, and the kernel to
/// settle their states.
const SETTLE: Duration = Duration::from_secs(2);

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

/// Runs the demo's session with `messages`, traced, and draws it in `file`.
pub fn run(messages: &[String], file: &PathBuf, port: u16) -> anyhow::Result<()> {
    let form = form_of(file)?;
    let recorder = Arc::new(Recorder::default());
    let (addr, stop, serving) = start_server(recorder.clone(), port)?;
    let opts = TalkOptions {
        addr: addr.to_string(),
        trace: Some(recorder.clone()),
        ..TalkOptions::default()
    };
    let origin = Instant::now();
    let mut transcript = Vec::new();
    let talked = talk::script(&opts, messages, &mut transcript);
    wait_for(&recorder, origin, |events| {
        events
            .iter()
            .any(|e| e.side == Side::Server && e.what == What::Close)
    });
    let _ = stop.send(());
    let _ = serving.join();
    // Times count from the connect's call.
    let connected = recorder.events(origin).iter().find_map(|e| match e.what {
        What::Connect { .. } => Some(origin + e.at),
        _ => None,
    });
    let origin = connected.unwrap_or(origin);
    let mut events = recorder.events(origin);
    let client = events.first().map(|e| e.conn);
    if let Some(client) = client {
        events.extend(states(client, addr, origin));
    }
    let said: Vec<String> = messages
        .iter()
        .map(|m| tcpkit::wire::Escaped(m.as_bytes()).to_string())
        .collect();
    let heading = format!(
        "tcpkit demo: client {} and server {addr}, saying {}",
        client.map_or_else(|| "?".to_string(), |c| c.to_string()),
        said.join(", ")
    );
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
            std::fs::write(file, drawn)
                .map_err(|e| tcpkit::Error::writing_output(&file.display().to_string(), e))?;
            eprintln!(
                "tcpkit: {} events drawn in {}",
                events.len(),
                file.display()
            );
        }
    }
    talked.map_err(anyhow::Error::from)
}

/// The library's server on 127.0.0.1:`port`, traced, on a thread of its
/// own: its address, the sender that stops it, and its thread.
fn start_server(
    recorder: Arc<Recorder>,
    port: u16,
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
            let config = server::Config {
                // The session's close is the point: no waiting on it.
                grace: Duration::from_secs(1),
                ..server::Config::default()
            };
            let listening = server::Builder::new(config)
                .bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
                .trace(recorder)
                .listen()
                .await;
            let server = match listening {
                Ok(server) => server,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.into()));
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
fn wait_for(recorder: &Recorder, origin: Instant, done: impl Fn(&[Event]) -> bool) {
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
