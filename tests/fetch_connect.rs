//! Connecting as RFC 8305 (happy eyeballs) asks, with real sockets on
//! loopback. An address that "does not answer" is a listener whose
//! backlog is full: the kernel drops further SYNs, as a dead route would.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};
use tcpkit::ErrorKind;
use tcpkit::fetch::{HAPPY_EYEBALLS_DELAY, race};

/// A listening socket that never accepts, its one-slot backlog taken.
struct Blackhole {
    _listener: Socket,
    _filler: TcpStream,
    addr: SocketAddr,
}

fn blackhole(addr: &str) -> Blackhole {
    let addr: SocketAddr = addr.parse().unwrap();
    let listener = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    listener.bind(&addr.into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let filler = TcpStream::connect(addr).unwrap();
    // Make sure the queue really is full before the test relies on it.
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
        "the kernel still answers SYNs for a full backlog"
    );
    Blackhole {
        _listener: listener,
        _filler: filler,
        addr,
    }
}

#[tokio::test]
async fn a_silent_address_is_passed_over_after_the_stagger() {
    let silent = blackhole("[::1]:0");
    let good = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let good_addr = good.local_addr().unwrap();
    let start = Instant::now();
    let stream = race("test", &[silent.addr, good_addr], HAPPY_EYEBALLS_DELAY)
        .await
        .unwrap();
    assert_eq!(stream.peer_addr().unwrap(), good_addr);
    assert!(
        start.elapsed() >= HAPPY_EYEBALLS_DELAY,
        "the second address waited for the stagger"
    );
}

#[tokio::test]
async fn a_refused_address_moves_on_at_once_and_all_failures_are_named() {
    let refused = std::net::TcpListener::bind("[::1]:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let good = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let good_addr = good.local_addr().unwrap();
    let stream = race("test", &[refused, good_addr], Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(stream.peer_addr().unwrap(), good_addr, "no 60 s wait");
    drop(good);
    let err = race("test", &[refused, good_addr], Duration::from_secs(60))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    // Two failures: both named, each with what it said.
    let hint = err.hint().render(tcpkit::Naming::Fields);
    assert!(
        hint.contains(&format!("{refused}: connection refused"))
            && hint.contains(&format!("{good_addr}: connection refused")),
        "{hint}"
    );
}

#[test]
fn connect_timeout_is_exit_7() {
    let silent = blackhole("127.0.0.1:0");
    let out = Command::new(common::tcpkit())
        .args(["fetch", "--connect-timeout", "300ms"])
        .arg(format!("http://{}/", silent.addr))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "connecting to {} timed out after 300ms",
            silent.addr
        )),
        "{stderr}"
    );
}

#[test]
fn family_flags_filter_addresses() {
    let out = Command::new(common::tcpkit())
        .args(["fetch", "-6", "http://127.0.0.1:9/"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("no IPv6 address (drop -6?)"), "{stderr}");
}
