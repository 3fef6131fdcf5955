//! A writer that never makes its caller wait: for logs, traces and
//! notices, whose reader may stall (a terminal paused with Ctrl+S, a log
//! shipper that stopped reading, a full journald).
//!
//! Writes land in a bounded queue that one thread of its own empties into
//! the real output (stderr). A write the queue has no room for makes room
//! by dropping the oldest writes queued, whole, and counting them; when
//! the output takes writes again, a line of its own says how many were
//! dropped, where they were. The oldest go rather than the newest, as in
//! journald's and the kernel's ring buffers: a reader that comes back
//! sees the server's latest state (a shutdown's lines, say) rather than
//! sessions long gone. A server logging to a pipe nobody reads thus goes
//! on serving and still stops on a signal: before this, every worker
//! thread blocked in `write(2)` on the full pipe, and with them the task
//! that watches signals.
//!
//! Why not `tracing-appender`'s non-blocking writer: it bounds the queue
//! in lines (128,000 by default, megabytes when lines are long), counts
//! what it drops but never says so in the output, and it serves tracing
//! only, while `--trace` lines, notices and the final error go to the
//! same stderr and must keep their order with the logs. This is one
//! mutex, one condition variable and one thread.

#[cfg(feature = "cli")]
mod frames;
mod json;
#[cfg(feature = "cli")]
mod lines;
#[cfg(feature = "cli")]
pub use frames::Frames;
#[cfg(feature = "cli")]
pub use lines::Lines;

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The queue's default bound in bytes: about 1,400 log lines, and four
/// times a Linux pipe's own buffer.
pub const DEFAULT_LIMIT: usize = 256 * 1024;

/// How long the thread, woken by a line, lets others gather before it
/// writes them all at once.
const GATHER: Duration = Duration::from_millis(1);

/// Above this, a queue's spare capacity is given back once it drains, so
/// a stall leaves no lasting memory behind.
const KEEP_CAPACITY: usize = 16 * 1024;
/// The same for the queue's count of writes.
const KEEP_WRITES: usize = 256;

/// A cloneable handle to the queue; every clone writes into the same one.
#[derive(Clone, Debug)]
pub struct Lossy {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when bytes are queued (the thread waits on it).
    queued: Condvar,
    /// Signalled when the thread finished a write (flush waits on it).
    written: Condvar,
    /// Every write dropped since the start: the metric.
    dropped: Arc<AtomicU64>,
    limit: usize,
    /// Lines are said as JSON objects ([`Lossy::say_in_json`]).
    json: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// The bytes of the writes waiting for the thread, oldest first: one
    /// ring of bytes, not a buffer per write (a line is copied once, and
    /// never allocated and freed across threads).
    pending: VecDeque<u8>,
    /// The length of each of those writes, oldest first.
    writes: VecDeque<usize>,
    /// Writes dropped since the output last took any: said before the
    /// next ones it takes.
    unsaid: u64,
    /// The thread holds bytes it is writing.
    busy: bool,
    /// Writes the thread finished, to tell a stalled output from a slow one.
    rounds: u64,
    /// The thread waits for bytes: only then does a write wake it (a
    /// wake is a system call; most writes find the thread busy or about
    /// to look).
    idle: bool,
}

