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

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tcpkit::server;
use tcpkit::talk::{self, TalkOptions};
use tcpkit::trace::Tracer;
use tcpkit::trace::{self, Event, Recorder, Side, What};
use tcpkit::wire::greeting::Framing;

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

/// A session the demo can show, besides the tutorial's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The tutorial's client: the welcome, each MESSAGE and its reply, exit.
    Tutorial,
    /// One message written in two pieces: the server reads two pieces and
    /// answers once, when the line is whole ("One recv is not one message").
    Split,
    /// Three messages in one write: one read holds them all, and the three
    /// replies go out in one write.
    Merged,
    /// The same bytes ("Michael\nTracy\n" in one write) to the tutorial's
    /// chunk framing, then to line framing: one wrong reply, then two.
    Framing,
    /// Input after "exit" that the server has not read when it closes: a
    /// plain close() sends a reset (RST), the lingering close a FIN after
    /// reading the rest ("Closing without losing the last reply").
    Reset,
    /// The tutorial's listen(5), with the server busy with another client
    /// (one at a time): this client's connect returns and its message is
    /// taken by the kernel while it waits in the backlog, unaccepted
    /// ("listen(5) and the backlog").
    Backlog,
}

/// One step of a scenario's client.
enum Step {
    /// One write.
    Send(&'static [u8]),
    /// Time for the server to read what came (so the next write is a read
    /// of its own).
    Pause(Duration),
    /// Read until this many lines have come.
    Lines(usize),
    /// Read once, whatever comes.
    Once,
    /// The client that holds the server's one place says exit (see
    /// [`Session::one_at_a_time`]).
    Release,
    /// Wait until the server has made this many reads of this connection
    /// (so that what is written next is a read of its own).
    ServerReads(usize),
    /// Wait until the server has made this many writes to this
    /// connection (so that the next read finds them all).
    ServerWrites(usize),
    /// Wait until the server has ended its side (its FIN, or its close),
    /// before reading anything more.
    ServerEnds,
}

/// One connection of a scenario: the server's framing and lingering
/// close, what it shows, and the client's steps (then the client reads
/// to the end, or to the failure that ends it).
struct Session {
    framing: Framing,
    linger: Duration,
    /// Whether the server serves one client at a time, and who waits.
    place: Place,
    /// The client's receive buffer (`SO_RCVBUF`), when a small one should
    /// keep the server's replies waiting in the server's kernel.
    window: Option<usize>,
    note: Option<&'static str>,
    steps: Vec<Step>,
}

/// The server's room for the drawn client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// An ordinary server: it accepts the client at once.
    Free,
    /// One client at a time (`--max-connections 1`, `--backlog 5`), and
    /// another client (not drawn) holds that place until
    /// [`Step::Release`].
    Taken,
    /// As `Taken`, and the backlog is full too: six more clients (not
    /// drawn; Linux queues one more than the backlog) wait, each having
    /// sent `exit`. The place is given up 100 ms after the drawn client
    /// calls connect, and those six are served and gone at once.
    TakenAndQueueFull,
}

/// `exit`, and more than one server read (32 KiB) after it: input the
/// server has not read when it closes.
static AFTER_EXIT: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let mut input = b"Michael\n".repeat(MESSAGES_BEFORE_EXIT);
    input.extend_from_slice(b"exit\n");
    input.extend(std::iter::repeat_n(b'x', 40_000));
    input.push(b'\n');
    input
});

/// Messages before `exit` in the reset scenario: 32,000 bytes of replies,
/// more than the client's small window takes, so most wait in the
/// server's kernel when it closes.
const MESSAGES_BEFORE_EXIT: usize = 2000;

/// The reset scenario's client's receive buffer: its kernel takes 8 KiB
/// (Linux doubles what is asked) of the 32,000 bytes of replies.
const SMALL_WINDOW: usize = 4096;

