//! A joined session: stdin to the server and the server to stdout, like
//! nc ([`interactive`], and [`Listening::join_one`] for `-l`). The input
//! side runs on a thread of its own, since reading stdin blocks; this one
//! reads the server, names a server whose lines do not end and one that
//! stays silent, and paces chunk framing like the tutorial's client.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tcpkit_wire::Escaped;
use tcpkit_wire::greeting::ClientFraming;

use super::{
    CHUNK, Link, POLL, QUIET_GAP, SILENCE, TalkOptions, connect, lost, stdout_error, write_out,
};
use crate::error::Error;
use crate::net;
use crate::notice::{Notice, Notices};
use crate::setting::Setting;

mod said;
use said::Said;

/// Joins `input` and `out` to a connection to the server until it closes.
pub fn interactive(
    opts: &TalkOptions,
    input: impl Read + Send + 'static,
    out: &mut dyn Write,
) -> Result<(), Error> {
    join(connect(opts)?, opts, input, out, Side::Client)
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
    let listener =
        net::listen(addr, 1).map_err(|e| e.named_by(crate::setting::Setting::ListenPort))?;
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
    ) -> Result<(), Error> {
        let addr = self.local_addr().ok();
        let (stream, peer) = self.listener.accept().map_err(|e| {
            let what = match addr {
                Some(addr) => format!("cannot accept a client on {addr}"),
                None => "cannot accept a client".to_string(),
            };
            Error::other(what, e)
        })?;
        drop(self.listener);
        let _ = stream.set_nodelay(true);
        accepted(peer);
        join(Link::plain(stream), opts, input, out, Side::Listener)
    }
}

/// Which end of the session talk is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// talk connected to a server: a server that closes before the input
    /// has ended (and without being sent `exit`), or that answers an
    /// `Error:` line, has ended the session, and that is an error.
    Client,
    /// talk took a client (`-l`): the client ends the session as it likes.
    Listener,
}