impl Lossy {
    /// A queue of up to `limit` bytes in front of `output`, which a thread
    /// of its own writes to. (A single write longer than `limit` is still
    /// taken, once everything older has made room for it.)
    pub fn new<W: Write + Send + 'static>(output: W, limit: usize) -> io::Result<Lossy> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            queued: Condvar::new(),
            written: Condvar::new(),
            dropped: Arc::new(AtomicU64::new(0)),
            limit,
            json: std::sync::atomic::AtomicBool::new(false),
        });
        let thread = shared.clone();
        std::thread::Builder::new()
            .name("tcpkit-output".into())
            .spawn(move || thread.run(output))?;
        Ok(Lossy { shared })
    }

    /// From now on [`Lossy::say`] and the count of dropped lines write
    /// JSON objects, for an output whose log events are JSON (tracing's):
    /// a log shipper parses every line.
    pub fn say_in_json(&self) {
        self.shared.json.store(true, Ordering::Relaxed);
    }

    /// Queues one line of text (`tcpkit: warning: ...`, say), or its JSON
    /// object after [`Lossy::say_in_json`].
    pub fn say(&self, text: &str) {
        match self.shared.json.load(Ordering::Relaxed) {
            true => self.send(json::line(text).as_bytes()),
            false => self.send(text.as_bytes()),
        }
    }

    /// Queues `bytes` as one piece, dropping the oldest queued writes
    /// when they leave no room for it. Never waits on the output.
    pub fn send(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut state = self.shared.lock();
        // The queue always takes one write, so that a line longer than
        // the limit is not lost to an output that keeps up.
        let mut dropped = 0;
        while state.pending.len() + bytes.len() > self.shared.limit
            && let Some(oldest) = state.writes.pop_front()
        {
            state.pending.drain(..oldest);
            dropped += 1;
        }
        if dropped > 0 {
            state.unsaid += dropped;
            self.shared.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        state.pending.extend(bytes);
        state.writes.push_back(bytes.len());
        let wake = std::mem::take(&mut state.idle);
        drop(state);
        if wake {
            self.shared.queued.notify_one();
        }
    }

    /// The writes dropped since the start, shared: what a metric reads.
    pub fn dropped(&self) -> Arc<AtomicU64> {
        self.shared.dropped.clone()
    }

    /// Waits until everything queued has been written, as long as the
    /// output keeps taking it: gives up after `stall` without progress.
    /// True when all was written.
    pub fn flush_within(&self, stall: Duration) -> bool {
        let mut state = self.shared.lock();
        loop {
            if state.pending.is_empty() && !state.busy && state.unsaid == 0 {
                return true;
            }
            let before = state.rounds;
            let (next, timeout) = self
                .shared
                .written
                .wait_timeout_while(state, stall, |s| {
                    s.rounds == before && !(s.pending.is_empty() && !s.busy && s.unsaid == 0)
                })
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            if timeout.timed_out() && state.rounds == before {
                return false;
            }
        }
    }
}

/// A writer of one piece to a [`Lossy`] queue: what is written is
/// gathered, after its prefix, and queued as one write at `flush` or
/// when the writer is dropped, so that a line (or a frame of a progress
/// bar) is dropped or written whole, never torn. Made per line: tracing's
/// formatter makes one per event ([`Lossy::piece`]).
#[derive(Debug)]
pub struct Piece<'a> {
    lossy: &'a Lossy,
    buf: Vec<u8>,
    prefix: &'static str,
}

impl Lossy {
    /// A writer of one piece (see [`Piece`]), `prefix` before it (`""`:
    /// none).
    pub fn piece(&self, prefix: &'static str) -> Piece<'_> {
        Piece {
            lossy: self,
            buf: Vec::new(),
            prefix,
        }
    }
}

impl Write for Piece<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.is_empty() {
            self.buf.extend_from_slice(self.prefix.as_bytes());
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.len() > self.prefix.len() {
            self.lossy.send(&self.buf);
        }
        self.buf.clear();
        Ok(())
    }
}

