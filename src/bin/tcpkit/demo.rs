//! `tcpkit demo`: the tutorial's two terminal windows in one.
//!
//! Part of the binary, not the library: it starts this very executable
//! (`current_exe`) as `tcpkit serve`, a child process on a free loopback
//! port, runs the scripted client against it, and prints both sides, each
//! line marked `server |` or `client |`, then stops the server the way
//! Ctrl+C does (SIGTERM) and says so first.
//!
//! The two windows are two processes, so their lines race; the demo puts
//! them in cause-and-effect order instead: the client's first line waits
//! for the server's "Accept new connection" line, each reply (with `-v`)
//! for the server's line that it read the message, and the end for the
//! server's "Connection ... closed." line (each for a bounded time). A
//! client that fails (`demo Alice exit Bob`: the server closes at `exit`)
//! says so in its window, after the server's close that caused it.
//!
//! The server always logs at info (debug with `-v`), because the demo
//! follows its lines; `-q`, `-qq`, `-v` and a plain `RUST_LOG` level
//! choose which of them are shown.

use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use tcpkit::talk::{self, TalkOptions};

/// How long the child server may take to start, and to stop.
const CHILD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the server to log an accept or a close.
const LOG_WAIT: Duration = Duration::from_secs(2);
const LISTENING: &str = "Waiting for connection on ";
const ACCEPTED: &str = "Accept new connection from ";
const CLOSED: &str = "Connection from ";

/// Log levels, most severe first, as tracing prints them.
const LEVELS: [&str; 5] = ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"];

/// Runs the demo, printing to stdout; `verbosity` counts `-v` minus `-q`;
/// the server listens on 127.0.0.1:`port` (0: a free one).
pub fn run(messages: &[String], verbosity: i8, port: u16) -> anyhow::Result<()> {
    let shown = shown_level(verbosity, std::env::var("RUST_LOG").ok().as_deref());
    // A port that is taken is said here, naming --port (the server's own
    // error would name its --bind), with the address-in-use exit code.
    if port != 0 {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        drop(
            tcpkit::net::listen(addr, 1)
                .map_err(|e| e.named_by(tcpkit::setting::Setting::DemoPort))?,
        );
    }
    let exe = std::env::current_exe().context("cannot find the tcpkit executable")?;
    let mut server = Command::new(exe);
    server
        .args(if shown > 2 { &["-v"][..] } else { &[] })
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    crate::signals::stoppable(&mut server);
    let mut child = server.spawn().context("cannot start the server")?;
    let result = talk_to(&mut child, messages, shown);
    stop(&mut child, shown);
    result
}

/// The most verbose level shown, as an index into [`LEVELS`]: info by
/// default, one more or less per `-v` or `-q`; a plain `RUST_LOG` level
/// (`warn`, `debug`, ...) wins, as it does for every command.
fn shown_level(verbosity: i8, rust_log: Option<&str>) -> usize {
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

/// A server debug line saying it read bytes: `127.0.0.1:1: read 8 bytes: ...`.
fn is_read_line(message: &str) -> bool {
    message
        .split_once(": read ")
        .is_some_and(|(_, rest)| rest.contains(" byte"))
}

fn talk_to(child: &mut Child, messages: &[String], shown: usize) -> anyhow::Result<()> {
    let stderr = child.stderr.take().context("the server has no stderr")?;
    let (heard_tx, heard) = mpsc::channel();
    // The server's window: its log lines, as the tutorial prints them.
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let (level, message) = split_log_line(&line);
            if level <= shown {
                say("server", message);
            }
            let event = if let Some(rest) = message.strip_prefix(LISTENING) {
                Some(Heard::Listening(rest.trim_end_matches("...").to_string()))
            } else if message.starts_with(ACCEPTED) {
                Some(Heard::Accepted)
            } else if message.starts_with(CLOSED) {
                Some(Heard::Closed)
            } else if is_read_line(message) {
                Some(Heard::Read)
            } else {
                None
            };
            if let Some(event) = event {
                let _ = heard_tx.send(event);
            }
        }
        let _ = heard_tx.send(Heard::Gone);
    });
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let addr = loop {
        match heard.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Heard::Listening(addr)) => break addr,
            Ok(Heard::Gone) => bail!("the server stopped before it listened (its error is above)"),
            Ok(_) => {}
            Err(_) => bail!("the server did not start listening within {CHILD_TIMEOUT:?}"),
        }
    };
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
    };
    let talked = talk::script(&opts, messages, &mut window).map_err(anyhow::Error::from);
    window.wait_until(|seen| seen.closed);
    if let Err(e) = talked {
        // After the server's close that caused it, in the client's window.
        say("client", &format!("error: {}", crate::exit::message(&e)));
        return Err(e.context(crate::exit::Shown));
    }
    Ok(())
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

/// Stops the server we started, by its pid, the way Ctrl+C does, and says
/// so first: the server's "Signal received" line follows from it.
fn stop(child: &mut Child, shown: usize) {
    // A server that never started, or has ended, is not stopped again.
    if !matches!(child.try_wait(), Ok(None)) {
        let _ = child.wait();
        return;
    }
    if shown >= 2 {
        say("demo", "stopping the server the way Ctrl+C does");
    }
    if !crate::signals::ask_to_stop(child) {
        let _ = child.kill();
        let _ = child.wait();
        return;
    }
    let deadline = Instant::now() + CHILD_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            // Let the log reader print the server's last lines.
            thread::sleep(Duration::from_millis(50));
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// One window's line, its name padded so the bars line up.
fn say(who: &str, line: &str) {
    let _ = writeln!(io::stdout().lock(), "{who:<6} | {line}");
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
                say("client", &String::from_utf8_lossy(&self.line));
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
