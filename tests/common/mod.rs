//! Helpers shared by the integration tests: a server started the way the
//! binary starts it (library tests) or the binary itself as a child process
//! (CLI tests), and a small line client with timeouts.

#![allow(dead_code)] // each test file uses a different part

#[cfg(unix)]
pub mod nginx;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// `tcpkit talk ARGS...`, bounded by [`PATIENCE`].
pub fn talk(args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(tcpkit());
    cmd.arg("talk").args(args).timeout(PATIENCE);
    cmd
}

/// One run of the binary, to its end.
pub struct Ran {
    /// The exit code (`None`: killed by a signal, or by [`PATIENCE`]).
    pub code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs `tcpkit ARGS...` to its end, bounded by [`PATIENCE`].
pub fn run_to_end<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Ran {
    let out = assert_cmd::Command::new(tcpkit())
        .args(args)
        .timeout(PATIENCE)
        .output()
        .unwrap();
    Ran {
        code: out.status.code(),
        stdout: stdout_of(&out),
        stderr: stderr_of(&out),
    }
}

impl Ran {
    /// Asserts the run ended with `code`, showing its stderr if not.
    pub fn exits(self, code: i32) -> Ran {
        assert_eq!(self.code, Some(code), "{}", self.stderr);
        self
    }

    /// Its stdout's words, one space apart (help is wrapped to the
    /// terminal's width: compare words, not lines).
    pub fn words(&self) -> String {
        self.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A child's stdout as text.
pub fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A child's stderr as text.
pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `tcpkit bench ARGS... --json` briefly (100 ms warm-up, 2 threads);
/// returns the exit code, the report (Null when none) and stderr.
pub fn bench(args: &[&str]) -> (i32, serde_json::Value, String) {
    // hold has no warm-up (it refuses --warmup).
    let warmup: &[&str] = if args.first() == Some(&"hold") {
        &[]
    } else {
        &["--warmup", "100ms"]
    };
    let args: Vec<&str> = args.iter().chain(warmup).copied().collect();
    bench_as_asked(&[&args, &["--threads", "2"][..]].concat())
}

/// Runs `tcpkit bench ARGS... --json` with nothing else added (no warm-up
/// or threads of our own); returns as [`bench`] does.
pub fn bench_as_asked(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(tcpkit())
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

/// A whole number from a bench report.
pub fn num(report: &serde_json::Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

/// Long enough for a loaded 2-core CI machine; a hang fails, not blocks.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The path of the built `tcpkit` binary.
pub fn tcpkit() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tcpkit"))
}

/// A file under `tests/peers/`.
pub fn peer(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// Fails loudly when a peer program the README's test command installs is missing.
pub fn require(program: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed: run the README's test command (scripts/test.sh), which installs it"
    );
}

/// A child process whose stderr (or stdout) lines are collected, and which
/// announced its address with `Waiting for connection on ADDR...`.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `tcpkit ARGS...` and waits until it listens.
    pub fn serve(args: &[&str]) -> Proc {
        let mut cmd = Command::new(tcpkit());
        cmd.arg("--plain-logs").arg("serve").args(args);
        Proc::start(cmd, true)
    }

    /// Starts `cmd`, reading its logs from stderr or stdout.
    pub fn start(mut cmd: Command, logs_on_stderr: bool) -> Proc {
        cmd.stdin(Stdio::null()).env_remove("RUST_LOG");
        if logs_on_stderr {
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        }
        let mut child = cmd.spawn().expect("cannot start child process");
        let out: Box<dyn Read + Send> = if logs_on_stderr {
            Box::new(child.stderr.take().unwrap())
        } else {
            Box::new(child.stdout.take().unwrap())
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = lines.clone();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                eprintln!("child: {line}");
                // A plain line, or a JSON object whose message it is.
                if let Some((_, rest)) = line.split_once("Waiting for connection on ") {
                    let _ = tx.send(rest.split("...").next().unwrap_or(rest).to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let Ok(addr) = rx.recv_timeout(PATIENCE) else {
            // Stopped here: nothing else owns the child yet.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "child did not start listening; it said: {:?}",
                lines.lock().unwrap()
            )
        };
        Proc {
            child,
            addr: addr.parse().expect("listening address"),
            lines,
        }
    }

    /// Sends a signal to the child we started, by its pid.
    #[cfg(unix)]
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Waits for the child to exit and returns its exit code.
    pub fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("child did not exit in time");
    }

    /// True once some log line contains `text`; waits for it a while.
    pub fn logged(&self, text: &str) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if self.lines.lock().unwrap().iter().any(|l| l.contains(text)) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first, so that a server removes what it made (its
        // self-signed certificate in the temporary directory); SIGKILL
        // when it has not gone within a moment.
        #[cfg(unix)]
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                thread::sleep(Duration::from_millis(5));
            }
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `serve --tls-self-signed` on port 0 writing its certificate into
/// `dir`: the server and the certificate file's path.
pub fn serve_tls_self_signed(dir: &std::path::Path) -> (Proc, String) {
    let out = dir.join("self.pem");
    let server = Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--tls-self-signed",
        "--tls-cert-out",
        out.to_str().unwrap(),
    ]);
    (server, out.to_str().unwrap().to_string())
}

/// A blocking line client with a timeout on every read.
pub struct LineClient {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl LineClient {
    pub fn connect(addr: SocketAddr) -> LineClient {
        LineClient::from(TcpStream::connect(addr).expect("connect"))
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// The next line, terminator included.
    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("read line");
        String::from_utf8(line).expect("utf-8 line")
    }

    /// Everything until the server closes; panics on a reset.
    pub fn rest(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        self.reader
            .read_to_end(&mut rest)
            .expect("read to EOF without a reset");
        rest
    }
}

impl From<TcpStream> for LineClient {
    /// Reads lines from a connection already made (with a timeout).
    fn from(stream: TcpStream) -> LineClient {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        LineClient {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }
}

/// What [`flaky_server`] does once a connection has had its good replies.
#[derive(Clone, Copy, Debug)]
pub enum Then {
    /// Stop answering but keep the connection open (until [`PATIENCE`]).
    Stall,
    /// Close the connection.
    Close,
}

/// A greeting server, a thread per connection, that answers the first
/// `good` messages of each connection correctly (`exit` closes), then does
/// `then`. With `good` of 1 or more a client's preflight passes and the
/// fault comes during the run. Bounded: each connection ends within
/// [`PATIENCE`], and the threads end with the test process.
pub fn flaky_server(good: usize, then: Then) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local address");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            thread::spawn(move || flaky_connection(stream, good, then));
        }
    });
    addr
}

fn flaky_connection(mut stream: TcpStream, good: usize, then: Then) {
    let _ = stream.set_read_timeout(Some(PATIENCE));
    if stream.write_all(b"Welcome!\n").is_err() {
        return;
    }
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut lines = BufReader::new(clone);
    for _ in 0..good {
        let mut line = Vec::new();
        if lines.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return;
        }
        let name = line.strip_suffix(b"\n").unwrap_or(&line);
        if name == b"exit" {
            return;
        }
        let reply = [b"Hello, ", name, b"!\n"].concat();
        if stream.write_all(&reply).is_err() {
            return;
        }
    }
    match then {
        Then::Stall => thread::sleep(PATIENCE),
        // A lingering close, as serve does: closing with the client's next
        // message unread would send a reset instead of an end of stream.
        Then::Close => {
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = std::io::copy(&mut lines, &mut std::io::sink());
        }
    }
}

