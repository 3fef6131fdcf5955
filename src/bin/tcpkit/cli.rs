//! The command line: clap derive structs whose doc comments are the help.
//!
//! Parsing only; [`crate::commands`] turns these into library calls. The
//! library knows nothing of clap: the value enums here mirror its enums and
//! convert into them, and option groups used by several subcommands are
//! declared once and flattened in.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use tcpkit::net::Family;
use tcpkit::wire::greeting::{self as protocol, ClientFraming, Framing};
use tcpkit::wire::proxy;
use tcpkit::{bench, fetch, server, talk};

use crate::values::{self, Limit};

/// `--framing` of `serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FramingArg {
    /// Chunk-framed until the first newline arrives, line-framed from then on.
    Auto,
    /// A message is the bytes before a newline.
    Line,
    /// Each read from the socket is one message (the tutorial's wire format).
    Chunk,
}

impl From<FramingArg> for Framing {
    fn from(arg: FramingArg) -> Framing {
        match arg {
            FramingArg::Auto => Framing::Auto,
            FramingArg::Line => Framing::Line,
            FramingArg::Chunk => Framing::Chunk,
        }
    }
}

/// `--proxy-protocol` of `serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProxyVersionsArg {
    /// The text header (`PROXY TCP4 ...`), HAProxy's `send-proxy`.
    V1,
    /// The binary header, HAProxy's `send-proxy-v2`.
    V2,
    /// Either.
    Any,
}

impl From<ProxyVersionsArg> for proxy::Versions {
    fn from(arg: ProxyVersionsArg) -> proxy::Versions {
        match arg {
            ProxyVersionsArg::V1 => proxy::Versions::V1,
            ProxyVersionsArg::V2 => proxy::Versions::V2,
            ProxyVersionsArg::Any => proxy::Versions::Any,
        }
    }
}

/// `--send-proxy` of `talk` and `bench`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProxyVersionArg {
    /// The text header.
    V1,
    /// The binary header.
    V2,
}

impl From<ProxyVersionArg> for proxy::Version {
    fn from(arg: ProxyVersionArg) -> proxy::Version {
        match arg {
            ProxyVersionArg::V1 => proxy::Version::V1,
            ProxyVersionArg::V2 => proxy::Version::V2,
        }
    }
}

/// `--framing` of `talk` and `bench`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClientFramingArg {
    /// Messages and replies end with a newline (for tcpkit serve).
    Line,
    /// Each write is a message, each read a reply (the tutorial's server).
    Chunk,
}

impl From<ClientFramingArg> for ClientFraming {
    fn from(arg: ClientFramingArg) -> ClientFraming {
        match arg {
            ClientFramingArg::Line => ClientFraming::Line,
            ClientFramingArg::Chunk => ClientFraming::Chunk,
        }
    }
}

/// The `bench` scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScenarioArg {
    /// Each connection sends a message and waits for its reply.
    Pingpong,
    /// Each connection keeps --depth messages in flight.
    Pipeline,
    /// Workers repeat the tutorial client's session.
    Churn,
    /// Open connections, hold them idle, check a sample still answers.
    Hold,
    /// Workers open a connection (a TLS handshake with --tls), read the
    /// welcome and close, again and again: openings per second.
    Handshake,
}

impl From<ScenarioArg> for bench::Scenario {
    fn from(arg: ScenarioArg) -> bench::Scenario {
        match arg {
            ScenarioArg::Pingpong => bench::Scenario::Pingpong,
            ScenarioArg::Pipeline => bench::Scenario::Pipeline,
            ScenarioArg::Churn => bench::Scenario::Churn,
            ScenarioArg::Hold => bench::Scenario::Hold,
            ScenarioArg::Handshake => bench::Scenario::Handshake,
        }
    }
}

/// How a client reaches its server: shared by `talk`, `fetch` and `bench`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Use IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Use IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,

    /// Give up resolving and connecting (with TLS, the handshake too)
    /// after this long; 0: no limit of our own.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = values::limit, allow_negative_numbers = true)]
    pub connect_timeout: Limit,
}

impl ConnectArgs {
    /// The address family that `-4` and `-6` ask for.
    pub fn family(&self) -> Family {
        match (self.ipv4, self.ipv6) {
            (true, _) => Family::V4,
            (_, true) => Family::V6,
            _ => Family::Any,
        }
    }
}

