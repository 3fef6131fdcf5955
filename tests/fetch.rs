//! `tcpkit fetch` against a port-0 server that answers scripted raw bytes:
//! edge cases from RFC 9112 and from curl's and hyper's test suites. Each
//! test asserts the exit code, the exact bytes saved (or that nothing was
//! saved), and the exact request bytes the server received.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{PATIENCE, tcpkit};

/// What the scripted server does after reading one request.
#[derive(Clone)]
struct Reply {
    /// Bytes to send, in pieces (each flushed on its own).
    pieces: Vec<Vec<u8>>,
    /// Pause between pieces.
    pause: Duration,
    /// Keep the connection open this long after the last piece.
    hold: Duration,
}

impl Reply {
    /// Sends `bytes` at once, then closes.
    fn bytes(bytes: impl AsRef<[u8]>) -> Reply {
        Reply {
            pieces: vec![bytes.as_ref().to_vec()],
            pause: Duration::ZERO,
            hold: Duration::ZERO,
        }
    }

    /// Sends `bytes` in pieces of `size`, with a short pause between them.
    fn split(bytes: impl AsRef<[u8]>, size: usize) -> Reply {
        Reply {
            pieces: bytes.as_ref().chunks(size).map(<[u8]>::to_vec).collect(),
            pause: Duration::from_millis(1),
            hold: Duration::ZERO,
        }
    }

    /// Keeps the connection open for `hold` after sending.
    fn hold(mut self, hold: Duration) -> Reply {
        self.hold = hold;
        self
    }

    /// Pauses `pause` between pieces.
    fn pause(mut self, pause: Duration) -> Reply {
        self.pause = pause;
        self
    }
}