/// Joins `input` and `out` to `stream` until the peer closes (or, with
/// `exit_on_eof`, until the input ends). As a client expecting a welcome,
/// a server silent for [`SILENCE`] is looked into, as in MESSAGE mode:
/// one that speaks TLS is an error naming --tls; for another, a person is
/// told what talk expected, and the session goes on.
fn join(
    link: Link,
    opts: &TalkOptions,
    input: impl Read + Send + 'static,
    out: &mut dyn Write,
    side: Side,
) -> Result<(), Error> {
    let connected = Instant::now();
    // A client of ours need not speak first: no silence check.
    let mut silence_checked = side == Side::Listener || opts.welcome.is_empty();
    let mut heard_any = false;
    let mut said = Said::default();
    let framing = opts.framing;
    let input = InputSide::start(input, &link, opts);
    let heard = &input.pace.heard;
    link.tcp()
        .set_read_timeout(Some(POLL))
        .map_err(|e| Error::other("cannot set a read timeout", e))?;
    let reader = &link;
    let mut buf = vec![0; CHUNK];
    let mut last_heard = Instant::now();
    let mut unended = Unended::default();
    loop {
        if opts.exit_on_eof && input.done.load(Ordering::Acquire) {
            return Ok(());
        }
        if framing == ClientFraming::Line {
            unended.hint_after(QUIET_GAP, opts.notices.as_ref());
        }
        if !silence_checked && !heard_any && connected.elapsed() >= SILENCE {
            silence_checked = true;
            silent_server(&link, opts.notices.as_ref())?;
        }
        match reader.read(&mut buf) {
            Ok(0) => {
                if framing == ClientFraming::Line {
                    unended.hint_after(Duration::ZERO, opts.notices.as_ref());
                }
                return input.at_fin(&mut said, side, opts);
            }
            Ok(n) => {
                last_heard = Instant::now();
                heard_any = true;
                heard.one_more();
                said.heard(&buf[..n], framing);
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
                    && input.done.load(Ordering::Acquire)
                    && last_heard.elapsed() > limit
                {
                    return Err(Error::Timeout {
                        what: "waiting for the server to close after the end of input".into(),
                        after: limit,
                        source: None,
                    });
                }
                if !input.done.load(Ordering::Acquire) {
                    last_heard = Instant::now();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(lost("reading from the server", e)),
        }
    }
}

/// The input side of a joined session: a thread of its own (reading
/// stdin blocks), and what it tells the reading side.
struct InputSide {
    /// The input is over and our sending half is closed.
    done: Arc<AtomicBool>,
    /// The input ended: set before the half-close, so that the server's
    /// answering FIN can never be taken for one that came first.
    ended: Arc<AtomicBool>,
    pace: Arc<Pace>,
}

impl InputSide {
    /// Starts sending `input` over `link`, closing our half at its end.
    fn start(input: impl Read + Send + 'static, link: &Link, opts: &TalkOptions) -> InputSide {
        let pace = Arc::new(Pace {
            heard: Arc::new(Heard::default()),
            welcome: !opts.welcome.is_empty(),
            limit: opts.timeout.unwrap_or(Duration::from_secs(30)),
            sent_exit: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        });
        let side = InputSide {
            done: Arc::new(AtomicBool::new(false)),
            ended: Arc::new(AtomicBool::new(false)),
            pace,
        };
        let (sender, framing) = (link.clone(), opts.framing);
        let (done, ended, paced) = (side.done.clone(), side.ended.clone(), side.pace.clone());
        thread::spawn(move || {
            if pump_input(input, &sender, framing, &paced).is_err() {
                paced.failed.store(true, Ordering::Release);
            }
            ended.store(true, Ordering::Release);
            // End of input: half-close, so the server answers what it has
            // and closes, while we keep reading.
            let _ = sender.shutdown_write();
            done.store(true, Ordering::Release);
        });
        side
    }

    /// The server's FIN: how the session ends, and what is said of it.
    fn at_fin(&self, said: &mut Said, side: Side, opts: &TalkOptions) -> Result<(), Error> {
        // The other side's FIN ends only its direction: the rest of the
        // input still goes to it (it may be reading), and the input side
        // closes ours when it ends, as nc does. Leaving now lost what a
        // quick peer's FIN overtook.
        let pace = &self.pace;
        pace.heard.ended();
        said.ended();
        let asked = pace.sent_exit.load(Ordering::Acquire);
        let ended_before = self.ended.load(Ordering::Acquire);
        let (fin_at, sent_at_fin) = (Instant::now(), pace.sent.load(Ordering::Acquire));
        // A server that closed as `exit` asked reads no more: the session
        // is over (and its lingering close waits for ours).
        if !(asked && side == Side::Client) {
            finish_input(&self.done, opts)?;
        }
        // An input that ended just after the FIN, with nothing more sent,
        // crossed it (`talk < /dev/null` to a server that speaks and
        // closes): nothing was cut off.
        let crossed = self.ended.load(Ordering::Acquire)
            && pace.sent.load(Ordering::Acquire) == sent_at_fin
            && !pace.failed.load(Ordering::Acquire)
            && fin_at.elapsed() < CROSSING;
        let first = !ended_before && !asked && !crossed;
        match side {
            Side::Client => said.verdict(first, opts.framing),
            Side::Listener => Ok(()),
        }
    }
}

/// The other side has closed its sending half: waits for the input side
/// to send the rest of the input and close ours (at once with
/// `--exit-on-eof`, or for a person at a terminal). A peer that is gone
/// makes the sends fail, which ends the input side too.
fn finish_input(input_done: &AtomicBool, opts: &TalkOptions) -> Result<(), Error> {
    let mut told = false;
    let started = Instant::now();
    while !opts.exit_on_eof && !opts.interactive && !input_done.load(Ordering::Acquire) {
        if !told && started.elapsed() >= SILENCE {
            told = true;
            opts.notices.notice(Notice::Hint(
                "the other side has closed its sending half; the rest of the input still goes \
                 to it, and talk ends when the input does"
                    .into(),
            ));
        }
        thread::sleep(INPUT_POLL);
    }
    Ok(())
}

/// How often [`finish_input`] looks whether the input side is done.
const INPUT_POLL: Duration = Duration::from_millis(2);

/// A joined session's server has sent nothing for [`SILENCE`], though a
/// welcome was expected: a TLS server is an error naming --tls; anything
/// else is said once on stderr, and the session goes on.
fn silent_server(link: &Link, notices: &dyn Notices) -> Result<(), Error> {
    let Ok(peer) = link.tcp().peer_addr() else {
        return Ok(());
    };
    let spent = humantime::format_duration(SILENCE);
    super::not_tls(link, peer, &spent)?;
    notices.notice(Notice::Hint(crate::words!(
        "nothing from {peer} in {spent}, though a welcome was expected; still connected: what \
         you type goes to it. A server that speaks only when spoken to, like an echo or HTTP \
         server, sends none ({} says so and silences this).",
        Setting::NoWelcome
    )));
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
    pub(super) fn heard(&mut self, bytes: &[u8]) {
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
    fn hint_after(&mut self, quiet: Duration, notices: &dyn Notices) {
        let (Some(at), Some(example)) = (self.since, &self.example) else {
            return;
        };
        if self.said || at.elapsed() < quiet {
            return;
        }
        self.said = true;
        notices.notice(Notice::Hint(crate::words!(
            "the server's bytes stop without a newline (as in {}): a server that does not end \
             its lines, like the tutorial's own? Lines sent together reach it as one message. \
             With {} chunk, talk sends each input line as a write of its own, without the \
             newline, and ends each reply with one.",
            Escaped(example),
            Setting::Framing
        )));
    }
}

/// How many reads have come from the server, for the input side to wait
/// on.
#[derive(Default)]
struct Heard {
    /// Reads so far, and whether the other side has closed its half (no
    /// reply is waited for after that).
    reads: std::sync::Mutex<(u64, bool)>,
    more: std::sync::Condvar,
}

impl Heard {
    fn one_more(&self) {
        self.reads.lock().unwrap_or_else(|e| e.into_inner()).0 += 1;
        self.more.notify_all();
    }

    /// The other side sends no more: nothing is waited for again.
    pub(super) fn ended(&self) {
        self.reads.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.more.notify_all();
    }

    /// Waits until more than `seen` reads have come, or `limit` passes,
    /// or the other side has ended; the count then.
    fn past(&self, seen: u64, limit: Duration) -> u64 {
        let reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        let wait = self
            .more
            .wait_timeout_while(reads, limit, |(n, ended)| *n <= seen && !*ended);
        match wait {
            Ok((state, _)) => state.0,
            Err(e) => e.into_inner().0.0,
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
    /// An `exit` line has been sent: the server's close is the answer.
    sent_exit: AtomicBool,
    /// Input bytes sent so far.
    sent: AtomicU64,
    /// Reading the input or sending it failed.
    failed: AtomicBool,
}

/// How soon after the server's FIN an input may end, having sent nothing
/// more, and still count as ending with it rather than after it.
const CROSSING: Duration = Duration::from_millis(100);

/// Whether an input line (terminator and all) is the quit word.
fn is_exit(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line) == b"exit"
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
            // The line being sent, up to a few bytes: is it `exit`?
            let mut line = Vec::with_capacity(8);
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                for piece in buf[..n].split_inclusive(|&b| b == b'\n') {
                    if line.len() < 8 {
                        line.extend_from_slice(&piece[..piece.len().min(8)]);
                    }
                    if piece.ends_with(b"\n") {
                        if is_exit(&line) {
                            pace.sent_exit.store(true, Ordering::Release);
                        }
                        line.clear();
                    }
                }
                sender.write_all(&buf[..n])?;
                pace.sent.fetch_add(n as u64, Ordering::AcqRel);
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
                    if line == b"exit" {
                        pace.sent_exit.store(true, Ordering::Release);
                    }
                    sender.write_all(&line)?;
                    pace.sent.fetch_add(line.len() as u64, Ordering::AcqRel);
                    seen = pace.heard.past(seen, pace.limit);
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_is_the_whole_line() {
        assert!(is_exit(b"exit\n"));
        assert!(is_exit(b"exit\r\n"));
        assert!(is_exit(b"exit"));
        assert!(!is_exit(b"exited\n"));
        assert!(!is_exit(b" exit\n"));
    }
}
