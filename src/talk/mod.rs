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

mod link;

pub use link::{Link, TalkTls};

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;

use tcpkit_wire::Escaped;
pub use tcpkit_wire::greeting::ClientFraming;
use tcpkit_wire::greeting::{DEFAULT_REPLY, DEFAULT_WELCOME, Template};

use crate::error::Error;
use crate::net::{self, Family};

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
    /// Start with a PROXY protocol header, as a load balancer would
    /// (`--send-proxy`): for trying `serve --proxy-protocol` without one.
    pub send_proxy: Option<tcpkit_wire::proxy::Version>,
    /// Speak TLS (`--tls`), after the PROXY header if there is one.
    pub tls: Option<TalkTls>,
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
            send_proxy: None,
            tls: None,
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
    let slow = crate::notice::SlowNotice::new(format!(
        "no answer from {} in 2s; still connecting ({})",
        opts.addr,
        crate::notice::up_to("--connect-timeout", opts.connect_timeout)
    ));
    let mut stream = net::connect(&opts.addr, &addrs, opts.connect_timeout)?;
    drop(slow);
    if let Some(version) = opts.send_proxy {
        net::send_proxy_header(&mut stream, version).map_err(|e| Error::Protocol {
            message: format!("cannot send the PROXY header to {}", opts.addr),
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
        }
        _ => Ok(Link::plain(stream)),
    }
}

/// The tutorial's client: prints the welcome and one line per reply to `out`.
pub fn script(opts: &TalkOptions, messages: &[String], out: &mut dyn Write) -> anyhow::Result<()> {
    for m in messages {
        if opts.framing == ClientFraming::Line && (m.contains('\n') || m.contains('\r')) {
            return Err(Error::InvalidInput(format!(
                "message {} contains a line break; with line framing each message is one line",
                Escaped(m.as_bytes())
            ))
            .into());
        }
        if m.is_empty() && opts.framing == ClientFraming::Chunk {
            return Err(
                Error::InvalidInput("with chunk framing a message cannot be empty".into()).into(),
            );
        }
    }
    let link = connect(opts)?;
    link.tcp()
        .set_read_timeout(opts.timeout)
        .context("cannot set a read timeout")?;
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
            "--welcome",
            opts.welcome.as_bytes(),
            &welcome,
        )?;
    }
    for m in messages {
        conn.send(m.as_bytes())?;
        let what = format!("the reply to {}", Escaped(m.as_bytes()));
        let reply = conn.receive(&what)?;
        print_line(out, &reply)?;
        expect(&what, "--reply", &opts.reply.reply_to(m.as_bytes()), &reply)?;
    }
    conn.send(b"exit")?;
    conn.wait_for_close(out)
}

/// A scripted conversation checks what it is told: a different welcome or
/// reply is a protocol error that shows both (the flag says how to expect
/// another).
fn expect(what: &str, flag: &str, expected: &[u8], got: &[u8]) -> anyhow::Result<()> {
    if expected == got {
        return Ok(());
    }
    Err(Error::protocol(format!(
        "{what} is not what was expected: expected {}, got {} (another server? say what it \
         sends with {flag})",
        Escaped(expected),
        Escaped(got)
    ))
    .into())
}

/// A scripted exchange over one connection.
struct Conversation<'a> {
    link: Link,
    reader: BufReader<Link>,
    opts: &'a TalkOptions,
    /// When the current wait began, if it began before the current read
    /// (the welcome's, which a silence check may have interrupted).
    since: Option<Instant>,
}

