//! The process's signals, in one place per platform: what stops `serve`
//! and `fetch` (Ctrl+C and SIGTERM on Unix; Ctrl+C and Ctrl+Break on
//! Windows, which has no SIGTERM), what reloads `serve`'s certificate
//! (SIGHUP, Unix only), and how `demo` asks its server child to stop the
//! same way.

use std::process::Child;

use tracing::warn;

/// The stop signals, watched from the moment this is made: registering
/// only when first awaited would leave a window in which a signal still
/// has its default effect and kills the process at once (a supervisor's
/// SIGTERM right after start).
pub struct Signals {
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

fn watched<T, E: std::fmt::Display>(made: Result<T, E>, name: &str) -> Option<T> {
    match made {
        Ok(s) => Some(s),
        Err(e) => {
            warn!("cannot watch {name} ({e})");
            None
        }
    }
}

impl Signals {
    /// Starts watching; must run inside the runtime.
    #[cfg(unix)]
    pub fn watch() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            first: watched(signal(SignalKind::interrupt()), "Ctrl+C"),
            second: watched(signal(SignalKind::terminate()), "SIGTERM"),
        }
    }

    /// Starts watching; must run inside the runtime.
    #[cfg(windows)]
    pub fn watch() -> Signals {
        use tokio::signal::windows::{ctrl_break, ctrl_c};
        Signals {
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

/// SIGHUP, the conventional "read your configuration again" (Unix only;
/// Windows has no such signal, and this never fires there). Watched from
/// the moment it is made: SIGHUP's default action ends the process.
pub struct Reloads(Option<ReloadWatch>);

#[cfg(unix)]
type ReloadWatch = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type ReloadWatch = std::convert::Infallible;

impl Reloads {
    /// Starts watching; must run inside the runtime.
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
/// so a Ctrl+C typed at the demo reaches only the demo).
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

/// Asks a child of ours, made [`stoppable`], to stop gracefully: SIGTERM
/// by its pid on Unix, Ctrl+Break to its process group on Windows (both
/// run serve's drain). False when it could not be asked; the caller ends
/// it instead.
pub fn ask_to_stop(child: &Child) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(child.id()) else {
            return false;
        };
        // SAFETY: kill(2) on the pid of a child we spawned and have not
        // reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) == 0 }
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};
        // SAFETY: a plain Win32 call; the group id is the pid of a child
        // we started with CREATE_NEW_PROCESS_GROUP and have not reaped.
        unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, child.id()) != 0 }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = child;
        false
    }
}

/// Completes at the first Ctrl+C or SIGTERM; a second one exits at once,
/// saying in the log how many connections `health` had open (they are
/// dropped). Watching starts when this is called (inside the runtime),
/// not when the future is first polled.
pub fn shutdown_signal(
    health: std::sync::Arc<tcpkit::server::agent::Health>,
) -> impl Future<Output = ()> {
    let mut signals = Signals::watch();
    async move {
        signals.next().await;
        tracing::info!(
            "Signal received: finishing open connections (signal again to stop at once)."
        );
        tokio::spawn(async move {
            signals.next().await;
            let open = health.open_connections();
            tracing::warn!(
                "Second signal: stopping at once; {open} open connection{} dropped.",
                if open == 1 { "" } else { "s" }
            );
            remove_before_exit();
            // At once, whatever stderr does: a paused terminal gets a
            // moment to take the line, no more.
            crate::logging::finish_within(std::time::Duration::from_millis(200));
            std::process::exit(i32::from(crate::exit::INTERRUPTED));
        });
    }
}

/// Completes at the first Ctrl+C or SIGTERM: for work that stops cleanly
/// and says what it kept (`fetch`). Watching starts when this is called.
pub fn interrupted() -> impl Future<Output = ()> {
    let mut signals = Signals::watch();
    async move { signals.next().await }
}

/// The made certificate's temporary file, for [`remove_before_exit`]: a
/// second signal's exit skips the destructor that removes it.
static REMOVED_AT_EXIT: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// Remembers `path` to remove before a second signal's exit.
pub fn remove_at_exit(path: Option<&std::path::Path>) {
    if let Ok(mut at_exit) = REMOVED_AT_EXIT.lock() {
        *at_exit = path.map(Into::into);
    }
}

/// Removes, before `process::exit`, what the made certificate's drop would have.
fn remove_before_exit() {
    if let Ok(mut at_exit) = REMOVED_AT_EXIT.lock()
        && let Some(path) = at_exit.take()
    {
        let _ = std::fs::remove_file(path);
    }
}
