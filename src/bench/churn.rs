//! `churn`: each worker repeats the tutorial client's whole session —
//! connect, read the welcome, send `Michael`, `Tracy`, `Sarah` one at a
//! time reading each reply, send `exit`, wait for the server to close —
//! and a session counts only if every byte was right and the close came.
//! `--messages N` sends N messages instead (the names over and over), and
//! `--interval DURATION` pauses before each after the first and before
//! `exit`, for sessions as long as a person's or a poller's: the kind a
//! restart must let finish.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::expect::Script;
use super::flow::{ReadError, expect_exactly, open};
use super::report::Tally;
use super::{Live, Options, Pacer, Window};

/// The tutorial client's names.
pub const NAMES: [&str; 3] = ["Michael", "Tracy", "Sarah"];

/// A failed session waits this long before the next, so a dead server is
/// not hammered in a tight loop.
const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// Runs sessions back to back until the window ends.
pub async fn worker(
    opts: Options,
    addr: SocketAddr,
    (tally, live, pacer): (Rc<RefCell<Tally>>, Arc<Live>, Rc<Pacer>),
    window: Window,
) {
    let messages = opts.messages.unwrap_or(NAMES.len());
    // At least one script: the first also holds the welcome and `exit`.
    let scripts: Vec<Script> = NAMES
        .iter()
        .cycle()
        .take(messages.clamp(1, NAMES.len()))
        .map(|name| Script::new(opts.framing, &opts.welcome, &opts.reply, name.as_bytes()))
        .collect();
    let bytes = session_bytes(&opts, &scripts, messages);
    loop {
        pacer.wait().await;
        let start = Instant::now();
        if start >= window.end {
            return;
        }
        // A session still under way when the run ends is cut there, not
        // waited for: with --interval, one may last long past the end.
        // (Cut sessions count neither way.)
        let end = tokio::time::Instant::from_std(window.end);
        let result = tokio::select! {
            result = session(&opts, addr, &scripts, messages, &tally) => result,
            () = tokio::time::sleep_until(end) => return,
        };
        let now = Instant::now();
        match result {
            Ok(()) => {
                live.done.fetch_add(1, Ordering::Relaxed);
                if window.measures(now) {
                    let mut tally = tally.borrow_mut();
                    tally.record(now - start, 1, now - window.measure);
                    tally.bytes(bytes.0, bytes.1);
                }
            }
            Err(e) => {
                live.errors.fetch_add(1, Ordering::Relaxed);
                // Sessions cut by the end of the run are not failures.
                if now < window.end {
                    let mut tally = tally.borrow_mut();
                    match e {
                        ReadError::Mismatch(m) => tally.mismatch(|| m),
                        ReadError::Io(m) => tally.fail(|| crate::words!("session failed: {}", m)),
                    }
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// The bytes a whole session sends and receives (handshake: the
/// welcome only).
fn session_bytes(opts: &Options, scripts: &[Script], messages: usize) -> (usize, usize) {
    let first = &scripts[0];
    if opts.scenario == super::Scenario::Handshake {
        return (0, first.welcome.len());
    }
    let each = scripts.iter().cycle().take(messages);
    let sent = each.clone().map(|s| s.message.len()).sum::<usize>() + first.exit.len();
    let received = each.map(|s| s.reply.len()).sum::<usize>() + first.welcome.len();
    (sent, received)
}

/// One whole session of `messages` messages (the scripts in turn); for
/// `handshake`, only its opening (connect, TLS, welcome), then a close.
/// Connections opened and replies read go in the run's totals.
async fn session(
    opts: &Options,
    addr: SocketAddr,
    scripts: &[Script],
    messages: usize,
    tally: &RefCell<Tally>,
) -> Result<(), ReadError> {
    let first = &scripts[0];
    let mut stream = open(opts, addr, first).await.map_err(ReadError::Io)?;
    tally.borrow_mut().opened += 1;
    if opts.scenario == super::Scenario::Handshake {
        // A TLS client says goodbye with a close_notify; bounded, as a
        // server that does not read must not stall the run.
        let _ = tokio::time::timeout(opts.reply_timeout, stream.shutdown()).await;
        return Ok(());
    }
    for (i, script) in scripts.iter().cycle().take(messages).enumerate() {
        if i > 0 {
            pause(opts).await;
        }
        stream
            .write_all(&script.message)
            .await
            .map_err(|e| ReadError::Io(crate::words!("sending message {}: {e}", i + 1)))?;
        let what = format!("reply {} of {messages}", i + 1);
        expect_exactly(&mut stream, &script.reply, opts.reply_timeout, &what).await?;
        tally.borrow_mut().answered += 1;
    }
    if messages > 0 {
        pause(opts).await;
    }
    stream
        .write_all(&first.exit)
        .await
        .map_err(|e| ReadError::Io(crate::words!("sending exit: {e}")))?;
    // After exit the server must close, sending nothing more.
    let mut rest = [0; 64];
    match tokio::time::timeout(opts.reply_timeout, stream.read(&mut rest)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(n)) => Err(ReadError::Mismatch(crate::words!(
            "bytes after exit instead of the close: {}",
            tcpkit_wire::Escaped(&rest[..n])
        ))),
        Ok(Err(e)) => Err(ReadError::Io(crate::words!(
            "waiting for the close after exit: {e}"
        ))),
        Err(_) => Err(ReadError::Io(crate::words!(
            "the server did not close within {} of exit",
            format!("{:?}", opts.reply_timeout)
        ))),
    }
}

/// `--interval`: the pause between one reply and the next message.
async fn pause(opts: &Options) {
    if let Some(interval) = opts.interval {
        tokio::time::sleep(interval).await;
    }
}
