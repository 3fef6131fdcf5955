//! `tcpkit::signal`: a signal is watched from the moment its watcher is
//! made, so one that arrives before anything awaits it is neither lost
//! nor given its default effect (which would end this test process).
//! Each test raises a signal at this process only, after watching it.
#![cfg(unix)]

use std::time::Duration;

use tokio::time::timeout;

/// Raises `signal` at this process.
fn raise(signal: libc::c_int) {
    // SAFETY: raise(3) with a signal the test watches through tokio.
    assert_eq!(unsafe { libc::raise(signal) }, 0, "raise failed");
}

#[tokio::test]
async fn sigterm_before_the_first_await_is_a_stop() {
    let stopped = tcpkit::signal::stopped();
    raise(libc::SIGTERM);
    timeout(Duration::from_secs(10), stopped)
        .await
        .expect("SIGTERM raised after stopped() was made did not complete it");
}

#[tokio::test]
async fn sighup_before_the_first_await_is_a_reload() {
    let mut reloads = tcpkit::signal::Reloads::watch();
    raise(libc::SIGHUP);
    timeout(Duration::from_secs(10), reloads.next())
        .await
        .expect("SIGHUP raised after watch() was not seen");
}

#[test]
fn a_stoppable_child_is_asked_with_sigterm() {
    use std::os::unix::process::ExitStatusExt;
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("30");
    tcpkit::signal::stoppable(&mut cmd);
    let mut child = cmd.spawn().expect("sleep runs");
    assert!(tcpkit::signal::ask_to_stop(&child));
    let status = child.wait().expect("sleep is reaped");
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}
