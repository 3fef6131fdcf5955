//! The tutorial's two terminal windows in one (`tcpkit demo`): a server's
//! log lines and a scripted client's, each marked with its window, in
//! cause-and-effect order.
//!
//! The two windows are two processes, so their lines race; this puts them
//! in order instead: the client's first line waits for the server's
//! "Accept new connection" line, each reply (when the server's reads are
//! shown) for the server's line that it read the message, and the end for
//! the server's "Connection ... closed." line (each for a bounded time). A
//! client that fails (`demo Alice exit Bob`: the server closes at `exit`)
//! says so in its window, after the server's close that caused it.
//!
//! The caller starts the server (a child process whose log, at info or
//! debug, comes on a pipe) and stops it; [`windows`] follows its log, runs
//! the client and hands every line to the caller's [`Say`].

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::setting::Naming;
use crate::talk::{self, TalkOptions};

/// How long the server may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the server to log an accept or a close.
const LOG_WAIT: Duration = Duration::from_secs(2);
const LISTENING: &str = "Waiting for connection on ";
const ACCEPTED: &str = "Accept new connection from ";
const CLOSED: &str = "Connection from ";

/// Log levels, most severe first, as tracing prints them.
pub const LEVELS: [&str; 5] = ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"];

/// Shows one window's line: the window (`server`, `client`) and the line.
pub type Say = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The client's messages for a demo of `scenario`: `given`, or the
/// tutorial's three names when none are given. A message is one line,
/// and a scenario other than the tutorial plays its own.
pub fn messages(
    given: Vec<String>,
    scenario: crate::trace::scenario::Scenario,
) -> Result<Vec<String>, Error> {
    if given.iter().any(|m| m.contains('\n')) {
        return Err(Error::InvalidInput(
            "demo messages cannot contain line breaks".into(),
        ));
    }
    if scenario != crate::trace::scenario::Scenario::Tutorial && !given.is_empty() {
        let flag = crate::setting::Setting::DemoScenario;
        return Err(Error::InvalidInput(crate::words!(
            "{} plays its own messages: give MESSAGEs without {} (or with {} tutorial)",
            flag,
            flag,
            flag
        )));
    }
    Ok(if given.is_empty() {
        ["Michael", "Tracy", "Sarah"].map(String::from).to_vec()
    } else {
        given
    })
}

/// Follows the server's `log` (its stderr), showing its lines up to level
/// `shown` (an index into [`LEVELS`]), runs the client's `messages` once
/// it listens, and shows the client's lines in order with the server's.
/// `Ok(Some(error))`: the client failed, and said so in its window
/// (settings named as `naming` says); `Err`: the demo could not run (the
/// server did not start listening).
pub fn windows(
    log: impl Read + Send + 'static,
    messages: &[String],
    shown: usize,
    naming: Naming,
    say: Say,
) -> Result<Option<Error>, Error> {
    let (heard_tx, heard) = mpsc::channel();
    let server_say = say.clone();
    // The server's window: its log lines, as the tutorial prints them.
    thread::spawn(move || {
        for line in BufReader::new(log).lines() {
            let Ok(line) = line else { break };
            let (level, message) = split_log_line(&line);
            if level <= shown {
                server_say("server", message);
            }
            if let Some(event) = Heard::of(message) {
                let _ = heard_tx.send(event);
            }
        }
        let _ = heard_tx.send(Heard::Gone);
    });
    let addr = listening_on(&heard)?;
    let opts = TalkOptions {
        addr,
        ..TalkOptions::default()
    };
    let mut window = ClientWindow {
        line: Vec::new(),
        heard,
        seen: Seen::default(),
        lines: 0,
        replies_follow_reads: shown > 2,
        say: say.clone(),
    };
    let talked = talk::script(&opts, messages, &mut window);
    window.wait_until(|seen| seen.closed);
    Ok(talked.err().inspect(|e| {
        // After the server's close that caused it, in the client's window.
        say("client", &format!("error: {}", e.in_words().render(naming)));
    }))
}

/// Waits for the server's "Waiting for connection on ADDR..." line.
fn listening_on(heard: &mpsc::Receiver<Heard>) -> Result<String, Error> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match heard.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Heard::Listening(addr)) => return Ok(addr),
            Ok(Heard::Gone) => {
                return Err(Error::Other {
                    message: "the server stopped before it listened (its error is above)".into(),
                    source: None,
                });
            }
            Ok(_) => {}
            Err(_) => {
                return Err(Error::Timeout {
                    what: "waiting for the server to listen".into(),
                    after: START_TIMEOUT,
                    source: None,
                });
            }
        }
    }
}

