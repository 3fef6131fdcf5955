//! The signals a server or a download stops on, for a caller that asks:
//! Ctrl+C and SIGTERM on Unix (SIGTERM is how systemd, Kubernetes and
//! `kill` stop a service), Ctrl+C and Ctrl+Break on Windows (which has no
//! SIGTERM); SIGHUP, the conventional "read your configuration again";
//! and asking a child process to stop the same way.
//!
//! The library watches nothing by itself: a program that embeds the
//! server chooses to, with [`stopped`] as `run`'s shutdown future. Each
//! watcher starts when it is made, not when first awaited: until a signal
//! is watched it keeps its default effect, which ends the process at once
//! (a supervisor's SIGTERM right after start would skip the drain).

use std::future::Future;
use std::process::Child;

use tracing::warn;

/// The stop signals (Ctrl+C, and SIGTERM or Ctrl+Break), watched from
/// the moment this is made.
pub struct Stops {
    first: Option<Watch>,
    second: Option<Watch>,
}

#[cfg(unix)]
type Watch = tokio::signal::unix::Signal;

#[cfg(windows)]
enum Watch {
    CtrlC(tokio::signal::windows::CtrlC),
    CtrlBreak(tokio::signal::windows::CtrlBreak),
}

#[cfg(windows)]
impl Watch {
    async fn recv(&mut self) -> Option<()> {
        match self {
            Watch::CtrlC(s) => s.recv().await,
            Watch::CtrlBreak(s) => s.recv().await,
        }
    }
}

/// A watcher that could not be made is said, not fatal: the signal keeps
/// its default effect.
fn watched<T, E: std::fmt::Display>(made: Result<T, E>, name: &str) -> Option<T> {
    match made {
        Ok(s) => Some(s),
        Err(e) => {
            warn!("cannot watch {name} ({e})");
            None
        }
    }
}

impl Stops {
    /// Starts watching; must run inside a tokio runtime.
    #[cfg(unix)]
    pub fn watch() -> Stops {
        use tokio::signal::unix::{SignalKind, signal};
        Stops {
            first: watched(signal(SignalKind::interrupt()), "Ctrl+C"),
            second: watched(signal(SignalKind::terminate()), "SIGTERM"),
        }
    }

    /// Starts watching; must run inside a tokio runtime.
    #[cfg(windows)]
    pub fn watch() -> Stops {
        use tokio::signal::windows::{ctrl_break, ctrl_c};
        Stops {
            first: watched(ctrl_c(), "Ctrl+C").map(Watch::CtrlC),
            second: watched(ctrl_break(), "Ctrl+Break").map(Watch::CtrlBreak),
        }
    }

    /// The next stop signal (never, if none could be watched).
    pub async fn next(&mut self) {
        async fn one(s: &mut Option<Watch>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = one(&mut self.first) => {}
            () = one(&mut self.second) => {}
        }
    }
}

/// Completes at the first stop signal; watching starts when this is
/// called (inside the runtime), not when the future is first polled.
/// The shutdown future a server or a download is given.
pub fn stopped() -> impl Future<Output = ()> {
    let mut stops = Stops::watch();
    async move { stops.next().await }
}

/// SIGHUP (Unix only; Windows has no such signal, and this never fires
/// there), watched from the moment this is made: SIGHUP's default effect
/// ends the process.
pub struct Reloads(Option<ReloadWatch>);

#[cfg(unix)]
type ReloadWatch = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type ReloadWatch = std::convert::Infallible;

impl Reloads {
    /// Starts watching; must run inside a tokio runtime.
    pub fn watch() -> Reloads {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Reloads(watched(signal(SignalKind::hangup()), "SIGHUP"))
        }
        #[cfg(not(unix))]
        {
            Reloads(None)
        }
    }

    /// The next SIGHUP (never, where there is none).
    pub async fn next(&mut self) {
        match &mut self.0 {
            #[cfg(unix)]
            Some(s) => {
                s.recv().await;
            }
            _ => std::future::pending::<()>().await,
        }
    }
}

/// Makes a child stoppable by [`ask_to_stop`]: on Windows it gets a
/// console process group of its own, the unit Ctrl+Break is sent to (and
/// so a Ctrl+C typed at the parent reaches only the parent).
pub fn stoppable(cmd: &mut std::process::Command) {
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
        cmd.creation_flags(CREATE_NEW_PROCESS_GROUP);
    }
    #[cfg(not(windows))]
    let _ = cmd;
}

/// Asks a child, made [`stoppable`], to stop gracefully: SIGTERM by its
/// pid on Unix, Ctrl+Break to its process group on Windows (what
/// [`Stops`] watches). False when it could not be asked; the caller ends
/// it instead.
pub fn ask_to_stop(child: &Child) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(child.id()) else {
            return false;
        };
        // SAFETY: kill(2) on the pid of a child the caller spawned and
        // holds unreaped (a `Child` not yet waited for).
        unsafe { libc::kill(pid, libc::SIGTERM) == 0 }
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};
        // SAFETY: a plain Win32 call; the group id is the pid of a child
        // started with CREATE_NEW_PROCESS_GROUP and not yet reaped.
        unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, child.id()) != 0 }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = child;
        false
    }
}
