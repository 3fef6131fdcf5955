//! `tcpkit serve`'s arguments.

use std::time::Duration;

use clap::Args;

use tcpkit::server;
use tcpkit::wire::greeting as protocol;

use crate::values::{self, Limit};

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
    #[arg(long, value_name = "MODE", value_enum, default_value_t = protocol::Framing::Auto)]
    pub framing: protocol::Framing,

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
    pub proxy_protocol: Option<tcpkit::wire::proxy::Versions>,

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

    /// Print every call on every connection on stderr: the accept, each
    /// read and write with its bytes (escaped, cut at 64), the half-close
    /// and the close, timed from the accept. For learning and debugging:
    /// it costs a line per call. (Over TLS the bytes are the records.)
    #[arg(long)]
    pub trace: bool,

    /// Leave out the two lines each connection logs (accepted, closed):
    /// a busy service's log keeps what an operator acts on, and stays
    /// under journald's rate limit; the metrics count connections anyway.
    #[arg(long)]
    pub no_connection_logs: bool,
}

impl ServeArgs {
    /// The server these arguments describe (`max_connections` is settled
    /// at listen, from the open-file limit when not given; the metrics
    /// registry is the caller's to make).
    pub fn config(&self) -> server::Config {
        server::Config {
            settings: protocol::Settings {
                framing: self.framing,
                welcome: self.welcome.clone().into_bytes(),
                reply: protocol::Template::parse(&self.reply),
                max_message: self.max_message,
            },
            delay: self.delay.filter(|d| !d.is_zero()),
            idle_timeout: self.idle_timeout.0,
            write_timeout: self.write_timeout.0,
            message_timeout: self.message_timeout.0,
            linger: self.linger,
            refuse_rate: (self.refuse_rate > 0).then_some(self.refuse_rate),
            grace: self.grace,
            max_buffered: self.max_buffered.0,
            send_buffer: self.send_buffer.0,
            proxy: self.proxy_protocol.map(|versions| server::ProxyPolicy {
                versions,
                trusted: self.proxy_from.clone(),
                timeout: self.proxy_timeout.0,
            }),
            drain: self.drain.unwrap_or(if self.agent.is_some() {
                server::DEFAULT_AGENT_DRAIN
            } else {
                Duration::ZERO
            }),
            tls_handshake_timeout: self.tls_handshake_timeout.0,
            naming: crate::FLAGS,
            ..server::Config::default()
        }
    }

    /// Where the certificate comes from, when TLS is asked for.
    pub fn tls_source(&self) -> Option<tcpkit::tls::source::TlsSource> {
        use tcpkit::tls::source::TlsSource;
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            return Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            });
        }
        self.tls_self_signed.then(|| TlsSource::SelfSigned {
            out: self.tls_cert_out.clone(),
        })
    }
}