/// A TCP toolkit: the tutorial's greeting server and its client, done right.
///
/// Exit codes: 0 success, 1 other failure, 2 usage, 3 bad address,
/// 4 address in use, 5 permission denied, 6 cannot connect, 7 timeout,
/// 8 protocol error or malformed response, 9 TLS, 10 truncated body,
/// 11 too many redirects, 12 HTTP error status (--fail), 13 local file,
/// 14 bench saw errors or wrong replies, 15 fetch body over --max-filesize,
/// 130 interrupted (fetch by Ctrl+C or SIGTERM, serve by a second signal).
#[derive(Debug, Parser)]
#[command(name = "tcpkit", version, propagate_version = true)]
pub struct Cli {
    /// More log detail (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Less log detail (-q warnings only, -qq errors only).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub quiet: u8,

    /// Log lines without time or level, as the tutorial prints them.
    #[arg(long, global = true)]
    pub plain_logs: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// `-v` count minus `-q` count.
    pub fn verbosity(&self) -> i8 {
        i8::try_from(i16::from(self.verbose) - i16::from(self.quiet)).unwrap_or(0)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the greeting server: welcome each client, answer NAME with "Hello, NAME!".
    #[command(after_help = "Examples:
  tcpkit serve                                  127.0.0.1:9999, the tutorial's server
  tcpkit serve --bind [::1]:9999 --delay 1      IPv6, a second before each reply
  tcpkit serve --welcome '' --reply '{}'        an echo server
  tcpkit serve --idle-timeout 0                 never close an idle client")]
    Serve(ServeArgs),
    /// Talk to a greeting server: send MESSAGEs, or join stdin and stdout to it.
    #[command(after_help = "Examples:
  tcpkit talk 127.0.0.1:9999 Michael Tracy Sarah   the tutorial's client
  tcpkit talk 127.0.0.1 9999 Michael               the same, nc's HOST PORT
  seq 1 100 | tcpkit talk                          stdin to the server, replies to stdout
  tcpkit talk --framing chunk ADDR Michael         the tutorial's own server (no newlines)
  tcpkit talk -z 127.0.0.1:9999                    is the port open? (exit 0 or 6)
  tcpkit talk -l 127.0.0.1:8080                    wait for one client, like nc -l")]
    Talk(TalkArgs),
    /// Start a server on a free port and run the tutorial's client against it.
    Demo(DemoArgs),
    /// Fetch a URL over HTTP/1.1 or HTTPS: print the response head, save the body.
    #[command(after_help = "Examples:
  tcpkit fetch http://127.0.0.1:8080/            save the body as index.html
  tcpkit fetch -L -s -o - 127.0.0.1:8080/old     follow redirects, body to stdout
  tcpkit fetch --max-time 3 --fail URL           give up after 3 s; exit 12 on 4xx/5xx")]
    Fetch(FetchArgs),
    /// Load a greeting server (pingpong, pipeline, churn, hold, handshake) and measure it.
    #[command(after_help = "Examples:
  tcpkit bench pipeline 127.0.0.1:9999 --duration 3          the fastest the server answers
  tcpkit bench pingpong ADDR --rate 1000 -c 10               open loop, 1000 msgs/s
  tcpkit bench hold ADDR -c 10000 --server-pid PID           memory per idle connection
  tcpkit bench churn ADDR1 ADDR2 --connect-rate 500          sessions over two servers")]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; repeat for more. A host name binds every address
    /// it resolves to. 127.0.0.1 serves this machine only; 0.0.0.0 (or [::])
    /// serves every network this machine is on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9999")]
    pub bind: Vec<String>,

    /// Connections the kernel queues before we accept them (clamped by
    /// net.core.somaxconn).
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_BACKLOG, value_parser = |s: &str| values::count::<u32>(s, 0, i32::MAX as u64), allow_negative_numbers = true)]
    pub backlog: u32,

    /// Connections served at once; more are told the server is busy (see
    /// --refuse-rate) or wait in the backlog. Default: what the open-file
    /// limit allows.
    #[arg(long, value_name = "N", value_parser = |s: &str| values::count::<u32>(s, 1, u64::from(u32::MAX)), allow_negative_numbers = true)]
    pub max_connections: Option<u32>,

    /// While --max-connections are open, tell up to this many waiting
    /// clients a second "Error: server busy: too many connections open;
    /// retry later" and close them, instead of leaving them in the backlog
    /// (0: leave them all waiting).
    #[arg(long, value_name = "PER_SEC", default_value_t = server::DEFAULT_REFUSE_RATE, value_parser = |s: &str| values::count::<u32>(s, 0, u64::from(u32::MAX)), allow_negative_numbers = true)]
    pub refuse_rate: u32,

    /// How messages are framed: auto (chunk until the first newline, then
    /// line), line, or chunk (each read is a message, as in the tutorial).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = FramingArg::Auto)]
    pub framing: FramingArg,

    /// Text sent to each new client (empty: nothing is sent).
    #[arg(long, value_name = "TEXT", default_value = protocol::DEFAULT_WELCOME)]
    pub welcome: String,

    /// The reply; {} stands for the message ('{}' makes an echo server).
    #[arg(long, value_name = "TEMPLATE", default_value = protocol::DEFAULT_REPLY)]
    pub reply: String,

    /// The longest message accepted, in bytes (suffixes K, KiB, M, MiB).
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = values::size, allow_negative_numbers = true)]
    pub max_message: usize,

    /// Memory the whole server may hold for unfinished messages and for
    /// replies that clients are not reading (0: no budget). A client that
    /// would cross it is refused: an error line, then close.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = values::budget, allow_negative_numbers = true)]
    pub max_buffered: values::Budget,

    /// The most the kernel holds of one client's unread replies, its send
    /// buffer (0: the kernel's own sizing, which grows to
    /// net.ipv4.tcp_wmem's maximum, 4 MiB on Linux). While a client is
    /// not reading, this counts against --max-buffered too.
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = values::budget, allow_negative_numbers = true)]
    pub send_buffer: values::Budget,

    /// Wait this long before each reply, like the tutorial's time.sleep(1)
    /// (0: no wait).
    #[arg(long, value_name = "DURATION", value_parser = values::duration, allow_negative_numbers = true)]
    pub delay: Option<Duration>,

    /// Close a connection that sends nothing for this long (checked on a
    /// clock ticking at an eighth of it: closed within 1.125 times it);
    /// 0: never.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = values::limit, allow_negative_numbers = true)]
    pub idle_timeout: Limit,

    /// Refuse a message not complete this long after its first byte, however
    /// steadily its bytes trickle in (slowloris): an error line, then close;
    /// 0: no bound.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = values::limit, allow_negative_numbers = true)]
    pub message_timeout: Limit,

    /// Close a connection that does not take its replies for this long;
    /// 0: wait as long as it takes.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = values::limit, allow_negative_numbers = true)]
    pub write_timeout: Limit,

    /// On close, drain the client's late input for at most this long, so
    /// the close does not become a reset that destroys replies (0: close
    /// at once).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = values::duration, allow_negative_numbers = true)]
    pub linger: Duration,

    /// After Ctrl+C or SIGTERM (and --drain), serve open connections as
    /// before until their clients end them, for up to this long; then
    /// answer what each sent and close it (0: drop them at once).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = values::duration, allow_negative_numbers = true)]
    pub grace: Duration,

    /// Expect a PROXY protocol header (v1, v2 or any) from the load
    /// balancers named by --proxy-from: it names the real client, and
    /// nothing is sent before it. Others are served directly.
    #[arg(long, value_name = "VERSION", value_enum, requires = "proxy_from")]
    pub proxy_protocol: Option<ProxyVersionsArg>,

    /// A load balancer's address or network (127.0.0.1, 10.0.0.0/8,
    /// ::1); repeat for more. A header from any other address is refused.
    #[arg(long, value_name = "CIDR", value_parser = values::cidr, requires = "proxy_protocol")]
    pub proxy_from: Vec<ipnet::IpNet>,

    /// Share the port with other processes that also say --reuse-port
    /// (SO_REUSEPORT): the kernel spreads new connections over them, and a
    /// new process can take over before the old one stops.
    #[arg(long)]
    pub reuse_port: bool,

    /// Answer HAProxy's agent check on ADDR: "ready", then "drain" once a
    /// shutdown begins (see --drain), then "maint" once it stops accepting.
    #[arg(long, value_name = "ADDR")]
    pub agent: Option<String>,

    /// After Ctrl+C or SIGTERM, keep serving (and accepting) this long
    /// while the agent says "drain", so a load balancer stops sending new
    /// clients first; longer than its agent-inter. Default: 2s with
    /// --agent, else 0.
    #[arg(long, value_name = "DURATION", value_parser = values::duration, allow_negative_numbers = true)]
    pub drain: Option<Duration>,

    /// Serve Prometheus metrics at http://ADDR/metrics (a listener of its
    /// own; keep it on a private address).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,

    /// How long a load balancer may take to send the whole header before
    /// the connection is closed (0: no bound).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = values::limit, allow_negative_numbers = true)]
    pub proxy_timeout: Limit,

    /// Speak TLS with this certificate chain (PEM, the server's own
    /// certificate first); needs --tls-key. SIGHUP reads both files again
    /// for new handshakes.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, RSA or EC).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Speak TLS with a certificate made at start for the --bind names and
    /// addresses (and localhost), valid for 30 days; its fingerprint is
    /// logged and its PEM written to --tls-cert-out, for clients to trust.
    #[arg(long)]
    pub tls_self_signed: bool,

    /// Where --tls-self-signed writes its certificate (default: a file in
    /// the temporary directory, named in the log).
    #[arg(long, value_name = "FILE", requires = "tls_self_signed")]
    pub tls_cert_out: Option<std::path::PathBuf>,

    /// How long a client may take to finish its TLS handshake before it is
    /// closed (0: no bound).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = values::limit, allow_negative_numbers = true)]
    pub tls_handshake_timeout: Limit,
}

