//! The Windows build run for real under Wine (Debian's wine64 8.0):
//! serve.exe, talk.exe and bench.exe on loopback, against and alongside
//! the Linux build. scripts/test.sh builds tcpkit.exe (and the stand-in
//! bcryptprimitives.dll that Wine 8 lacks) before the tests run.

#![cfg(unix)] // Wine runs on the Linux side

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{Proc, free_port, require, stdout_of, talk};

/// tcpkit.exe, built by scripts/test.sh.
fn exe() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/windows/x86_64-pc-windows-gnu/debug/tcpkit.exe");
    assert!(
        exe.exists(),
        "{} is not built: run the README's test command (scripts/test.sh), which builds it",
        exe.display()
    );
    exe
}

/// `wine tcpkit.exe ARGS`, quiet, in a Wine prefix of the test run's own.
fn wine(args: &[&str]) -> Command {
    let mut cmd = wine_in(prefix());
    cmd.args(args);
    cmd
}

/// `wine tcpkit.exe` in `prefix`, quiet.
fn wine_in(prefix: &Path) -> Command {
    let mut cmd = Command::new("wine");
    cmd.arg(exe())
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all");
    cmd
}

/// The Wine prefix, made by the first test to ask while the others wait:
/// two first runs of Wine at once both make it, and one may fail ("could
/// not load kernel32.dll", or a wineserver directory that is not there
/// yet), as a clean clone's CI run did.
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        require("wine");
        let prefix = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/wineprefix");
        let made = wine_in(&prefix).arg("--version").output().unwrap();
        assert!(
            made.status.success(),
            "wine could not make its prefix in {}: {}",
            prefix.display(),
            common::stderr_of(&made)
        );
        prefix
    })
}

