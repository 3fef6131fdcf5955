//! systemd's socket activation, the process's side: `LISTEN_PID` and
//! `LISTEN_FDS` say which descriptors are ours; they are read once and
//! removed, so no child takes the sockets for its own. The library adopts
//! the descriptors (`net::adopt_listeners`).

use std::io;
use std::net::TcpListener;

/// The listening sockets a service manager passed to this process; empty
/// when none were. Call it first, while this is the only thread.
pub fn passed_listeners() -> io::Result<Vec<TcpListener>> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse::<i32>().ok())
        .unwrap_or(0);
    // SAFETY: called once at start, before the runtime's threads exist,
    // so nothing reads the environment concurrently.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    if !for_us || count <= 0 {
        return Ok(Vec::new());
    }
    // SAFETY: LISTEN_PID names this process, so the service manager
    // passed these descriptors to it, and nothing has taken them yet.
    unsafe { tcpkit::net::adopt_listeners(count) }
}