#[derive(Debug, Args)]
pub struct TalkArgs {
    /// The server, as HOST:PORT (or nc's HOST PORT).
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:9999")]
    pub addr: String,

    /// Messages to send, one at a time, each waiting for its reply; then
    /// `exit`. Without messages, stdin goes to the server and replies to stdout.
    #[arg(value_name = "MESSAGE")]
    pub messages: Vec<String>,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// line (for tcpkit serve) or chunk (each write a message, for the
    /// tutorial's own server).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ClientFramingArg::Line)]
    pub framing: ClientFramingArg,

    /// Give up waiting for a reply, or for the close, after this long;
    /// 0: wait as long as it takes.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = values::limit, allow_negative_numbers = true)]
    pub timeout: Limit,

    /// The longest reply accepted, in bytes (suffixes K, KiB, M, MiB).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = values::size, allow_negative_numbers = true)]
    pub max_reply: usize,

    /// The welcome the server sends; with MESSAGEs it is awaited and
    /// checked.
    #[arg(long, value_name = "TEXT", default_value = protocol::DEFAULT_WELCOME)]
    pub welcome: String,

    /// The server sends no welcome (as --welcome '').
    #[arg(long, conflicts_with = "welcome")]
    pub no_welcome: bool,

    /// The server's reply template; with MESSAGEs each reply must be it
    /// ({} stands for the message).
    #[arg(long, value_name = "TEMPLATE", default_value = protocol::DEFAULT_REPLY)]
    pub reply: String,

