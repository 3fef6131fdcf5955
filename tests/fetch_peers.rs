//! `tcpkit fetch` against real peers: nginx from Debian over http and
//! https with a test CA made by openssl (the bytes must equal the source
//! file, and curl fetching the same URL must save the same file), and a
//! python3 TLS server that ends a close-delimited body with or without
//! close_notify. nginx, openssl, curl and python3 are installed by the
//! README's test command (scripts/test.sh).

#![cfg(unix)] // the peers are Debian programs, driven with Unix signals

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::nginx::{certificates, run, start_nginx};
use common::{require, tcpkit};

/// Deterministic bytes that do not compress to nothing.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 2_463_534_242;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

struct Out {
    code: i32,
    stderr: String,
}

fn tcpkit_fetch(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(tcpkit())
        .arg("fetch")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn curl(dir: &Path, args: &[&str]) {
    require("curl");
    run(Command::new("curl")
        .args(["-sS", "--fail"])
        .args(args)
        .current_dir(dir));
}

#[test]
fn large_file_over_http_and_https_matches_the_source_and_curl() {
    let nginx = start_nginx();
    let source = pattern(48 * 1024 * 1024 + 123);
    nginx.put("big.bin", &source);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let urls = [
        format!("http://127.0.0.1:{}/big.bin", nginx.http),
        format!("https://localhost:{}/big.bin", nginx.https),
        format!("https://127.0.0.1:{}/big.bin", nginx.https),
    ];
    for (i, url) in urls.iter().enumerate() {
        let ours = format!("ours{i}");
        let out = tcpkit_fetch(dir, &["-s", "--cacert", &nginx.ca(), "-o", &ours, url]);
        assert_eq!(out.code, 0, "{url}: {}", out.stderr);
        let saved = std::fs::read(dir.join(&ours)).unwrap();
        assert!(
            saved == source,
            "{url}: the saved bytes differ from the source"
        );
        let theirs = format!("curl{i}");
        curl(dir, &["--cacert", &nginx.ca(), "-o", &theirs, url]);
        assert!(
            std::fs::read(dir.join(&theirs)).unwrap() == saved,
            "{url}: curl differs"
        );
    }
}

#[test]
fn chunked_gzip_body_from_nginx_matches_curl() {
    // With Accept-Encoding: gzip, nginx compresses on the fly and, not
    // knowing the length, sends the body chunked: real chunked framing.
    let nginx = start_nginx();
    let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    nginx.put("page.txt", text.as_bytes());
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let url = format!("http://127.0.0.1:{}/page.txt", nginx.http);
    let out = tcpkit_fetch(
        dir,
        &[
            "-H",
            "Accept-Encoding: gzip",
            "-D",
            "head.txt",
            "-o",
            "ours.gz",
            &url,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let head = std::fs::read_to_string(dir.join("head.txt")).unwrap();
    assert!(
        head.contains("Transfer-Encoding: chunked") && head.contains("Content-Encoding: gzip"),
        "{head}"
    );
    curl(dir, &["-H", "Accept-Encoding: gzip", "-o", "curl.gz", &url]);
    let ours = std::fs::read(dir.join("ours.gz")).unwrap();
    assert_eq!(ours, std::fs::read(dir.join("curl.gz")).unwrap());
    // And the gzip stream is whole: it decompresses to the page.
    let unzipped = Command::new("gzip")
        .args(["-dc", "ours.gz"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(unzipped.status.success());
    assert_eq!(unzipped.stdout, text.as_bytes());
}

#[test]
fn redirect_from_nginx_is_followed() {
    let nginx = start_nginx();
    nginx.put("page.txt", b"the page\n");
    let work = tempfile::tempdir().unwrap();
    let url = format!("https://localhost:{}/moved", nginx.https);
    let out = tcpkit_fetch(work.path(), &["-s", "-L", "--cacert", &nginx.ca(), &url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read(work.path().join("moved")).unwrap(),
        b"the page\n"
    );
}

#[test]
fn a_redirect_from_https_to_http_is_followed_with_a_warning() {
    let nginx = start_nginx();
    nginx.put("page.txt", b"the page\n");
    let work = tempfile::tempdir().unwrap();
    let url = format!("https://localhost:{}/downgrade", nginx.https);
    let out = tcpkit_fetch(work.path(), &["-L", "--cacert", &nginx.ca(), &url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "tcpkit: warning: following a redirect from https to http \
             (http://127.0.0.1:{}/page.txt): the rest is not encrypted",
            nginx.http
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn untrusted_or_wrong_certificates_fail_with_exit_9() {
    let nginx = start_nginx();
    nginx.put("a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let url = format!("https://localhost:{}/a.txt", nginx.https);
    let out = tcpkit_fetch(dir, &[&url]);
    assert_eq!(out.code, 9, "{}", out.stderr);
    assert!(out.stderr.contains("use --cacert FILE"), "{}", out.stderr);
    // The certificate names localhost and 127.0.0.1, not ::1.
    let v6 = format!("https://[::1]:{}/a.txt", nginx.https);
    let out = tcpkit_fetch(dir, &["--cacert", &nginx.ca(), &v6]);
    assert_eq!(out.code, 9, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the certificate is not for ::1 (it is for localhost, 127.0.0.1)"),
        "{}",
        out.stderr
    );
    assert!(
        std::fs::read_dir(dir).unwrap().next().is_none(),
        "nothing saved"
    );
    // --insecure skips the check, and says so.
    let out = tcpkit_fetch(dir, &["-k", &v6]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning: --insecure"), "{}", out.stderr);
    assert_eq!(std::fs::read(dir.join("a.txt")).unwrap(), b"a");
}

/// Runs the python3 TLS peer in `mode` and fetches from it.
fn fetch_from_python_tls(mode: &str) -> (Out, tempfile::TempDir) {
    require("python3");
    let certs = certificates();
    let mut server = Command::new("python3")
        .arg(common::peer("tls_server.py"))
        .arg(certs.path().join("server.pem"))
        .arg(certs.path().join("server.key"))
        .arg(mode)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut port,
    )
    .unwrap();
    let url = format!("https://localhost:{}/f", port.trim());
    let ca = certs.path().join("ca.pem").display().to_string();
    let work = tempfile::tempdir().unwrap();
    let out = tcpkit_fetch(work.path(), &["-s", "--cacert", &ca, &url]);
    let _ = server.wait();
    (out, work)
}

#[test]
fn tls_close_notify_ends_a_close_delimited_body() {
    let (out, work) = fetch_from_python_tls("clean");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read(work.path().join("f")).unwrap(),
        b"the whole body"
    );
}

#[test]
fn tls_close_without_close_notify_is_a_truncation() {
    let (out, work) = fetch_from_python_tls("abrupt");
    assert_eq!(out.code, 10, "{}", out.stderr);
    assert!(
        out.stderr.contains("without close_notify"),
        "{}",
        out.stderr
    );
    assert!(
        !work.path().join("f").exists(),
        "an untrusted end is not a whole file"
    );
    assert_eq!(
        std::fs::read(work.path().join("f.part")).unwrap(),
        b"the whole body"
    );
}

#[test]
fn an_interrupted_download_from_nginx_continues_with_if_range() {
    // /slow/ sends 64 KiB/s to plain requests and full speed to ranged
    // ones: -m 1 cuts the first download, -C fetches the rest.
    let nginx = start_nginx();
    let body = pattern(2 << 20);
    nginx.put("big.bin", &body);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/slow/big.bin", nginx.http);
    let cut = tcpkit_fetch(dir.path(), &["-s", "-m", "1", &url]);
    assert_eq!(cut.code, 7, "{}", cut.stderr);
    let kept = std::fs::metadata(dir.path().join("big.bin.part"))
        .unwrap()
        .len();
    assert!(kept > 0 && kept < body.len() as u64, "kept {kept}");
    let validator = std::fs::read_to_string(dir.path().join("big.bin.part.validator")).unwrap();
    assert!(validator.contains("etag: \""), "{validator}");
    let resumed = tcpkit_fetch(dir.path(), &["-s", "-C", &url]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(std::fs::read(dir.path().join("big.bin")).unwrap(), body);
    assert!(!dir.path().join("big.bin.part.validator").exists());

    // The file changes on the server after the cut: nginx's If-Range check
    // fails, it sends all of the new file, and nothing old remains.
    std::fs::remove_file(dir.path().join("big.bin")).unwrap();
    let cut = tcpkit_fetch(dir.path(), &["-s", "-m", "1", &url]);
    assert_eq!(cut.code, 7, "{}", cut.stderr);
    let changed = pattern(3 << 20);
    nginx.put("big.bin", &changed[..(1 << 20) + 7]);
    let resumed = tcpkit_fetch(dir.path(), &["-C", &url]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(
        resumed.stderr.contains("downloading it afresh"),
        "{}",
        resumed.stderr
    );
    assert_eq!(
        std::fs::read(dir.path().join("big.bin")).unwrap(),
        &changed[..(1 << 20) + 7]
    );
}
