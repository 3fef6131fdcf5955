//! The peer tier for TLS: `serve --tls-cert` against Debian's `openssl
//! s_client` and `ncat --ssl` as clients, and `talk --tls` against `ncat
//! --ssl -l` and `openssl s_server` as servers. Certificates come from
//! openssl itself (a CA and a leaf it signs), so nothing here trusts
//! anything tcpkit made. Built with `--features peer-tests`; each test
//! fails loudly when its peer is missing.

#![cfg(unix)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Proc, free_port, peer, require, stderr_of, stdout_of, talk};

/// A CA and a leaf for localhost and 127.0.0.1 signed by it, made by
/// openssl in `dir` (as for nginx): (ca.pem, server.pem, server.key).
fn openssl_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    require("openssl");
    common::nginx::make_certificates(dir);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

fn serve_tls(cert: &Path, key: &Path) -> Proc {
    Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
}

/// Runs `program args` with `input` on stdin, bounded in time.
fn run_with_input(program: &str, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

const TRANSCRIPT_IN: &[u8] = b"Michael\nTracy\nSarah\nexit\n";
const TRANSCRIPT_OUT: &str = "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n";

#[test]
fn openssl_s_client_verifies_serve_and_gets_the_transcript_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = openssl_pki(dir.path());
    let server = serve_tls(&cert, &key);
    for version in ["-tls1_3", "-tls1_2"] {
        let out = run_with_input(
            "openssl",
            &[
                "s_client",
                "-connect",
                &server.addr.to_string(),
                "-servername",
                "localhost",
                "-verify_hostname",
                "localhost",
                "-CAfile",
                ca.to_str().unwrap(),
                "-verify_return_error",
                "-quiet",
                version,
            ],
            TRANSCRIPT_IN,
        );
        assert!(out.status.success(), "{version}: {}", stderr_of(&out));
        assert_eq!(stdout_of(&out), TRANSCRIPT_OUT, "{version}");
        assert!(
            stderr_of(&out).contains("verify return:1"),
            "{}",
            stderr_of(&out)
        );
    }
    assert!(server.logged("(TLS 1.2, "));
    assert!(server.logged("(TLS 1.3, "));
}

#[test]
fn ncat_ssl_verifies_serve_and_gets_the_transcript() {
    require("ncat");
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = openssl_pki(dir.path());
    let server = serve_tls(&cert, &key);
    let out = run_with_input(
        "ncat",
        &[
            "--ssl",
            "--ssl-verify",
            "--ssl-trustfile",
            ca.to_str().unwrap(),
            "localhost",
            &server.addr.port().to_string(),
        ],
        TRANSCRIPT_IN,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), TRANSCRIPT_OUT);
}

#[test]
fn talk_tls_runs_the_tutorial_client_against_ncat_ssl_listening() {
    require("ncat");
    require("python3");
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = openssl_pki(dir.path());
    let port = free_port().to_string();
    let script = peer("greeting_server.py");
    let mut ncat = Command::new("timeout")
        .args([
            "20",
            "ncat",
            "--ssl",
            "-l",
            "127.0.0.1",
            &port,
            "--ssl-cert",
        ])
        .arg(&cert)
        .arg("--ssl-key")
        .arg(&key)
        .arg("--sh-exec")
        .arg(format!("python3 {}", script.display()))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let target = format!("localhost:{port}");
    let mut out = None;
    for _ in 0..50 {
        let tried = talk(&[
            "--tls",
            "--cacert",
            ca.to_str().unwrap(),
            &target,
            "Michael",
            "Tracy",
            "Sarah",
        ])
        .output()
        .unwrap();
        if tried.status.code() != Some(6) {
            out = Some(tried);
            break;
        }
        std::thread::sleep(Duration::from_millis(100)); // ncat not listening yet
    }
    let out = out.expect("ncat never listened");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), TRANSCRIPT_OUT);
    let _ = ncat.wait();
}