    /// nc's -l: wait on ADDR for one client (as long as it takes) and join
    /// stdin and stdout to it, instead of connecting.
    #[arg(short = 'l', long, conflicts_with_all = ["check", "tls"])]
    pub listen: bool,

    /// Speak TLS (for serve --tls-cert or --tls-self-signed, ncat --ssl,
    /// openssl s_server): the server's certificate is checked against the
    /// built-in CAs and --cacert, for the host of ADDR or --servername.
    #[arg(long)]
    pub tls: bool,

    /// Trust the certificates in FILE (PEM) as well as the built-in CAs:
    /// a private CA, or serve --tls-self-signed's --tls-cert-out.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cacert: Option<PathBuf>,

    /// Do not check the server's certificate (says so loudly).
    #[arg(short = 'k', long, requires = "tls", conflicts_with = "listen")]
    pub insecure: bool,

    /// Check the certificate for NAME (and send it as SNI) instead of the
    /// host of ADDR: for connecting by address to a server named otherwise.
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub servername: Option<String>,

    /// nc's -z: only check that ADDR accepts connections, sending nothing
    /// (exit 0 open, 6 closed).
    #[arg(short = 'z', long)]
    pub check: bool,

    /// Stop when stdin ends, without waiting for the other side to close
    /// (nc's -q 0); replies still on their way are lost.
    #[arg(long)]
    pub exit_on_eof: bool,

    /// Start with a PROXY protocol header (v1 or v2) naming this
    /// connection, as a load balancer would: for trying
    /// `serve --proxy-protocol` without one.
    #[arg(long, value_name = "VERSION", value_enum)]
    pub send_proxy: Option<ProxyVersionArg>,

