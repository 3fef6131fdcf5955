//! `tcpkit demo`: the tutorial's two terminal windows in one.
//!
//! Part of the binary, not the library: it starts this very executable
//! (`current_exe`) as `tcpkit serve`, a child process on a free loopback port, runs the
//! scripted client against it, and prints both sides as they happen, each
//! line marked `server |` or `client |`. Then stops the server with SIGTERM,
//! as Ctrl+C would.

use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use tcpkit::talk::{self, TalkOptions};

/// How long the child server may take to start, and to stop.
const CHILD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the server to log the client's close.
const CLOSE_LOG_WAIT: Duration = Duration::from_secs(2);
const LISTENING: &str = "Waiting for connection on ";

/// Runs the demo, printing to stdout.
pub fn run(messages: &[String]) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the tcpkit executable")?;
    let mut child = Command::new(exe)
        .args(["--plain-logs", "serve", "--bind", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the server")?;
    let result = talk_to(&mut child, messages);
    stop(&mut child);
    result
}

fn talk_to(child: &mut Child, messages: &[String]) -> anyhow::Result<()> {
    let stderr = child.stderr.take().context("the server has no stderr")?;
    let (addr_tx, addr_rx) = mpsc::channel();
    let (closed_tx, closed_rx) = mpsc::channel();
    // The server's window: its log lines, printed as they come.
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            say("server", &line);
            if let Some(rest) = line.strip_prefix(LISTENING) {
                let _ = addr_tx.send(rest.trim_end_matches("...").to_string());
            }
            if line.starts_with("Connection from ") {
                let _ = closed_tx.send(());
            }
        }
    });
    let Ok(addr) = addr_rx.recv_timeout(CHILD_TIMEOUT) else {
        bail!("the server did not start listening within {CHILD_TIMEOUT:?}");
    };
    let opts = TalkOptions {
        addr,
        ..TalkOptions::default()
    };
    let mut window = ClientWindow::default();
    talk::script(&opts, messages, &mut window)?;
    let _ = closed_rx.recv_timeout(CLOSE_LOG_WAIT);
    Ok(())
}

/// Stops the server we started, by its pid, the way Ctrl+C does.
fn stop(child: &mut Child) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        return;
    };
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
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

fn say(who: &str, line: &str) {
    let _ = writeln!(io::stdout().lock(), "{who} | {line}");
}

/// The client's window: whole lines, marked `client |`.
#[derive(Default)]
struct ClientWindow {
    line: Vec<u8>,
}

impl Write for ClientWindow {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            if b == b'\n' {
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
