//! The service manager's side of serving (systemd's, as `sd_notify(3)` and
//! `sd_listen_fds(3)` describe it): the listening sockets it passed
//! (socket activation), and what the server tells it under `Type=notify`:
//! `READY=1` once every listener serves, `RELOADING=1` and `READY=1`
//! around a certificate reload, `STOPPING=1` with a `STATUS=` line saying
//! how many connections are still open, and `WATCHDOG=1` while every
//! accept loop turns (`WatchdogSec=`), so that a stuck server is
//! restarted.
//!
//! The protocol is the `sd-notify` crate's. What this module adds is that
//! serving never waits on it: a datagram to a service manager that does
//! not read blocks, so messages go through a small queue to a thread of
//! their own; when the queue is full the newest is dropped (a status line
//! that a later one replaces), and no connection is held up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages waiting for the notify thread; past this they are dropped.
const QUEUE: usize = 32;

/// How often, in parts of `WatchdogSec`, the thread checks that every
/// accept loop turned and pings: a loop that stalls for less than half the
/// watchdog's time is not killed for it.
const CHECKS_PER_PERIOD: u32 = 4;

/// How often, in parts of `WatchdogSec`, an idle accept loop wakes to say
/// it still turns: twice per check.
const BEATS_PER_PERIOD: u32 = 8;

/// What serving tells the service manager; does nothing when none asked
/// (`NOTIFY_SOCKET` unset, or not Unix). Cheap to clone: every clone
/// talks through the same thread.
#[derive(Clone, Default)]
pub struct Notifier(Option<Arc<Inner>>);

struct Inner {
    queue: SyncSender<Note>,
    /// `WATCHDOG_USEC` for this process.
    watchdog: Option<Duration>,
    /// One flag per accept loop: set as it turns, cleared at each ping.
    hearts: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
}

/// One message for the service manager.
#[derive(Debug, PartialEq)]
enum Note {
    Ready(String),
    Reloading,
    Status(String),
    Stopping(String),
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(inner) => write!(f, "Notifier(watchdog: {:?})", inner.watchdog),
            None => f.write_str("Notifier(none)"),
        }
    }
}

impl Notifier {
    /// The service manager `NOTIFY_SOCKET` names, with the watchdog
    /// `WATCHDOG_USEC` asks for (when `WATCHDOG_PID` is unset or this
    /// process); starts the thread that talks to it. Without
    /// `NOTIFY_SOCKET`, a notifier that does nothing.
    pub fn from_env() -> Notifier {
        if !cfg!(unix) || std::env::var_os("NOTIFY_SOCKET").is_none() {
            return Notifier(None);
        }
        #[cfg(unix)]
        let watchdog = sd_notify::watchdog_enabled().filter(|w| !w.is_zero());
        #[cfg(not(unix))]
        let watchdog = None;
        let (queue, notes) = sync_channel(QUEUE);
        let hearts = Arc::new(Mutex::new(Vec::new()));
        let inner = Inner {
            queue,
            watchdog,
            hearts: hearts.clone(),
        };
        let talking = std::thread::Builder::new()
            .name("tcpkit-notify".into())
            .spawn(move || talk(&notes, watchdog, &hearts));
        match talking {
            Ok(_) => Notifier(Some(Arc::new(inner))),
            Err(e) => {
                tracing::warn!(
                    "cannot start the thread that talks to the service manager (NOTIFY_SOCKET): \
                     {e}; it will not hear that serve is ready"
                );
                Notifier(None)
            }
        }
    }

    /// Whether a service manager listens.
    pub fn is_active(&self) -> bool {
        self.0.is_some()
    }

    /// The watchdog's period (`WatchdogSec=`), when one is set.
    pub fn watchdog(&self) -> Option<Duration> {
        self.0.as_ref().and_then(|inner| inner.watchdog)
    }

    /// `READY=1` and `STATUS=status`: every listener serves (again,
    /// after a reload).
    pub fn ready(&self, status: impl Into<String>) {
        self.send(Note::Ready(status.into()));
    }

    /// `RELOADING=1` (with the `MONOTONIC_USEC=` systemd 253 asks for):
    /// [`Notifier::ready`] follows when the reload is done.
    pub fn reloading(&self) {
        self.send(Note::Reloading);
    }

    /// `STATUS=status`: what the server is doing now.
    pub fn status(&self, status: impl Into<String>) {
        self.send(Note::Status(status.into()));
    }

    /// `STOPPING=1` and `STATUS=status`: the shutdown started. From now
    /// on the watchdog is fed whatever the accept loops do (they end).
    pub fn stopping(&self, status: impl Into<String>) {
        self.send(Note::Stopping(status.into()));
    }

    fn send(&self, note: Note) {
        if let Some(inner) = &self.0 {
            // Full: the service manager is not reading; never wait on it.
            let _ = inner.queue.try_send(note);
        }
    }

    /// A pulse for one accept loop, when a watchdog is set.
    pub(crate) fn heart(&self) -> Option<Heart> {
        let inner = self.0.as_ref()?;
        let every = inner.watchdog? / BEATS_PER_PERIOD;
        let beat = Arc::new(AtomicBool::new(true));
        if let Ok(mut hearts) = inner.hearts.lock() {
            hearts.push(beat.clone());
        }
        Some(Heart {
            beat,
            every,
            wake: Box::pin(tokio::time::sleep(every)),
        })
    }
}