/// A server on 127.0.0.1:0 that answers each connection with the next reply.
struct Script {
    listener: Option<TcpListener>,
    port: u16,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Script {
    fn bind() -> Script {
        Script::bind_on("127.0.0.1:0")
    }

    fn bind_on(addr: &str) -> Script {
        let listener = TcpListener::bind(addr).unwrap();
        let port = listener.local_addr().unwrap().port();
        Script {
            listener: Some(listener),
            port,
            requests: Arc::default(),
        }
    }

    /// Starts answering; one connection per reply, in order.
    fn serve(mut self, replies: Vec<Reply>) -> Script {
        let listener = self.listener.take().unwrap();
        let requests = self.requests.clone();
        thread::spawn(move || {
            for reply in replies {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let requests = requests.clone();
                thread::spawn(move || answer(stream, &reply, &requests));
            }
        });
        self
    }

    /// The requests received so far, as text.
    fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The request tcpkit sends for `GET path` to this server.
    fn get(&self, path: &str) -> String {
        request("GET", path, &format!("127.0.0.1:{}", self.port), "")
    }
}

/// The exact request bytes we expect, with `extra` headers at the end.
fn request(method: &str, path: &str, host: &str, extra: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tcpkit/{}\r\n\
         Accept: */*\r\nConnection: close\r\n{extra}\r\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn answer(mut stream: TcpStream, reply: &Reply, requests: &Mutex<Vec<Vec<u8>>>) {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = stream.set_nodelay(true);
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    // Stop at the blank line, or at once for bytes that are not HTTP
    // (a TLS ClientHello), as a real plain-HTTP server answers those.
    while !got.windows(4).any(|w| w == b"\r\n\r\n")
        && got.first().is_none_or(u8::is_ascii_uppercase)
    {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    requests.lock().unwrap().push(got);
    for (i, piece) in reply.pieces.iter().enumerate() {
        if i > 0 {
            thread::sleep(reply.pause);
        }
        if stream.write_all(piece).is_err() {
            return;
        }
    }
    thread::sleep(reply.hold);
    let _ = stream.shutdown(Shutdown::Write);
    // Drain so the close is not a reset that destroys what we sent.
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

/// One run of `tcpkit fetch` in a fresh directory.
struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    dir: tempfile::TempDir,
    took: Duration,
}

impl Run {
    fn file(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.path().join(name)).ok()
    }

    /// The names of the files the run left behind.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn fetch(args: &[&str]) -> Run {
    fetch_in(tempfile::tempdir().unwrap(), args)
}

fn fetch_in(dir: tempfile::TempDir, args: &[&str]) -> Run {
    let start = Instant::now();
    let mut cmd = Command::new(tcpkit());
    cmd.arg("fetch");
    if !args.contains(&"--read-timeout") {
        cmd.args(["--read-timeout", "20s"]);
    }
    let out = cmd.args(args).current_dir(dir.path()).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
        took: start.elapsed(),
    }
}

/// Serves one reply to `GET /f` and fetches it into `f`.
fn one(reply: Reply) -> (Run, Script) {
    let server = Script::bind().serve(vec![reply]);
    let run = fetch(&[&server.url("/f")]);
    (run, server)
}

/// The run succeeded, saved exactly `body` as `f`, and sent a plain GET.
fn assert_saved(run: &Run, server: &Script, body: &[u8]) {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(
        run.file("f").as_deref(),
        Some(body),
        "stderr: {}",
        run.stderr
    );
    assert_eq!(run.files(), ["f"]);
    assert_eq!(server.requests(), [server.get("/f")]);
}

/// The run failed with `code`, said `message`, and left no file `f`.
fn assert_failed(run: &Run, server: &Script, code: i32, message: &str) {
    assert_eq!(run.code, code, "stderr: {}", run.stderr);
    assert!(run.stderr.contains(message), "stderr: {}", run.stderr);
    assert_eq!(
        run.file("f"),
        None,
        "a failed download must not pass for a whole one"
    );
    assert_eq!(server.requests(), [server.get("/f")]);
}

const OK: &str = "HTTP/1.1 200 OK\r\n";

// ---- Content-Length ----

#[test]
fn content_length_exact() {
    let (run, server) = one(Reply::bytes(format!("{OK}Content-Length: 5\r\n\r\nhello")));
    assert_saved(&run, &server, b"hello");
    assert_eq!(
        run.stdout,
        format!("{OK}Content-Length: 5\r\n\r\n").as_bytes(),
        "the head is printed as it arrived"
    );
    assert!(run.stderr.contains("saved 5 bytes to f"), "{}", run.stderr);
}

#[test]
fn insecure_says_nothing_over_plain_http() {
    // -k skips a certificate check; plain http has none to skip, so no
    // warning (https is checked in tests/fetch_peers.rs, with the warning).
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 5\r\n\r\nhello"
    ))]);
    let run = fetch(&["-k", &server.url("/f")]);
    assert_saved(&run, &server, b"hello");
    assert!(!run.stderr.contains("--insecure"), "{}", run.stderr);
}

#[test]
fn content_length_short_is_an_error_and_stays_part() {
    let (run, server) = one(Reply::bytes(format!("{OK}Content-Length: 10\r\n\r\nhello")));
    assert_failed(&run, &server, 10, "transfer closed with 5 bytes remaining");
    assert_eq!(run.file("f.part").as_deref(), Some(&b"hello"[..]));
    assert!(
        run.stderr.contains("5 bytes kept in f.part"),
        "{}",
        run.stderr
    );
}

#[test]
fn content_length_server_keeps_the_socket_open() {
    let reply = Reply::bytes(format!("{OK}Content-Length: 5\r\n\r\nhello")).hold(PATIENCE);
    let (run, server) = one(reply);
    assert_saved(&run, &server, b"hello");
    assert!(run.took < Duration::from_secs(10), "waited for the close");
}

#[test]
fn content_length_repeated_equal_values_are_one() {
    let reply = Reply::bytes(format!(
        "{OK}Content-Length: 5\r\nContent-Length: 5, 5\r\n\r\nhello"
    ));
    let (run, server) = one(reply);
    assert_saved(&run, &server, b"hello");
}

#[test]
fn content_length_different_values_are_an_error() {
    let reply = Reply::bytes(format!(
        "{OK}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
    ));
    let (run, server) = one(reply);
    assert_failed(
        &run,
        &server,
        8,
        "different Content-Length values (5 and 6)",
    );
}

#[test]
fn content_length_signs_and_junk_are_errors() {
    for bad in ["+5", "-1", "5x", "0x5", "5 5"] {
        let reply = Reply::bytes(format!("{OK}Content-Length: {bad}\r\n\r\nhello"));
        let (run, server) = one(reply);
        assert_failed(&run, &server, 8, "Content-Length");
    }
}

#[test]
fn extra_bytes_after_the_body_are_ignored_with_a_warning() {
    let reply = Reply::bytes(format!("{OK}Content-Length: 5\r\n\r\nhelloEXTRA"));
    let (run, server) = one(reply);
    assert_saved(&run, &server, b"hello");
    assert!(
        run.stderr.contains("warning: ignored 5 bytes"),
        "{}",
        run.stderr
    );
}

#[test]
fn large_body_split_at_odd_places() {
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut wire = format!("{OK}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    wire.extend_from_slice(&body);
    let (run, server) = one(Reply::split(wire, 4099).pause(Duration::ZERO));
    assert_saved(&run, &server, &body);
}

// ---- chunked ----

fn chunked(body: &str) -> Reply {
    Reply::bytes(format!("{OK}Transfer-Encoding: chunked\r\n\r\n{body}"))
}

#[test]
fn chunked_upper_and_lower_case_hex() {
    let (run, server) = one(chunked("a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n"));
    assert_saved(&run, &server, b"0123456789abcdefghijk");
}

#[test]
fn chunked_leading_zeros() {
    let (run, server) = one(chunked("00000000000000000005\r\nhello\r\n0000\r\n\r\n"));
    assert_saved(&run, &server, b"hello");
}

#[test]
fn chunked_extensions_are_skipped() {
    let (run, server) = one(chunked(
        "5;name=value;q=\"a b\"\r\nhello\r\n1 ; x\r\n!\r\n0;last\r\n\r\n",
    ));
    assert_saved(&run, &server, b"hello!");
}

#[test]
fn chunked_trailers_are_read_and_dropped() {
    let (run, server) = one(chunked("5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\n"));
    assert_saved(&run, &server, b"hello");
}

#[test]
fn chunked_split_byte_by_byte() {
    let wire = format!(
        "{OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;e=1\r\n, world\r\n0\r\nT: 1\r\n\r\n"
    );
    let (run, server) = one(Reply::split(wire, 1));
    assert_saved(&run, &server, b"hello, world");
}

#[test]
fn chunked_missing_last_chunk_is_truncated() {
    let (run, server) = one(chunked("5\r\nhello\r\n"));
    assert_failed(&run, &server, 10, "transfer closed before the last chunk");
    assert_eq!(run.file("f.part").as_deref(), Some(&b"hello"[..]));
}

#[test]
fn chunked_cut_inside_a_chunk_says_how_much() {
    let (run, server) = one(chunked("a\r\nhello"));
    assert_failed(
        &run,
        &server,
        10,
        "transfer closed with 5 bytes remaining in a chunk",
    );
}

#[test]
fn chunked_seventeen_digit_size_overflows() {
    let (run, server) = one(chunked("10000000000000000\r\nhello\r\n0\r\n\r\n"));
    assert_failed(&run, &server, 8, "more than 64 bits");
}

#[test]
fn chunked_non_hex_size_line() {
    let (run, server) = one(chunked("hello\r\nworld\r\n0\r\n\r\n"));
    assert_failed(&run, &server, 8, "invalid chunk size line");
}

#[test]
fn chunked_data_not_followed_by_crlf() {
    let (run, server) = one(chunked("5\r\nhelloXX0\r\n\r\n"));
    assert_failed(&run, &server, 8, "expected CRLF after chunk data");
}

#[test]
fn chunked_wins_over_content_length_with_a_warning() {
    let reply = Reply::bytes(format!(
        "{OK}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    ));
    let (run, server) = one(reply);
    assert_saved(&run, &server, b"hello");
    assert!(
        run.stderr.contains("warning: the response has both"),
        "{}",
        run.stderr
    );
}

#[test]
fn chunked_in_http_1_0_is_an_error() {
    let reply = Reply::bytes(
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    let (run, server) = one(reply);
    assert_failed(
        &run,
        &server,
        8,
        "HTTP/1.0 response carries Transfer-Encoding",
    );
}

// ---- responses without a body ----

#[test]
fn head_request_with_a_content_length_reads_no_body() {
    let server = Script::bind().serve(vec![
        Reply::bytes(format!("{OK}Content-Length: 1000\r\n\r\n")).hold(PATIENCE),
    ]);
    let run = fetch(&["-I", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.files().is_empty(), "-I saves nothing");
    assert_eq!(
        run.stdout,
        format!("{OK}Content-Length: 1000\r\n\r\n").as_bytes()
    );
    assert_eq!(
        server.requests(),
        [request(
            "HEAD",
            "/f",
            &format!("127.0.0.1:{}", server.port),
            ""
        )]
    );
    assert!(run.took < Duration::from_secs(10));
}

#[test]
fn no_content_and_not_modified_ignore_framing_headers() {
    for head in [
        "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let (run, server) = one(Reply::bytes(head).hold(PATIENCE));
        assert_saved(&run, &server, b"");
        assert!(run.took < Duration::from_secs(10), "waited for a body");
    }
}

// ---- interim responses ----

#[test]
fn continue_and_early_hints_come_before_the_final_response() {
    let reply = Reply::bytes(format!(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n\
         {OK}Content-Length: 2\r\n\r\nok"
    ));
    let (run, server) = one(reply);
    assert_saved(&run, &server, b"ok");
    let shown = String::from_utf8(run.stdout).unwrap();
    assert!(shown.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103"));
    assert!(shown.ends_with("Content-Length: 2\r\n\r\n"));
}

#[test]
fn endless_interim_responses_are_capped() {
    let reply = Reply::bytes("HTTP/1.1 100 Continue\r\n\r\n".repeat(4));
    let server = Script::bind().serve(vec![reply]);
    let run = fetch(&["--max-interim", "3", &server.url("/f")]);
    assert_failed(&run, &server, 8, "more than 3 interim (1xx) responses");
}

// ---- close-delimited and malformed heads ----

#[test]
fn http_1_0_body_ends_at_the_close() {
    let (run, server) = one(Reply::split("HTTP/1.0 200 OK\r\n\r\nuntil the end", 3));
    assert_saved(&run, &server, b"until the end");
}

#[test]
fn endless_head_is_capped() {
    let mut head = OK.to_string();
    head.push_str(&"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(40));
    let server = Script::bind().serve(vec![Reply::bytes(head).hold(PATIENCE)]);
    let run = fetch(&["--max-head", "1KiB", &server.url("/f")]);
    assert_failed(
        &run,
        &server,
        8,
        "larger than 1024 bytes (raise --max-head?)",
    );
}

#[test]
fn a_head_larger_than_the_read_buffer_is_fine_when_allowed() {
    // 300 KB of fields: over the 256 KiB read buffer, under --max-head.
    let mut head = OK.to_string();
    head.push_str(&format!("X-Big: {}\r\n", "b".repeat(300_000)));
    head.push_str("Content-Length: 2\r\n\r\nok");
    let server = Script::bind().serve(vec![Reply::bytes(head)]);
    let run = fetch(&["-s", "--max-head", "1MiB", &server.url("/f")]);
    assert_saved(&run, &server, b"ok");
}

#[test]
fn too_many_header_fields() {
    let head = format!("{OK}{}\r\n", "A: b\r\n".repeat(5));
    let server = Script::bind().serve(vec![Reply::bytes(head)]);
    let run = fetch(&["--max-headers", "4", &server.url("/f")]);
    assert_failed(&run, &server, 8, "more than 4 header fields");
}

#[test]
fn obs_fold_is_unfolded() {
    let reply = Reply::bytes(format!(
        "{OK}X-Folded: one\r\n two\r\nContent-Length: 3\r\n\r\nabc"
    ));
    let (run, server) = one(reply);
    assert_saved(&run, &server, b"abc");
}

#[test]
fn bare_lf_head_is_accepted() {
    let (run, server) = one(Reply::bytes("HTTP/1.1 200 OK\nContent-Length: 3\n\nabc"));
    assert_saved(&run, &server, b"abc");
}

#[test]
fn not_http_is_an_error() {
    let (run, server) = one(Reply::bytes("SSH-2.0-OpenSSH_9.2\r\n"));
    assert_failed(&run, &server, 8, "does not start with HTTP/1.0 or HTTP/1.1");
    // What came is shown, escaped, as talk shows it.
    assert!(
        run.stderr
            .contains("the server sent \"SSH-2.0-OpenSSH_9.2\\r\\n\""),
        "{}",
        run.stderr
    );
    // The tutorial's greeting server, asked for a page.
    let (run, server) = one(Reply::bytes("Welcome!\n"));
    assert_failed(&run, &server, 8, "the server sent \"Welcome!\\n\"");
}

#[test]
fn close_without_answer() {
    let (run, server) = one(Reply::bytes(""));
    assert_failed(&run, &server, 8, "closed the connection without answering");
}

#[test]
fn close_inside_the_head() {
    let (run, server) = one(Reply::bytes(format!("{OK}Content-Le")));
    assert_failed(&run, &server, 10, "in the middle of the response head");
}

// ---- redirects ----

#[test]
fn redirect_is_followed_and_the_name_stays() {
    let server = Script::bind();
    let port = server.port;
    let server = server.serve(vec![
        Reply::bytes(
            "HTTP/1.1 302 Found\r\nLocation: /real/other.txt\r\nContent-Length: 3\r\n\r\nxyz",
        ),
        Reply::bytes(format!("{OK}Content-Length: 4\r\n\r\nreal")),
    ]);
    let run = fetch(&["-L", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f").as_deref(), Some(&b"real"[..]));
    assert_eq!(run.files(), ["f"]);
    let host = format!("127.0.0.1:{port}");
    assert_eq!(
        server.requests(),
        [
            request("GET", "/f", &host, ""),
            request("GET", "/real/other.txt", &host, "")
        ]
    );
}

#[test]
fn without_location_flag_the_redirect_itself_is_saved() {
    let (run, server) = one(Reply::bytes(
        "HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\nContent-Length: 5\r\n\r\nmoved",
    ));
    assert_saved(&run, &server, b"moved");
    let to = server.url("/x");
    assert!(
        run.stderr.contains(&format!(
            "tcpkit: warning: the server answered 301 Moved Permanently and redirects to \
             {to}: add -L to follow it; the saved body is the redirect's own"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn an_error_page_saved_without_fail_is_named() {
    let (run, server) = one(Reply::bytes(
        "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope",
    ));
    assert_saved(&run, &server, b"nope");
    assert!(
        run.stderr.contains(
            "tcpkit: warning: the server answered 404 Not Found: the saved body is its error \
             response (add --fail to save nothing and exit 12)"
        ),
        "{}",
        run.stderr
    );
    // A success says nothing of the kind.
    let (run, _server) = one(Reply::bytes(format!("{OK}Content-Length: 2\r\n\r\nok")));
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}

#[test]
fn a_url_without_a_scheme_is_http_as_in_curl() {
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 5\r\n\r\nhello"
    ))]);
    let url = server.url("/f");
    let bare = url.strip_prefix("http://").unwrap();
    let run = fetch(&[bare]);
    assert_saved(&run, &server, b"hello");
}

#[test]
fn redirect_loop_stops_at_the_limit() {
    let looping = Reply::bytes(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: /f\r\nContent-Length: 0\r\n\r\n",
    );
    let server = Script::bind().serve(vec![looping; 4]);
    let run = fetch(&["-L", "--max-redirs", "3", &server.url("/f")]);
    assert_eq!(run.code, 11, "{}", run.stderr);
    assert!(
        run.stderr.contains("too many redirects: stopped after 3"),
        "{}",
        run.stderr
    );
    assert!(run.files().is_empty());
    assert_eq!(server.requests(), vec![server.get("/f"); 4]);
}

#[test]
fn cross_host_redirect_drops_credentials() {
    let other = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 2\r\n\r\nok"
    ))]);
    let first = Script::bind().serve(vec![Reply::bytes(format!(
        "HTTP/1.1 308 Permanent Redirect\r\nLocation: {}\r\n\r\n",
        other.url("/landing")
    ))]);
    let run = fetch(&[
        "-L",
        "-H",
        "Authorization: Bearer secret",
        "-H",
        "Cookie: session=1",
        "-H",
        "X-Trace: 7",
        "-o",
        "out",
        &first.url("/f"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("out").as_deref(), Some(&b"ok"[..]));
    assert_eq!(
        first.requests(),
        [request(
            "GET",
            "/f",
            &format!("127.0.0.1:{}", first.port),
            "Authorization: Bearer secret\r\nCookie: session=1\r\nX-Trace: 7\r\n"
        )]
    );
    assert_eq!(
        other.requests(),
        [request(
            "GET",
            "/landing",
            &format!("127.0.0.1:{}", other.port),
            "X-Trace: 7\r\n"
        )]
    );
}

// ---- status, output and request options ----

#[test]
fn fail_on_http_error_saves_nothing() {
    let server = Script::bind().serve(vec![Reply::bytes(
        "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
    )]);
    let run = fetch(&["--fail", &server.url("/f")]);
    assert_failed(&run, &server, 12, "the server answered 404 Not Found");
    assert!(run.files().is_empty());
}

#[test]
fn body_to_stdout_puts_the_head_on_stderr() {
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 5\r\n\r\nhello"
    ))]);
    let run = fetch(&["-o", "-", &server.url("/f")]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, b"hello");
    assert!(run.stderr.starts_with(OK), "{}", run.stderr);
    assert!(run.files().is_empty());
}

#[test]
fn a_closed_output_ends_the_download_quietly() {
    // `tcpkit fetch URL -o - | head -c 10` once head has gone: success,
    // nothing said, as curl with a closed pipe; the body is 1 MiB, so
    // the writes run into the closed pipe whatever the pipe's size.
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 1048576\r\n\r\n{}",
        "x".repeat(1 << 20)
    ))]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(tcpkit())
        .args(["fetch", "-s", "-o", "-", &server.url("/f")])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn dump_header_and_silent() {
    let head = format!("{OK}Content-Length: 5\r\n\r\n");
    let server = Script::bind().serve(vec![Reply::bytes(format!("{head}hello"))]);
    let run = fetch(&["-s", "-D", "head.txt", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("head.txt").as_deref(), Some(head.as_bytes()));
    assert_eq!(run.file("f").as_deref(), Some(&b"hello"[..]));
    assert!(
        run.stdout.is_empty() && run.stderr.is_empty(),
        "{}",
        run.stderr
    );
    // `-D -` is standard output, as in curl, even with -s; no file is
    // made for it.
    let server = Script::bind().serve(vec![Reply::bytes(format!("{head}hello"))]);
    let run = fetch(&["-s", "-D", "-", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, head.as_bytes());
    assert_eq!(run.file("f").as_deref(), Some(&b"hello"[..]));
    assert_eq!(run.files(), ["f"]);
}

#[test]
fn user_headers_replace_remove_and_add() {
    let server = Script::bind().serve(vec![Reply::bytes(format!("{OK}Content-Length: 0\r\n\r\n"))]);
    let run = fetch(&[
        "-H",
        "Accept: text/html",
        "-H",
        "User-Agent:",
        "-H",
        "X-One: 1",
        &server.url("/f?q=a%20b"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        server.requests(),
        [format!(
            "GET /f?q=a%20b HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/html\r\n\
             Connection: close\r\nX-One: 1\r\n\r\n",
            server.port
        )]
    );
}

#[test]
fn header_injection_is_refused() {
    let run = fetch(&["-H", "X: a\r\nEvil: 1", "http://127.0.0.1:9/"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("may not contain line breaks"),
        "{}",
        run.stderr
    );
}

#[test]
fn raw_mode_saves_the_chunked_body_undecoded() {
    let wire = format!("{OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    let server = Script::bind().serve(vec![Reply::bytes(&wire)]);
    let run = fetch(&["--raw", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.file("f").as_deref(),
        Some(&b"5\r\nhello\r\n0\r\n\r\n"[..])
    );
    assert_eq!(
        run.stdout,
        format!("{OK}Transfer-Encoding: chunked\n").as_bytes(),
        "the tutorial prints the head without its blank line"
    );
}

#[test]
fn ipv6_literal_url() {
    let server = Script::bind_on("[::1]:0").serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 2\r\n\r\nv6"
    ))]);
    let run = fetch(&[&format!("http://[::1]:{}/f", server.port)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f").as_deref(), Some(&b"v6"[..]));
    assert_eq!(
        server.requests(),
        [request("GET", "/f", &format!("[::1]:{}", server.port), "")]
    );
}

// ---- timeouts and connection failures ----

#[test]
fn read_timeout_when_the_server_says_nothing() {
    let server = Script::bind().serve(vec![Reply::bytes("").hold(PATIENCE)]);
    let run = fetch(&["--read-timeout", "300ms", &server.url("/f")]);
    // The per-read and the whole-head bounds are both 300 ms here; under
    // load either fired first, and both now say the same.
    assert_failed(
        &run,
        &server,
        7,
        "waiting for the response head timed out after 300ms",
    );
}

#[test]
fn max_time_bounds_a_trickle_and_keeps_the_part() {
    let mut wire = format!("{OK}ETag: \"v1\"\r\nContent-Length: 1000\r\n\r\n").into_bytes();
    wire.extend_from_slice(&[b'x'; 1000]);
    let reply = Reply::split(wire, 10).pause(Duration::from_millis(50));
    let server = Script::bind().serve(vec![reply]);
    let run = fetch(&["--max-time", "700ms", &server.url("/f")]);
    // As Ctrl+C says it: what was kept, and how to go on.
    assert_failed(
        &run,
        &server,
        7,
        " bytes kept in f.part; run the same command with -C to continue it) timed out \
         after 700ms",
    );
    assert!(
        run.file("f.part")
            .is_some_and(|p| !p.is_empty() && p.len() < 1000)
    );
}

#[test]
fn connection_refused() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = fetch(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "connection refused (is a server running on 127.0.0.1:{port}?)"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_urls_are_usage_errors() {
    for (url, message) in [
        ("http://", "empty host"),
        ("ftp://example.com/", "unsupported scheme 'ftp'"),
        ("http://u:p@example.com/", "credentials in the URL"),
    ] {
        let run = fetch(&[url]);
        assert_eq!(run.code, 2, "{url}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{url}: {}", run.stderr);
    }
}

#[test]
fn plain_http_server_on_an_https_url_is_a_tls_error() {
    let server = Script::bind().serve(vec![Reply::bytes(format!("{OK}Content-Length: 0\r\n\r\n"))]);
    let run = fetch(&[&format!("https://127.0.0.1:{}/f", server.port)]);
    assert_eq!(run.code, 9, "{}", run.stderr);
    assert!(
        run.stderr.contains("TLS handshake with 127.0.0.1"),
        "{}",
        run.stderr
    );
    assert!(run.files().is_empty());
}

#[test]
fn a_silent_plain_text_server_on_an_https_url_is_a_tls_error() {
    // It takes the connection and waits for its own protocol, so the TLS
    // hello gets no answer: exit 9 with the hint, not a bare timeout (7).
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || silent.accept().map(|(s, _)| s));
    let run = fetch(&[
        "--connect-timeout",
        "1",
        &format!("https://127.0.0.1:{port}/f"),
    ]);
    assert_eq!(run.code, 9, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "no TLS answer from 127.0.0.1:{port} within 1s of connecting (the connection was \
             made but the server said nothing to the TLS hello: a plain-text server on that \
             port? try http://)"
        )),
        "{}",
        run.stderr
    );
    drop(held);
}

// ---- output names ----

#[test]
fn hostile_paths_never_leave_the_directory() {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    for path in [
        "/..%2f..%2fescaped",
        "/%2e%2e%2fescaped",
        "/a/b%5c..%5cescaped",
        "/%2Fetc%2Fescaped",
        "/.hidden",
        "/x%0a%1b%00y",
        "/",
    ] {
        let server = Script::bind().serve(vec![Reply::bytes(format!(
            "{OK}Content-Length: 1\r\n\r\n!"
        ))]);
        let out = Command::new(tcpkit())
            .args(["fetch", "-s", &server.url(path)])
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "___.._escaped",
            "___escaped",
            "_etc_escaped",
            "_hidden",
            "b_.._escaped",
            "index.html",
            "x___y"
        ]
    );
    let outside: Vec<PathBuf> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(outside, [work], "nothing was written beside the directory");
}

#[test]
#[cfg(unix)] // Unix symlinks and hard links
fn existing_files_need_force_and_symlinks_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("f")).unwrap();
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 3\r\n\r\nnew"
    ))]);
    let run = fetch_in(dir, &[&server.url("/f")]);
    assert_eq!(run.code, 13, "{}", run.stderr);
    assert!(
        run.stderr.contains("f already exists (use --force"),
        "{}",
        run.stderr
    );
    assert!(server.requests().is_empty(), "checked before connecting");
    let run = fetch_in(run.dir, &["--force", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f").as_deref(), Some(&b"new"[..]));
    assert_eq!(
        run.file("victim").as_deref(),
        Some(&b"keep"[..]),
        "the link target is untouched"
    );
    assert!(!run.dir.path().join("f").is_symlink());
}

#[test]
fn output_to_dev_null_is_written_directly() {
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 3\r\n\r\nabc"
    ))]);
    let run = fetch(&["-o", "/dev/null", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.files().is_empty());
}

#[test]
fn zero_limits_are_no_limits_and_bare_numbers_are_seconds() {
    // curl's habits: --max-time 0 is no limit (it used to time out at
    // once), and a bare number is seconds.
    let (run, server) = {
        let server = Script::bind().serve(vec![Reply::bytes(format!(
            "{OK}Content-Length: 5\r\n\r\nhello"
        ))]);
        let run = fetch(&[
            "--max-time",
            "0",
            "--read-timeout",
            "0",
            "--connect-timeout",
            "2.5",
            &server.url("/f"),
        ]);
        (run, server)
    };
    assert_saved(&run, &server, b"hello");
}

#[test]
fn one_byte_saved_is_singular() {
    let (run, server) = one(Reply::bytes(format!("{OK}Content-Length: 1\r\n\r\nx")));
    assert_saved(&run, &server, b"x");
    assert!(run.stderr.contains("saved 1 byte to f"), "{}", run.stderr);
}

#[test]
fn max_filesize_refuses_a_content_length_over_it_before_writing() {
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 1000\r\n\r\n{}",
        "x".repeat(1000)
    ))]);
    let run = fetch(&["--max-filesize", "999", &server.url("/f")]);
    assert_eq!(run.code, 15, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the body is 1000 bytes (Content-Length), larger than --max-filesize 999 bytes"
        ),
        "{}",
        run.stderr
    );
    assert!(run.files().is_empty(), "nothing written: {:?}", run.files());
    // At the limit exactly, it is saved.
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 5\r\n\r\nhello"
    ))]);
    let run = fetch(&["--max-filesize", "5", &server.url("/f")]);
    assert_saved(&run, &server, b"hello");
}

#[test]
fn max_filesize_stops_a_body_without_a_length() {
    let body = "y".repeat(5000);
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{body}"
    ))]);
    let run = fetch(&["--max-filesize", "4K", &server.url("/f")]);
    assert_eq!(run.code, 15, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the body is larger than --max-filesize 4096 bytes"),
        "{}",
        run.stderr
    );
    assert!(run.file("f").is_none(), "no complete file");
}

#[test]
fn read_timeout_bounds_a_head_that_trickles() {
    // One byte every 50 ms: each read is quick, the head never ends in time.
    let head = format!("{OK}X-Slow: {}\r\n\r\n", "z".repeat(200));
    let server = Script::bind().serve(vec![Reply::split(head, 1).pause(Duration::from_millis(50))]);
    let run = fetch(&["--read-timeout", "1", &server.url("/f")]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("waiting for the response head timed out after 1s"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_part_file_that_is_there_is_never_written_through() {
    // f.part is a hard link to someone else's file: writing it would
    // overwrite theirs.
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::hard_link(&victim, dir.path().join("f.part")).unwrap();
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 3\r\n\r\nnew"
    ))]);
    let run = fetch_in(dir, &[&server.url("/f")]);
    assert_eq!(run.code, 13, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("f.part already exists (left by an earlier download?)"),
        "{}",
        run.stderr
    );
    assert!(server.requests().is_empty(), "checked before connecting");
    assert_eq!(run.file("victim").as_deref(), Some(&b"keep"[..]));
    // --force replaces the name, not the file it pointed to.
    let run = fetch_in(run.dir, &["--force", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f").as_deref(), Some(&b"new"[..]));
    assert_eq!(run.file("victim").as_deref(), Some(&b"keep"[..]));
}

#[test]
#[cfg(unix)] // Unix symlinks and hard links
fn a_part_file_swapped_during_the_download_does_not_land() {
    // The body comes in two halves a moment apart; meanwhile f.part is
    // replaced by a symlink to a victim. What lands under f must be the
    // bytes fetch wrote, not the link.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let victim = path.join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let wire = format!("{OK}Content-Length: 8\r\n\r\nfirstend");
    let server = Script::bind().serve(vec![
        Reply::split(wire.clone(), wire.len() - 3).pause(Duration::from_millis(800)),
    ]);
    let url = server.url("/f");
    let fetching = std::thread::spawn(move || fetch_in(dir, &[&url]));
    let part = path.join("f.part");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !part.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::remove_file(&part).unwrap();
    std::os::unix::fs::symlink(&victim, &part).unwrap();
    let run = fetching.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Linux links the open file itself; where that is not allowed (this
    // sandbox says EXDEV) the bytes are copied out, and the user is told.
    if run.stderr.contains("warning") {
        assert!(
            run.stderr
                .contains("f.part was replaced during the download"),
            "{}",
            run.stderr
        );
    }
    let f = path.join("f");
    assert!(!f.is_symlink(), "the attacker's link landed");
    assert_eq!(std::fs::read(&f).unwrap(), b"firstend");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
}

// ---- -C/--continue ----

/// 1,000 bytes that show where they came from.
fn thousand() -> Vec<u8> {
    (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A 200 response for `thousand()` with `validator` headers, cut after 400
/// bytes of its body.
fn cut_at_400(validator: &str) -> Reply {
    let mut wire = format!("{OK}Content-Length: 1000\r\n{validator}\r\n").into_bytes();
    wire.extend_from_slice(&thousand()[..400]);
    Reply::bytes(wire)
}

/// The rest of `thousand()` from byte 400, as a 206 with `range`.
fn rest_from_400(range: &str) -> Reply {
    let mut wire = format!(
        "HTTP/1.1 206 Partial Content\r\nContent-Range: {range}\r\nContent-Length: 600\r\n\
         ETag: \"v1\"\r\n\r\n"
    )
    .into_bytes();
    wire.extend_from_slice(&thousand()[400..]);
    Reply::bytes(wire)
}

/// The `part:` line's value for a part file holding `bytes` (under 64
/// KiB): its length and the SHA-256 of its first and last 64 KiB, which
/// here are both all of it.
fn mark_of(bytes: &[u8]) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(bytes);
    digest.update(bytes);
    let hex: String = digest
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{} {hex}", bytes.len())
}

/// A first run cut at 400 bytes; its directory, to continue in.
fn interrupted_download(server: &Script) -> tempfile::TempDir {
    let run = fetch(&[&server.url("/f")]);
    assert_eq!(run.code, 10, "{}", run.stderr);
    assert_eq!(run.file("f.part").as_deref(), Some(&thousand()[..400]));
    run.dir
}

/// A download with ETag "v1" cut at 400 bytes, then `-C` answered by
/// `then`: the second run, and the server.
fn continue_into(then: Reply) -> (Run, Script) {
    let server = Script::bind().serve(vec![cut_at_400("ETag: \"v1\"\r\n"), then]);
    let dir = interrupted_download(&server);
    let part = std::fs::read_to_string(dir.path().join("f.part.validator")).unwrap();
    assert!(part.contains("etag: \"v1\""), "{part}");
    let run = fetch_in(dir, &["-C", &server.url("/f")]);
    (run, server)
}

#[test]
fn continue_asks_for_the_rest_with_if_range_and_appends_it() {
    let (run, server) = continue_into(rest_from_400("bytes 400-999/1000"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("continuing f.part from byte 400"),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f"), Some(thousand()));
    assert_eq!(run.files(), ["f"], "the part and its validator are gone");
    let host = format!("127.0.0.1:{}", server.port);
    assert_eq!(
        server.requests(),
        [
            server.get("/f"),
            request(
                "GET",
                "/f",
                &host,
                "Range: bytes=400-\r\nIf-Range: \"v1\"\r\n"
            )
        ]
    );
}

#[test]
fn continue_uses_last_modified_when_there_is_no_strong_etag() {
    let date = "Tue, 24 Nov 2026 10:00:00 GMT";
    let server = Script::bind().serve(vec![
        cut_at_400(&format!("ETag: W/\"weak\"\r\nLast-Modified: {date}\r\n")),
        rest_from_400("bytes 400-999/1000"),
    ]);
    let dir = interrupted_download(&server);
    let run = fetch_in(dir, &["--continue", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f"), Some(thousand()));
    assert!(
        server.requests()[1].contains(&format!("If-Range: {date}\r\n")),
        "{:?}",
        server.requests()
    );
}

#[test]
fn continue_starts_over_when_the_server_sends_the_whole_file() {
    // A changed file (or a server without ranges) answers 200 with all of
    // it: the part is rewritten from the start, never spliced.
    // It is shorter than the part file: nothing of the old one may remain.
    let changed: Vec<u8> = thousand()[..300]
        .iter()
        .map(u8::to_ascii_uppercase)
        .collect();
    let mut whole = format!("{OK}Content-Length: 300\r\nETag: \"v2\"\r\n\r\n").into_bytes();
    whole.extend_from_slice(&changed);
    let (run, _) = continue_into(Reply::bytes(whole));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("downloading it afresh"),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f"), Some(changed));
    assert_eq!(run.files(), ["f"]);
}

#[test]
fn continue_without_a_validator_downloads_afresh() {
    let mut whole = format!("{OK}Content-Length: 1000\r\n\r\n").into_bytes();
    whole.extend_from_slice(&thousand());
    let server = Script::bind().serve(vec![cut_at_400(""), Reply::bytes(whole)]);
    let dir = interrupted_download(&server);
    assert!(!dir.path().join("f.part.validator").exists());
    let run = fetch_in(dir, &["-C", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "cannot continue f.part safely (no validator (ETag or Last-Modified) was saved with \
             it): downloading it afresh"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f"), Some(thousand()));
    assert_eq!(server.requests(), [server.get("/f"), server.get("/f")]);
}

#[test]
fn continue_refuses_a_range_that_starts_elsewhere() {
    let (run, _) = continue_into(rest_from_400("bytes 0-599/1000"));
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "asked for the rest from byte 400, the server sent a range from byte 0; f.part is \
             left as it was"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f.part").as_deref(), Some(&thousand()[..400]));
    assert_eq!(run.file("f"), None);
}

/// A 206 with `fields` (which name the range and framing) and `body`.
fn partial(fields: &str, body: &[u8]) -> Reply {
    let mut wire = format!("HTTP/1.1 206 Partial Content\r\n{fields}\r\n").into_bytes();
    wire.extend_from_slice(body);
    Reply::bytes(wire)
}

/// `body` in the chunked coding, in chunks of 97 bytes.
fn chunks_of(body: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    for chunk in body.chunks(97) {
        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

#[test]
fn continue_never_publishes_a_range_that_is_not_exactly_the_rest() {
    // Each a 206 that a careless client would splice onto the part file.
    let rest = &thousand()[400..];
    let tagged = "ETag: \"v1\"\r\n";
    let lies: Vec<(&str, Reply, &str)> = vec![
        (
            "a range that ends early",
            partial(
                &format!("{tagged}Content-Range: bytes 400-500/1000\r\nContent-Length: 101\r\n"),
                &rest[..101],
            ),
            "the server's range ends at byte 500, not at the file's last byte 999",
        ),
        (
            "a Content-Length shorter than the range",
            partial(
                &format!("{tagged}Content-Range: bytes 400-999/1000\r\nContent-Length: 100\r\n"),
                &rest[..100],
            ),
            "the server's Content-Length 100 disagrees with its range of 600 bytes",
        ),
        (
            "another version of the file",
            partial(
                "ETag: \"v2\"\r\nContent-Range: bytes 400-999/1000\r\nContent-Length: 600\r\n",
                rest,
            ),
            r#"the server sent ETag "\"v2\"" for If-Range "\"v1\"": another version of the file"#,
        ),
        (
            "no ETag at all",
            partial(
                "Content-Range: bytes 400-999/1000\r\nContent-Length: 600\r\n",
                rest,
            ),
            "the server sent no ETag with the range",
        ),
        (
            "an overflowing range",
            partial(
                &format!(
                    "{tagged}Content-Range: bytes 400-99999999999999999999999/1\r\n\
                     Content-Length: 600\r\n"
                ),
                rest,
            ),
            "is invalid: a number is too large",
        ),
        (
            "a file that grew",
            partial(
                &format!("{tagged}Content-Range: bytes 400-1999/2000\r\nContent-Length: 1600\r\n"),
                &[b'x'; 1600],
            ),
            "the file is 2000 bytes now and was 1000 when the download started",
        ),
        (
            "no length to check the end against",
            partial(
                &format!("{tagged}Content-Range: bytes 400-999/*\r\nContent-Length: 600\r\n"),
                rest,
            ),
            "does not say the file's length",
        ),
        (
            "a chunked body longer than its range",
            partial(
                &format!(
                    "{tagged}Content-Range: bytes 400-999/1000\r\nTransfer-Encoding: chunked\r\n"
                ),
                &chunks_of(&[rest, &b"spliced"[..]].concat()),
            ),
            "the server sent 607 bytes for a range of 600 bytes",
        ),
    ];
    for (lie, reply, says) in lies {
        let (run, _) = continue_into(reply);
        assert_eq!(run.code, 8, "{lie}: {}", run.stderr);
        assert!(
            run.stderr.contains(says) && run.stderr.contains("f.part is left as it was"),
            "{lie}: {}",
            run.stderr
        );
        assert_eq!(run.file("f"), None, "{lie}: nothing published");
        assert_eq!(
            run.file("f.part").as_deref(),
            Some(&thousand()[..400]),
            "{lie}: the part file is untouched"
        );
        assert!(
            run.file("f.part.validator").is_some(),
            "{lie}: still resumable"
        );
    }
}

#[test]
fn continue_appends_a_chunked_range_byte_for_byte() {
    let tagged = "ETag: \"v1\"\r\nContent-Range: bytes 400-999/1000\r\n";
    let (run, _) = continue_into(partial(
        &format!("{tagged}Transfer-Encoding: chunked\r\n"),
        &chunks_of(&thousand()[400..]),
    ));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f"), Some(thousand()));
    assert_eq!(run.files(), ["f"]);
}

#[test]
fn continue_keeps_what_came_of_a_range_that_ended_early() {
    // Closed after 100 of the 600 bytes, framed by the close: the bytes
    // that came are the file's, and a later -C goes on from them.
    let (run, _) = continue_into(partial(
        "ETag: \"v1\"\r\nContent-Range: bytes 400-999/1000\r\nConnection: close\r\n",
        &thousand()[400..500],
    ));
    assert_eq!(run.code, 10, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the body ended after 100 bytes of the range's 600 bytes"),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f"), None);
    assert_eq!(run.file("f.part").as_deref(), Some(&thousand()[..500]));
}

#[test]
fn continue_keeps_the_part_when_the_server_answers_an_error() {
    let (run, _) = continue_into(Reply::bytes(
        "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy",
    ));
    assert_eq!(run.code, 12, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the server answered 503 Busy; f.part is left as it was for a later -C"),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f.part").as_deref(), Some(&thousand()[..400]));
}

#[test]
fn continue_publishes_a_part_that_was_already_complete() {
    // The server has nothing past byte 1000: 416 with the full length.
    let server = Script::bind().serve(vec![Reply::bytes(
        "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */1000\r\n\
         Content-Length: 0\r\n\r\n",
    )]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.part"), thousand()).unwrap();
    std::fs::write(
        dir.path().join("f.part.validator"),
        format!(
            "url: {}\netag: \"v1\"\npart: {}\n",
            server.url("/f"),
            mark_of(&thousand())
        ),
    )
    .unwrap();
    let run = fetch_in(dir, &["-C", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f"), Some(thousand()));
    assert_eq!(run.files(), ["f"]);
}

#[test]
#[cfg(unix)] // Unix symlinks and hard links
fn continue_never_writes_through_a_linked_part() {
    let server = Script::bind().serve(vec![]);
    for (how, says) in [
        (
            "hard",
            "it has other hard links, so it may be someone else's file",
        ),
        ("soft", "it is a symbolic link"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let part = dir.path().join("f.part");
        if how == "hard" {
            std::fs::hard_link(&victim, &part).unwrap();
        } else {
            std::os::unix::fs::symlink(&victim, &part).unwrap();
        }
        let run = fetch_in(dir, &["-C", &server.url("/f")]);
        assert_eq!(run.code, 13, "{}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("will not continue f.part: {says} (remove it")),
            "{}",
            run.stderr
        );
        assert_eq!(run.file("victim").as_deref(), Some(&b"keep"[..]));
    }
    assert!(server.requests().is_empty(), "checked before connecting");
}

#[test]
fn continue_needs_a_file() {
    let run = fetch(&["-C", "-o", "-", "http://127.0.0.1:9/f"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("-C continues a file"), "{}", run.stderr);
}

#[test]
fn continue_on_a_finished_download_says_it_is_finished() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"done").unwrap();
    let run = fetch_in(dir, &["-C", "http://127.0.0.1:9/f"]);
    assert_eq!(run.code, 13, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "f is already there, and f.part is not: the download finished, and -C has nothing \
             to continue (use --force to download it again)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f").as_deref(), Some(&b"done"[..]));
}

#[test]
fn fetch_i_is_answered_with_where_the_head_really_goes() {
    let run = fetch(&["-i", "http://127.0.0.1:9/f"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("fetch prints the response head already: on stdout"),
        "{}",
        run.stderr
    );
}

#[test]
#[cfg(unix)] // a real SIGINT
fn ctrl_c_keeps_the_part_and_says_how_to_continue() {
    let server = Script::bind().serve(vec![
        cut_at_400("ETag: \"v1\"\r\n").hold(Duration::from_secs(20)),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(tcpkit())
        .args(["fetch", &server.url("/f")])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The body's first 400 bytes are in once the request was answered.
    let deadline = Instant::now() + PATIENCE;
    while server.requests().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not stop at once"
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(
            "interrupted: 400 bytes kept in f.part (run the same command with -C to continue it)"
        ),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("f.part")).unwrap(),
        &thousand()[..400]
    );
    // What the hint promises: the validator vouches for these 400 bytes,
    // so -C continues them.
    let validator = std::fs::read_to_string(dir.path().join("f.part.validator")).unwrap();
    assert!(
        validator.contains(&format!("part: {}\n", mark_of(&thousand()[..400]))),
        "{validator}"
    );
}

// ---- curl's spellings, and --compressed ----

fn gzip(data: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A 200 with `fields` and `body` (Content-Length added), sent in pieces
/// of 7 bytes so the decoder meets odd splits.
fn encoded(fields: &str, body: &[u8]) -> Reply {
    let mut bytes = format!("{OK}{fields}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body);
    Reply::split(bytes, 7)
}

#[test]
fn compressed_asks_for_gzip_and_saves_the_body_decoded() {
    let text: Vec<u8> = (0..20_000)
        .flat_map(|i: u32| format!("line {i}\n").into_bytes())
        .collect();
    let server = Script::bind().serve(vec![encoded("Content-Encoding: gzip\r\n", &gzip(&text))]);
    let run = fetch(&["--compressed", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f"), Some(text.clone()));
    assert_eq!(run.files(), ["f"], "no validator kept for a decoded file");
    assert!(
        !run.stderr.contains("continuing"),
        "a fresh download continues nothing: {}",
        run.stderr
    );
    let host = format!("127.0.0.1:{}", server.port);
    assert_eq!(
        server.requests(),
        [request(
            "GET",
            "/f",
            &host,
            "Accept-Encoding: gzip, deflate\r\n"
        )]
    );
    // deflate (zlib), chunked.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&text).unwrap();
    let z = z.finish().unwrap();
    let server = Script::bind().serve(vec![Reply::bytes(
        [
            format!("{OK}Content-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n")
                .into_bytes(),
            chunks_of(&z),
        ]
        .concat(),
    )]);
    let run = fetch(&["--compressed", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f"), Some(text.clone()));
    // A server that sends it plain anyway: saved as it came.
    let server = Script::bind().serve(vec![encoded("", b"plain")]);
    let run = fetch(&["--compressed", &server.url("/f")]);
    assert_eq!(
        run.file("f").as_deref(),
        Some(&b"plain"[..]),
        "{}",
        run.stderr
    );
    // Without --compressed nothing is asked, and a gzip body is saved as sent.
    let gz = gzip(b"hello");
    let server = Script::bind().serve(vec![encoded("Content-Encoding: gzip\r\n", &gz)]);
    let run = fetch(&[&server.url("/f")]);
    assert_saved(&run, &server, &gz);
}

#[test]
fn compressed_refuses_a_cut_or_unknown_body_and_a_bomb() {
    // The gzip stream cut short, though its Content-Length is met.
    let gz = gzip(&[b'x'; 10_000]);
    let cut = &gz[..gz.len() - 5];
    let server = Script::bind().serve(vec![encoded("Content-Encoding: gzip\r\n", cut)]);
    let run = fetch(&["--compressed", &server.url("/f")]);
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(
        run.stderr.contains("gzip body cannot be decoded"),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f"), None);
    // A coding that was not offered.
    let server = Script::bind().serve(vec![encoded("Content-Encoding: br\r\n", b"x")]);
    let run = fetch(&["--compressed", &server.url("/f")]);
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(run.stderr.contains("encoded as \"br\""), "{}", run.stderr);
    assert_eq!(run.file("f"), None);
    // 16 MiB of zeros in about 16 KiB: --max-filesize bounds what it
    // inflates to, whatever the Content-Length says.
    let bomb = gzip(&vec![0; 16 << 20]);
    let server = Script::bind().serve(vec![encoded("Content-Encoding: gzip\r\n", &bomb)]);
    let run = fetch(&["--compressed", "--max-filesize", "1M", &server.url("/f")]);
    assert_eq!(run.code, 15, "{}", run.stderr);
    assert_eq!(run.file("f"), None);
    // --compressed cannot continue a part file.
    let run = fetch(&["--compressed", "-C", "http://127.0.0.1:9/f"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn curl_spellings_are_accepted() {
    // curl -fsSL, -O, and the exact `-C -`.
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 5\r\n\r\nhello"
    ))]);
    let run = fetch(&["-fsSL", "-O", &server.url("/f")]);
    assert_saved(&run, &server, b"hello");
    assert!(
        run.stdout.is_empty() && run.stderr.is_empty(),
        "{}",
        run.stderr
    );
    let (run, _) = {
        let server = Script::bind().serve(vec![
            cut_at_400("ETag: \"v1\"\r\n"),
            rest_from_400("bytes 400-999/1000"),
        ]);
        let dir = interrupted_download(&server);
        (fetch_in(dir, &["-C", "-", &server.url("/f")]), server)
    };
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f"), Some(thousand()));
    // What fetch has not: one line saying so, never clap's '-- -X' tip.
    for (args, says) in [
        (&["-X", "POST"][..], "unknown flag '-X': fetch sends GET"),
        (
            &["-d", "a=1"],
            "unknown flag '-d': fetch sends no request body",
        ),
        (&["-u", "a:b"], "-H 'Authorization: Basic BASE64'"),
        (&["-b", "k=v"], "fetch keeps no cookies"),
        (&["-x", "http://p:3128"], "does not go through a proxy"),
        (&["--http2"], "fetch speaks HTTP/1.1 only"),
        (&["--limit-rate", "100K"], "fetch does not limit its rate"),
        (
            &["--output-dir", "d"],
            "name the whole path with -o DIR/FILE",
        ),
        (&["-r", "0-99"], "fetch saves whole files"),
    ] {
        let mut all = args.to_vec();
        all.push("http://127.0.0.1:9/f");
        let run = fetch(&all);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(
            run.stderr.starts_with("tcpkit: error: ") && run.stderr.contains(says),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    }
    let run = fetch(&["-C", "4000", "http://127.0.0.1:9/f"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("does not take a byte offset"),
        "{}",
        run.stderr
    );
}

#[test]
fn verbose_shows_both_heads_on_stderr_as_curl_does() {
    let server = Script::bind().serve(vec![Reply::bytes(format!(
        "{OK}Content-Length: 5\r\n\r\nhello"
    ))]);
    let run = fetch(&["-v", &server.url("/f")]);
    assert_saved(&run, &server, b"hello");
    let host = format!("127.0.0.1:{}", server.port);
    let request: String = server
        .get("/f")
        .split_inclusive('\n')
        .map(|l| format!("> {l}"))
        .collect();
    assert!(
        run.stderr
            .contains(&format!("* connected to {host}\n{request}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("< HTTP/1.1 200 OK\r\n< Content-Length: 5\r\n< \r\n"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "the head is not printed twice");
}

#[test]
fn a_server_that_sends_no_head_is_named_after_two_seconds() {
    let (addr, silent) = common::silent_server(1, Duration::from_secs(5));
    let run = fetch(&["--read-timeout", "3s", &format!("http://{addr}/f")]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "tcpkit: connected to {addr}; no response head in 2s, still waiting (up to \
             --read-timeout 3s)"
        )),
        "{}",
        run.stderr
    );
    // -s: nothing but the error.
    let run = fetch(&["-s", "--read-timeout", "3s", &format!("http://{addr}/f")]);
    assert!(!run.stderr.contains("still waiting"), "{}", run.stderr);
    drop(silent);
}

#[test]
fn a_connect_that_hangs_is_named_after_two_seconds() {
    // A full accept queue: the connect waits, on loopback, as to a host
    // that does not answer (see common::unanswering).
    let hanging = common::unanswering();
    let addr = hanging.addr;
    let run = fetch(&["--connect-timeout", "3s", &format!("http://{addr}/f")]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "tcpkit: no answer from {addr} in 2s; still connecting (up to --connect-timeout 3s)"
        )),
        "{}",
        run.stderr
    );
    drop(hanging);
}

#[test]
fn compressed_decodes_a_gzip_body_of_several_members_and_raw_deflate() {
    let text: Vec<u8> = (0..5_000)
        .flat_map(|i: u32| format!("line {i}\n").into_bytes())
        .collect();
    // `gzip -c a b`: two members, one after the other (RFC 1952 §2.2).
    let members = [gzip(&text[..10_000]), gzip(&text[10_000..])].concat();
    let server = Script::bind().serve(vec![encoded("Content-Encoding: gzip\r\n", &members)]);
    let run = fetch(&["--compressed", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f"), Some(text.clone()));
    // `deflate` sent raw, without the zlib header, as some servers do.
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    raw.write_all(&text).unwrap();
    let raw = raw.finish().unwrap();
    let server = Script::bind().serve(vec![encoded("Content-Encoding: deflate\r\n", &raw)]);
    let run = fetch(&["--compressed", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f"), Some(text));
}

// ---- a 206 is only the answer to our own range ----

/// The tail of a 10,240-byte file as a 206, Content-Range 4000-10239.
fn tail_of_10k(fields: &str) -> Reply {
    let body = vec![b't'; 6_240];
    partial(
        &format!("Content-Range: bytes 4000-10239/10240\r\nContent-Length: 6240\r\n{fields}"),
        &body,
    )
}

#[test]
fn a_206_to_a_request_for_the_whole_file_is_never_saved() {
    let (run, server) = one(tail_of_10k("ETag: \"v1\"\r\n"));
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the server answered 206 Partial Content (Content-Range: \"bytes 4000-10239/10240\") \
             to a request for the whole file: a part is not the file, so nothing is saved"
        ),
        "{}",
        run.stderr
    );
    assert!(run.files().is_empty(), "{:?}", run.files());
    assert_eq!(server.requests(), [server.get("/f")]);

    // -C that cannot continue safely asks for the whole file too: no
    // validator, only a weak one, none at all.
    for first in ["", "ETag: W/\"weak\"\r\n"] {
        let server = Script::bind().serve(vec![cut_at_400(first), tail_of_10k("")]);
        let dir = interrupted_download(&server);
        let run = fetch_in(dir, &["-C", &server.url("/f")]);
        assert_eq!(run.code, 8, "{first:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("a part is not the file")
                && run.stderr.contains("f.part is left as it was"),
            "{first:?}: {}",
            run.stderr
        );
        assert_eq!(run.file("f"), None);
        assert_eq!(run.file("f.part").as_deref(), Some(&thousand()[..400]));
    }

    // The user's own -H Range is answered by a 206 that is theirs to keep.
    let body = b"0123456789";
    let server = Script::bind().serve(vec![partial(
        "Content-Range: bytes 0-9/10240\r\nContent-Length: 10\r\n",
        body,
    )]);
    let run = fetch(&["-H", "Range: bytes=0-9", &server.url("/f")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f").as_deref(), Some(&body[..]));
}

/// A download whose first response carries `validator` headers, cut at
/// 400 bytes, then `-C ARGS` answered by `then`.
fn continue_with(validator: &str, args: &[&str], then: Vec<Reply>) -> (Run, Script) {
    let server = Script::bind().serve([vec![cut_at_400(validator)], then].concat());
    let dir = interrupted_download(&server);
    let mut all = vec!["-C"];
    all.extend_from_slice(args);
    let url = server.url("/f");
    all.push(&url);
    (fetch_in(dir, &all), server)
}

#[test]
fn continue_never_splices_a_range_that_cannot_be_trusted() {
    let rest = &thousand()[400..];
    let date = "Tue, 24 Nov 2026 10:00:00 GMT";
    let later = "Wed, 25 Nov 2026 10:00:00 GMT";
    let range = "Content-Range: bytes 400-999/1000\r\nContent-Length: 600\r\n";
    let mut gz_rest = b"HTTP/1.1 206 Partial Content\r\nETag: \"v1\"\r\nContent-Encoding: gzip\r\n\
         Content-Range: bytes 400-999/1000\r\nContent-Length: 600\r\n\r\n"
        .to_vec();
    gz_rest.extend_from_slice(rest);
    let multipart_body = [
        b"--x\r\nContent-Type: text/plain\r\nContent-Range: bytes 400-999/1000\r\n\r\n".to_vec(),
        rest.to_vec(),
        b"\r\n--x--\r\n".to_vec(),
    ]
    .concat();
    let cases: Vec<(&str, String, Reply, String)> = vec![
        (
            "the same ETag with another Last-Modified",
            format!("ETag: \"v1\"\r\nLast-Modified: {date}\r\n"),
            partial(
                &format!("ETag: \"v1\"\r\nLast-Modified: {later}\r\n{range}"),
                rest,
            ),
            format!(
                "the server sent Last-Modified \"{later}\" with the same ETag, where the part \
                 file's version has \"{date}\""
            ),
        ),
        (
            "two ETag fields",
            "ETag: \"v1\"\r\n".into(),
            partial(&format!("ETag: \"v1\"\r\nETag: \"v2\"\r\n{range}"), rest),
            "the server sent 2 ETag fields with the range".into(),
        ),
        (
            "gzip that no one asked for",
            "ETag: \"v1\"\r\n".into(),
            Reply::bytes(&gz_rest),
            "the server sent the range encoded (\"gzip\", Content-Encoding)".into(),
        ),
        (
            "multipart/byteranges",
            "ETag: \"v1\"\r\n".into(),
            partial(
                &format!(
                    "ETag: \"v1\"\r\nContent-Type: multipart/byteranges; boundary=x\r\n\
                     Content-Range: bytes 400-999/1000\r\nContent-Length: {}\r\n",
                    multipart_body.len()
                ),
                &multipart_body,
            ),
            "the server answered one range with several (\"multipart/byteranges; boundary=x\")"
                .into(),
        ),
    ];
    for (lie, first, reply, says) in cases {
        let (run, server) = continue_with(&first, &[], vec![reply]);
        assert_eq!(run.code, 8, "{lie}: {}", run.stderr);
        assert!(
            run.stderr.contains(&says) && run.stderr.contains("f.part is left as it was"),
            "{lie}: {}",
            run.stderr
        );
        assert!(
            server.requests()[1].contains("Range: bytes=400-\r\n"),
            "{lie}: the rest was asked for"
        );
        assert_eq!(run.file("f"), None, "{lie}: nothing published");
        assert_eq!(
            run.file("f.part").as_deref(),
            Some(&thousand()[..400]),
            "{lie}: the part file is untouched"
        );
    }
}

#[test]
fn continue_asks_no_range_of_another_url_after_a_redirect() {
    let moved = "HTTP/1.1 302 Found\r\nLocation: /g\r\nContent-Length: 0\r\n\r\n";
    // /g lies with a 206 of the same ETag: it was not asked for a range.
    let (run, server) = continue_with(
        "ETag: \"v1\"\r\n",
        &["-L"],
        vec![Reply::bytes(moved), rest_from_400("bytes 400-999/1000")],
    );
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(
        run.stderr.contains("/f, and the answer comes from")
            && run.stderr.contains("a part is not the file"),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f.part").as_deref(), Some(&thousand()[..400]));
    assert_eq!(run.file("f"), None);
    let requests = server.requests();
    assert!(
        requests[1].contains("Range: bytes=400-\r\n"),
        "{requests:?}"
    );
    assert!(
        requests[2].starts_with("GET /g ") && !requests[2].contains("Range"),
        "{requests:?}"
    );

    // /g answering the whole file is saved afresh, with a word why.
    let mut whole = format!("{OK}Content-Length: 1000\r\nETag: \"v1\"\r\n\r\n").into_bytes();
    whole.extend_from_slice(&thousand());
    let (run, _) = continue_with(
        "ETag: \"v1\"\r\n",
        &["-L"],
        vec![Reply::bytes(moved), Reply::bytes(whole)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("downloading it afresh"),
        "{}",
        run.stderr
    );
    assert_eq!(run.file("f"), Some(thousand()));
}

#[test]
fn continue_starts_afresh_when_the_part_is_not_what_was_left() {
    let mut whole = format!("{OK}Content-Length: 1000\r\nETag: \"v1\"\r\n\r\n").into_bytes();
    whole.extend_from_slice(&thousand());
    type Edit = Box<dyn Fn(&mut Vec<u8>)>;
    let edits: Vec<(&str, Edit, &str)> = vec![
        (
            "junk appended",
            Box::new(|p| p.extend_from_slice(b"junk!")),
            "it is 405 bytes now, and was 400 bytes when the download stopped",
        ),
        (
            "a bigger file in its place",
            Box::new(|p| *p = vec![b'z'; 5000]),
            "it is 5000 bytes now, and was 400 bytes when the download stopped",
        ),
        (
            "the same length, other bytes",
            Box::new(|p| p[399] = b'!'),
            "its bytes changed since the download stopped",
        ),
    ];
    for (edit, change, says) in edits {
        let server =
            Script::bind().serve(vec![cut_at_400("ETag: \"v1\"\r\n"), Reply::bytes(&whole)]);
        let dir = interrupted_download(&server);
        let validator = std::fs::read_to_string(dir.path().join("f.part.validator")).unwrap();
        assert!(
            validator.contains(&format!("part: {}\n", mark_of(&thousand()[..400]))),
            "{validator}"
        );
        let part = dir.path().join("f.part");
        let mut bytes = std::fs::read(&part).unwrap();
        change(&mut bytes);
        std::fs::write(&part, bytes).unwrap();
        let run = fetch_in(dir, &["-C", &server.url("/f")]);
        assert_eq!(run.code, 0, "{edit}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "cannot continue f.part safely ({says}): downloading it afresh"
            )),
            "{edit}: {}",
            run.stderr
        );
        assert_eq!(run.file("f"), Some(thousand()), "{edit}");
        assert_eq!(
            server.requests()[1],
            server.get("/f"),
            "{edit}: no range asked"
        );
    }
}

#[test]
fn a_200_that_labels_itself_a_part_is_never_saved() {
    let mut wire =
        format!("{OK}Content-Range: bytes 4000-10239/10240\r\nContent-Length: 6240\r\n\r\n")
            .into_bytes();
    wire.extend_from_slice(&[b't'; 6240]);
    let (run, _) = one(Reply::bytes(&wire));
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the server answered 200 OK with Content-Range: \"bytes 4000-10239/10240\", which \
             names a part of the file, not all of it; nothing is saved"
        ),
        "{}",
        run.stderr
    );
    assert!(run.files().is_empty(), "{:?}", run.files());
    // Naming all of the file is no lie.
    let wire = format!("{OK}Content-Range: bytes 0-4/5\r\nContent-Length: 5\r\n\r\nhello");
    let (run, _) = one(Reply::bytes(wire));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.file("f").as_deref(), Some(&b"hello"[..]));
}