impl Drop for Piece<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The output thread: takes everything queued at once (one write for
    /// many lines), after the line that says what was dropped before it.
    fn run<W: Write>(&self, mut output: W) {
        let mut batch = Vec::new();
        let mut taken = VecDeque::new();
        loop {
            let mut state = self.lock();
            if state.pending.is_empty() && state.unsaid == 0 {
                while state.pending.is_empty() && state.unsaid == 0 {
                    state.idle = true;
                    state = self.queued.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                state.idle = false;
                // Woken by one line: let the lines that follow it join
                // it, so a busy server costs a write (and a wake) per
                // batch, not per line. Lines wait this long at most.
                drop(state);
                std::thread::sleep(GATHER);
                state = self.lock();
            }
            std::mem::swap(&mut taken, &mut state.pending);
            state.writes.clear();
            let unsaid = std::mem::take(&mut state.unsaid);
            state.busy = true;
            drop(state);
            if unsaid > 0 {
                let json = self.json.load(Ordering::Relaxed);
                batch.extend_from_slice(dropped_line(unsaid, json).as_bytes());
            }
            let (first, second) = taken.as_slices();
            batch.extend_from_slice(first);
            batch.extend_from_slice(second);
            taken.clear();
            // A closed or failing output (EPIPE) must not stop the work:
            // what it did not take is gone, as with a direct write.
            let _ = output.write_all(&batch).and_then(|()| output.flush());
            batch.clear();
            if batch.capacity() > KEEP_CAPACITY {
                batch = Vec::new();
            }
            let mut state = self.lock();
            state.busy = false;
            state.rounds += 1;
            if taken.capacity() > KEEP_CAPACITY {
                taken = VecDeque::new();
            }
            if state.writes.is_empty() && state.writes.capacity() > KEEP_WRITES {
                state.writes = VecDeque::new();
            }
            drop(state);
            self.written.notify_all();
        }
    }
}

/// The line that says how many writes were dropped, where they were.
fn dropped_line(n: u64, json: bool) -> String {
    let lines = if n == 1 { "line" } else { "lines" };
    let text = format!(
        "tcpkit: warning: {n} earlier log {lines} dropped here: the output was not being \
         read (a paused terminal or a stalled log reader), and the work went on\n"
    );
    match json {
        true => json::line(&text),
        false => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// An output that blocks until told to go on, and records what it got.
    struct Gate {
        open: mpsc::Receiver<()>,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _ = self.open.recv();
            self.got.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_drops_the_oldest_lines_whole_and_says_where() {
        let (open, gate) = mpsc::channel();
        let got = Arc::new(Mutex::new(Vec::new()));
        let lossy = Lossy::new(
            Gate {
                open: gate,
                got: got.clone(),
            },
            20,
        )
        .unwrap();
        // The first line goes to the thread, which blocks writing it.
        lossy.send(b"first line\n");
        assert!(!lossy.flush_within(Duration::from_millis(50)));
        // The queue holds 20 bytes: two lines of 10 fit; each later one
        // pushes out the oldest that leave it no room.
        lossy.send(b"aaaaaaaaa\n");
        lossy.send(b"bbbbbbbbb\n");
        lossy.send(b"ccccccccc\n");
        lossy.send(b"d\n");
        assert_eq!(lossy.dropped().load(Ordering::Relaxed), 2);
        // The output moves again.
        for _ in 0..2 {
            open.send(()).unwrap();
        }
        assert!(lossy.flush_within(Duration::from_secs(5)));
        let text = String::from_utf8(got.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            format!("first line\n{}ccccccccc\nd\n", dropped_line(2, false))
        );
        // Said once: later lines come without it.
        open.send(()).unwrap();
        lossy.send(b"e\n");
        assert!(lossy.flush_within(Duration::from_secs(5)));
        assert!(got.lock().unwrap().ends_with(b"ccccccccc\nd\ne\n"));
        assert_eq!(lossy.dropped().load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_written_when_the_queue_is_empty() {
        let got = Arc::new(Mutex::new(Vec::new()));
        struct Keep(Arc<Mutex<Vec<u8>>>);
        impl Write for Keep {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let lossy = Lossy::new(Keep(got.clone()), 4).unwrap();
        lossy.send(b"longer than four\n");
        assert!(lossy.flush_within(Duration::from_secs(5)));
        assert_eq!(&got.lock().unwrap()[..], b"longer than four\n");
        assert_eq!(lossy.dropped().load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_failing_output_does_not_stop_the_queue() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let lossy = Lossy::new(Closed, 1024).unwrap();
        for _ in 0..100 {
            lossy.send(b"line\n");
            assert!(lossy.flush_within(Duration::from_secs(5)));
        }
    }

    /// An output that records what it got, write by write.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_piece_is_queued_as_one_write_after_its_prefix() {
        let writes = Writes::default();
        let lossy = Lossy::new(writes.clone(), 1024).unwrap();
        {
            let mut piece = lossy.piece("server | ");
            piece.write_all(b"Accept new ").unwrap();
            piece.write_all(b"connection\n").unwrap();
            assert!(lossy.flush_within(Duration::from_secs(5)));
            assert!(writes.0.lock().unwrap().is_empty(), "sent before its end");
        }
        // Nothing written: nothing sent, not even the prefix.
        drop(lossy.piece("server | "));
        let mut bare = lossy.piece("");
        bare.write_all(b"x").unwrap();
        bare.flush().unwrap();
        bare.flush().unwrap();
        assert!(lossy.flush_within(Duration::from_secs(5)));
        // (The queue's thread writes what it finds queued in one go.)
        let got = writes.0.lock().unwrap().concat();
        assert_eq!(got, b"server | Accept new connection\nx");
    }
}
