//! The peer tier for running `serve` as a service: two instances behind
//! Debian's HAProxy (2.6) in TCP mode with `send-proxy-v2` and health
//! checks that send a PROXY LOCAL header and read the welcome. Loopback
//! only; every process is ours and is stopped by pid.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{LineClient, PATIENCE, Proc, require, stdout_of, talk};

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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts HAProxy with deploy/haproxy.cfg, pointed at `servers` and a
/// free port, health checks every 100 ms (2 s in the file).
fn haproxy(dir: &Path, servers: [&Proc; 2]) -> Haproxy {
    require("haproxy");
    let port = free_port();
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/haproxy.cfg"))
            .unwrap();
    let mut config = shipped
        .replace("bind :9999", &format!("bind 127.0.0.1:{port}"))
        .replace("127.0.0.1:10001", &servers[0].addr.to_string())
        .replace("127.0.0.1:10002", &servers[1].addr.to_string())
        .replace("inter 2s fall 2 rise 2", "inter 100ms fall 1 rise 1");
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

/// A greeting server that expects PROXY v2 headers from 127.0.0.1.
fn backend() -> Proc {
    Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--proxy-protocol",
        "v2",
        "--proxy-from",
        "127.0.0.1",
    ])
}

#[test]
fn two_servers_behind_haproxy_see_the_real_client() {
    let (a, b) = (backend(), backend());
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