impl Conversation<'_> {
    /// Waits up to [`SILENCE`] for the server's first bytes. If none come,
    /// a server that speaks TLS (it waits for the client's hello) is told
    /// apart, on a second connection, from one that is slow or sends no
    /// welcome: the first is an error naming --tls; for the others a
    /// person is told what talk is still waiting for, and it goes on
    /// waiting up to --timeout.
    fn wait_for_first_bytes(&mut self) -> anyhow::Result<()> {
        let silence = self.opts.timeout.map_or(SILENCE, |t| t.min(SILENCE));
        self.link
            .tcp()
            .set_read_timeout(Some(silence))
            .context("cannot set a read timeout")?;
        let waited = matches!(self.reader.fill_buf(), Err(e) if is_timeout(&e));
        self.link
            .tcp()
            .set_read_timeout(self.opts.timeout)
            .context("cannot set a read timeout")?;
        if !waited || self.opts.timeout.is_some_and(|t| t <= silence) {
            return Ok(());
        }
        let Ok(peer) = self.link.tcp().peer_addr() else {
            return Ok(());
        };
        let spent = humantime::format_duration(silence);
        if !self.link.is_tls() && crate::tls::client::answers_tls(peer, TLS_CHECK) {
            return Err(Error::protocol(format!(
                "{peer} sent nothing in {spent}, and answered a TLS hello on a second \
                 connection: it speaks TLS. Add --tls (with --cacert FILE for a self-signed \
                 certificate)"
            ))
            .into());
        }
        let until = self
            .opts
            .timeout
            .map_or(String::from("with no limit"), |t| {
                format!("up to --timeout {}", humantime::format_duration(t))
            });
        eprintln!(
            "tcpkit: nothing from {peer} in {spent}; still waiting for the welcome ({until}). \
             A server that sends none, like an echo or HTTP server, needs --no-welcome."
        );
        Ok(())
    }

    fn send(&mut self, message: &[u8]) -> anyhow::Result<()> {
        let mut bytes = message.to_vec();
        if self.opts.framing == ClientFraming::Line {
            bytes.push(b'\n');
        }
        self.link
            .write_all(&bytes)
            .map_err(|e| lost(&format!("sending {}", Escaped(message)), e))?;
        Ok(())
    }

    /// Reads one reply: a line, or one read in chunk framing.
    fn receive(&mut self, what: &str) -> anyhow::Result<Vec<u8>> {
        let mut reply = Vec::new();
        let got = match self.opts.framing {
            ClientFraming::Line => self.receive_line(what, &mut reply)?,
            ClientFraming::Chunk => {
                reply.resize(self.opts.max_reply.clamp(1, CHUNK), 0);
                let got = self.reader.read(&mut reply).map_err(|e| {
                    timeout_or_lost(&format!("waiting for {what}"), self.opts.timeout, e)
                })?;
                reply.truncate(got);
                got
            }
        };
        if got == 0 {
            return Err(Error::protocol(format!(
                "the server closed the connection before sending {what}"
            ))
            .into());
        }
        if reply.ends_with(b"\n") {
            reply.pop();
            if reply.ends_with(b"\r") {
                reply.pop();
            }
        }
        Ok(reply)
    }

    /// Reads up to and including a newline (or the close); the bytes read.
    /// `--timeout` bounds the whole wait, however the bytes trickle in.
    /// Once bytes have come, it waits at most [`QUIET_GAP`] for more:
    /// bytes that stop without a newline are a framing mismatch, reported
    /// with what came, not a timeout after the whole `--timeout`.
    fn receive_line(&mut self, what: &str, reply: &mut Vec<u8>) -> anyhow::Result<usize> {
        let limit = self.opts.max_reply.saturating_add(2);
        let deadline = self.deadline();
        loop {
            let wait = match (self.left(deadline, what, reply)?, reply.is_empty()) {
                (left, true) => left,
                (left, false) => Some(left.map_or(QUIET_GAP, |l| l.min(QUIET_GAP))),
            };
            self.link
                .tcp()
                .set_read_timeout(wait)
                .context("cannot set a read timeout")?;
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => {
                    if reply.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
                        continue; // `left` says whether the time is up
                    }
                    return Err(Error::protocol(format!(
                        "got {} with no newline, then nothing for {}: a server that does not \
                         end its lines, like the tutorial's own? try --framing chunk",
                        Escaped(reply),
                        humantime::format_duration(QUIET_GAP)
                    ))
                    .into());
                }
                Err(e) => {
                    return Err(timeout_or_lost(
                        &format!("waiting for {what}"),
                        self.opts.timeout,
                        e,
                    ));
                }
            };
            if buf.is_empty() {
                break; // the close: what came is the reply
            }
            let (take, ends) = match memchr::memchr(b'\n', buf) {
                Some(at) => (at + 1, true),
                None => (buf.len(), false),
            };
            let take = take.min(limit - reply.len());
            reply.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            if ends && reply.ends_with(b"\n") {
                break;
            }
            if reply.len() == limit {
                return Err(Error::protocol(format!(
                    "{what} is longer than {} (see --max-reply)",
                    tcpkit_wire::Bytes::of(self.opts.max_reply)
                ))
                .into());
            }
        }
        self.link
            .tcp()
            .set_read_timeout(self.opts.timeout)
            .context("cannot set a read timeout")?;
        Ok(reply.len())
    }

    /// When a wait that starts now must end (`None`: no limit).
    fn deadline(&self) -> Option<Instant> {
        let from = self.since.unwrap_or_else(Instant::now);
        self.opts.timeout.map(|t| from + t)
    }

    /// The time left before `deadline` (`None`: no limit); a timeout error
    /// that says what came so far when none is left.
    fn left(
        &self,
        deadline: Option<Instant>,
        what: &str,
        got: &[u8],
    ) -> anyhow::Result<Option<Duration>> {
        let Some(deadline) = deadline else {
            return Ok(None);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let so_far = if got.is_empty() {
                String::new()
            } else {
                format!(" (got {} so far)", Escaped(got))
            };
            return Err(Error::Timeout {
                what: format!("waiting for {what}{so_far}"),
                after: self.opts.timeout.unwrap_or_default(),
            }
            .into());
        }
        Ok(Some(left))
    }

    /// After `exit`: prints anything the server still says, until it
    /// closes, within `--timeout` in all and `--max-reply` bytes.
    fn wait_for_close(&mut self, out: &mut dyn Write) -> anyhow::Result<()> {
        let what = "the server to close";
        let deadline = self.deadline();
        let mut buf = vec![0; CHUNK];
        let mut said = 0;
        loop {
            let wait = self.left(deadline, what, b"")?;
            self.link
                .tcp()
                .set_read_timeout(wait)
                .context("cannot set a read timeout")?;
            match self.reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    said += n;
                    if said > self.opts.max_reply {
                        return Err(Error::protocol(format!(
                            "after exit the server sent more than {} without closing \
                             (see --max-reply)",
                            tcpkit_wire::Bytes::of(self.opts.max_reply)
                        ))
                        .into());
                    }
                    write_out(out, &buf[..n])?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(lost(&format!("waiting for {what}"), e)),
            }
        }
    }
}