/// The most verbose level shown, as an index into [`LEVELS`]: info by
/// default, one more or less per `-v` or `-q`; a plain `RUST_LOG` level
/// (`warn`, `debug`, ...) wins, as it does for every command.
pub fn shown_level(verbosity: i8, rust_log: Option<&str>) -> usize {
    if let Some(level) = rust_log.and_then(|l| {
        LEVELS
            .iter()
            .position(|name| name.eq_ignore_ascii_case(l.trim()))
    }) {
        return level;
    }
    (2 + i32::from(verbosity)).clamp(0, 4) as usize
}

/// What the server's log thread tells the client side.
enum Heard {
    Listening(String),
    Accepted,
    /// A debug line: the server read a message's bytes.
    Read,
    Closed,
    /// The server's log ended (it exited).
    Gone,
}

impl Heard {
    /// What a server log message tells the client side, if anything.
    fn of(message: &str) -> Option<Heard> {
        if let Some(rest) = message.strip_prefix(LISTENING) {
            Some(Heard::Listening(rest.trim_end_matches("...").to_string()))
        } else if message.starts_with(ACCEPTED) {
            Some(Heard::Accepted)
        } else if message.starts_with(CLOSED) {
            Some(Heard::Closed)
        } else if is_read_line(message) {
            Some(Heard::Read)
        } else {
            None
        }
    }
}

/// A server debug line saying it read bytes: `127.0.0.1:1: read 8 bytes: ...`.
fn is_read_line(message: &str) -> bool {
    message
        .split_once(": read ")
        .is_some_and(|(_, rest)| rest.contains(" byte"))
}

/// A server log line (`2026-11-25T12:00:00.000000Z  INFO message`) split
/// into its level's index in [`LEVELS`] and its message. A line of another
/// shape (a panic, say) counts as an error, so it is always shown.
fn split_log_line(line: &str) -> (usize, &str) {
    let parsed = line
        .trim_start()
        .split_once(char::is_whitespace)
        .and_then(|(_time, rest)| rest.trim_start().split_once(char::is_whitespace))
        .and_then(|(level, message)| {
            let index = LEVELS.iter().position(|l| *l == level)?;
            Some((index, message.trim_start()))
        });
    parsed.unwrap_or((0, line))
}

/// What the server has logged so far, as the client's window needs it.
#[derive(Default)]
struct Seen {
    accepted: bool,
    reads: usize,
    closed: bool,
    gone: bool,
}

/// The client's window: whole lines, marked `client |`: the first one
/// (the welcome) only after the server has logged the accept; with the
/// server's reads shown (`-v`), reply N only after its Nth read.
struct ClientWindow {
    line: Vec<u8>,
    heard: mpsc::Receiver<Heard>,
    seen: Seen,
    /// Lines shown so far.
    lines: usize,
    replies_follow_reads: bool,
    say: Say,
}

impl ClientWindow {
    /// Waits (at most [`LOG_WAIT`]) until what the server has said meets
    /// `enough`.
    fn wait_until(&mut self, enough: impl Fn(&Seen) -> bool) {
        let deadline = Instant::now() + LOG_WAIT;
        while !enough(&self.seen) && !self.seen.gone {
            let Ok(heard) = self
                .heard
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                return;
            };
            match heard {
                Heard::Accepted => self.seen.accepted = true,
                Heard::Read => self.seen.reads += 1,
                Heard::Closed => self.seen.closed = true,
                Heard::Gone => self.seen.gone = true,
                Heard::Listening(_) => {}
            }
        }
    }
}

impl Write for ClientWindow {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            if b == b'\n' {
                let replies = self.lines;
                if replies == 0 {
                    self.wait_until(|seen| seen.accepted);
                } else if self.replies_follow_reads {
                    self.wait_until(|seen| seen.reads >= replies);
                }
                self.lines += 1;
                (self.say)("client", &String::from_utf8_lossy(&self.line));
                self.line.clear();
            } else {
                self.line.push(b);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_flags_and_rust_log() {
        assert_eq!(shown_level(0, None), 2);
        assert_eq!(shown_level(-1, None), 1);
        assert_eq!(shown_level(-5, None), 0);
        assert_eq!(shown_level(1, None), 3);
        assert_eq!(shown_level(0, Some("warn")), 1);
        assert_eq!(shown_level(0, Some("tcpkit=debug,h2=off")), 2);
    }

    #[test]
    fn log_lines_split_into_level_and_message() {
        assert_eq!(
            split_log_line("2026-11-25T12:00:00.000000Z  INFO Waiting for connection on x..."),
            (2, "Waiting for connection on x...")
        );
        assert_eq!(
            split_log_line("2026-11-25T12:00:00.000000Z  WARN accept failed"),
            (1, "accept failed")
        );
        assert_eq!(
            split_log_line("2026-11-25T12:00:00.000000Z DEBUG 127.0.0.1:1: read 3 bytes"),
            (3, "127.0.0.1:1: read 3 bytes")
        );
    }
}
