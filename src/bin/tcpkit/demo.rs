//! `tcpkit demo`: the tutorial's two terminal windows in one.
//!
//! Part of the binary: it starts this very executable (`current_exe`) as
//! `tcpkit serve`, a child process on a free loopback port, lets
//! [`tcpkit::demo::windows`] follow its log and run the scripted client,
//! prints both sides, each line marked `server |` or `client |`, then
//! stops the server the way Ctrl+C does (SIGTERM) and says so first.
//!
//! The server always logs at info (debug with `-v`), because the demo
//! follows its lines; `-q`, `-qq`, `-v` and a plain `RUST_LOG` level
//! choose which of them are shown.

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;

use tcpkit::demo;

use crate::printer::Printer;

/// How long the child server may take to stop.
const CHILD_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the demo, printing to stdout; `verbosity` counts `-v` minus `-q`;
/// the server listens on 127.0.0.1:`port` (0: a free one).
pub fn run(messages: &[String], verbosity: i8, port: u16, printer: &Printer) -> anyhow::Result<()> {
    let shown = demo::shown_level(verbosity, std::env::var("RUST_LOG").ok().as_deref());
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
    tcpkit::signal::stoppable(&mut server);
    let mut child = server.spawn().context("cannot start the server")?;
    let ran = match child.stderr.take() {
        Some(log) => demo::windows(log, messages, shown, crate::FLAGS, printer.windows()),
        None => Err(tcpkit::Error::Other {
            message: "the server has no stderr".into(),
            source: None,
        }),
    };
    stop(&mut child, shown, printer);
    match ran? {
        // Shown in the client's window already, where it happened.
        Some(failed) => Err(anyhow::Error::from(failed).context(crate::exit::Shown)),
        None => Ok(()),
    }
}

/// Stops the server we started, by its pid, the way Ctrl+C does, and says
/// so first: the server's "Signal received" line follows from it.
fn stop(child: &mut Child, shown: usize, printer: &Printer) {
    // A server that never started, or has ended, is not stopped again.
    if !matches!(child.try_wait(), Ok(None)) {
        let _ = child.wait();
        return;
    }
    if shown >= 2 {
        printer.windows()("demo", "stopping the server the way Ctrl+C does");
    }
    if !tcpkit::signal::ask_to_stop(child) {
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