/// `serve` with metrics on a port of their own; both addresses.
pub fn serve_with_metrics() -> (Proc, SocketAddr) {
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
    let at = metrics_addr(&server);
    (server, at)
}

/// The metrics address a server logged.
pub fn metrics_addr(server: &Proc) -> SocketAddr {
    assert!(server.logged("Metrics on http://"), "{}", server.log());
    server
        .log()
        .lines()
        .find_map(|l| l.split("Metrics on http://").nth(1))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .expect("metrics address in the log")
        .parse()
        .unwrap()
}

/// One HTTP request; the status line and the body.
pub fn http_get(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// A port nothing listened on a moment ago, for a program that cannot take
/// port 0 and tell us (nginx, HAProxy) or servers that must share one.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server that accepts `accepts` connections and says nothing on them
/// (not TLS either: a hello gets nothing back), holding them for `hold`;
/// its address, and the thread to join.
pub fn silent_server(accepts: usize, hold: Duration) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = thread::spawn(move || {
        let mut held = Vec::new();
        for _ in 0..accepts {
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
        }
        thread::sleep(hold);
    });
    (addr, silent)
}

/// A listener whose accept queue is full (backlog 0, one connection queued
/// and never accepted): the kernel drops further SYNs, so a connect to it
/// waits, as to a host that does not answer, on loopback. Keep the value
/// alive for as long as the connect should hang.
pub struct Unanswering {
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _queued: Vec<TcpStream>,
}

pub fn unanswering() -> Unanswering {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&any.into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let queued = (0..3)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
        .collect();
    Unanswering {
        addr,
        _listener: listener,
        _queued: queued,
    }
}

/// `talk -l 127.0.0.1:0` with every stream piped, and the address it
/// announced on stderr (`tcpkit: waiting for one client on ADDR...`).
pub struct ListeningTalk {
    pub child: Child,
    pub stdin: std::process::ChildStdin,
    pub stdout: BufReader<std::process::ChildStdout>,
    pub addr: String,
}

impl ListeningTalk {
    /// Starts `talk -l 127.0.0.1:0` (under `wrapper`, such as `timeout
    /// 20`, when one is given) and reads its address.
    pub fn start(wrapper: &[&str]) -> ListeningTalk {
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(tcpkit());
                cmd
            }
            None => Command::new(tcpkit()),
        };
        let mut child = cmd
            .args(["talk", "-l", "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start talk -l");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .trim_end()
            .strip_prefix("tcpkit: waiting for one client on ")
            .and_then(|a| a.strip_suffix("..."))
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_string();
        ListeningTalk {
            child,
            stdin,
            stdout,
            addr,
        }
    }
}

/// A counter or gauge of the server's `/metrics`, once no connection is
/// open (the server adds a connection's messages as it closes).
pub fn settled_metric(metrics: SocketAddr, name: &str) -> u64 {
    let value = |body: &str, name: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {body}")) as u64
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (_, body) = http_get(metrics, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        if value(&body, "tcpkit_connections_open") == 0 {
            return value(&body, name);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "connections still open: {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
