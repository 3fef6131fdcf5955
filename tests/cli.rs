//! The `tcpkit` binary as a user runs it: `serve` and `talk` as child
//! processes, exit codes and error messages. Tests against outside peers
//! (python3, nc, setpriv) are in `peers.rs`, the peer tier.

#![cfg(unix)] // Unix signals, /proc, sockets passed by descriptor (pre_exec)

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    LineClient, PATIENCE, Proc, free_port, run_to_end, stderr_of, stdout_of, talk, tcpkit,
};

#[test]
fn talk_prints_the_tutorial_transcript() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let out = talk(&[&addr, "Michael", "Tracy", "Sarah"])
        .output()
        .unwrap();
    assert_eq!(
        stdout_of(&out),
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(server.logged("Accept new connection from 127.0.0.1:"));
    assert!(server.logged("closed. (client sent exit, 3 messages)"));
}

#[test]
fn talk_joins_stdin_and_stdout_for_100k_lines() {
    const N: usize = 100_000;
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let input: String = (1..=N).map(|i| format!("{i}\n")).collect();
    let out = talk(&[&server.addr.to_string()])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Welcome!"));
    let mut count = 0;
    for (i, line) in lines.enumerate() {
        assert_eq!(line, format!("Hello, {}!", i + 1));
        count += 1;
    }
    assert_eq!(count, N);
}

#[test]
fn demo_shows_both_windows() {
    let out = run_to_end(&["demo"]);
    let out = out.exits(0);
    let text = out.stdout;
    // The two windows interleave as timing has it; each is in order.
    let window = |who: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(who))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        window("client | "),
        [
            "Welcome!",
            "Hello, Michael!",
            "Hello, Tracy!",
            "Hello, Sarah!"
        ],
        "{text}"
    );
    // Cause before effect, whatever the two processes' timing: each of
    // these comes after the one before it.
    let mut at = 0;
    for expected in [
        "server | Waiting for connection on 127.0.0.1:",
        "server | Accept new connection from 127.0.0.1:",
        "client | Welcome!",
        "client | Hello, Sarah!",
        "server | Connection from 127.0.0.1:",
        "demo   | stopping the server the way Ctrl+C does",
        "server | Signal received",
        "server | Server stopped.",
    ] {
        let Some(found) = text[at..].find(expected) else {
            panic!("{expected:?} missing or out of order in:\n{text}");
        };
        at += found + expected.len();
    }
}

/// Asserts that `expected` appear in `text` in this order.
fn in_order(text: &str, expected: &[&str]) {
    let mut at = 0;
    for line in expected {
        let Some(found) = text[at..].find(line) else {
            panic!("{line:?} missing or out of order in:\n{text}");
        };
        at += found + line.len();
    }
}

#[test]
fn demo_keeps_cause_and_effect_every_time() {
    // The two windows are two processes whose lines race: 50 runs in a
    // row, three shapes, every one in cause-and-effect order.
    for run in 0..50 {
        let (args, code): (&[&str], i32) = match run % 3 {
            0 => (&["demo"], 0),
            1 => (&["-v", "demo", "Michael", "Tracy"], 0),
            _ => (&["demo", "Alice", "exit", "Bob"], 8),
        };
        let out = run_to_end(args);
        let text = out.stdout;
        assert_eq!(out.code, Some(code), "run {run}: {text}{}", out.stderr);
        assert_eq!(out.stderr, "", "run {run}: said once, in its window");
        let ending = [
            "demo   | stopping the server the way Ctrl+C does",
            "server | Signal received",
            "server | Shutting down: no new connections, and none open.",
            "server | Server stopped.",
        ];
        match run % 3 {
            0 => in_order(
                &text,
                &[
                    &["server | Accept new connection", "client | Welcome!"][..],
                    &["client | Hello, Sarah!", "server | Connection from"],
                    &ending,
                ]
                .concat(),
            ),
            1 => in_order(
                &text,
                &[
                    &[
                        "server | Accept new connection",
                        "client | Welcome!",
                        "read 8 bytes: \"Michael\\n\"",
                        "client | Hello, Michael!",
                        "read 6 bytes: \"Tracy\\n\"",
                        "client | Hello, Tracy!",
                        "read 5 bytes: \"exit\\n\"",
                        "server | Connection from",
                    ][..],
                    &ending,
                ]
                .concat(),
            ),
            _ => in_order(
                &text,
                &[
                    &[
                        "client | Hello, Alice!",
                        "server | Connection from",
                        "client | error: the server closed the connection",
                    ][..],
                    &ending,
                ]
                .concat(),
            ),
        }
        assert!(
            text.ends_with("server | Server stopped.\n"),
            "run {run}: {text}"
        );
    }
}

#[test]
fn demo_listens_on_the_port_asked() {
    let port = free_port();
    let out = run_to_end(&["demo", "--port", &port.to_string(), "Michael"]);
    let out = out.exits(0);
    assert!(
        out.stdout.contains(&format!(
            "server | Waiting for connection on 127.0.0.1:{port}..."
        )),
        "{}",
        out.stdout
    );
}

#[test]
fn demo_honours_the_log_flags() {
    let quiet = run_to_end(&["-q", "demo"]);
    let quiet = quiet.exits(0);
    assert_eq!(
        quiet.stdout,
        "client | Welcome!\nclient | Hello, Michael!\nclient | Hello, Tracy!\nclient | Hello, Sarah!\n"
    );
    let verbose = run_to_end(&["-v", "demo", "Michael"]).exits(0);
    assert!(
        verbose.stdout.contains("read 8 bytes: \"Michael\\n\""),
        "{}",
        verbose.stdout
    );
}

#[test]
fn address_in_use_is_exit_4_with_a_hint() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let out = run_to_end(&["serve", "--bind", &server.addr.to_string()]);
    assert_eq!(out.code, Some(4));
    assert_eq!(
        out.stderr,
        format!(
            "tcpkit: error: cannot listen on {}: address already in use (tcpkit (pid {}) holds \
             it: stop it, or choose another address with --bind)\n",
            server.addr,
            server.child.id()
        )
    );
}

#[test]
fn bad_addresses_are_exit_3() {
    for (args, says) in [
        (vec!["serve", "--bind", "localhost"], "missing port"),
        (
            vec!["serve", "--bind", "no-such-host.invalid:9999"],
            "cannot resolve host",
        ),
        (
            vec!["serve", "--bind", "192.0.2.1:9999"],
            "no interface of this machine has that address",
        ),
        (
            vec!["talk", "127.0.0.1:99999", "x"],
            "port must be a number",
        ),
    ] {
        let out = run_to_end(&args);
        assert_eq!(out.code, Some(3), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .clone()
                .starts_with("tcpkit: error: invalid address"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(says), "{}", out.stderr);
    }
}

#[test]
fn refused_connection_is_exit_6_with_a_hint() {
    // A port we bound and closed: nobody listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let out = talk(&[&addr, "Michael"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(
        stderr_of(&out),
        format!(
            "tcpkit: error: cannot connect to {addr}: connection refused (is the server running on {addr}?)\n"
        )
    );
}

