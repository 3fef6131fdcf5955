//! `pingpong` and `pipeline`: one loop for both (pingpong is a pipeline
//! of depth 1). A connection sends what it may, reads what arrives, checks
//! it, and records each reply's latency from the time its message was
//! sent, or, with `--rate`, from the time it was due.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tls::Stream;

use super::expect::{Checker, Script};
use super::report::Tally;
use super::{Live, Options, Pacer, Scenario, Targets, Window};
use crate::setting::Words;

/// Bytes read at once: room for every reply a deep pipeline has in flight.
const READ_SIZE: usize = 64 * 1024;

/// The script of a connection: its own message, so that replies crossing
/// between connections are caught (`Michael-17`).
pub fn script_for(opts: &Options, index: usize) -> Script {
    let message = [&opts.message[..], format!("-{index}").as_bytes()].concat();
    Script::new(opts.framing, &opts.welcome, &opts.reply, &message)
}

/// Connects load thread `thread`'s `count` connections (`thread`,
/// `thread + threads`, ... of all) and reads each welcome; failures are
/// counted and the connection left out.
pub async fn connect_all(
    opts: &Options,
    targets: &Targets,
    (thread, threads): (usize, usize),
    count: usize,
    tally: &RefCell<Tally>,
    pacer: &Pacer,
) -> Vec<(usize, (Stream, Script))> {
    let mut ready = Vec::with_capacity(count);
    for k in 0..count {
        let index = thread + k * threads;
        pacer.wait().await;
        let script = script_for(opts, index);
        match open(opts, targets.of(index), &script).await {
            Ok(stream) => {
                tally.borrow_mut().opened += 1;
                ready.push((index, (stream, script)));
            }
            Err(e) => tally.borrow_mut().fail(|| e),
        }
    }
    ready
}

/// Connects (after the PROXY header, with the TLS handshake when asked)
/// and reads the welcome.
pub async fn open(opts: &Options, addr: SocketAddr, script: &Script) -> Result<Stream, Words> {
    let stream = crate::net::within(opts.connect_timeout, TcpStream::connect(addr))
        .await
        .ok_or_else(|| format!("connecting to {addr} timed out"))?
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut stream = stream;
    if let Some(version) = opts.send_proxy {
        use tokio::io::AsyncWriteExt;
        let header = crate::net::proxy_header(version, stream.local_addr(), stream.peer_addr())
            .map_err(|e| e.to_string())?;
        stream
            .write_all(&header)
            .await
            .map_err(|e| format!("cannot send the PROXY header: {e}"))?;
    }
    let mut stream = super::tls::over(stream, opts.tls.as_ref()).await?;
    expect_exactly(&mut stream, &script.welcome, opts.reply_timeout, "welcome")
        .await
        .map_err(|e| e.words().clone())?;
    Ok(stream)
}

/// Why reading an expected reply failed.
#[derive(Debug)]
pub enum ReadError {
    /// The bytes were wrong.
    Mismatch(Words),
    /// The connection failed, closed or timed out.
    Io(Words),
}

impl ReadError {
    /// What went wrong.
    pub fn words(&self) -> &Words {
        match self {
            ReadError::Mismatch(m) | ReadError::Io(m) => m,
        }
    }
}

/// Reads exactly `expected` (split however the network splits it).
pub async fn expect_exactly(
    stream: &mut Stream,
    expected: &[u8],
    timeout: Duration,
    what: &str,
) -> Result<(), ReadError> {
    let mut buf = [0; 512];
    let mut got = 0;
    while got < expected.len() {
        let want = (expected.len() - got).min(buf.len());
        let n = match tokio::time::timeout(timeout, stream.read(&mut buf[..want])).await {
            Err(_) => {
                return Err(ReadError::Io(super::expect::not_in_time(
                    what, expected, got, timeout,
                )));
            }
            Ok(Err(e)) => return Err(ReadError::Io(crate::words!("reading the {what}: {e}"))),
            Ok(Ok(0)) => {
                return Err(ReadError::Io(crate::words!(
                    "the server closed the connection before the {what}"
                )));
            }
            Ok(Ok(n)) => n,
        };
        super::expect::check_piece(expected, got, &buf[..n], what).map_err(ReadError::Mismatch)?;
        got += n;
    }
    Ok(())
}

