//! `demo --scenario`: the sessions that make TCP's pitfalls visible, and
//! the scripted client that plays each (its calls traced, like the
//! server's). Some scenarios need other clients that are not drawn: one
//! that holds a one-at-a-time server's place, more that fill its backlog.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use std::io;

use tcpkit_wire::greeting::Framing;

mod sessions;

use super::session::{SETTLE, wait_for};
use super::{Recorder, Side, Tracer, What};
use crate::error::Error;
use crate::server;
use crate::talk;

/// A session the demo can show, besides the tutorial's own. (With the
/// `cli` feature it is also `demo --scenario`'s value: these lines are
/// its help.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
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
    /// A reader that stops: the client writes 1,000 messages and reads
    /// nothing for half a second; the replies fill its small receive
    /// window (win 0), the server's kernel probes it, and the rest flow
    /// once it reads again ("When the reader stops: the window").
    Window,
    /// Two small writes in a row, as a client that writes a header then
    /// its body: with Nagle's algorithm (the default) the second waits
    /// for the first's ACK, which the server's kernel delays; with
    /// TCP_NODELAY it goes at once ("Two small writes: Nagle and the
    /// delayed ACK").
    Nagle,
}

impl Scenario {
    /// Every scenario, in the order `demo --scenario` lists them.
    pub const ALL: [Scenario; 8] = [
        Scenario::Tutorial,
        Scenario::Split,
        Scenario::Merged,
        Scenario::Framing,
        Scenario::Reset,
        Scenario::Backlog,
        Scenario::Window,
        Scenario::Nagle,
    ];

    /// Its name, as `demo --scenario` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Tutorial => "tutorial",
            Scenario::Split => "split",
            Scenario::Merged => "merged",
            Scenario::Framing => "framing",
            Scenario::Reset => "reset",
            Scenario::Backlog => "backlog",
            Scenario::Window => "window",
            Scenario::Nagle => "nagle",
        }
    }
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
pub(super) struct Session {
    framing: Framing,
    linger: Duration,
    /// Whether the server serves one client at a time, and who waits.
    place: Place,
    /// The client's receive buffer (`SO_RCVBUF`), when a small one should
    /// keep the server's replies waiting in the server's kernel.
    window: Option<usize>,
    /// The client sends each write at once (`TCP_NODELAY`), rather than
    /// holding a small one while an earlier one is unacknowledged.
    nodelay: bool,
    pub(super) note: Option<&'static str>,
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

/// A scenario's client: connects (traced), takes `steps`, then reads to
/// the end and closes.
pub(super) fn play(
    recorder: &Arc<Recorder>,
    addr: std::net::SocketAddr,
    session: &Session,
) -> Result<(), Error> {
    play_steps(recorder, addr, session).map_err(|e| Error::lost("the demo's client", e))
}

fn play_steps(
    recorder: &Arc<Recorder>,
    addr: std::net::SocketAddr,
    session: &Session,
) -> io::Result<()> {
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
    socket.set_tcp_nodelay(session.nodelay)?;
    let started = Instant::now();
    socket.connect_timeout(&addr.into(), SETTLE).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot connect to the demo's server at {addr}: {e}"),
        )
    })?;
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
                        return Err(io::Error::other("the server closed before its reply"));
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
fn fill_the_backlog(addr: std::net::SocketAddr) -> io::Result<()> {
    use std::io::Write;
    for _ in 0..6 {
        let mut tcp = std::net::TcpStream::connect_timeout(&addr, SETTLE).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot fill the demo's backlog at {addr}: {e}"),
            )
        })?;
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
fn hold_the_place(addr: std::net::SocketAddr) -> io::Result<std::net::TcpStream> {
    use std::io::Read;
    let mut tcp = std::net::TcpStream::connect_timeout(&addr, SETTLE).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot connect to the demo's server at {addr}: {e}"),
        )
    })?;
    tcp.set_read_timeout(Some(SETTLE))?;
    let mut welcome = [0u8; 64];
    let got = tcp.read(&mut welcome)?;
    if got == 0 {
        return Err(io::Error::other(
            "the demo's server closed its first client at once",
        ));
    }
    Ok(tcp)
}

/// The server for a session (the tutorial's with `None`), and its backlog.
pub(super) fn server_config(session: Option<&Session>) -> (server::Config, u32) {
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
        // Waiting is the lesson here, and the picture says so: no
        // operator's warning about a limit the learner never set.
        config.warn_at_limit = false;
        return (config, 5);
    }
    (config, server::DEFAULT_BACKLOG)
}