#[test]
fn talk_times_out_on_a_silent_server_with_exit_7() {
    // A listener that accepts (in the backlog) but never says anything.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    // With a unit, or a bare number of seconds as curl takes it.
    for timeout in ["300ms", "0.3"] {
        let out = talk(&["--timeout", timeout, &addr, "Michael"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("waiting for the welcome timed out after 300ms"),
            "{timeout}: {}",
            stderr_of(&out)
        );
    }
}

#[test]
fn talk_reports_a_server_that_hangs_up_with_exit_8() {
    // Answers one message, then closes.
    let addr = common::flaky_server(1, common::Then::Close).to_string();
    let out = talk(&[&addr, "Michael", "Tracy"]).output().unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
    assert!(
        stderr_of(&out)
            .contains("the server closed the connection before sending the reply to \"Tracy\""),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn talk_checks_each_reply_and_the_welcome() {
    // An error answer is not a success: exit 8, both sides shown.
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--max-message", "4"]);
    let addr = server.addr.to_string();
    let out = talk(&[&addr, "Michael", "Tracy"]).output().unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "Welcome!\nError: message longer than 4 bytes\n"
    );
    assert!(
        stderr_of(&out).contains(
            "the reply to \"Michael\" is not what was expected: expected \"Hello, Michael!\", \
             got \"Error: message longer than 4 bytes\""
        ),
        "{}",
        stderr_of(&out)
    );
    // Another server's words are fine once talk is told them.
    let echo = Proc::serve(&["--bind", "127.0.0.1:0", "--welcome", "", "--reply", "{}"]);
    let addr = echo.addr.to_string();
    let out = talk(&["--no-welcome", "--reply", "{}", &addr, "ping"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "ping\n");
    // Expecting a welcome that does not come is a timeout, not a hang.
    let out = talk(&["--timeout", "300ms", &addr, "ping"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    let hi = Proc::serve(&["--bind", "127.0.0.1:0", "--welcome", "Hi!"]);
    let out = talk(&[&hi.addr.to_string(), "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("expected \"Welcome!\", got \"Hi!\""),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_welcome_without_a_newline_is_named_at_once() {
    // serve --framing chunk sends `Welcome!` with no newline, as the
    // tutorial's server does: say so within the quiet gap, not after 30 s.
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--framing", "chunk"]);
    let started = std::time::Instant::now();
    let out = talk(&[&server.addr.to_string(), "Michael"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(
            "got \"Welcome!\" with no newline, then nothing for 1s: a server that does not end \
             its lines, like the tutorial's own? try --framing chunk"
        ),
        "{}",
        stderr_of(&out)
    );
    assert!(
        started.elapsed() < PATIENCE,
        "a hang would have failed first"
    );
    // And the suggestion works.
    let out = talk(&["--framing", "chunk", &server.addr.to_string(), "Michael"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
}

#[test]
fn nc_style_host_and_port() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let port = server.addr.port().to_string();
    let out = talk(&["127.0.0.1", &port, "Michael"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
}

#[test]
fn usage_errors_are_exit_2() {
    let out = run_to_end(&["serve", "--backlog", "lots"]);
    assert_eq!(out.code, Some(2));
    let out = talk(&["127.0.0.1:1", "two\nlines"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("contains a line break"));
}

#[test]
fn sigterm_lets_a_pending_delayed_reply_out_then_exits_0() {
    // A grace longer than the delay, but not the default 10 s: the client
    // stays, so the server waits all of it before it closes.
    let mut server = Proc::serve(&["--bind", "127.0.0.1:0", "--delay", "1s", "--grace", "2s"]);
    let mut c = LineClient::connect(server.addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"Michael\n");
    thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGTERM);
    assert_eq!(c.line(), "Hello, Michael!\n");
    assert_eq!(c.rest(), b"");
    assert_eq!(server.wait(), Some(0));
    assert!(server.logged("Server stopped."));
}

#[test]
fn input_still_unread_in_the_socket_when_the_grace_ends_is_answered() {
    // `b` arrives while the server waits out `a`'s delay, so it is still
    // in the socket, unread, when the 300 ms grace ends: the server must
    // read it and answer it before it closes, not drop it.
    let mut server = Proc::serve(&["--bind", "127.0.0.1:0", "--delay", "1s", "--grace", "300ms"]);
    let mut c = LineClient::connect(server.addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"a\n");
    thread::sleep(Duration::from_millis(100));
    c.send(b"b\n");
    thread::sleep(Duration::from_millis(100));
    server.signal(libc::SIGTERM);
    assert_eq!(c.line(), "Hello, a!\n");
    assert_eq!(c.line(), "Hello, b!\n");
    assert_eq!(c.rest(), b"");
    assert_eq!(server.wait(), Some(0));
    assert!(
        server.logged("grace period over: what it sent was answered"),
        "{}",
        server.log()
    );
}

#[test]
fn a_second_signal_stops_at_once() {
    let mut server = Proc::serve(&["--bind", "127.0.0.1:0", "--delay", "30s"]);
    let mut c = LineClient::connect(server.addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"slow\n");
    thread::sleep(Duration::from_millis(200));
    let mut idle = LineClient::connect(server.addr);
    assert_eq!(idle.line(), "Welcome!\n");
    server.signal(libc::SIGINT);
    assert!(server.logged("Signal received"));
    server.signal(libc::SIGINT);
    assert_eq!(server.wait(), Some(130));
    // Said in the log's own format (plain here), with what it dropped.
    assert!(
        server.logged("Second signal: stopping at once; 2 open connections dropped."),
        "{}",
        server.log()
    );
}

#[test]
fn ipv6_serve_and_talk() {
    let server = Proc::serve(&["--bind", "[::1]:0"]);
    assert!(server.addr.is_ipv6());
    let out = talk(&["-6", &server.addr.to_string(), "Michael"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
}

#[test]
fn localhost_binds_every_address_it_names() {
    use std::collections::BTreeSet;
    use std::net::{IpAddr, ToSocketAddrs};
    let server = Proc::serve(&[
        "--bind",
        "localhost:0",
        "--bind",
        "[::1]:0",
        "--bind",
        "127.0.0.1:0",
    ]);
    // What the names stand for on this machine: every address localhost
    // resolves to, plus the two literals; 127.0.0.1 may come twice.
    let mut expected: BTreeSet<IpAddr> = ("localhost", 0)
        .to_socket_addrs()
        .unwrap()
        .map(|a| a.ip())
        .collect();
    expected.extend([
        "127.0.0.1".parse::<IpAddr>().unwrap(),
        "::1".parse().unwrap(),
    ]);
    // Wait until the last listener has said so, then read every line.
    let deadline = std::time::Instant::now() + common::PATIENCE;
    let listening = loop {
        let addrs: Vec<std::net::SocketAddr> = server
            .log()
            .lines()
            .filter_map(|l| l.strip_prefix("Waiting for connection on "))
            .map(|a| a.trim_end_matches("...").parse().unwrap())
            .collect();
        if addrs.len() >= expected.len() || std::time::Instant::now() > deadline {
            break addrs;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // Each address once: one listener per distinct address.
    let ips: Vec<IpAddr> = listening.iter().map(|a| a.ip()).collect();
    assert_eq!(ips.len(), expected.len(), "{listening:?}");
    assert_eq!(ips.into_iter().collect::<BTreeSet<_>>(), expected);
    // And each of them serves.
    for addr in listening {
        let mut c = LineClient::connect(addr);
        assert_eq!(c.line(), "Welcome!\n", "{addr}");
    }
}

#[test]
fn client_bytes_are_logged_escaped_and_only_at_debug() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "-v"]);
    let mut c = LineClient::connect(server.addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"\x1b[31mevil\r\nexit\n");
    assert_eq!(c.rest(), b"Hello, \x1b[31mevil!\r\n");
    assert!(
        server.logged(r#"read 16 bytes: "\x1b[31mevil\r\nexit\n""#),
        "{}",
        server.log()
    );
    assert!(!server.log().contains('\x1b'));

    let quiet = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let mut c = LineClient::connect(quiet.addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"secret\nexit\n");
    assert_eq!(c.rest(), b"Hello, secret!\n");
    assert!(quiet.logged("closed."));
    assert!(!quiet.log().contains("secret"));
}

/// Opens `n` connections; the kernel completes them in the backlog even
/// when the server cannot accept.
fn open_many(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let s = TcpStream::connect_timeout(&addr, PATIENCE).expect("connect");
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            s
        })
        .collect()
}

fn serves_again(addr: std::net::SocketAddr) {
    let mut c = LineClient::connect(addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"again\n");
    assert_eq!(c.line(), "Hello, again!\n");
}

#[test]
fn out_of_file_descriptors_the_server_backs_off_and_recovers() {
    // --max-connections above what 64 fds allow: accept hits EMFILE.
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(r#"ulimit -n 64 && exec "$0" --plain-logs serve --bind 127.0.0.1:0 --max-connections 1000 --linger 0s"#)
        .arg(tcpkit());
    let server = Proc::start(cmd, true);
    let clients = open_many(server.addr, 200);
    assert!(
        server.logged("accept failed: Too many open files"),
        "{}",
        server.log()
    );
    assert!(server.log().contains("out of file descriptors"));
    drop(clients);
    serves_again(server.addr);
}

#[test]
fn with_default_limits_a_small_fd_limit_makes_clients_wait_or_be_told_not_fail() {
    // The reserve of descriptors leaves room to refuse: with refusals off
    // every client waits and is served in turn; with them on, each is
    // either served or told the server is busy. Never an accept error.
    for refuse_rate in ["0", "1000"] {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!(
                r#"ulimit -n 64 && exec "$0" --plain-logs serve --bind 127.0.0.1:0 --linger 0s --refuse-rate {refuse_rate}"#
            ))
            .arg(tcpkit());
        let server = Proc::start(cmd, true);
        assert!(server.logged("Serving up to 48 connections at once (open-file limit 64)"));
        let mut clients = open_many(server.addr, 200);
        assert!(
            server.logged("Connection limit reached (48 open"),
            "{}",
            server.log()
        );
        let mut told = 0;
        for c in clients.iter_mut() {
            let mut first = [0; 9];
            c.read_exact(&mut first).unwrap();
            let mut rest = Vec::new();
            if &first == b"Welcome!\n" {
                c.write_all(b"exit\n").unwrap();
                c.read_to_end(&mut rest).unwrap();
            } else {
                c.read_to_end(&mut rest).unwrap();
                let line = [&first[..], &rest].concat();
                assert_eq!(
                    line,
                    b"Error: server busy: too many connections open; retry later\n"
                );
                told += 1;
            }
        }
        if refuse_rate == "0" {
            assert_eq!(told, 0, "with refusals off, everyone waits");
        } else {
            assert!(told > 0, "nobody was told at the limit");
        }
        assert!(!server.log().contains("accept failed"), "{}", server.log());
        serves_again(server.addr);
    }
}

#[test]
fn zero_turns_a_talk_limit_off() {
    // Before, --timeout 0 could not even be set on the socket.
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--delay", "200ms"]);
    let addr = server.addr.to_string();
    let out = talk(&["--timeout", "0", "--connect-timeout", "0", &addr, "Michael"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
}

#[test]
fn idle_timeout_zero_never_closes_an_idle_connection() {
    // 0s used to close every connection after a few milliseconds.
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--idle-timeout", "0"]);
    let mut c = LineClient::connect(server.addr);
    assert_eq!(c.line(), "Welcome!\n");
    thread::sleep(Duration::from_millis(500));
    c.send(b"still here\n");
    assert_eq!(c.line(), "Hello, still here!\n");
}

#[test]
fn negative_and_out_of_range_numbers_say_the_range() {
    for (args, says) in [
        (
            &["serve", "--backlog", "-1"][..],
            "'-1' must be a whole number from 0 to 2147483647",
        ),
        (
            &["serve", "--idle-timeout", "-5"],
            "a duration cannot be negative",
        ),
        (
            &["serve", "--max-message", "-1"],
            "a size cannot be negative",
        ),
        (
            &["bench", "pipeline", "--depth", "65537"],
            "65537 is out of range: must be a whole number from 1 to 65536",
        ),
        (&["bench", "pingpong", "--threads", "0"], "from 1 to 1024"),
        (
            &["bench", "hold", "--open-batch", "0"],
            "0 is out of range: must be a whole number from 1 to 1024",
        ),
        (
            &["bench", "hold", "--open-batch", "1025"],
            "1025 is out of range: must be a whole number from 1 to 1024",
        ),
        (
            &["fetch", "http://127.0.0.1:1/", "--max-redirs", "-2"],
            "from 0 to 1000",
        ),
        // Where 0 cannot mean "off", it is refused with the reason.
        (
            &["bench", "pingpong", "127.0.0.1:1", "--timeout", "0"],
            "so that every run ends",
        ),
        (
            &["bench", "pingpong", "127.0.0.1:1", "--duration", "0"],
            "--duration must be more than 0",
        ),
    ] {
        let out = run_to_end(args);
        assert_eq!(out.code, Some(2), "{args:?}");
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn help_shows_examples() {
    for command in ["serve", "talk", "fetch", "bench"] {
        let out = run_to_end(&[command, "--help"]);
        assert!((out.code == Some(0)));
        let help = out.stdout;
        assert!(
            help.contains(&format!("Examples:\n  tcpkit {command} ")),
            "{help}"
        );
    }
}

#[test]
fn one_byte_is_singular() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--max-message", "1"]);
    let mut c = LineClient::connect(server.addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"ab\n");
    assert_eq!(c.line(), "Error: message longer than 1 byte\n");
}

#[test]
fn check_mode_sends_nothing_and_says_open_or_closed() {
    // A listener that records what it got: nothing, then the close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let got = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    });
    let out = talk(&["-z", &addr.to_string()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("is open"), "{}", stdout_of(&out));
    assert_eq!(got.join().unwrap(), b"", "-z sent bytes");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = talk(&["--check", &closed.to_string()]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr_of(&out));
}

#[test]
fn listen_mode_takes_one_client_and_joins_it_to_stdio() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut listening = Command::new(tcpkit())
        .args(["talk", "-l", &addr])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The client: connect once it listens, say hello, read the answer.
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut client = loop {
        match TcpStream::connect(&addr) {
            Ok(s) => break s,
            Err(_) if std::time::Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("talk -l never listened: {e}"),
        }
    };
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.write_all(b"hello from the client\n").unwrap();
    let mut stdin = listening.stdin.take().unwrap();
    stdin.write_all(b"hello from stdin\n").unwrap();
    drop(stdin);
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).unwrap();
    assert_eq!(
        answer, b"hello from stdin\n",
        "stdin went to the client, then EOF"
    );
    drop(client);
    let out = listening.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "hello from the client\n");
    assert!(stderr_of(&out).contains("connection from 127.0.0.1:"));
    // One client only: the port is free again.
    std::net::TcpListener::bind(&addr).expect("the listener closed");
}

#[test]
fn exit_on_eof_does_not_wait_for_the_close() {
    // A server that never closes: without --exit-on-eof talk would wait
    // for its --timeout; with it, talk ends with the input.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let started = std::time::Instant::now();
    let out = talk(&["--exit-on-eof", "--timeout", "30s", &addr])
        .write_stdin("bye\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it waited for the close"
    );
}

#[test]
fn messages_without_an_address_say_where_the_server_goes() {
    // One word or several: the first was taken for the server.
    for args in [&["Michael", "Tracy"][..], &["Michael"]] {
        let out = talk(args).output().unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            stderr_of(&out),
            "tcpkit: error: invalid address 'Michael': missing port (the server comes first, \
             as HOST:PORT: tcpkit talk 127.0.0.1:9999 Michael ...; if Michael is the host, \
             Michael:PORT)\n",
            "{args:?}"
        );
    }
    // An address is surely the host: only its port is missing.
    for host in ["127.0.0.1", "localhost"] {
        let out = talk(&[host]).output().unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            stderr_of(&out),
            format!(
                "tcpkit: error: invalid address '{host}': missing port: {host}:PORT (tcpkit talk \
                 {host}:9999)\n"
            )
        );
    }
}

#[test]
fn nc_flags_are_mapped_not_misread() {
    for (flag, says) in [
        ("-u", "TCP only"),
        ("-w", "--connect-timeout SECS and --timeout SECS"),
        ("-e", "does not run a program"),
    ] {
        let out = talk(&[flag, "127.0.0.1:9"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(
            stderr_of(&out).contains(&format!("unknown flag '{flag}': "))
                && stderr_of(&out).contains(says),
            "{flag}: {}",
            stderr_of(&out)
        );
        assert!(
            !stderr_of(&out).contains("'-- "),
            "clap's tip misleads: {}",
            stderr_of(&out)
        );
    }
    // nc's -N is what talk does: accepted, as fetch accepts curl's -S.
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let out = talk(&["-N", &server.addr.to_string()])
        .write_stdin("Michael\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
    // -k is --insecure (with --tls); without --tls, or as nc's -lk, the
    // nc meaning is explained.
    for args in [&["-k", "127.0.0.1:9"][..], &["-lk", "127.0.0.1:0"]] {
        let out = talk(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr_of(&out),
            "tcpkit: error: '-k' is --insecure here, for use with --tls; nc's -k (keep \
             listening) has no counterpart: talk -l takes one client; to serve many, use \
             tcpkit serve --bind ADDR\n",
            "{args:?}"
        );
    }
    // nc's -q SECS would otherwise take SECS for the address.
    let out = talk(&["-q", "0", "127.0.0.1", "9"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("'-q 0' is nc's") && stderr_of(&out).contains("--exit-on-eof"),
        "{}",
        stderr_of(&out)
    );
    // Our own -q still works, as does a message after --.
    let out = talk(&["-q", "127.0.0.1:1", "--", "-q", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr_of(&out));
}

#[test]
fn nc_host_port_works_in_every_mode() {
    // -z HOST PORT, -l PORT and -l HOST PORT, as nc takes them.
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let port = server.addr.port().to_string();
    let out = talk(&["-z", "127.0.0.1", &port]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains(&format!("127.0.0.1:{port} is open")));
    let out = talk(&["-z", "127.0.0.1", &port, "Michael"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("-z checks the port and sends nothing, so it takes no MESSAGE"),
        "{}",
        stderr_of(&out)
    );
    // nc's port range and service names: one PORT, said how.
    let out = talk(&["-z", "127.0.0.1", "20-30"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains(
            "one PORT, not a range as nc takes: one run per port (for p in $(seq 20 30); do \
             tcpkit talk -z 127.0.0.1:$p; done)"
        ),
        "{}",
        stderr_of(&out)
    );
    let out = talk(&["-z", "127.0.0.1", "no-such-service"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("the port is a number, not a service name as nc takes"),
        "{}",
        stderr_of(&out)
    );
    for args in [&["-l"][..], &["-l", "127.0.0.1"]] {
        let free = free_port().to_string();
        let listening = Command::new(tcpkit())
            .arg("talk")
            .args(args)
            .arg(&free)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut client = loop {
            match TcpStream::connect(format!("127.0.0.1:{free}")) {
                Ok(s) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("talk {args:?} {free} never listened: {e}"),
            }
        };
        client.write_all(b"hi\n").unwrap();
        let mut rest = Vec::new();
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        client.read_to_end(&mut rest).unwrap();
        drop(client);
        let out = listening.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
        assert_eq!(stdout_of(&out), "hi\n");
        assert!(
            stderr_of(&out).contains(&format!("waiting for one client on 127.0.0.1:{free}")),
            "{}",
            stderr_of(&out)
        );
    }
}

#[test]
fn address_mistakes_point_at_host_port() {
    for (args, says) in [
        (
            &["talk", "http://example.com/"][..],
            "a URL, where HOST:PORT goes (tcpkit talk example.com:80); to download it: \
             tcpkit fetch http://example.com/",
        ),
        (
            &["talk", "tcp://127.0.0.1:9"],
            "drop the 'tcp://': HOST:PORT alone (tcpkit talk 127.0.0.1:9)",
        ),
        (
            &["talk", "30001", "Michael"],
            "a port without its host: tcpkit talk 127.0.0.1:30001",
        ),
        (
            &["bench", "pingpong", "30001"],
            "a port without its host: tcpkit bench pingpong 127.0.0.1:30001",
        ),
        (
            &["serve", "--bind", "30005"],
            "a port without its host: tcpkit serve --bind 127.0.0.1:30005",
        ),
        (
            &["serve", "-p", "30005"],
            "tcpkit serve --bind 127.0.0.1:30005",
        ),
        (
            &["serve", "--port", "30005"],
            "tcpkit serve --bind 127.0.0.1:30005",
        ),
        (
            &["serve", "--port=30005"],
            "tcpkit serve --bind 127.0.0.1:30005",
        ),
        (&["serve", "30005"], "tcpkit serve --bind 127.0.0.1:30005"),
        (
            &["serve", "127.0.0.1:30005"],
            "tcpkit serve --bind 127.0.0.1:30005",
        ),
    ] {
        let out = Command::new(tcpkit()).args(args).output().unwrap();
        let stderr = stderr_of(&out);
        assert!(
            matches!(out.status.code(), Some(2 | 3)),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("brackets"), "{args:?}: {stderr}");
        assert!(!stderr.contains("'-- "), "clap's tip misleads: {stderr}");
    }
}

/// A server thread for one client: runs `serve` on the accepted socket.
fn one_client_server(serve: impl FnOnce(TcpStream) + Send + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            serve(stream);
        }
    });
    addr
}

#[test]
fn talk_timeout_bounds_a_trickle() {
    // One byte every 100 ms, never a newline: each read is quick, the
    // whole wait is not.
    let addr = one_client_server(|mut s| {
        let deadline = std::time::Instant::now() + PATIENCE;
        while std::time::Instant::now() < deadline && s.write_all(b"W").is_ok() {
            thread::sleep(Duration::from_millis(100));
        }
    });
    let started = std::time::Instant::now();
    let out = talk(&["--timeout", "1", &addr, "Michael"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("waiting for the welcome (got \"WWW"),
        "{}",
        stderr_of(&out)
    );
    assert!(started.elapsed() < PATIENCE, "the trickle held talk");
}

#[test]
fn after_exit_the_reply_limit_still_holds() {
    // Answers Michael, then floods instead of closing after exit.
    let addr = one_client_server(|mut s| {
        let _ = s.write_all(b"Welcome!\n");
        let mut buf = [0; 64];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"Hello, Michael!\n");
        let _ = s.read(&mut buf);
        let flood = [b'y'; 4096];
        let deadline = std::time::Instant::now() + PATIENCE;
        while std::time::Instant::now() < deadline && s.write_all(&flood).is_ok() {}
    });
    let out = talk(&["--max-reply", "10K", &addr, "Michael"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("after exit the server sent more than 10240 bytes"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        out.stdout.len() < 20_000,
        "{} bytes printed",
        out.stdout.len()
    );
}

#[test]
fn a_pipe_gets_the_servers_bytes_unchanged() {
    // Escaping is for terminals only (tests/peers.rs runs talk on one).
    let addr = one_client_server(|mut s| {
        let _ = s.write_all(b"\x1b]52;c;aGk=\x07\x1b[2Jhi\r\n");
    });
    let out = talk(&[&addr]).write_stdin("").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"\x1b]52;c;aGk=\x07\x1b[2Jhi\r\n");
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

#[test]
fn memory_goes_back_to_the_system_after_a_burst() {
    // 300 clients each hold a 60,000-byte unfinished line (about 18 MB),
    // then leave. Within 10 s the idle server is back within twice its
    // idle baseline (mimalloc's default purge delay only runs when a
    // thread allocates again, so an idle server used to keep the peak).
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let pid = server.child.id();
    thread::sleep(Duration::from_millis(300));
    let idle = rss_kib(pid);
    let long = vec![b'x'; 60_000];
    let mut clients = Vec::new();
    for _ in 0..300 {
        let mut c = LineClient::connect(server.addr);
        assert_eq!(c.line(), "Welcome!\n");
        c.send(b"\n");
        assert_eq!(c.line(), "Hello, !\n");
        c.send(&long);
        clients.push(c);
    }
    let held = (0..100)
        .map(|_| {
            thread::sleep(Duration::from_millis(50));
            rss_kib(pid)
        })
        .find(|&rss| rss > idle + 15_000);
    assert!(
        held.is_some(),
        "the lines were never held (idle {idle} KiB)"
    );
    drop(clients);
    let mut last = 0;
    for _ in 0..100 {
        thread::sleep(Duration::from_millis(100));
        last = rss_kib(pid);
        if last <= 2 * idle {
            return;
        }
    }
    panic!("10 s after the burst the server holds {last} KiB; idle it held {idle} KiB");
}

#[test]
fn reuse_port_lets_two_servers_share_a_port() {
    let bind = format!("127.0.0.1:{}", free_port());
    let a = Proc::serve(&["--bind", &bind, "--reuse-port"]);
    let b = Proc::serve(&["--bind", &bind, "--reuse-port"]);
    for _ in 0..20 {
        let mut c = LineClient::connect(a.addr);
        assert_eq!(c.line(), "Welcome!\n");
    }
    // The kernel spreads connections by their addresses: 20 all landing on
    // one of two servers would be a one-in-500,000 chance.
    for s in [&a, &b] {
        assert!(s.logged("Accept new connection"), "{}", s.log());
    }
    let warned = a.log().contains("net.ipv4.tcp_migrate_req is 0");
    let migrate = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_migrate_req").ok();
    assert_eq!(
        warned,
        migrate.as_deref().map(str::trim) == Some("0"),
        "{}",
        a.log()
    );
    // Without the flag the port is taken.
    let out = Command::new(tcpkit())
        .args(["serve", "--bind", &bind])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
}

/// `tcpkit serve ARGS` as systemd starts it: `listener` as descriptor 3,
/// `LISTEN_FDS=1` and `LISTEN_PID` set to the server's pid (unless
/// `wrong_pid`), through `sh -c '... exec'`, which keeps the pid.
fn socket_activated(listener: &std::net::TcpListener, wrong_pid: bool, args: &[&str]) -> Proc {
    use std::os::unix::io::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = listener.as_raw_fd();
    let pid = if wrong_pid { "1" } else { "$$" };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "LISTEN_PID={pid} LISTEN_FDS=1 exec \"$0\" --plain-logs serve \"$@\""
        ))
        .arg(tcpkit())
        .args(args);
    // SAFETY: dup2 and fcntl are async-signal-safe, and touch only the
    // child's descriptors, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::fcntl(3, libc::F_SETFD, 0);
            Ok(())
        });
    }
    Proc::start(cmd, true)
}

#[test]
fn a_service_manager_can_pass_the_listening_socket() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // --bind names an address not on this machine: it must not be used.
    let server = socket_activated(&listener, false, &["--bind", "192.0.2.1:9999"]);
    assert_eq!(server.addr, addr);
    assert!(server.logged(
        "Using 1 listening socket(s) passed by the service manager (LISTEN_FDS); --bind is not used."
    ));
    let out = talk(&[&addr.to_string(), "Michael"]).output().unwrap();
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
    // LISTEN_PID names another process: the descriptors are not ours, and
    // --bind is used.
    let bind = format!("127.0.0.1:{}", free_port());
    let other = socket_activated(&listener, true, &["--bind", &bind]);
    assert_eq!(other.addr.to_string(), bind);
    assert!(!other.log().contains("LISTEN_FDS"));
}

#[test]
fn sessions_go_on_across_two_restarts_of_a_socket_activated_server() {
    // The service manager's part: the listening socket stays ours while
    // serve is stopped and started again twice. Clients that arrive in
    // between wait in its queue; sessions under way (4 messages 200 ms
    // apart) finish on the server that is stopping. Every session started
    // must complete. (With --grace 0, which cuts open sessions at the
    // stop, the same run failed 16 of about 40.)
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut server = socket_activated(&listener, false, &[]);
    let target = addr.clone();
    let load = thread::spawn(move || {
        common::bench(&[
            "churn",
            &target,
            "-c",
            "8",
            "--messages",
            "4",
            "--interval",
            "200ms",
            "--duration",
            "4s",
            "--timeout",
            "5s",
        ])
    });
    for _ in 0..2 {
        thread::sleep(Duration::from_millis(1200));
        server.signal(libc::SIGTERM);
        assert_eq!(server.wait(), Some(0), "{}", server.log());
        server = socket_activated(&listener, false, &[]);
    }
    let (code, report, stderr) = load.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(common::num(&report, "done") >= 16, "{report}");
    assert_eq!(
        (
            common::num(&report, "errors"),
            common::num(&report, "mismatches")
        ),
        (0, 0),
        "{report}"
    );
}

/// What an agent check on `addr` hears.
fn agent_says(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut said = String::new();
    stream.read_to_string(&mut said).unwrap();
    said
}

#[test]
fn the_agent_says_ready_then_drain_then_maint() {
    let agent = format!("127.0.0.1:{}", free_port());
    let server = Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--agent",
        &agent,
        "--drain",
        "1s",
        "--grace",
        "5s",
    ]);
    assert_eq!(agent_says(&agent), "ready\n");
    // A client that stays keeps the server in its grace period later.
    let mut stays = LineClient::connect(server.addr);
    assert_eq!(stays.line(), "Welcome!\n");
    server.signal(libc::SIGTERM);
    assert!(server.logged("Draining: still serving for 1s"));
    assert_eq!(agent_says(&agent), "drain\n");
    // Still serving, new clients too, while draining.
    let out = talk(&[&server.addr.to_string(), "Michael"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
    assert!(server.logged("Shutting down: no new connections"));
    assert_eq!(agent_says(&agent), "maint\n");
    assert_eq!(stays.rest(), b"", "closed gracefully at shutdown");
}

#[test]
fn a_sigterm_right_after_start_is_still_a_graceful_stop() {
    // The signals are watched before the server says it listens: a
    // supervisor's SIGTERM at that moment must not find the default
    // action (death by signal, no exit code).
    for _ in 0..10 {
        let mut server = Proc::serve(&["--bind", "127.0.0.1:0"]);
        server.signal(libc::SIGTERM);
        assert_eq!(server.wait(), Some(0), "{}", server.log());
    }
}

#[test]
#[cfg(target_os = "linux")]
fn send_buffer_edges_are_granted_as_the_kernel_can_and_still_serve() {
    // The lowest and highest sizes are clamped by the kernel (its minimum,
    // net.core.wmem_max): the log says what it granted. 0 leaves the
    // buffer to the kernel; the default is granted as asked.
    for (size, says) in [
        ("1", Some("--send-buffer 1 byte: the kernel grants ")),
        (
            "1GiB",
            Some("--send-buffer 1073741824 bytes: the kernel grants "),
        ),
        ("0", None),
        ("64KiB", None),
    ] {
        let server = Proc::serve(&["--bind", "127.0.0.1:0", "--send-buffer", size]);
        let mut c = LineClient::connect(server.addr);
        assert_eq!(c.line(), "Welcome!\n");
        c.send(b"Michael\n");
        assert_eq!(c.line(), "Hello, Michael!\n", "--send-buffer {size}");
        match says {
            Some(text) => assert!(server.logged(text), "{size}: {}", server.log()),
            None => assert!(!server.log().contains("--send-buffer"), "{}", server.log()),
        }
    }
}

#[test]
#[cfg(unix)] // a real SIGTERM
fn sigterm_serves_open_sessions_through_the_grace_and_says_so() {
    let mut server = Proc::serve(&["--bind", "127.0.0.1:0", "--grace", "1s"]);
    let mut c = LineClient::connect(server.addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"a\n");
    assert_eq!(c.line(), "Hello, a!\n");
    server.signal(libc::SIGTERM);
    assert!(
        server.logged(
            "Shutting down: no new connections; 1 open connection(s) go on until their clients \
             end them, for up to 1s"
        ),
        "{}",
        server.log()
    );
    // Mid-conversation, after the signal: still answered.
    c.send(b"b\n");
    assert_eq!(c.line(), "Hello, b!\n");
    // Then the grace ends: the close, and the log says why.
    assert_eq!(c.rest(), b"");
    assert!(
        server.logged("Grace period over: closing 1 connection(s) after answering what they sent.")
    );
    assert!(
        server.logged("closed. (grace period over: what it sent was answered, 2 messages)"),
        "{}",
        server.log()
    );
    assert_eq!(server.wait(), Some(0));
    assert!(server.logged("Server stopped."));
}

#[test]
#[cfg(unix)] // a real SIGTERM
fn a_connection_that_cannot_finish_closing_after_the_grace_is_dropped_and_logged() {
    // Its reply waits on --delay 30s: after the grace (300ms) and the
    // lingering close's time, it is dropped, and the log says so.
    let mut server = Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--grace",
        "300ms",
        "--linger",
        "0",
        "--delay",
        "30s",
    ]);
    let mut c = LineClient::connect(server.addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"slow\n");
    thread::sleep(Duration::from_millis(100));
    let started = std::time::Instant::now();
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        server.logged("Dropping 1 connection(s) that did not finish closing."),
        "{}",
        server.log()
    );
    assert!(
        server.logged("closed. (dropped at shutdown, 0 messages)"),
        "{}",
        server.log()
    );
}

#[test]
fn joined_talk_says_what_it_expected_when_the_server_is_silent() {
    // stdin open and empty (a person who has not typed yet); the server
    // accepts and says nothing for 4 s, then closes. Within seconds talk
    // says what it expected, and the session goes on to the close, which
    // came first: said, exit 8.
    let (addr, silent) = common::silent_server(2, Duration::from_secs(4));
    let mut child = Command::new(tcpkit())
        .args(["talk", &addr.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    silent.join().unwrap();
    // The person is still there after the close.
    thread::sleep(Duration::from_millis(300));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "nothing from {addr} in 2s, though a welcome was expected; still connected"
        )) && stderr.contains("--no-welcome"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the server closed the session first, after 0 lines"),
        "{stderr}"
    );
    // Told there is no welcome: not a word.
    let (addr, silent) = common::silent_server(1, Duration::from_secs(3));
    let out = talk(&["--no-welcome", &addr.to_string()])
        .write_stdin("")
        .output()
        .unwrap();
    silent.join().unwrap();
    assert_eq!(stderr_of(&out), "", "{:?}", out.status);
}

#[test]
fn a_connect_that_hangs_is_named_after_two_seconds() {
    // A full accept queue: the connect waits, on loopback, as to a host
    // that does not answer (see common::unanswering).
    let hanging = common::unanswering();
    let addr = hanging.addr;
    let out = talk(&["--connect-timeout", "3s", &addr.to_string(), "Michael"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no answer from {addr} in 2s; still connecting (up to --connect-timeout 3s)"
        )),
        "{stderr}"
    );
    drop(hanging);
}

#[test]
fn talk_says_what_it_waits_for_when_the_server_is_silent() {
    // A server that accepts and says nothing (and is not TLS: the check's
    // hello gets nothing back either). Within seconds talk says what it is
    // waiting for and what to try; --timeout still bounds the whole wait.
    let (addr, silent) = common::silent_server(2, Duration::from_secs(6));
    let started = std::time::Instant::now();
    let out = talk(&[&addr.to_string(), "--timeout", "4s", "Michael"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!(
            "nothing from {addr} in 2s; still waiting for the welcome (up to --timeout 4s)"
        )) && stderr.contains("needs --no-welcome"),
        "{stderr}"
    );
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(6),
        "took {took:?}"
    );
    silent.join().unwrap();
}

#[test]
fn piped_talk_says_when_the_server_does_not_end_its_lines() {
    // serve --framing chunk answers as the tutorial's own server does:
    // `Welcome!` bare, and lines sent together answered as one message.
    // Talk's stdout keeps exactly the server's bytes; stderr says why they
    // look merged and what to use. A server that ends its lines gets no
    // such word.
    let chunk = Proc::serve(&["--bind", "127.0.0.1:0", "--framing", "chunk"]);
    let out = talk(&[&chunk.addr.to_string()])
        .write_stdin("Michael\nexit\n")
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "Welcome!Hello, Michael\nexit\n!");
    let stderr = stderr_of(&out);
    assert!(
        // The welcome comes alone, or (when the lines were sent before
        // it was read) merged with the reply: either way it opens the
        // example.
        stderr.contains("the server's bytes stop without a newline (as in \"Welcome!")
            && stderr.contains("--framing chunk"),
        "{stderr}"
    );
    let fixed = talk(&["--framing", "chunk", &chunk.addr.to_string()])
        .write_stdin("Michael\nexit\n")
        .output()
        .unwrap();
    assert_eq!(stdout_of(&fixed), "Welcome!\nHello, Michael!\n");
    let line = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let out = talk(&[&line.addr.to_string()])
        .write_stdin("Michael\nexit\n")
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
    assert!(
        !stderr_of(&out).contains("without a newline"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn help_names_every_scenario_and_what_each_exit_code_means() {
    let top = run_to_end(&["--help"]).exits(0).words();
    assert!(
        top.contains("(pingpong, pipeline, churn, hold, handshake)"),
        "{top}"
    );
    assert!(
        top.contains("130 interrupted (fetch by Ctrl+C or SIGTERM, serve by a second signal)"),
        "{top}"
    );
    let bench = run_to_end(&["bench", "--help"]).exits(0).words();
    assert!(
        bench.contains("chunk for the tutorial's own server (no newlines; every scenario, pipeline only with --depth 1)"),
        "{bench}"
    );
    let fetch = run_to_end(&["fetch", "--help"]).exits(0).words();
    assert!(
        fetch.contains("fetch -v also shows the request and response heads on stderr"),
        "{fetch}"
    );
    for command in ["talk", "bench", "fetch", "serve", "demo"] {
        let help = run_to_end(&[command, "--help"]).exits(0).words();
        // The global flags come apart from the subcommand's own.
        let (own, global) = help.split_once("Global options:").expect(&help);
        for flag in ["--verbose", "--quiet", "--plain-logs", "--log-buffer"] {
            assert!(
                global.contains(flag) && !own.contains(flag),
                "{command}: {flag}"
            );
        }
    }
    for command in ["talk", "bench"] {
        let help = run_to_end(&[command, "--help"]).exits(0).words();
        assert!(!help.contains("for https"), "{command}: {help}");
        assert!(
            help.contains("(with TLS, the handshake too)"),
            "{command}: {help}"
        );
    }
}

#[test]
fn a_closed_output_ends_every_command_quietly() {
    // `tcpkit ... | head` whose reader has gone: the run ends with
    // success and says nothing, as `seq 10 | head -1` does; no panic.
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    for args in [
        vec!["talk", addr.as_str(), "Michael"],
        vec!["bench", "pingpong", addr.as_str(), "-c", "1", "-d", "200ms"],
        vec![
            "bench",
            "pingpong",
            addr.as_str(),
            "-c",
            "1",
            "-d",
            "200ms",
            "--json",
        ],
    ] {
        let out = Command::new(tcpkit())
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(closed())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
        assert_eq!(stderr_of(&out), "", "{args:?}");
    }
}

#[test]
#[cfg(target_os = "linux")] // a full accept queue drops SYNs on Linux
fn talk_z_says_7_for_a_host_that_does_not_answer() {
    // A listener whose queue is full: the kernel drops a new SYN, so the
    // connect waits as it would for a silent host.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    for _ in 0..4 {
        if let Ok(c) =
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300))
        {
            queued.push(c);
        }
    }
    let out = talk(&["-z", "--connect-timeout", "500ms", &addr.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    // And what -z documents says so.
    let help = talk(&["--help"]).output().unwrap();
    let words = stdout_of(&help)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        words.contains("7 no answer within --connect-timeout"),
        "{words}"
    );
}

#[test]
fn a_port_in_use_names_the_flag_that_chose_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    // talk -l PORT: the hint names -l, which talk has (not --bind).
    let out = talk(&["-l", &port]).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("choose another address with -l PORT") && !stderr.contains("--bind"),
        "{stderr}"
    );
    // demo --port: exit 4 as the table says, --port named, and no
    // server "stopped" that never started; with --diagram too.
    for diagram in [&[][..], &["--diagram", "-"][..]] {
        let out = run_to_end(&[&["demo", "--port", &port][..], diagram].concat());
        let (stdout, stderr) = (out.stdout, out.stderr);
        assert_eq!(out.code, Some(4), "{diagram:?}: {stderr}");
        assert!(
            stderr.contains("choose another address with --port") && !stderr.contains("--bind"),
            "{diagram:?}: {stderr}"
        );
        assert!(
            !stdout.contains("stopping the server"),
            "{diagram:?}: {stdout}"
        );
    }
}

/// `talk -l 127.0.0.1:0`, and a peer that sends `hello` and half-closes
/// at once; talk's own stdin (`hi`) comes only after it has shown
/// `hello`, so after the peer's FIN: what the peer read back, talk's
/// stdout, its exit code.
fn listen_with_a_peer_that_half_closed_first() -> (Vec<u8>, String, Option<i32>) {
    use std::io::{BufRead, Read, Write};
    let common::ListeningTalk {
        mut child,
        mut stdin,
        mut stdout,
        addr,
    } = common::ListeningTalk::start(&[]);
    let mut peer = std::net::TcpStream::connect(&addr).unwrap();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    peer.write_all(b"hello\n").unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    let mut shown = String::new();
    stdout.read_line(&mut shown).unwrap();
    // talk has read the peer's bytes; its FIN is there to read too.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let _ = stdin.write_all(b"hi\n");
    drop(stdin);
    let mut got = Vec::new();
    let _ = peer.read_to_end(&mut got);
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    let status = child.wait().unwrap();
    (got, shown + &rest, status.code())
}

#[test]
fn talk_l_sends_all_of_stdin_to_a_peer_that_half_closed_first() {
    // The peer's FIN ends only its direction: talk still sends its input,
    // then closes (it left at the FIN, and the peer got nothing).
    for run in 0..20 {
        let (got, stdout, code) = listen_with_a_peer_that_half_closed_first();
        assert_eq!(code, Some(0), "run {run}");
        assert_eq!(stdout, "hello\n", "run {run}");
        assert_eq!(got, b"hi\n", "run {run}: the peer got {got:?}");
    }
}

#[test]
fn talk_says_at_2s_what_it_waits_for() {
    // A reply 3 s late: the wait is said at 2 s, and the reply still
    // counts.
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--delay", "3s"]);
    let addr = server.addr.to_string();
    let out = talk(&[&addr, "Michael"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{addr}: no reply to \"Michael\" after 2s; still waiting (up to --timeout 30s)"
        )),
        "{stderr}"
    );
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
    // A server that takes 3 s to close after exit.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow_close = listener.local_addr().unwrap().to_string();
    let lingering = thread::spawn(move || {
        use std::io::{BufRead, Write};
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(b"Welcome!\n").unwrap();
        let mut lines = std::io::BufReader::new(stream.try_clone().unwrap()).lines();
        while let Some(Ok(line)) = lines.next() {
            if line == "exit" {
                thread::sleep(Duration::from_secs(3));
                return;
            }
            stream
                .write_all(format!("Hello, {line}!\n").as_bytes())
                .unwrap();
        }
    });
    let out = talk(&[&slow_close, "x"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{slow_close}: exit sent, and the connection not closed after 2s; still waiting"
        )),
        "{stderr}"
    );
    lingering.join().unwrap();
    // A quick server: nothing said.
    let quick = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let out = talk(&[&quick.addr.to_string(), "Michael"])
        .output()
        .unwrap();
    assert_eq!(stderr_of(&out), "");
}

#[test]
fn talk_to_an_echo_server_shows_no_echo_of_its_own_exit() {
    // An echo server (no welcome, every line back, never a close): the
    // echo of talk's own `exit` is its reply, not more from the server,
    // and no close is waited for.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let echo = thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut buf = [0u8; 512];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 || stream.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    });
    let out = talk(&[
        "--no-welcome",
        "--reply",
        "{}",
        "--timeout",
        "10s",
        &addr,
        "ping",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "ping\n");
    echo.join().unwrap();
}

/// `talk ADDR` joined to stdin, with `lines` written and stdin kept open:
/// the child and the stdin to close.
fn joined_talk_holding_stdin(
    addr: &str,
    lines: &[u8],
) -> (std::process::Child, std::process::ChildStdin) {
    let mut child = Command::new(tcpkit())
        .args(["talk", addr])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(lines).unwrap();
    (child, stdin)
}

#[test]
fn joined_talk_says_how_the_server_ended_the_session() {
    // Stopped while the input is still open: said, exit 8.
    let mut server = Proc::serve(&["--bind", "127.0.0.1:0", "--grace", "0s"]);
    let (mut child, stdin) = joined_talk_holding_stdin(&server.addr.to_string(), b"Michael\n");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut shown = String::new();
    for _ in 0..2 {
        std::io::BufRead::read_line(&mut stdout, &mut shown).unwrap();
    }
    assert_eq!(shown, "Welcome!\nHello, Michael!\n");
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait(), Some(0));
    // As nc, talk sends the rest of its input after the server's FIN
    // (it may still read), so it ends when the input does.
    let mut stdin = stdin;
    stdin.write_all(b"Tracy\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains(
            "tcpkit: error: the server closed the session first, after 2 lines, before the \
             input ended"
        ),
        "{stderr}"
    );

    // Refused with an `Error:` line: said, exit 8, even though the input
    // had ended.
    let busy = Proc::serve(&["--bind", "127.0.0.1:0", "--max-connections", "1"]);
    let mut holder = LineClient::connect(busy.addr);
    assert_eq!(holder.line(), "Welcome!\n");
    let out = talk(&[&busy.addr.to_string()])
        .write_stdin("Michael\n")
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains(
            "the server answered \"Error: server busy: too many connections open; retry \
             later\" and closed the session (after 1 line)"
        ),
        "{stderr}"
    );

    // Closed because it was sent `exit`: the session is over, though the
    // input is still open; exit 0, nothing said.
    let quick = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let (mut child, stdin) = joined_talk_holding_stdin(&quick.addr.to_string(), b"Michael\nexit\n");
    let deadline = std::time::Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    drop(stdin);
    let waited_for_stdin = child.try_wait().unwrap().is_none();
    let out = child.wait_with_output().unwrap();
    assert!(!waited_for_stdin, "talk went on after exit was answered");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "");
    assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
}