    /// Write what the server sends to the terminal unchanged. By default a
    /// terminal shows its control bytes escaped (\x1b...), so a server
    /// cannot clear the screen or set the clipboard; a pipe or file always
    /// gets the bytes unchanged.
    #[arg(long)]
    pub raw_output: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// What the client says.
    #[arg(value_name = "MESSAGE", default_values = ["Michael", "Tracy", "Sarah"])]
    pub messages: Vec<String>,

    /// The port the server listens on, on 127.0.0.1 (0: a free one), e.g.
    /// 9999 to talk to it from another terminal meanwhile.
    #[arg(short, long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The URL: http://HOST[:PORT]/PATH or https://...; IPv6 hosts in
    /// brackets (http://[::1]:8080/). Without a scheme it is http, as in
    /// curl (127.0.0.1:8080/page).
    #[arg(value_name = "URL")]
    pub url: String,

    /// Save the body to FILE ('-' for stdout). Default: the URL's last
    /// path segment in the current directory, made safe (index.html for /).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Save under the URL's last path segment, as fetch does without -o
    /// (curl's -O).
    #[arg(short = 'O', long, conflicts_with = "output")]
    pub remote_name: bool,

    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,

    /// Continue an interrupted download from FILE.part: ask for the rest,
    /// checked against the ETag or Last-Modified saved with it (If-Range);
    /// if the file changed since, download it afresh.
    /// curl's `-C -` and `--continue-at -` are the same.
    #[arg(short = 'C', long = "continue", visible_alias = "continue-at")]
    pub resume: bool,

    /// Also write the response head(s) to FILE ('-' for stdout).
    #[arg(short = 'D', long, value_name = "FILE")]
    pub dump_header: Option<PathBuf>,

    /// Send HEAD instead of GET: print the head, save nothing.
    #[arg(short = 'I', long)]
    pub head: bool,

    /// Add a request header ('Name: value'); 'Name:' removes a default one.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Follow redirects (301, 302, 303, 307, 308).
    #[arg(short = 'L', long)]
    pub location: bool,

    /// Follow at most N redirects with -L.
    #[arg(long, value_name = "N", default_value_t = fetch::DEFAULT_MAX_REDIRS, value_parser = |s: &str| values::count::<u32>(s, 0, 1000), allow_negative_numbers = true)]
    pub max_redirs: u32,

    /// The tutorial's literal client: read to the end, save everything after
    /// the first blank line undecoded (chunk sizes and all).
    #[arg(long, conflicts_with_all = ["location", "head"])]
    pub raw: bool,

    /// Print neither the response head, nor the progress bar, nor the summary.
    #[arg(short, long)]
    pub silent: bool,

    /// Show errors with -s (curl's -S): fetch shows them always, so this
    /// is only accepted.
    #[arg(short = 'S', long)]
    pub show_error: bool,

    /// Ask for a compressed body (gzip or deflate) and save it decoded;
    /// --max-filesize bounds the decoded bytes.
    #[arg(long, conflicts_with_all = ["resume", "raw"])]
    pub compressed: bool,

