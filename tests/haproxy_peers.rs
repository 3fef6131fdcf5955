//! The peer tier for running `serve` as a service: two instances behind
//! Debian's HAProxy (2.6) in TCP mode with `send-proxy-v2` and health
//! checks that send a PROXY LOCAL header and read the welcome. Loopback
//! only; every process is ours and is stopped by pid.

#![cfg(unix)] // the peers are Debian programs, driven with Unix signals

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{LineClient, PATIENCE, Proc, bench, free_port, num, require, stdout_of, talk};

/// HAProxy in the foreground, stopped when dropped.
struct Haproxy {
    child: Child,
    /// The frontend's address.
    addr: std::net::SocketAddr,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts HAProxy with deploy/haproxy.cfg, pointed at `servers` and a
/// free port, health checks every 100 ms (2 s in the file).
fn haproxy(dir: &Path, servers: [&Backend; 2]) -> Haproxy {
    require("haproxy");
    let port = free_port();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/haproxy.cfg"))
            .unwrap();
    let mut config = shipped
        .replace("bind :9999", &format!("bind 127.0.0.1:{port}"))
        .replace("127.0.0.1:10001", &servers[0].addr.to_string())
        .replace("127.0.0.1:10002", &servers[1].addr.to_string())
        .replace("inter 2s fall 2 rise 2", "inter 100ms fall 1 rise 1")
        .replace("agent-inter 1s", "agent-inter 100ms")
        .replace(
            "agent-port 11001",
            &format!("agent-port {}", servers[0].agent),
        )
        .replace(
            "agent-port 11002",
            &format!("agent-port {}", servers[1].agent),
        );
    // Logs would go to our stdout: not needed here.
    config = config.replace("    log stdout format raw local0 info\n", "");
    assert_ne!(config, shipped);
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let check = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "haproxy -c: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not listen");
        thread::sleep(Duration::from_millis(20));
    }
    Haproxy { child, addr }
}

/// A greeting server as deploy/haproxy.cfg expects it: PROXY v2 headers
/// from 127.0.0.1, an agent check, a drain ten agent intervals long.
struct Backend {
    proc: Proc,
    addr: std::net::SocketAddr,
    agent: u16,
}

impl Backend {
    fn start() -> Backend {
        Backend::start_on(&format!("127.0.0.1:{}", free_port()), free_port())
    }

    fn start_on(bind: &str, agent: u16) -> Backend {
        let proc = Proc::serve(&[
            "--bind",
            bind,
            "--proxy-protocol",
            "v2",
            "--proxy-from",
            "127.0.0.1",
            "--agent",
            &format!("127.0.0.1:{agent}"),
            "--drain",
            "1s",
        ]);
        Backend {
            addr: proc.addr,
            proc,
            agent,
        }
    }

    /// The documented restart: SIGTERM, wait for the exit, start anew on
    /// the same addresses.
    fn restart(self) -> Backend {
        let Backend {
            mut proc,
            addr,
            agent,
        } = self;
        proc.signal(libc::SIGTERM);
        assert_eq!(proc.wait(), Some(0), "{}", proc.log());
        assert!(proc.log().contains("Draining: still serving for 1s"));
        Backend::start_on(&addr.to_string(), agent)
    }
}

impl std::ops::Deref for Backend {
    type Target = Proc;
    fn deref(&self) -> &Proc {
        &self.proc
    }
}

