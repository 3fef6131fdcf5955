//! serve under a service manager's notify protocol (systemd's
//! `Type=notify`), against a `NOTIFY_SOCKET` this test binds, as systemd
//! would: `READY=1` once the listener serves, `WATCHDOG=1` at the
//! `WATCHDOG_USEC` cadence, `RELOADING=1` and `READY=1` around SIGHUP's
//! certificate reload, and `STOPPING=1` with a status naming the open
//! connections. (No systemd runs here to start a unit.)

#![cfg(unix)] // Unix datagram sockets, signals

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{PATIENCE, Proc, stdout_of, tcpkit};

/// The watchdog asked for: short, so the test sees many pings.
const WATCHDOG: Duration = Duration::from_millis(600);

/// What serve sent to the notify socket, each with when it came.
struct Manager {
    socket: UnixDatagram,
    got: Vec<(Instant, String)>,
}

impl Manager {
    /// A notify socket at `path`, read with a short timeout.
    fn bind(path: &std::path::Path) -> Manager {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        Manager {
            socket,
            got: Vec::new(),
        }
    }

    /// The next message other than a watchdog ping (pings are kept).
    fn next(&mut self) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut buf = [0; 4096];
        loop {
            assert!(Instant::now() < deadline, "no message; got {:?}", self.got);
            let Ok(n) = self.socket.recv(&mut buf) else {
                continue; // the read timeout
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.got.push((Instant::now(), text.clone()));
            if text != "WATCHDOG=1\n" {
                return text;
            }
        }
    }

    /// Collects messages for `time`.
    fn listen_for(&mut self, time: Duration) {
        let end = Instant::now() + time;
        let mut buf = [0; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.got.push((Instant::now(), text));
            }
        }
    }
}

fn pair_files(dir: &std::path::Path) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c.display().to_string(), k.display().to_string())
}

#[test]
fn serve_tells_the_service_manager_ready_reloading_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let mut manager = Manager::bind(&path);
    let (cert, key) = pair_files(dir.path());
    let mut cmd = Command::new(tcpkit());
    cmd.args(["--plain-logs", "serve", "--bind", "127.0.0.1:0"])
        .args(["--tls-cert", &cert, "--tls-key", &key, "--grace", "10s"])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", WATCHDOG.as_micros().to_string());
    let mut server = Proc::start(cmd, true);
    let addr = server.addr.to_string();

    // Ready, naming the address, which serves when it is said.
    let ready = manager.next();
    assert_eq!(
        ready,
        format!("READY=1\nSTATUS=Waiting for connections on {addr}\n")
    );
    let out = common::talk(&["--tls", "--cacert", &cert, &addr, "Michael"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");

    // The watchdog, fed more often than it asks, and never late.
    let from = Instant::now();
    manager.listen_for(Duration::from_millis(1500));
    let pings: Vec<Instant> = manager
        .got
        .iter()
        .filter(|(at, text)| *at >= from && text == "WATCHDOG=1\n")
        .map(|(at, _)| *at)
        .collect();
    assert!(pings.len() >= 5, "{} pings in 1.5s", pings.len());
    let longest = pings.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        longest < WATCHDOG,
        "{longest:?} between pings; the watchdog allows {WATCHDOG:?}"
    );

    // SIGHUP: reloading (with the time systemd 253 asks for), then ready.
    server.signal(libc::SIGHUP);
    let reloading = manager.next();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert_eq!(
        manager.next(),
        "READY=1\nSTATUS=Serving; SIGHUP: reloaded the TLS certificate\n"
    );

    // Stopping, with the one open connection named.
    let open = TcpStream::connect(&addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGTERM);
    assert_eq!(
        manager.next(),
        "STOPPING=1\nSTATUS=Stopping: 1 connection(s) open; serving 0s more while load \
         balancers stop sending\n"
    );
    assert_eq!(
        manager.next(),
        "STATUS=Stopping: no new connections; 1 connection(s) open, for up to 10s\n"
    );
    drop(open);
    assert_eq!(server.wait(), Some(0));
}

#[test]
fn without_a_watchdog_there_are_no_pings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let mut manager = Manager::bind(&path);
    let mut cmd = Command::new(tcpkit());
    cmd.args(["--plain-logs", "serve", "--bind", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &path)
        .env_remove("WATCHDOG_USEC");
    let mut server = Proc::start(cmd, true);
    assert!(manager.next().starts_with("READY=1\n"));
    manager.listen_for(Duration::from_millis(500));
    assert_eq!(manager.got.len(), 1, "{:?}", manager.got);
    // A client that reads nothing but its welcome still lets it stop.
    let mut open = TcpStream::connect(server.addr).unwrap();
    let mut welcome = String::new();
    BufReader::new(open.try_clone().unwrap())
        .read_line(&mut welcome)
        .unwrap();
    server.signal(libc::SIGTERM);
    assert!(manager.next().starts_with("STOPPING=1\n"));
    open.write_all(b"exit\n").unwrap();
    assert_eq!(server.wait(), Some(0));
}

#[test]
fn a_service_manager_that_does_not_read_holds_up_nothing() {
    // A notify socket nobody reads, and a watchdog of 4 ms (a ping a
    // millisecond): the socket's queue is full within a second, and a
    // send to it blocks. Serving and stopping must not wait on it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let _unread = UnixDatagram::bind(&path).unwrap();
    let mut cmd = Command::new(tcpkit());
    cmd.args(["--plain-logs", "serve", "--bind", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "4000");
    let mut server = Proc::start(cmd, true);
    std::thread::sleep(Duration::from_millis(1500));
    for name in ["Michael", "Tracy"] {
        let out = common::talk(&[&server.addr.to_string(), name])
            .output()
            .unwrap();
        assert_eq!(stdout_of(&out), format!("Welcome!\nHello, {name}!\n"));
    }
    // STOPPING=1 finds the queue full; the shutdown goes on regardless.
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait(), Some(0));
    assert!(server.logged("Server stopped."), "{}", server.log());
}