    /// Fail (exit 12, save nothing) when the status is 400 or more.
    #[arg(short, long)]
    pub fail: bool,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Trust the CA certificates in FILE (PEM) as well as the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Do not check the server's certificate (https only; says so loudly).
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Give up when the server sends nothing for this long; 0: no limit.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = values::limit, allow_negative_numbers = true)]
    pub read_timeout: Limit,

    /// Give up when the whole transfer takes longer than this (0, as by
    /// default: no limit).
    #[arg(short = 'm', long, value_name = "DURATION", value_parser = values::limit, allow_negative_numbers = true)]
    pub max_time: Option<Limit>,

    /// The largest response head accepted; also bounds a chunk-size line and
    /// the trailers.
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = values::size, allow_negative_numbers = true)]
    pub max_head: usize,

    /// Refuse a body larger than SIZE (exit 15): a Content-Length over it
    /// before anything is written, an endless body when it crosses it.
    #[arg(long, value_name = "SIZE", value_parser = values::size, allow_negative_numbers = true)]
    pub max_filesize: Option<usize>,

    /// The most header fields accepted in one response head.
    #[arg(long, value_name = "N", default_value_t = fetch::DEFAULT_MAX_HEADERS, value_parser = |s: &str| values::count::<usize>(s, 1, 10_000), allow_negative_numbers = true)]
    pub max_headers: usize,

    /// The most interim (1xx) responses skipped before the final one.
    #[arg(long, value_name = "N", default_value_t = fetch::DEFAULT_MAX_INTERIM, value_parser = |s: &str| values::count::<usize>(s, 0, 10_000), allow_negative_numbers = true)]
    pub max_interim: usize,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// pingpong, pipeline, churn, hold or handshake.
    #[arg(value_name = "SCENARIO", value_enum)]
    pub scenario: ScenarioArg,

    /// The server, as HOST:PORT; several spread the connections over
    /// them in turn (as over the instances behind a load balancer).
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:9999")]
    pub addrs: Vec<String>,

    /// Connections (churn, handshake: concurrent workers). Default:
    /// pingpong 100, pipeline 50, churn 100, hold 1000, handshake 16.
    #[arg(short, long, value_name = "N", value_parser = |s: &str| values::count::<u32>(s, 1, 1_000_000), allow_negative_numbers = true)]
    pub connections: Option<u32>,

    /// Messages in flight per connection (pipeline).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = |s: &str| values::count::<u32>(s, 1, 65536), allow_negative_numbers = true)]
    pub depth: u32,

    /// Open loop: send this many messages per second in all, and measure
    /// latency from when each was due (pingpong, pipeline; wrk2's -R).
    #[arg(
        short = 'R',
        long,
        value_name = "MSGS_PER_SEC",
        allow_negative_numbers = true
    )]
    pub rate: Option<f64>,

    /// Open at most this many connections per second, over all threads
    /// (tcpkali's --connect-rate); for churn, sessions per second.
    #[arg(long, value_name = "PER_SEC", allow_negative_numbers = true)]
    pub connect_rate: Option<f64>,

    /// churn: messages per session (the tutorial's names over and over;
    /// 0: welcome, then exit). Default: 3, Michael, Tracy and Sarah.
    #[arg(long, value_name = "N", value_parser = |s: &str| values::count::<u32>(s, 0, 1_000_000), allow_negative_numbers = true)]
    pub messages: Option<u32>,

    /// churn: pause this long before each message after the first and
    /// before exit, so that a session lasts about N times DURATION, as a
    /// person's or a poller's would (the sessions a restart must let
    /// finish). Default: no pause.
    #[arg(long, value_name = "DURATION", value_parser = values::duration, allow_negative_numbers = true)]
    pub interval: Option<Duration>,

    /// How long to measure (hold: how long to hold the connections idle);
    /// -d as in wrk, -T as in tcpkali.
    #[arg(short = 'd', short_alias = 'T', long, value_name = "DURATION", default_value = "10s", value_parser = values::duration, allow_negative_numbers = true)]
    pub duration: Duration,

    /// How long to run before measuring.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = values::duration, allow_negative_numbers = true)]
    pub warmup: Duration,

    /// Load threads. Default: one per core this process may use.
    #[arg(short = 't', long, value_name = "N", value_parser = |s: &str| values::count::<u32>(s, 1, 1024), allow_negative_numbers = true)]
    pub threads: Option<u32>,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// A reply (or welcome, or close after exit) later than this is an error.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = values::duration, allow_negative_numbers = true)]
    pub timeout: Duration,

    /// line for tcpkit serve; chunk for the tutorial's own server (no
    /// newlines; pingpong, churn and hold only).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ClientFramingArg::Line)]
    pub framing: ClientFramingArg,

    /// The message sent (each connection adds -N to tell them apart).
    #[arg(short = 'm', long, value_name = "TEXT", default_value = "Michael")]
    pub message: String,

    /// Send the bytes of FILE as the message instead (one trailing newline
    /// dropped; at most 1 MiB), e.g. against an echo server with
    /// --welcome '' --reply '{}'.
    #[arg(long, value_name = "FILE", conflicts_with = "message")]
    pub message_file: Option<PathBuf>,

    /// The welcome the server sends (empty: none).
    #[arg(long, value_name = "TEXT", default_value = protocol::DEFAULT_WELCOME)]
    pub welcome: String,

    /// The server sends no welcome (as --welcome ''), like an echo server.
    #[arg(long, conflicts_with = "welcome")]
    pub no_welcome: bool,

    /// The server's reply template; {} stands for the message.
    #[arg(long, value_name = "TEMPLATE", default_value = protocol::DEFAULT_REPLY)]
    pub reply: String,

    /// The server's process id: report its CPU time per reply, and for
    /// hold its memory growth per connection.
    #[arg(long, value_name = "PID", value_parser = |s: &str| values::count::<u32>(s, 1, i32::MAX as u64), allow_negative_numbers = true)]
    pub server_pid: Option<u32>,

    /// hold: how many held connections to check at the end.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = |s: &str| values::count::<usize>(s, 0, 1_000_000), allow_negative_numbers = true)]
    pub sample: usize,

    /// Start each connection with a PROXY protocol header (v1 or v2), as a
    /// load balancer would.
    #[arg(long, value_name = "VERSION", value_enum)]
    pub send_proxy: Option<ProxyVersionArg>,

    /// hold: connect from these local addresses in turn, each with its own
    /// range of ephemeral ports (127.0.0.2-127.0.0.9, or a list with
    /// commas); for more connections to one server than one address has
    /// ports.
    #[arg(long, value_name = "ADDRS", value_parser = values::addresses)]
    pub source: Option<values::Addresses>,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Speak TLS to the server (serve --tls-cert or --tls-self-signed).
    #[arg(long)]
    pub tls: bool,

    /// Trust the certificates in FILE (PEM) as well as the built-in CAs.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cacert: Option<PathBuf>,

    /// Do not check the server's certificate (says so loudly).
    #[arg(short = 'k', long, requires = "tls")]
    pub insecure: bool,

    /// Check the certificate for NAME (and send it as SNI) instead of the
    /// first address's host.
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub servername: Option<String>,

    /// Keep no TLS sessions: every connection makes a full handshake. By
    /// default connections resume the run's earlier sessions, as a real
    /// client would.
    #[arg(long, requires = "tls")]
    pub no_tls_resume: bool,
}