/// An accept loop's pulse: [`Heart::beat`] at each turn of the loop, and
/// [`Heart::wake`] to turn an idle one now and then.
pub(crate) struct Heart {
    beat: Arc<AtomicBool>,
    every: Duration,
    wake: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Heart {
    /// The loop turned.
    pub fn beat(&self) {
        self.beat.store(true, Ordering::Relaxed);
    }

    /// Completes when an idle loop should turn, to beat.
    pub async fn wake(&mut self) {
        self.wake.as_mut().await;
        let next = tokio::time::Instant::now() + self.every;
        self.wake.as_mut().reset(next);
    }
}

/// Completes when `heart` says to turn; never without one.
pub(crate) async fn wake(heart: &mut Option<Heart>) {
    match heart {
        Some(heart) => heart.wake().await,
        None => std::future::pending().await,
    }
}

/// The notify thread: sends what it is given, and with a watchdog pings
/// while every accept loop beats.
fn talk(notes: &Receiver<Note>, watchdog: Option<Duration>, hearts: &Mutex<Vec<Arc<AtomicBool>>>) {
    let check_every = watchdog.map(|w| w / CHECKS_PER_PERIOD);
    let mut next_check = Instant::now();
    let mut stopping = false;
    let mut said_stalled = false;
    loop {
        let note = match check_every {
            Some(_) => notes.recv_timeout(next_check.saturating_duration_since(Instant::now())),
            None => notes.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match note {
            Ok(note) => {
                stopping |= matches!(note, Note::Stopping(_));
                notify(&note);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let Some(every) = check_every else { continue };
        if Instant::now() < next_check {
            continue;
        }
        next_check = Instant::now() + every;
        if stopping || all_beat(hearts) {
            said_stalled = false;
            #[cfg(unix)]
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        } else if !said_stalled {
            said_stalled = true;
            tracing::warn!(
                "An accept loop has not turned for {}: the service manager's watchdog is not \
                 fed, and it will restart serve if this goes on.",
                humantime::format_duration(every)
            );
        }
    }
}

/// True when every accept loop beat since the last check; clears them.
fn all_beat(hearts: &Mutex<Vec<Arc<AtomicBool>>>) -> bool {
    let Ok(hearts) = hearts.lock() else {
        return true;
    };
    // Every flag is cleared: no stopping at the first that did not beat.
    let mut all = true;
    for beat in hearts.iter() {
        all &= beat.swap(false, Ordering::Relaxed);
    }
    all
}

/// Sends one note; a service manager that is gone is no one's failure.
fn notify(note: &Note) {
    #[cfg(unix)]
    {
        use sd_notify::NotifyState as State;
        let _ = match note {
            Note::Ready(status) => sd_notify::notify(&[State::Ready, State::Status(status)]),
            Note::Reloading => match State::monotonic_usec_now() {
                Ok(now) => sd_notify::notify(&[State::Reloading, now]),
                Err(_) => sd_notify::notify(&[State::Reloading]),
            },
            Note::Status(status) => sd_notify::notify(&[State::Status(status)]),
            Note::Stopping(status) => sd_notify::notify(&[State::Stopping, State::Status(status)]),
        };
    }
    #[cfg(not(unix))]
    let _ = note;
}

/// The listening sockets a service manager passed to this process
/// (`LISTEN_PID` names it, `LISTEN_FDS` counts them; empty when none
/// were); `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` are removed, so
/// no child takes the sockets for its own.
///
/// # Safety
///
/// It changes the environment: call it first, while this is the only
/// thread (before any runtime starts), and once, since the descriptors
/// are owned by the listeners it returns.
pub unsafe fn passed_listeners() -> std::io::Result<Vec<std::net::TcpListener>> {
    #[cfg(unix)]
    {
        // SAFETY: the caller runs this while single-threaded.
        let passed = unsafe { sd_notify::listen_fds_and_unset_env() };
        // SAFETY: as above.
        unsafe { std::env::remove_var("LISTEN_FDNAMES") };
        let count = i32::try_from(passed?.len()).unwrap_or(i32::MAX);
        // SAFETY: LISTEN_PID names this process, so the service manager
        // passed these descriptors to it, and nothing has taken them yet.
        unsafe { crate::net::adopt_listeners(count) }
    }
    #[cfg(not(unix))]
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_cleared_even_after_one_that_did_not_beat() {
        let flags: Vec<_> = [false, true, true]
            .into_iter()
            .map(|b| Arc::new(AtomicBool::new(b)))
            .collect();
        let hearts = Mutex::new(flags.clone());
        assert!(!all_beat(&hearts));
        assert!(flags.iter().all(|f| !f.load(Ordering::Relaxed)));
        for f in &flags {
            f.store(true, Ordering::Relaxed);
        }
        assert!(all_beat(&hearts));
        // No loops yet (before they start): fed.
        assert!(all_beat(&Mutex::new(Vec::new())));
    }

    #[test]
    fn without_a_service_manager_nothing_is_sent_and_no_heart_is_made() {
        let quiet = Notifier::default();
        assert!(!quiet.is_active() && quiet.watchdog().is_none() && quiet.heart().is_none());
        quiet.ready("Serving");
        quiet.stopping("Stopping");
    }
}