#[test]
fn the_windows_build_serves_talks_and_benches_under_wine() {
    let bind = format!("127.0.0.1:{}", free_port());
    // Logs come on stderr, as on Linux; stopped by its pid when dropped.
    let server = Proc::start(wine(&["--plain-logs", "serve", "--bind", &bind]), true);
    let transcript = "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n";
    // The Linux client against serve.exe...
    let out = talk(&[&bind, "Michael", "Tracy", "Sarah"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), transcript);
    // ... and talk.exe against it.
    let out = wine(&["talk", &bind, "Michael", "Tracy", "Sarah"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out), transcript, "{}", common::stderr_of(&out));
    // bench.exe, briefly, every reply checked.
    let out = wine(&[
        "bench",
        "pingpong",
        &bind,
        "-c",
        "2",
        "--duration",
        "500ms",
        "--warmup",
        "0s",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(common::num(&report, "done") > 0);
    assert_eq!(common::num(&report, "errors"), 0);
    // --server-pid needs /proc: refused on Windows with a usage error.
    let out = wine(&["bench", "pingpong", &bind, "--server-pid", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr_of(&out));
    assert!(common::stderr_of(&out).contains("--server-pid is not available on this platform"));
    assert!(server.logged("Accept new connection from 127.0.0.1:"));
    // demo --diagram: every call drawn as on Linux; the TCP states, which
    // only Linux's /proc tells, are said not to be shown.
    let out = wine(&["-q", "demo", "--diagram", "-", "Michael"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let chart = stdout_of(&out);
    assert!(
        chart.contains("client ── connect: handshake took"),
        "{chart}"
    );
    assert!(
        chart.contains("read 8 bytes \"Michael\\n\"  server"),
        "{chart}"
    );
    assert!(chart.contains("FIN: shutdown(write) ── server"), "{chart}");
    assert!(chart.contains("client  not shown here"), "{chart}");
    assert!(chart.contains("not shown here  server"), "{chart}");
    // Wine turns SIGINT into a console Ctrl+C: the Windows signal path
    // stops the server gracefully.
    let mut server = server;
    server.signal(libc::SIGINT);
    assert_eq!(server.wait(), Some(0), "{}", server.log());
    assert!(server.logged("Server stopped."));
}

#[test]
fn the_windows_build_downloads_safely_under_wine() {
    // fetch.exe against Python's http.server: the part file made with
    // Windows' no-follow open, published by name after the same-file
    // check, and an existing file refused.
    require("python3");
    let www = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(www.path().join("blob.bin"), &body).unwrap();
    let port = free_port();
    let http = Proc::start(
        {
            let mut c = Command::new("python3");
            c.args([
                "-u",
                "-c",
                "import http.server, socketserver, sys\n\
                 h = http.server.SimpleHTTPRequestHandler\n\
                 s = socketserver.TCPServer(('127.0.0.1', int(sys.argv[1])), h)\n\
                 print('Waiting for connection on 127.0.0.1:' + sys.argv[1] + '...', flush=True)\n\
                 s.serve_forever()",
            ])
            .arg(port.to_string())
            .current_dir(www.path());
            c
        },
        false,
    );
    let out_dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/blob.bin", http.addr);
    let fetch = |dir: &std::path::Path| {
        let mut cmd = wine(&["fetch", "-s", &url]);
        cmd.current_dir(dir).output().unwrap()
    };
    let out = fetch(out_dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr_of(&out));
    assert_eq!(
        std::fs::read(out_dir.path().join("blob.bin")).unwrap(),
        body
    );
    let left: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        left,
        ["blob.bin"],
        "the part file and its validator are gone"
    );
    let again = fetch(out_dir.path());
    assert_eq!(
        again.status.code(),
        Some(13),
        "{}",
        common::stderr_of(&again)
    );
    assert!(common::stderr_of(&again).contains("blob.bin already exists"));
}

/// A Unix path as the Windows build under Wine names it (Wine's Z: drive
/// is the Unix root).
fn windows_path(path: &std::path::Path) -> String {
    format!("Z:{}", path.display().to_string().replace('/', "\\"))
}

#[test]
fn the_windows_build_fetches_from_nginx_over_https_and_chunked() {
    // fetch.exe against the local nginx: https checked against the test CA
    // (rustls and ring built for Windows), and a gzip body nginx sends
    // chunked; both byte for byte what the Linux build and the source say.
    let nginx = common::nginx::start_nginx();
    let big: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    nginx.put("big.bin", &big);
    let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    nginx.put("page.txt", text.as_bytes());
    let out_dir = tempfile::tempdir().unwrap();
    let cacert = windows_path(std::path::Path::new(&nginx.ca()));
    let https = format!("https://localhost:{}/big.bin", nginx.https);
    let out = wine(&["fetch", "-s", "--cacert", &cacert, &https])
        .current_dir(out_dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr_of(&out));
    assert!(std::fs::read(out_dir.path().join("big.bin")).unwrap() == big);
    // Untrusted: the same exit code and hint as on Linux.
    let untrusted = wine(&["fetch", "-s", "-o", "-", &https])
        .current_dir(out_dir.path())
        .output()
        .unwrap();
    assert_eq!(untrusted.status.code(), Some(9));
    assert!(common::stderr_of(&untrusted).contains("not issued by a trusted CA (use --cacert"));
    // Chunked: nginx compresses on the fly for Accept-Encoding: gzip.
    let chunked = format!("http://127.0.0.1:{}/page.txt", nginx.http);
    let out = wine(&[
        "fetch",
        "-s",
        "-H",
        "Accept-Encoding: gzip",
        "-D",
        "head.txt",
        "-o",
        "page.gz",
        &chunked,
    ])
    .current_dir(out_dir.path())
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr_of(&out));
    let head = std::fs::read_to_string(out_dir.path().join("head.txt")).unwrap();
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    let linux = Command::new(common::tcpkit())
        .args([
            "fetch",
            "-s",
            "-H",
            "Accept-Encoding: gzip",
            "-o",
            "linux.gz",
            &chunked,
        ])
        .current_dir(out_dir.path())
        .output()
        .unwrap();
    assert_eq!(linux.status.code(), Some(0));
    assert_eq!(
        std::fs::read(out_dir.path().join("page.gz")).unwrap(),
        std::fs::read(out_dir.path().join("linux.gz")).unwrap()
    );
}