impl BenchArgs {
    /// The scenario as it is written on the command line.
    pub fn scenario_name(&self) -> String {
        self.scenario
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The bench options these arguments describe; `progress` says whether
    /// stderr is a terminal for the live line.
    pub fn options(&self, progress: bool) -> bench::Options {
        use bench::Scenario;
        let scenario = Scenario::from(self.scenario);
        let connections = self.connections.map_or(
            match scenario {
                Scenario::Pingpong | Scenario::Churn => 100,
                Scenario::Handshake => 16,
                Scenario::Pipeline => 50,
                Scenario::Hold => 1000,
            },
            |n| n as usize,
        );
        let threads = self.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, usize::from),
            |n| n as usize,
        );
        bench::Options {
            scenario,
            addrs: self.addrs.clone(),
            family: self.connect.family(),
            connections,
            depth: self.depth as usize,
            rate: self.rate,
            connect_rate: self.connect_rate,
            duration: self.duration,
            warmup: self.warmup,
            threads,
            connect_timeout: self.connect.connect_timeout.0,
            reply_timeout: self.timeout,
            framing: self.framing.into(),
            message: self.message.clone().into_bytes(),
            welcome: if self.no_welcome {
                String::new()
            } else {
                self.welcome.clone()
            },
            reply: protocol::Template::parse(&self.reply),
            server_pid: self.server_pid,
            sample: self.sample,
            progress,
            send_proxy: self.send_proxy.map(Into::into),
            sources: self.source.clone().map(|a| a.0).unwrap_or_default(),
            messages: self.messages.map(|n| n as usize),
            interval: self.interval,
            tls: None,
        }
    }

    /// `--tls`: the client configuration for the run, checking
    /// --servername or the first address's host.
    pub fn tls(&self) -> Result<Option<bench::BenchTls>, tcpkit::Error> {
        if !self.tls {
            return Ok(None);
        }
        let first = self.addrs.first().map_or("127.0.0.1", String::as_str);
        let host = first.rsplit_once(':').map_or(first, |(host, _)| host);
        let name = self.servername.as_deref().unwrap_or(host);
        bench::BenchTls::new(
            self.cacert.as_deref(),
            self.insecure,
            name,
            !self.no_tls_resume,
        )
        .map(Some)
    }
}

