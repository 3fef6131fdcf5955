//! `tcpkit talk`: the client of the greeting server.
//!
//! Scripted ([`script`]), it is the tutorial's client: print the welcome,
//! send each message and print its reply, send `exit`, wait for the close.
//! Interactive ([`interactive`]), it joins a reader (stdin) and a writer
//! (stdout) to the socket like `nc`: input goes out as it comes, replies
//! print as they arrive, and end of input half-closes the connection.
//! Like nc it can also wait for one client instead ([`listen`], `-l`) and
//! check that a port is open without sending anything ([`check`], `-z`).
//!
//! One connection needs no async runtime: blocking sockets and one extra
//! thread for the input side are simpler and at least as fast. With
//! `--tls` the same runs over rustls ([`Link`], `link.rs`).

mod conversation;
mod join;
mod link;

pub use join::{Listening, interactive, listen};
pub use link::{Link, TalkTls, Traced};

use std::io::{self, BufReader, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tcpkit_wire::Escaped;
pub use tcpkit_wire::greeting::ClientFraming;
use tcpkit_wire::greeting::{DEFAULT_REPLY, DEFAULT_WELCOME, Template};

use crate::error::Error;
use crate::net::{self, Family};
use crate::setting::{Setting, Words};
use conversation::Conversation;

/// Default time to wait for a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time to wait for a reply or for the server to close.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default longest reply accepted.
pub const DEFAULT_MAX_REPLY: usize = 1024 * 1024;
/// The size of one read from the socket or from the input.
const CHUNK: usize = 64 * 1024;
/// How often the interactive reader checks its timeout.
const POLL: Duration = Duration::from_millis(100);
/// Line framing: bytes that stop without a newline for this long are not a
/// slow reply but a server that does not end its lines (the tutorial's own
/// server sends `Welcome!` bare). Said at once, with what came, instead of
/// after the whole `--timeout`.
pub const QUIET_GAP: Duration = Duration::from_secs(1);

/// How long the welcome may keep the connection silent before talk says
/// what it is waiting for (and checks whether the server speaks TLS).
pub const SILENCE: Duration = Duration::from_secs(2);

/// How long a TLS server has to answer the check's hello (on loopback, a
/// millisecond; a server that is merely silent makes the check wait this).
const TLS_CHECK: Duration = Duration::from_secs(1);

/// How to reach the server and how long to wait.
#[derive(Clone, Debug)]
pub struct TalkOptions {
    /// `HOST:PORT` as the user typed it.
    pub addr: String,
    /// IPv4, IPv6 or either.
    pub family: Family,
    /// Line or chunk framing.
    pub framing: ClientFraming,
    /// Limit on connecting (`None`: the system's own).
    pub connect_timeout: Option<Duration>,
    /// Limit on waiting for a reply or for the close (`None`: no limit).
    pub timeout: Option<Duration>,
    /// The longest reply accepted, in bytes.
    pub max_reply: usize,
    /// The welcome the server sends first; empty when it sends none
    /// (scripted conversations wait for it and check it).
    pub welcome: String,
    /// The server's reply template; each reply of a scripted conversation
    /// must be it, rendered for the message sent.
    pub reply: Template,
    /// Joined to a reader: stop when the input ends, without waiting for
    /// the peer to close (nc's `-q 0`); replies still in flight are lost.
    pub exit_on_eof: bool,
    /// Joined to a person at a terminal: when the other side closes, the
    /// session ends there (what they would type next has nowhere to go).
    /// From a pipe or a file, the rest of the input is still sent: the
    /// other side's FIN ends only its direction, as nc has it.
    pub interactive: bool,
    /// Start with a PROXY protocol header, as a load balancer would
    /// (`--send-proxy`): for trying `serve --proxy-protocol` without one.
    pub send_proxy: Option<tcpkit_wire::proxy::Version>,
    /// Speak TLS (`--tls`), after the PROXY header if there is one.
    pub tls: Option<TalkTls>,
    /// Where hints, warnings and progress go (default: nowhere; the
    /// binary shows them on stderr).
    pub notices: std::sync::Arc<dyn crate::notice::Notices>,
    /// Tell every call on the connection (connect, each write and read,
    /// the half-close and the close) to this tracer (`--trace`).
    pub trace: Option<std::sync::Arc<dyn crate::trace::Tracer>>,
}

impl Default for TalkOptions {
    fn default() -> Self {
        TalkOptions {
            addr: "127.0.0.1:9999".to_string(),
            family: Family::Any,
            framing: ClientFraming::Line,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            timeout: Some(DEFAULT_TIMEOUT),
            max_reply: DEFAULT_MAX_REPLY,
            welcome: DEFAULT_WELCOME.to_string(),
            reply: Template::parse(DEFAULT_REPLY),
            exit_on_eof: false,
            interactive: false,
            send_proxy: None,
            tls: None,
            notices: crate::notice::quiet(),
            trace: None,
        }
    }
}

fn connect(opts: &TalkOptions) -> Result<Link, Error> {
    // What to trust is read first: a missing --cacert is the user's file
    // (exit 13), whether or not the server is up.
    let config = match &opts.tls {
        Some(tls) => Some(crate::tls::client::config(
            tls.cacert.as_deref(),
            tls.insecure,
            &[],
        )?),
        None => None,
    };
    let addrs = net::resolve(&opts.addr, opts.family)?;
    let slow = crate::notice::SlowNotice::new(
        &opts.notices,
        crate::words!(
            "no answer from {} in 2s; still connecting ({})",
            opts.addr,
            crate::notice::up_to(Setting::ConnectTimeout, opts.connect_timeout)
        ),
    );
    let started = std::time::Instant::now();
    let mut stream = net::connect(&opts.addr, &addrs, opts.connect_timeout)?;
    drop(slow);
    let trace = opts.trace.as_ref().and_then(|tracer| {
        let (conn, to) = (stream.local_addr().ok()?, stream.peer_addr().ok()?);
        let took = started.elapsed();
        let what = crate::trace::What::Connect { took, to };
        // At the call: the SYN goes out as it is made.
        tracer.event(started, crate::trace::Side::Client, conn, what);
        Some(link::Traced::new(tracer.clone(), conn))
    });
    if let Some(version) = opts.send_proxy {
        net::send_proxy_header(&mut stream, version).map_err(|e| Error::Protocol {
            message: crate::words!("cannot send the PROXY header to {}", opts.addr),
            source: Some(e),
        })?;
    }
    match (&opts.tls, config) {
        (Some(tls), Some(config)) => {
            let host = opts
                .addr
                .rsplit_once(':')
                .map_or(opts.addr.as_str(), |(host, _)| host);
            Link::tls(stream, config, tls, host, &opts.addr, opts.connect_timeout)
                .map(|link| link.traced(trace))
        }
        _ => Ok(Link::plain(stream).traced(trace)),
    }
}

/// The tutorial's client: prints the welcome and one line per reply to `out`.
pub fn script(opts: &TalkOptions, messages: &[String], out: &mut dyn Write) -> Result<(), Error> {
    for m in messages {
        if opts.framing == ClientFraming::Line && (m.contains('\n') || m.contains('\r')) {
            return Err(Error::InvalidInput(crate::words!(
                "message {} contains a line break; with line framing each message is one line",
                Escaped(m.as_bytes())
            )));
        }
        if m.is_empty() && opts.framing == ClientFraming::Chunk {
            return Err(Error::InvalidInput(
                "with chunk framing a message cannot be empty".into(),
            ));
        }
    }
    let link = connect(opts)?;
    link.tcp()
        .set_read_timeout(opts.timeout)
        .map_err(|e| Error::other("cannot set a read timeout", e))?;
    let mut conn = Conversation {
        reader: BufReader::with_capacity(CHUNK, link.clone()),
        link,
        opts,
        since: None,
    };
    if !opts.welcome.is_empty() {
        // --timeout bounds the whole wait for the welcome, the check for
        // TLS included.
        conn.since = Some(Instant::now());
        conn.wait_for_first_bytes()?;
        let welcome = conn.receive("the welcome")?;
        conn.since = None;
        print_line(out, &welcome)?;
        expect(
            "the welcome",
            Setting::Welcome,
            opts.welcome.as_bytes(),
            &welcome,
        )?;
    }
    for m in messages {
        conn.send(m.as_bytes())?;
        let what = format!("the reply to {}", Escaped(m.as_bytes()));
        // No wait is silent: a slow reply is said at 2 s.
        let slow = conn.slow(&format!("no reply to {}", Escaped(m.as_bytes())));
        let reply = conn.receive(&what)?;
        drop(slow);
        print_line(out, &reply)?;
        expect(
            &what,
            Setting::Reply,
            &opts.reply.reply_to(m.as_bytes()),
            &reply,
        )?;
    }
    conn.send(b"exit")?;
    let _slow = conn.slow("exit sent, and the connection not closed");
    conn.wait_for_close(out)
}

/// A scripted conversation checks what it is told: a different welcome or
/// reply is a protocol error that shows both (the flag says how to expect
/// another).
fn expect(what: &str, flag: Setting, expected: &[u8], got: &[u8]) -> Result<(), Error> {
    if expected == got {
        return Ok(());
    }
    Err(Error::protocol(crate::words!(
        "{what} is not what was expected: expected {}, got {} (another server? say what it \
         sends with {})",
        Escaped(expected),
        Escaped(got),
        flag
    )))
}

/// nc's `-z`: connects and closes without sending anything; the address
/// that answered. A closed port is [`Error::Connect`].
pub fn check(opts: &TalkOptions) -> Result<SocketAddr, Error> {
    let link = connect(opts)?;
    link.tcp().peer_addr().map_err(|e| Error::Connect {
        spec: opts.addr.clone(),
        hint: Words::default(),
        source: Some(e),
    })
}

/// Why a server silent for `spent` will send no welcome, found out on a
/// second connection: a web server, or an echo; and how to speak to it.
/// (bench says the same in its preflight.)
pub(crate) fn no_welcome_from(
    peer: SocketAddr,
    spent: &impl std::fmt::Display,
    kind: crate::probe::Silent,
) -> Words {
    match kind {
        crate::probe::Silent::Http => crate::words!(
            "{peer} sent nothing in {spent}, and answered an HTTP request on a second \
             connection: it is a web server, which sends no welcome (tcpkit fetch \
             http://{peer}/ downloads from it; with {} talk speaks to it)",
            Setting::NoWelcome
        ),
        crate::probe::Silent::Echo => crate::words!(
            "{peer} sent nothing in {spent}, and sent a line back unchanged on a second \
             connection: it is an echo server, which sends no welcome ({} {} '{{}}' expects \
             what it does)",
            Setting::NoWelcome,
            Setting::Reply
        ),
    }
}

/// A server silent for `spent`: if a TLS hello on a second connection
/// gets an answer, it speaks TLS, and the error says to add --tls.
fn not_tls(link: &Link, peer: SocketAddr, spent: &impl std::fmt::Display) -> Result<(), Error> {
    if !link.is_tls() && crate::tls::client::answers_tls(peer, TLS_CHECK) {
        return Err(Error::protocol(crate::words!(
            "{peer} sent nothing in {spent}, and answered a TLS hello on a second connection: \
             it speaks TLS. Add {} (with {} FILE for a self-signed certificate)",
            Setting::Tls,
            Setting::Cacert
        )));
    }
    Ok(())
}

fn print_line(out: &mut dyn Write, line: &[u8]) -> Result<(), Error> {
    write_out(out, line)?;
    write_out(out, b"\n")?;
    out.flush().or_else(stdout_error)
}

fn write_out(out: &mut dyn Write, bytes: &[u8]) -> Result<(), Error> {
    out.write_all(bytes).or_else(stdout_error)
}

/// A failed write of what talk shows (see [`Error::writing_output`]).
fn stdout_error(e: io::Error) -> Result<(), Error> {
    Err(Error::writing_output("standard output", e))
}

/// A read that ran into the socket's read timeout.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A read that failed: the timeout when there is one and it ran out, else
/// a lost connection.
fn timeout_or_lost(what: &str, limit: Option<Duration>, e: io::Error) -> Error {
    match (is_timeout(&e), limit) {
        (true, Some(after)) => Error::Timeout {
            what: what.to_string().into(),
            after,
            source: Some(e),
        },
        _ => lost(what, e),
    }
}

fn lost(what: &str, e: io::Error) -> Error {
    Error::lost(format!("connection lost while {what}"), e)
}