/// Messages sent and not yet answered: when they were sent (or due), and
/// how many went at that time.
type InFlight = VecDeque<(Instant, u32)>;

/// Runs one connection, the `index`th of all, until the window ends.
pub async fn connection(
    opts: Options,
    index: usize,
    (mut stream, script): (Stream, Script),
    tally: Rc<RefCell<Tally>>,
    live: Arc<Live>,
    window: Window,
) {
    let mut flow = Flow::new(&opts, index, &script, window);
    let mut buf = vec![0; READ_SIZE];
    loop {
        let now = Instant::now();
        if now >= window.end {
            return drain(&opts, &mut flow, &mut stream, &mut buf, &tally).await;
        }
        if let Err(why) = flow.send_due(&opts, &mut stream, now, &tally).await {
            return fail(&tally, &live, why);
        }
        // Wait for replies; with --rate, also for the next message's time.
        let next_due = flow.next_due();
        let patience = flow.last_reply + opts.reply_timeout;
        let wake = next_due
            .map_or(window.end, |t| t.min(window.end))
            .min(patience);
        let read = tokio::select! {
            // Biased: a reply that is there is read first.
            biased;
            read = stream.read(&mut buf) => Ok(read),
            () = crate::pace::until(wake, next_due.is_some_and(|due| due <= wake)) => Err(()),
        };
        let n = match read {
            Err(()) => {
                if flow.pending > 0 && Instant::now() >= patience {
                    let waited = format!("{:?}", opts.reply_timeout);
                    return fail(&tally, &live, crate::words!("no reply for {}", waited));
                }
                continue;
            }
            Ok(Err(e)) => return fail(&tally, &live, crate::words!("reading: {e}")),
            Ok(Ok(0)) => return fail(&tally, &live, "the server closed the connection".into()),
            Ok(Ok(n)) => n,
        };
        match flow.replies(&buf[..n]) {
            Ok(0) => {}
            Ok(done) => {
                live.done.fetch_add(done as u64, Ordering::Relaxed);
                flow.answered(done, &mut tally.borrow_mut());
            }
            Err(wrong) => {
                tally.borrow_mut().mismatch(|| wrong);
                live.errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// One connection's state in a timed run: what it may send, and what is
/// waiting for a reply.
struct Flow {
    /// Messages in flight at most (pipeline's `--depth`, else 1).
    depth: usize,
    /// `--rate`: the gap between this connection's messages.
    gap: Option<Duration>,
    /// When its first message is due: its phase within the first gap.
    start: Instant,
    window: Window,
    /// `depth` messages back to back, sent whole or in part.
    outgoing: Vec<u8>,
    message_len: usize,
    reply_len: usize,
    checker: Checker,
    in_flight: InFlight,
    /// Messages sent and not yet answered.
    pending: usize,
    sent: u64,
    /// The last reply (or the send that started a wait), for the patience.
    last_reply: Instant,
}

impl Flow {
    fn new(opts: &Options, index: usize, script: &Script, window: Window) -> Flow {
        let depth = if opts.scenario == Scenario::Pipeline {
            opts.depth.max(1)
        } else {
            1
        };
        // Each connection's share of the rate, as the gap between
        // messages, and its phase: connection i starts i/N of a gap late,
        // so N connections at a low rate send one after another, not all
        // at once and then nothing for a whole gap (wrk2's users hit that).
        let gap = opts
            .rate
            .map(|r| Duration::from_secs_f64(opts.connections as f64 / r));
        let start = match gap {
            Some(gap) => window.start + phase(gap, index, opts.connections),
            None => window.start,
        };
        Flow {
            depth,
            gap,
            start,
            window,
            outgoing: script.message.repeat(depth),
            message_len: script.message.len(),
            reply_len: script.reply.len(),
            checker: Checker::new(&script.reply, depth),
            in_flight: VecDeque::with_capacity(depth),
            pending: 0,
            sent: 0,
            last_reply: Instant::now(),
        }
    }

    /// Sends what may go: free slots, and with --rate only what is due
    /// (each due message's lateness counted while measuring).
    async fn send_due(
        &mut self,
        opts: &Options,
        stream: &mut Stream,
        now: Instant,
        tally: &RefCell<Tally>,
    ) -> Result<(), Words> {
        let room = self.depth - self.pending;
        let due = match self.gap {
            None => room,
            Some(_) if now < self.start => 0,
            Some(gap) => {
                let due_total = (now - self.start).as_nanos() / gap.as_nanos().max(1) + 1;
                usize::try_from(due_total.saturating_sub(u128::from(self.sent)))
                    .unwrap_or(usize::MAX)
                    .min(room)
            }
        };
        if due == 0 {
            return Ok(());
        }
        let bytes = &self.outgoing[..due * self.message_len];
        match tokio::time::timeout(opts.reply_timeout, stream.write_all(bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(crate::words!("sending: {e}")),
            Err(_) => return Err("the server stopped reading".into()),
        }
        match self.gap {
            None => self.in_flight.push_back((now, due as u32)),
            Some(gap) => {
                let mut tally = tally.borrow_mut();
                for i in 0..due as u64 {
                    let at = due_time(self.start, gap, self.sent + i);
                    if self.window.measures(now) {
                        tally.late(now.saturating_duration_since(at));
                    }
                    self.in_flight.push_back((at, 1));
                }
            }
        }
        if self.pending == 0 {
            self.last_reply = now;
        }
        self.pending += due;
        self.sent += due as u64;
        Ok(())
    }

    /// With --rate and a free slot, when the next message is due.
    fn next_due(&self) -> Option<Instant> {
        self.gap
            .filter(|_| self.pending < self.depth)
            .map(|gap| due_time(self.start, gap, self.sent))
    }

    /// Checks read bytes against the replies expected: how many replies
    /// they completed, or what was wrong.
    fn replies(&mut self, bytes: &[u8]) -> Result<usize, Words> {
        let now = Instant::now();
        let done = self
            .checker
            .feed(bytes)
            .map_err(|m| crate::words!("wrong reply: {m}"))?;
        if done == 0 {
            return Ok(0);
        }
        if done > self.pending {
            return Err(crate::words!("{done} replies to {} messages", self.pending));
        }
        self.pending -= done;
        self.last_reply = now;
        Ok(done)
    }
}

/// When message number `n` of a connection is due under `--rate`.
/// Connection `index` of `count` starts this far into its first gap.
fn phase(gap: Duration, index: usize, count: usize) -> Duration {
    gap.mul_f64(index as f64 / count.max(1) as f64)
}

fn due_time(start: Instant, gap: Duration, n: u64) -> Instant {
    start
        + Duration::from_nanos(
            u64::try_from(gap.as_nanos())
                .unwrap_or(u64::MAX)
                .saturating_mul(n),
        )
}

impl Flow {
    /// Takes `done` answered messages off the front of those in flight,
    /// recording each one's latency (and bytes) if the reply came inside
    /// the measured window; every reply counts in the run's totals.
    fn answered(&mut self, mut done: usize, tally: &mut Tally) {
        let now = self.last_reply;
        tally.answered += done as u64;
        while done > 0 {
            let Some((sent, count)) = self.in_flight.front_mut() else {
                return;
            };
            let take = (*count as usize).min(done);
            if self.window.measures(now) {
                tally.record(now - *sent, take as u64, now - self.window.measure);
                tally.bytes(take * self.message_len, take * self.reply_len);
            }
            *count -= take as u32;
            done -= take;
            if *count == 0 {
                self.in_flight.pop_front();
            }
        }
    }
}

/// After the window: sends nothing more and reads the replies still in
/// flight (for at most the reply timeout), so that every message the
/// server answered is a reply read, and the bench's totals are the
/// server's own counts. Failures here are not the window's: what is still
/// unanswered is only counted.
async fn drain(
    opts: &Options,
    flow: &mut Flow,
    stream: &mut Stream,
    buf: &mut [u8],
    tally: &RefCell<Tally>,
) {
    let until = tokio::time::Instant::now() + opts.reply_timeout;
    while flow.pending > 0 {
        let n = match tokio::time::timeout_at(until, stream.read(buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => break,
        };
        match flow.replies(&buf[..n]) {
            Ok(done) => flow.answered(done, &mut tally.borrow_mut()),
            Err(_) => break,
        }
    }
    tally.borrow_mut().unanswered += flow.pending as u64;
}

fn fail(tally: &RefCell<Tally>, live: &Live, message: Words) {
    live.errors.fetch_add(1, Ordering::Relaxed);
    tally.borrow_mut().fail(|| message);
}