#[test]
fn two_servers_behind_haproxy_see_the_real_client() {
    let (a, b) = (Backend::start(), Backend::start());
    let dir = tempfile::tempdir().unwrap();
    let lb = haproxy(dir.path(), [&a, &b]);
    // HAProxy's health checks speak PROXY LOCAL and read the welcome.
    for s in [&a, &b] {
        assert!(
            s.logged("(PROXY LOCAL: the load balancer itself)"),
            "{}",
            s.log()
        );
    }
    // The tutorial's transcript, through the balancer.
    let out = talk(&[&lb.addr.to_string(), "Michael", "Tracy", "Sarah"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_of(&out),
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
    );
    // Round robin: four clients reach both servers, and each server's log
    // names the client's own address and port, not HAProxy's.
    for _ in 0..4 {
        let mut c = LineClient::connect(lb.addr);
        let ours = c.stream.local_addr().unwrap();
        assert_eq!(c.line(), "Welcome!\n");
        c.send(b"exit\n");
        assert_eq!(c.rest(), b"");
        let needle = format!("Accept new connection from {ours} (via 127.0.0.1:");
        let deadline = Instant::now() + PATIENCE;
        while !(a.log().contains(&needle) || b.log().contains(&needle)) {
            assert!(Instant::now() < deadline, "no server logged {needle}");
            thread::sleep(Duration::from_millis(10));
        }
    }
    for s in [&a, &b] {
        let proxied = s.log().matches("(via 127.0.0.1:").count();
        assert!(proxied >= 2, "round robin: {proxied} clients here");
    }
}

/// Waits until HAProxy's health check has reached `server` `checks` times
/// (each logs a PROXY LOCAL connection).
fn checked(server: &Proc, checks: usize) {
    let deadline = Instant::now() + PATIENCE;
    while server.log().matches("(PROXY LOCAL").count() < checks {
        assert!(
            Instant::now() < deadline,
            "HAProxy never checked: {}",
            server.log()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Two backends behind HAProxy, `bench churn CHURN_ARGS` through it,
/// and after `first` each backend in turn drained, stopped and started
/// again (then checked twice, and `settle` given to it); the bench's
/// report once it is done, with 0 errors and 0 wrong replies required.
fn rolling_restart(churn_args: &[&str], first: Duration, settle: Duration) -> serde_json::Value {
    let (a, b) = (Backend::start(), Backend::start());
    let dir = tempfile::tempdir().unwrap();
    let lb = haproxy(dir.path(), [&a, &b]);
    checked(&a, 2);
    checked(&b, 2);
    let mut backends = [Some(a), Some(b)];
    let mut args = vec!["churn".to_string(), lb.addr.to_string()];
    args.extend(churn_args.iter().map(|a| a.to_string()));
    let load = thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bench(&args)
    });
    thread::sleep(first);
    for slot in &mut backends {
        let restarted = slot.take().expect("a backend").restart();
        // Up again: checked twice, and the agent has said "ready".
        checked(&restarted, 2);
        thread::sleep(settle);
        assert!(
            restarted.logged("(via 127.0.0.1:"),
            "no client reached the new instance"
        );
        *slot = Some(restarted);
    }
    let (code, report, stderr) = load.join().unwrap();
    eprintln!(
        "rolling restart {churn_args:?}: {} sessions, {} errors",
        report["done"], report["errors"]
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(num(&report, "errors"), 0, "{report}");
    assert_eq!(num(&report, "mismatches"), 0, "{report}");
    report
}

#[test]
fn a_rolling_restart_behind_haproxy_loses_no_session() {
    // The tutorial client's whole session, over and over.
    let args = ["-c", "4", "--duration", "6s", "--timeout", "5s"];
    let report = rolling_restart(
        &args,
        Duration::from_millis(800),
        Duration::from_millis(300),
    );
    assert!(num(&report, "done") > 100, "{report}");
}

#[test]
fn sessions_longer_than_the_drain_finish_through_a_rolling_restart() {
    // Each session is 6 messages 500 ms apart (3 s), three times the 1 s
    // drain: a stopping backend must go on serving the sessions it has
    // until their clients end them (within --grace, 10 s), while HAProxy
    // sends new ones to the other. Cutting them when the drain ends (as
    // with --grace 0) failed 10 of 32 sessions here.
    let args = [
        "-c",
        "8",
        "--messages",
        "6",
        "--interval",
        "500ms",
        "--duration",
        "12s",
        "--timeout",
        "5s",
    ];
    let report = rolling_restart(
        &args,
        Duration::from_millis(1500),
        Duration::from_millis(1000),
    );
    assert!(num(&report, "done") >= 16, "{report}");
}