#[test]
fn talk_tls_joins_stdin_and_stdout_to_openssl_s_server() {
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = openssl_pki(dir.path());
    let port = free_port().to_string();
    let mut s_server = Command::new("timeout")
        .args([
            "20", "openssl", "s_server", "-quiet", "-naccept", "1", "-cert",
        ])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // What s_server sends once a client is there; its stdin stays open
    // until it is done, as EOF there would end the session.
    let mut to_server = s_server.stdin.take().unwrap();
    to_server.write_all(b"hello from s_server\n").unwrap();
    let target = format!("localhost:{port}");
    let mut out = None;
    for _ in 0..50 {
        let tried = talk(&["--tls", "--cacert", ca.to_str().unwrap(), &target])
            .write_stdin("hello from talk\n")
            .output()
            .unwrap();
        if tried.status.code() != Some(6) {
            out = Some(tried);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(to_server);
    let out = out.expect("s_server never listened");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "hello from s_server\n");
    let server_out = s_server.wait_with_output().unwrap();
    assert_eq!(stdout_of(&server_out), "hello from talk\n");
}

#[test]
fn socat_trusts_the_self_signed_file_and_openssl_agrees_on_its_fingerprint() {
    require("socat");
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let (server, pem) = common::serve_tls_self_signed(dir.path());
    let out = run_with_input(
        "socat",
        &[
            "-",
            &format!("OPENSSL:localhost:{},cafile={}", server.addr.port(), pem),
        ],
        TRANSCRIPT_IN,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), TRANSCRIPT_OUT);
    let x509 = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    let print = stdout_of(&x509);
    let print = print.trim().trim_start_matches("sha256 Fingerprint=");
    assert_eq!(print.len(), 95, "{print}");
    assert!(
        server.logged(&format!("SHA-256 fingerprint {print}.")),
        "{}",
        server.log()
    );
}

#[test]
fn key_updates_from_openssl_s_client_are_answered_mid_conversation() {
    // s_client's "K" line sends a KeyUpdate that asks the server to update
    // its keys too; "k" one that does not. Replies must go on after both.
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = openssl_pki(dir.path());
    let server = serve_tls(&cert, &key);
    let mut child = Command::new("timeout")
        .args(["20", "openssl", "s_client", "-connect"])
        .arg(server.addr.to_string())
        .args(["-servername", "localhost", "-CAfile"])
        .arg(&ca)
        .args(["-verify_return_error", "-tls1_3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in ["Michael\n", "K\n", "Tracy\n", "k\n", "Sarah\n"] {
        stdin.write_all(line.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let printed = stdout_of(&out);
    let replies: Vec<&str> = printed
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Hello"))
        .collect();
    assert_eq!(
        replies,
        ["Hello, Michael!", "Hello, Tracy!", "Hello, Sarah!"],
        "{}",
        stderr_of(&out)
    );
    assert_eq!(stderr_of(&out).matches("KEYUPDATE").count(), 2);
}

#[test]
fn the_certificate_openssl_req_x509_makes_is_trusted_as_curl_trusts_it() {
    // The most common test certificate: CA:TRUE, served as the server's
    // own. curl --cacert and openssl s_client -CAfile accept it; so do
    // talk and bench, pinned (the same bytes in --cacert).
    require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr_of(&made));
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        stdout_of(&text).contains("CA:TRUE"),
        "not the case under test"
    );
    let server = serve_tls(&cert, &key);
    let port = server.addr.port().to_string();
    for host in ["localhost", "127.0.0.1"] {
        let out = talk(&["--tls", "--cacert", cert.to_str().unwrap()])
            .arg(format!("{host}:{port}"))
            .arg("Michael")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{host}: {}", stderr_of(&out));
        assert_eq!(stdout_of(&out), "Welcome!\nHello, Michael!\n");
    }
    let out = Command::new(common::tcpkit())
        .args([
            "bench",
            "pingpong",
            "--tls",
            "--cacert",
            cert.to_str().unwrap(),
        ])
        .args(["-c", "2", "-d", "300ms", "--warmup", "0s", "--json"])
        .arg(format!("localhost:{port}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // fetch, against openssl's own web server holding the same pair.
    let web = free_port();
    let mut s_server = Command::new("timeout")
        .args(["20", "openssl", "s_server", "-quiet", "-www"])
        .args(["-accept", &web.to_string(), "-cert"])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", web)).is_err()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(common::tcpkit())
        .args(["fetch", "-s", "-o", "-", "--cacert", cert.to_str().unwrap()])
        .arg(format!("https://localhost:{web}/"))
        .output()
        .unwrap();
    let _ = s_server.kill();
    let _ = s_server.wait();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("s_server"), "{}", stdout_of(&out));
}