#[test]
fn a_port_held_only_by_time_wait_still_binds() {
    // The server's side closes first, so its end (the listening port)
    // waits in TIME_WAIT after the listener is gone: serve binds anyway
    // (a restarted server must not wait a minute), as the bind's
    // SO_REUSEADDR is for.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    let (served, _) = listener.accept().unwrap();
    drop(served);
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(client.read(&mut [0; 8]).unwrap(), 0);
    drop(client);
    drop(listener);
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let port = format!(":{:04X} ", addr.port());
    assert!(
        table.lines().any(|l| l
            .split_whitespace()
            .nth(1)
            .is_some_and(|local| format!("{local} ").ends_with(&port))
            && l.split_whitespace().nth(3) == Some("06")),
        "no TIME_WAIT socket on {addr}: {table}"
    );
    let server = Proc::serve(&["--bind", &addr.to_string()]);
    assert_eq!(server.addr, addr);
}

#[test]
fn a_port_held_by_a_socket_that_does_not_listen_is_said_so() {
    // A client connection's own port: no listener to name, so the error
    // says what else holds a port, and how to see it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let port = client.local_addr().unwrap().port();
    let out = run_to_end(&["serve", "--bind", &format!("127.0.0.1:{port}")]);
    let stderr = out.stderr;
    assert_eq!(out.code, Some(4), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "(a socket holds it: another user's listener, or one bound without listening; ss \
             -tanp 'sport = :{port}' names it; choose another address with --bind)"
        )),
        "{stderr}"
    );
}

