//! Memory a server held during an attack goes back to the system after
//! it: the binary as a child process, its RSS read from /proc (Linux).

#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{LineClient, Proc};

/// The child's resident memory, KiB.
fn rss_kib(server: &Proc) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Opens `n` clients that send empty lines without ever reading, until
/// the server's RSS reaches `target` KiB (each holds a stuck read and its
/// replies) or 30 s pass; bounded in bytes per client too.
fn non_readers(server: &Proc, n: usize, target: u64) -> Vec<TcpStream> {
    let clients: Vec<TcpStream> = (0..n)
        .map(|_| {
            let s = TcpStream::connect(server.addr).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let flood = [b'\n'; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = vec![0usize; n];
    while Instant::now() < deadline && rss_kib(server) < target {
        for (i, mut c) in clients.iter().enumerate() {
            if sent[i] < 32 << 20
                && let Ok(k) = c.write(&flood)
            {
                sent[i] += k;
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
    // What the server is still reading settles.
    thread::sleep(Duration::from_millis(500));
    clients
}

#[test]
fn memory_goes_back_after_two_thousand_clients_that_do_not_read() {
    // Goal of the hardening round: within 2 times the fresh RSS 10 s after
    // the attack. Before each worker collected its own heap as it parked,
    // this stayed at 6 to 7 times. No budget, so that all of them are held.
    tcpkit::net::raise_fd_limit();
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--max-buffered", "0"]);
    let mut probe = LineClient::connect(server.addr);
    assert_eq!(probe.line(), "Welcome!\n");
    thread::sleep(Duration::from_millis(300));
    let fresh = rss_kib(&server);
    let clients = non_readers(&server, 2000, fresh * 7 / 2);
    let peak = rss_kib(&server);
    assert!(
        peak > 3 * fresh,
        "the attack did not make the server hold memory ({fresh} KiB fresh, {peak} KiB): the \
         test tests nothing"
    );
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = rss_kib(&server);
    while now >= 2 * fresh && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(250));
        now = rss_kib(&server);
    }
    eprintln!("RSS: fresh {fresh} KiB, peak {peak} KiB, after {now} KiB");
    assert!(
        now < 2 * fresh,
        "10 s after the attack the server holds {now} KiB, {:.1} times its fresh {fresh} KiB \
         (peak {peak} KiB)",
        now as f64 / fresh as f64
    );
    // And it still serves.
    probe.send(b"Michael\n");
    assert_eq!(probe.line(), "Hello, Michael!\n");
}

#[test]
fn the_server_keeps_its_memory_in_small_pages() {
    // Transparent huge pages made each first touch of fresh heap clear
    // 2 MiB inside one connection's turn (5 to 25 ms here): an innocent
    // client's reply came hundreds of ms late while an attack grew the
    // heap. `serve` turns them off for itself (PR_SET_THP_DISABLE), which
    // the kernel reports as `THP_enabled: 0`.
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("THP_enabled:"))
        .expect("THP_enabled in /proc/PID/status (Linux 5.0 and later)");
    assert_eq!(
        line.split_whitespace().nth(1),
        Some("0"),
        "serve runs with transparent huge pages: {line}"
    );
}