impl FetchArgs {
    /// The fetch options these arguments describe; `progress` says whether
    /// stderr is a terminal a bar can be drawn on.
    pub fn options(&self, progress: bool) -> fetch::Options {
        use fetch::Destination;
        fetch::Options {
            url: self.url.clone(),
            destination: match &self.output {
                None => Destination::FromUrl,
                Some(p) if p.as_os_str() == "-" => Destination::Stdout,
                Some(p) => Destination::File(p.clone()),
            },
            dump_head: self.dump_header.clone(),
            head_only: self.head,
            headers: self.headers.clone(),
            follow: self.location,
            max_redirs: self.max_redirs,
            raw: self.raw,
            force: self.force,
            resume: self.resume,
            compressed: self.compressed,
            verbose: false,
            silent: self.silent,
            fail: self.fail,
            progress: progress && !self.silent,
            family: self.connect.family(),
            cacert: self.cacert.clone(),
            insecure: self.insecure,
            connect_timeout: self.connect.connect_timeout.0,
            read_timeout: self.read_timeout.0,
            max_time: self.max_time.and_then(|limit| limit.0),
            max_filesize: self.max_filesize.map(|n| n as u64),
            limits: fetch::Limits {
                max_head: self.max_head,
                max_headers: self.max_headers,
                max_interim: self.max_interim,
            },
        }
    }
}

impl TalkArgs {
    /// The client options these arguments describe.
    pub fn options(&self) -> talk::TalkOptions {
        talk::TalkOptions {
            addr: self.addr.clone(),
            family: self.connect.family(),
            framing: self.framing.into(),
            connect_timeout: self.connect.connect_timeout.0,
            timeout: self.timeout.0,
            max_reply: self.max_reply,
            welcome: if self.no_welcome {
                String::new()
            } else {
                self.welcome.clone()
            },
            reply: protocol::Template::parse(&self.reply),
            exit_on_eof: self.exit_on_eof,
            send_proxy: self.send_proxy.map(Into::into),
            tls: self.tls.then(|| talk::TalkTls {
                cacert: self.cacert.clone(),
                insecure: self.insecure,
                servername: self.servername.clone(),
            }),
        }
    }

    /// nc's `talk HOST PORT`: an address without a port followed by a
    /// port number is one address. (An address without a port is no
    /// address, so nothing else is taken from the messages.)
    pub fn join_host_port(&mut self) {
        let has_port = self.addr.parse::<std::net::SocketAddr>().is_ok()
            || self
                .addr
                .rsplit_once(':')
                .is_some_and(|(host, _)| !host.contains(':') || host.ends_with(']'));
        let port = self.messages.first().and_then(|m| m.parse::<u16>().ok());
        if let (false, Some(port)) = (has_port, port) {
            let host = if self.addr.contains(':') && !self.addr.starts_with('[') {
                format!("[{}]", self.addr)
            } else {
                self.addr.clone()
            };
            self.addr = format!("{host}:{port}");
            self.messages.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tcpkit").chain(args.iter().copied()))
    }

    #[test]
    fn serve_defaults() {
        let cli = parse(&["serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.bind, ["127.0.0.1:9999"]);
        assert_eq!(args.backlog, 1024);
        assert_eq!(args.max_message, 65536);
        assert_eq!(args.idle_timeout, Limit(Some(Duration::from_secs(300))));
        assert_eq!(Framing::from(args.framing), Framing::Auto);
        assert_eq!(args.delay, None);
    }

    #[test]
    fn serve_flags() {
        let cli = parse(&[
            "-vv",
            "serve",
            "--bind",
            "[::1]:0",
            "--bind",
            "127.0.0.1:0",
            "--delay",
            "1s",
            "--max-message",
            "16",
            "--framing",
            "chunk",
            "--max-connections",
            "3",
        ])
        .unwrap();
        assert_eq!(cli.verbosity(), 2);
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.bind, ["[::1]:0", "127.0.0.1:0"]);
        assert_eq!(args.delay, Some(Duration::from_secs(1)));
        assert_eq!(args.max_message, 16);
        assert_eq!(args.max_connections, Some(3));
        assert!(parse(&["serve", "--max-connections", "0"]).is_err());
        assert!(parse(&["serve", "--idle-timeout", "soon"]).is_err());
    }

    #[test]
    fn talk_positionals() {
        let cli = parse(&["talk", "127.0.0.1:1", "Michael", "Tracy", "-4"]).unwrap();
        let Command::Talk(args) = cli.command else {
            panic!("not talk")
        };
        assert_eq!(args.addr, "127.0.0.1:1");
        assert_eq!(args.messages, ["Michael", "Tracy"]);
        assert_eq!(args.options().family, Family::V4);
        assert!(parse(&["talk", "-4", "-6"]).is_err());
        let cli = parse(&["talk"]).unwrap();
        let Command::Talk(args) = cli.command else {
            panic!("not talk")
        };
        assert_eq!(args.addr, "127.0.0.1:9999");
        assert!(args.messages.is_empty());
    }
}