impl Scenario {
    fn sessions(self) -> Vec<Session> {
        use Step::*;
        match self {
            Scenario::Tutorial => Vec::new(),
            Scenario::Backlog => vec![
                Session {
                    framing: Framing::Line,
                    linger: server::DEFAULT_LINGER,
                    window: None,
                    place: Place::Taken,
                    note: Some(
                        "another client holds the server's one place; this one waits in the backlog",
                    ),
                    steps: vec![
                        Send(b"Michael\n"),
                        Pause(Duration::from_millis(100)),
                        Release,
                        ServerWrites(2),
                        Lines(2),
                        Send(b"exit\n"),
                    ],
                },
                Session {
                    framing: Framing::Line,
                    linger: server::DEFAULT_LINGER,
                    window: None,
                    place: Place::TakenAndQueueFull,
                    note: Some(
                        "the backlog (listen(5)) full too: the kernel drops this client's SYN",
                    ),
                    steps: vec![Lines(1), Send(b"Michael\n"), Lines(1), Send(b"exit\n")],
                },
            ],
            Scenario::Reset => vec![
                Session {
                    framing: Framing::Line,
                    linger: Duration::ZERO,
                    window: Some(SMALL_WINDOW),
                    place: Place::Free,
                    note: Some(
                        "close() with input unread (serve --linger 0): a reset, and the replies \
                         still in the server's kernel are lost",
                    ),
                    steps: vec![Lines(1), Send(AFTER_EXIT.as_slice()), ServerEnds],
                },
                Session {
                    framing: Framing::Line,
                    linger: server::DEFAULT_LINGER,
                    window: Some(SMALL_WINDOW),
                    place: Place::Free,
                    note: Some(
                        "the lingering close: every reply, then the FIN; the rest read and dropped",
                    ),
                    steps: vec![Lines(1), Send(AFTER_EXIT.as_slice()), ServerEnds],
                },
            ],
            Scenario::Split => vec![Session {
                framing: Framing::Line,
                linger: server::DEFAULT_LINGER,
                window: None,
                place: Place::Free,
                note: None,
                steps: vec![
                    Lines(1),
                    Send(b"Mich"),
                    ServerReads(1),
                    Send(b"ael\n"),
                    Lines(1),
                    Send(b"exit\n"),
                ],
            }],
            Scenario::Merged => vec![Session {
                framing: Framing::Line,
                linger: server::DEFAULT_LINGER,
                window: None,
                place: Place::Free,
                note: None,
                steps: vec![
                    Lines(1),
                    Send(b"Michael\nTracy\nSarah\n"),
                    Lines(3),
                    Send(b"exit\n"),
                ],
            }],
            Scenario::Framing => vec![
                Session {
                    framing: Framing::Chunk,
                    linger: server::DEFAULT_LINGER,
                    window: None,
                    place: Place::Free,
                    note: Some("the tutorial's framing: each read is one message"),
                    steps: vec![Once, Send(b"Michael\nTracy\n"), Once, Send(b"exit")],
                },
                Session {
                    framing: Framing::Line,
                    linger: server::DEFAULT_LINGER,
                    window: None,
                    place: Place::Free,
                    note: Some("line framing: a message is what comes before a newline"),
                    steps: vec![
                        Lines(1),
                        Send(b"Michael\nTracy\n"),
                        Lines(2),
                        Send(b"exit\n"),
                    ],
                },
            ],
        }
    }
}

/// Runs the demo's session (`scenario`, or the tutorial's with
/// `messages`), traced, and draws it in `file` (`-`: a chart here).
pub fn run(messages: &[String], scenario: Scenario, file: &Path, port: u16) -> anyhow::Result<()> {
    let form = form_of(file)?;
    let recorder = Arc::new(Recorder::default());
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
        let said: Vec<String> = messages
            .iter()
            .map(|m| tcpkit::wire::Escaped(m.as_bytes()).to_string())
            .collect();
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
            std::fs::write(file, drawn)
                .map_err(|e| tcpkit::Error::writing_output(&file.display().to_string(), e))?;
            eprintln!(
                "tcpkit: {} events drawn in {}",
                events.len(),
                file.display()
            );
        }
    }
    talked
}

/// The scenario's name as `--scenario` takes it.
fn scenario_name(scenario: Scenario) -> String {
    use clap::ValueEnum;
    scenario
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string())
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
    let sum = |side, reads: bool| -> usize {
        events
            .iter()
            .filter(|e| e.conn == conn && e.side == side)
            .map(|e| match (&e.what, reads) {
                (What::Read(b), true) | (What::Write(b), false) => b.len(),
                _ => 0,
            })
            .sum()
    };
    let (wrote, read) = (sum(Side::Server, false), sum(Side::Client, true));
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

