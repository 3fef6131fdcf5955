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
            Ok(stream) => ready.push((index, (stream, script))),
            Err(e) => tally.borrow_mut().fail(|| e),
        }
    }
    ready
}

/// Connects (after the PROXY header, with the TLS handshake when asked)
/// and reads the welcome.
pub async fn open(
    opts: &Options,
    addr: SocketAddr,
    script: &Script,
) -> Result<Stream, crate::setting::Words> {
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
    Mismatch(crate::setting::Words),
    /// The connection failed, closed or timed out.
    Io(crate::setting::Words),
}

impl ReadError {
    /// What went wrong.
    pub fn words(&self) -> &crate::setting::Words {
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
    let depth = if opts.scenario == Scenario::Pipeline {
        opts.depth.max(1)
    } else {
        1
    };
    // Each connection's share of the rate, as the gap between messages,
    // and its phase: connection i starts i/N of a gap late, so N
    // connections at a low rate send one after another, not all at once
    // and then nothing for a whole gap (wrk2's users hit that).
    let gap = opts
        .rate
        .map(|r| Duration::from_secs_f64(opts.connections as f64 / r));
    let start = match gap {
        Some(gap) => window.start + phase(gap, index, opts.connections),
        None => window.start,
    };
    let outgoing = script.message.repeat(depth);
    let mut checker = Checker::new(&script.reply, depth);
    let mut buf = vec![0; READ_SIZE];
    let mut in_flight: InFlight = VecDeque::with_capacity(depth);
    let mut pending = 0;
    let mut sent: u64 = 0;
    let mut last_reply = Instant::now();
    loop {
        let now = Instant::now();
        if now >= window.end {
            return;
        }
        // Send what may go: free slots, and with --rate only what is due.
        let room = depth - pending;
        let due = match gap {
            None => room,
            Some(_) if now < start => 0,
            Some(gap) => {
                let due_total = (now - start).as_nanos() / gap.as_nanos().max(1) + 1;
                usize::try_from(due_total.saturating_sub(u128::from(sent)))
                    .unwrap_or(usize::MAX)
                    .min(room)
            }
        };
        if due > 0 {
            let bytes = &outgoing[..due * script.message.len()];
            match tokio::time::timeout(opts.reply_timeout, stream.write_all(bytes)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return fail(&tally, &live, crate::words!("sending: {e}")),
                Err(_) => return fail(&tally, &live, "the server stopped reading".into()),
            }
            match gap {
                None => in_flight.push_back((now, due as u32)),
                Some(gap) => {
                    let mut tally = tally.borrow_mut();
                    for i in 0..due as u64 {
                        let at = due_time(start, gap, sent + i);
                        if window.measures(now) {
                            tally.late(now.saturating_duration_since(at));
                        }
                        in_flight.push_back((at, 1));
                    }
                }
            }
            if pending == 0 {
                last_reply = now;
            }
            pending += due;
            sent += due as u64;
        }
        // Wait for replies; with --rate, also for the next message's time.
        let next_due = gap
            .filter(|_| pending < depth)
            .map(|gap| due_time(start, gap, sent));
        let patience = last_reply + opts.reply_timeout;
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
                let now = Instant::now();
                if pending > 0 && now >= patience {
                    return fail(
                        &tally,
                        &live,
                        crate::words!("no reply for {}", format!("{:?}", opts.reply_timeout)),
                    );
                }
                continue;
            }
            Ok(Err(e)) => return fail(&tally, &live, crate::words!("reading: {e}")),
            Ok(Ok(0)) => return fail(&tally, &live, "the server closed the connection".into()),
            Ok(Ok(n)) => n,
        };
        let now = Instant::now();
        let done = match checker.feed(&buf[..n]) {
            Ok(done) => done,
            Err(m) => {
                tally
                    .borrow_mut()
                    .mismatch(|| crate::words!("wrong reply: {m}"));
                live.errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if done == 0 {
            continue;
        }
        if done > pending {
            tally
                .borrow_mut()
                .mismatch(|| crate::words!("{done} replies to {pending} messages"));
            return;
        }
        pending -= done;
        last_reply = now;
        live.done.fetch_add(done as u64, Ordering::Relaxed);
        answered(&mut in_flight, done, now, window, &mut tally.borrow_mut());
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

/// Takes `done` answered messages off the front of `in_flight`, recording
/// each one's latency if the reply came inside the measured window.
fn answered(
    in_flight: &mut InFlight,
    mut done: usize,
    now: Instant,
    window: Window,
    tally: &mut Tally,
) {
    while done > 0 {
        let Some((sent, count)) = in_flight.front_mut() else {
            return;
        };
        let take = (*count as usize).min(done);
        if window.measures(now) {
            tally.record(now - *sent, take as u64);
        }
        *count -= take as u32;
        done -= take;
        if *count == 0 {
            in_flight.pop_front();
        }
    }
}

fn fail(tally: &RefCell<Tally>, live: &Live, message: crate::setting::Words) {
    live.errors.fetch_add(1, Ordering::Relaxed);
    tally.borrow_mut().fail(|| message);
}