/// Joins `input` and `out` to a connection to the server until it closes.
pub fn interactive(
    opts: &TalkOptions,
    input: impl Read + Send + 'static,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    join(connect(opts)?, opts, input, out, !opts.welcome.is_empty())
}

/// nc's `-z`: connects and closes without sending anything; the address
/// that answered. A closed port is [`Error::Connect`].
pub fn check(opts: &TalkOptions) -> Result<SocketAddr, Error> {
    let link = connect(opts)?;
    link.tcp().peer_addr().map_err(|e| Error::Connect {
        spec: opts.addr.clone(),
        hint: String::new(),
        source: Some(e),
    })
}

/// nc's `-l`: a socket listening on `opts.addr` for one client.
pub struct Listening {
    listener: std::net::TcpListener,
}

/// Listens on `opts.addr` (its first address) for one client; see
/// [`Listening::join_one`].
pub fn listen(opts: &TalkOptions) -> Result<Listening, Error> {
    let addrs = net::resolve(&opts.addr, opts.family)?;
    let addr = addrs[0];
    let listener = net::listen(addr, 1)?;
    listener
        .set_nonblocking(false)
        .map_err(|source| Error::Listen { addr, source })?;
    Ok(Listening { listener })
}

impl Listening {
    /// The address listened on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Waits for one client (as long as it takes), tells `accepted` its
    /// address, then joins `input` and `out` to it until it closes. No
    /// second client is taken: the listener closes when the first arrives.
    pub fn join_one(
        self,
        opts: &TalkOptions,
        input: impl Read + Send + 'static,
        out: &mut dyn Write,
        accepted: impl FnOnce(SocketAddr),
    ) -> anyhow::Result<()> {
        let addr = self.local_addr().ok();
        let (stream, peer) = self.listener.accept().map_err(|e| {
            anyhow::Error::new(e).context(match addr {
                Some(addr) => format!("cannot accept a client on {addr}"),
                None => "cannot accept a client".to_string(),
            })
        })?;
        drop(self.listener);
        let _ = stream.set_nodelay(true);
        accepted(peer);
        // A client need not speak first: no silence check.
        join(Link::plain(stream), opts, input, out, false)
    }
}