/// A scenario's client: connects (traced), takes `steps`, then reads to
/// the end and closes.
fn play(
    recorder: &Arc<Recorder>,
    addr: std::net::SocketAddr,
    session: &Session,
) -> anyhow::Result<()> {
    // The other clients, not drawn: one holds the server's one place,
    // more fill its backlog.
    let mut holder = match session.place {
        Place::Free => None,
        Place::Taken | Place::TakenAndQueueFull => Some(hold_the_place(addr)?),
    };
    if session.place == Place::TakenAndQueueFull {
        fill_the_backlog(addr)?;
        // Given up while the drawn client's connect waits.
        let holder = holder.take();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            if let Some(holder) = holder {
                leave(holder);
            }
        });
    }
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    if let Some(bytes) = session.window {
        socket.set_recv_buffer_size(bytes)?;
    }
    let started = Instant::now();
    socket
        .connect_timeout(&addr.into(), SETTLE)
        .with_context(|| format!("cannot connect to the demo's server at {addr}"))?;
    let took = started.elapsed();
    let tcp: std::net::TcpStream = socket.into();
    let conn = tcp.local_addr()?;
    recorder.event(
        started,
        Side::Client,
        conn,
        What::Connect { took, to: addr },
    );
    tcp.set_read_timeout(Some(SETTLE))?;
    let link = talk::Link::plain(tcp).traced(Some(talk::Traced::new(recorder.clone(), conn)));
    let mut buf = vec![0u8; 64 * 1024];
    for step in &session.steps {
        match step {
            Step::ServerReads(n) => server_made(recorder, conn, *n, |w| matches!(w, What::Read(_))),
            Step::ServerWrites(n) => {
                server_made(recorder, conn, *n, |w| matches!(w, What::Write(_)));
            }
            Step::ServerEnds => server_made(recorder, conn, 1, |w| {
                matches!(w, What::ShutdownWrite | What::Close | What::Reset { .. })
            }),
            Step::Release => {
                if let Some(holder) = holder.take() {
                    leave(holder);
                }
            }
            Step::Send(bytes) => link.write_all(bytes)?,
            Step::Pause(pause) => thread::sleep(*pause),
            Step::Once => {
                link.read(&mut buf)?;
            }
            Step::Lines(n) => {
                let mut lines = 0;
                while lines < *n {
                    let got = link.read(&mut buf)?;
                    if got == 0 {
                        bail!("the server closed before its reply");
                    }
                    lines += buf[..got].iter().filter(|b| **b == b'\n').count();
                }
            }
        }
    }
    // To the end, or to the reset that ends it (the picture shows which).
    while let Ok(1..) = link.read(&mut buf) {}
    Ok(())
}

/// Waits (at most [`SETTLE`]) until the server has made `n` calls of a
/// kind on connection `conn`: the scenario's next step then follows them
/// by construction, not by a guess at the time they take.
fn server_made(
    recorder: &Recorder,
    conn: std::net::SocketAddr,
    n: usize,
    kind: impl Fn(&What) -> bool,
) {
    let origin = Instant::now();
    wait_for(recorder, origin, |events| {
        events
            .iter()
            .filter(|e| e.side == Side::Server && e.conn == conn && kind(&e.what))
            .count()
            >= n
    });
}

/// An undrawn client says exit and reads to the server's close.
fn leave(mut tcp: std::net::TcpStream) {
    use std::io::{Read, Write};
    if tcp.write_all(b"exit\n").is_ok() {
        let _ = tcp.read_to_end(&mut Vec::new());
    }
}

/// Six clients (not drawn) connected to a server whose one place is
/// taken: they fill its backlog of 5 (Linux queues one more). Each has
/// sent `exit` and reads to its end on a thread of its own, so that once
/// the place is free they are served and gone in a moment.
fn fill_the_backlog(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    use std::io::Write;
    for _ in 0..6 {
        let mut tcp = std::net::TcpStream::connect_timeout(&addr, SETTLE)
            .with_context(|| format!("cannot fill the demo's backlog at {addr}"))?;
        tcp.set_read_timeout(Some(SETTLE * 5))?;
        tcp.write_all(b"exit\n")?;
        thread::spawn(move || {
            use std::io::Read;
            let _ = tcp.read_to_end(&mut Vec::new());
        });
    }
    Ok(())
}

/// A client, not traced, that the server accepts and serves (it has had
/// its welcome): while it stays, a one-at-a-time server takes no other.
fn hold_the_place(addr: std::net::SocketAddr) -> anyhow::Result<std::net::TcpStream> {
    use std::io::Read;
    let mut tcp = std::net::TcpStream::connect_timeout(&addr, SETTLE)
        .with_context(|| format!("cannot connect to the demo's server at {addr}"))?;
    tcp.set_read_timeout(Some(SETTLE))?;
    let mut welcome = [0u8; 64];
    let got = tcp.read(&mut welcome)?;
    if got == 0 {
        bail!("the demo's server closed its first client at once");
    }
    Ok(tcp)
}

/// The server for a session (the tutorial's with `None`), and its backlog.
fn server_config(session: Option<&Session>) -> (server::Config, u32) {
    let mut config = server::Config {
        // The session's close is the point: no waiting on it.
        grace: Duration::from_secs(1),
        ..server::Config::default()
    };
    let Some(session) = session else {
        return (config, server::DEFAULT_BACKLOG);
    };
    config.linger = session.linger;
    config.settings.framing = session.framing;
    if session.place != Place::Free {
        // The tutorial's listen(5), one client served at a time, and the
        // others left waiting in the backlog, not told they must wait.
        config.max_connections = 1;
        config.refuse_rate = None;
        return (config, 5);
    }
    (config, server::DEFAULT_BACKLOG)
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