/// docs/learning.md's backlog example, run as printed: one connection
/// served at a time, the other two clients (each `talk` with its stdin
/// held open, as `sleep 5 | tcpkit talk`) wait in the backlog, which `ss`
/// shows as the listener's Recv-Q 2; read here from /proc/net/tcp, where
/// ss reads it.
#[cfg(target_os = "linux")]
#[test]
fn the_guides_backlog_example_works_as_printed() {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/learning.md"),
    )
    .unwrap();
    let printed = "tcpkit -q serve --backlog 5 --max-connections 1 --refuse-rate 0 &";
    assert!(guide.contains(printed), "the guide's command changed");
    let server = Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--backlog",
        "5",
        "--max-connections",
        "1",
        "--refuse-rate",
        "0",
    ]);
    let mut clients: Vec<std::process::Child> = (0..3)
        .map(|_| {
            std::process::Command::new(tcpkit())
                .args(["talk", &server.addr.to_string()])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let port = format!(":{:04X} ", server.addr.port());
    let waiting = || {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        table.lines().find_map(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            // local address, state 0A (LISTEN), tx_queue:rx_queue
            (fields.len() > 4 && format!("{} ", fields[1]).ends_with(&port) && fields[3] == "0A")
                .then(|| u32::from_str_radix(fields[4].split(':').nth(1)?, 16).ok())
                .flatten()
        })
    };
    let deadline = Instant::now() + PATIENCE;
    let mut seen = waiting();
    while seen != Some(2) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        seen = waiting();
    }
    for client in &mut clients {
        let _ = client.kill();
        let _ = client.wait();
    }
    assert_eq!(seen, Some(2), "the listener's Recv-Q: {seen:?}");
}