/// Joins `input` and `out` to `stream` until the peer closes (or, with
/// `exit_on_eof`, until the input ends). With `welcome`, a server silent
/// for [`SILENCE`] is looked into, as in MESSAGE mode: one that speaks
/// TLS is an error naming --tls; for another, a person is told what talk
/// expected, and the session goes on.
fn join(
    link: Link,
    opts: &TalkOptions,
    input: impl Read + Send + 'static,
    out: &mut dyn Write,
    welcome: bool,
) -> anyhow::Result<()> {
    let connected = Instant::now();
    let mut silence_checked = !welcome;
    let mut heard_any = false;
    let sender = link.clone();
    let input_done = Arc::new(AtomicBool::new(false));
    let done = input_done.clone();
    let framing = opts.framing;
    let heard = Arc::new(Heard::default());
    let pace = Pace {
        heard: heard.clone(),
        welcome: !opts.welcome.is_empty(),
        limit: opts.timeout.unwrap_or(Duration::from_secs(30)),
    };
    // The input side runs on its own thread: reading stdin blocks.
    thread::spawn(move || {
        let _ = pump_input(input, &sender, framing, &pace);
        // End of input: half-close, so the server answers what it has and
        // closes, while we keep reading.
        let _ = sender.shutdown_write();
        done.store(true, Ordering::Release);
    });

    link.tcp()
        .set_read_timeout(Some(POLL))
        .context("cannot set a read timeout")?;
    let reader = &link;
    let mut buf = vec![0; CHUNK];
    let mut last_heard = Instant::now();
    let mut unended = Unended::default();
    loop {
        if opts.exit_on_eof && input_done.load(Ordering::Acquire) {
            return Ok(());
        }
        if framing == ClientFraming::Line {
            unended.hint_after(QUIET_GAP);
        }
        if !silence_checked && !heard_any && connected.elapsed() >= SILENCE {
            silence_checked = true;
            silent_server(&link)?;
        }
        match reader.read(&mut buf) {
            Ok(0) => {
                if framing == ClientFraming::Line {
                    unended.hint_after(Duration::ZERO);
                }
                return Ok(());
            }
            Ok(n) => {
                last_heard = Instant::now();
                heard_any = true;
                heard.one_more();
                unended.heard(&buf[..n]);
                write_out(out, &buf[..n])?;
                if framing == ClientFraming::Chunk {
                    write_out(out, b"\n")?;
                }
                if let Err(e) = out.flush() {
                    return stdout_error(e);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                // Only once input has ended do we wait for the server with a limit:
                // before that, a person may just be slow to type.
                if let Some(limit) = opts.timeout
                    && input_done.load(Ordering::Acquire)
                    && last_heard.elapsed() > limit
                {
                    return Err(Error::Timeout {
                        what: "waiting for the server to close after the end of input".into(),
                        after: limit,
                    }
                    .into());
                }
                if !input_done.load(Ordering::Acquire) {
                    last_heard = Instant::now();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(lost("reading from the server", e)),
        }
    }
}

/// A joined session's server has sent nothing for [`SILENCE`], though a
/// welcome was expected: a TLS server is an error naming --tls; anything
/// else is said once on stderr, and the session goes on.
fn silent_server(link: &Link) -> anyhow::Result<()> {
    let Ok(peer) = link.tcp().peer_addr() else {
        return Ok(());
    };
    let spent = humantime::format_duration(SILENCE);
    if !link.is_tls() && crate::tls::client::answers_tls(peer, TLS_CHECK) {
        return Err(Error::protocol(format!(
            "{peer} sent nothing in {spent}, and answered a TLS hello on a second connection: \
             it speaks TLS. Add --tls (with --cacert FILE for a self-signed certificate)"
        ))
        .into());
    }
    eprintln!(
        "tcpkit: nothing from {peer} in {spent}, though a welcome was expected; still \
         connected: what you type goes to it. A server that speaks only when spoken to, like \
         an echo or HTTP server, sends none (--no-welcome says so and silences this)."
    );
    Ok(())
}

/// Line framing in a joined session: whether the server's bytes stop
/// without a newline, the mark of a server that does not end its lines
/// (the tutorial's own sends `Welcome!` bare, and its replies to lines
/// sent together come merged). Said once, on stderr, so stdout keeps
/// exactly the server's bytes.
#[derive(Default)]
struct Unended {
    /// The end (at most 64 bytes) of the first read seen to stop without
    /// a newline, for the hint.
    example: Option<Vec<u8>>,
    /// When the last bytes came, if they stopped without a newline.
    since: Option<Instant>,
    /// Said already.
    said: bool,
}

impl Unended {
    fn heard(&mut self, bytes: &[u8]) {
        if bytes.ends_with(b"\n") {
            self.since = None;
            return;
        }
        if self.example.is_none() {
            // The read's last 64 bytes, newlines and all: where replies
            // came merged (`Welcome!Hello, Michael\nexit\n!`) the example
            // shows it, not just the last stretch (`!`).
            let tail = &bytes[bytes.len().saturating_sub(64)..];
            self.example = Some(tail.to_vec());
        }
        self.since = Some(Instant::now());
    }

    /// Says so once the bytes have stopped unended for `quiet`.
    fn hint_after(&mut self, quiet: Duration) {
        let (Some(at), Some(example)) = (self.since, &self.example) else {
            return;
        };
        if self.said || at.elapsed() < quiet {
            return;
        }
        self.said = true;
        eprintln!(
            "tcpkit: the server's bytes stop without a newline (as in {}): a server that does \
             not end its lines, like the tutorial's own? Lines sent together reach it as one \
             message. With --framing chunk, talk sends each input line as a write of its own, \
             without the newline, and ends each reply with one.",
            Escaped(example)
        );
    }
}

/// How many reads have come from the server, for the input side to wait
/// on.
#[derive(Default)]
struct Heard {
    reads: std::sync::Mutex<u64>,
    more: std::sync::Condvar,
}

impl Heard {
    fn one_more(&self) {
        *self.reads.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.more.notify_all();
    }

    /// Waits until more than `seen` reads have come, or `limit` passes;
    /// the count then.
    fn past(&self, seen: u64, limit: Duration) -> u64 {
        let reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        match self.more.wait_timeout_while(reads, limit, |n| *n <= seen) {
            Ok((n, _)) => *n,
            Err(e) => *e.into_inner().0,
        }
    }
}

/// Chunk framing's rhythm in a joined session, the tutorial client's:
/// the welcome first, then each line only once the reply to the one
/// before it has come, so that two lines never reach the server as one
/// message.
struct Pace {
    heard: Arc<Heard>,
    /// A welcome comes before the first line.
    welcome: bool,
    /// The longest wait for a reply before the next line goes anyway.
    limit: Duration,
}

/// Copies input to the socket: raw for line framing, one write per line
/// without its terminator for chunk framing, each after the reply to the
/// one before.
fn pump_input(
    input: impl Read,
    sender: &Link,
    framing: ClientFraming,
    pace: &Pace,
) -> io::Result<()> {
    match framing {
        ClientFraming::Line => {
            let mut input = input;
            let mut buf = vec![0; CHUNK];
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                sender.write_all(&buf[..n])?;
            }
        }
        ClientFraming::Chunk => {
            // A welcome slower than this is not waited for further: a
            // server that sends none would hold the first line back.
            let mut seen = if pace.welcome {
                pace.heard.past(0, SILENCE.min(pace.limit))
            } else {
                0
            };
            for line in BufReader::new(input).split(b'\n') {
                let mut line = line?;
                if line.ends_with(b"\r") {
                    line.pop();
                }
                if !line.is_empty() {
                    sender.write_all(&line)?;
                    seen = pace.heard.past(seen, pace.limit);
                }
            }
            Ok(())
        }
    }
}

fn print_line(out: &mut dyn Write, line: &[u8]) -> anyhow::Result<()> {
    write_out(out, line)?;
    write_out(out, b"\n")?;
    out.flush().or_else(stdout_error)
}

fn write_out(out: &mut dyn Write, bytes: &[u8]) -> anyhow::Result<()> {
    out.write_all(bytes).or_else(stdout_error)
}

/// A closed output (`tcpkit talk | head`) is [`Error::OutputClosed`], which
/// the binary ends quietly on; any other write error keeps its cause.
fn stdout_error(e: io::Error) -> anyhow::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return Err(Error::OutputClosed.into());
    }
    Err(anyhow::Error::new(e).context("cannot write to standard output"))
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
fn timeout_or_lost(what: &str, limit: Option<Duration>, e: io::Error) -> anyhow::Error {
    match (is_timeout(&e), limit) {
        (true, Some(after)) => Error::Timeout {
            what: what.to_string(),
            after,
        }
        .into(),
        _ => lost(what, e),
    }
}

fn lost(what: &str, e: io::Error) -> anyhow::Error {
    Error::lost(format!("connection lost while {what}"), e).into()
}