#[test]
fn with_no_grace_the_log_says_open_connections_are_dropped_unanswered() {
    let mut server = Proc::serve(&["--grace", "0"]);
    let mut client = std::net::TcpStream::connect(server.addr).unwrap();
    let mut welcome = [0u8; 9];
    std::io::Read::read_exact(&mut client, &mut welcome).unwrap();
    // A message mid-way, never finished: nothing to answer, and no time.
    std::io::Write::write_all(&mut client, b"Mich").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait(), Some(0));
    let log = server.log();
    assert!(
        log.contains("1 open connection(s) are dropped at once (--grace 0), without answering"),
        "{log}"
    );
    assert!(!log.contains("is answered"), "{log}");
    // The operator's choice, said once: no warning of a drop.
    assert!(!log.contains("Dropping"), "{log}");
}

/// Runs `serve` with its stderr in a file that `JOURNAL_STREAM` names
/// (`DEV:INODE`, as systemd sets it), or another file's when `elsewhere`;
/// one client stays open, and two signals stop the server at once (a
/// warning). Returns what serve wrote.
#[cfg(unix)]
fn serve_to_a_journal(elsewhere: bool) -> String {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let (path, other) = (dir.path().join("journal"), dir.path().join("other"));
    let log = std::fs::File::create(&path).unwrap();
    std::fs::File::create(&other).unwrap();
    let named = std::fs::metadata(if elsewhere { &other } else { &path }).unwrap();
    let mut child = Command::new(tcpkit())
        .args(["--plain-logs", "serve", "--bind", "127.0.0.1:0"])
        .env("JOURNAL_STREAM", format!("{}:{}", named.dev(), named.ino()))
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&path).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let addr = loop {
        let text = read();
        if let Some(addr) = text
            .split("Waiting for connection on ")
            .nth(1)
            .and_then(|rest| rest.split("...").next())
        {
            break addr.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never listened: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let _open = std::net::TcpStream::connect(&addr).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) on the pid of the child this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = child.wait();
    read()
}

#[cfg(unix)]
#[test]
fn logs_to_the_journal_carry_their_priority_and_nowhere_else() {
    let journal = serve_to_a_journal(false);
    let line = |start: &str| journal.lines().find(|l| l.contains(start));
    assert!(
        line("Waiting for connection on").is_some_and(|l| l.starts_with("<6>Waiting")),
        "{journal}"
    );
    assert!(
        line("Second signal: stopping at once").is_some_and(|l| l.starts_with("<4>Second")),
        "{journal}"
    );
    // JOURNAL_STREAM inherited by a process whose stderr is elsewhere.
    let plain = serve_to_a_journal(true);
    assert!(
        plain.contains("\nWaiting for connection on") || plain.starts_with("Waiting"),
        "{plain}"
    );
    assert!(!plain.contains("<6>") && !plain.contains("<4>"), "{plain}");
}
