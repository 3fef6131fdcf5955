//! `tcpkit talk`'s arguments, and nc's `HOST PORT` joined into one address.

use std::path::PathBuf;

use clap::Args;

use tcpkit::talk;

use super::{ConnectArgs, ProtocolArgs};
use crate::values::{self, Limit};
use tcpkit::wire::{greeting::ClientFraming, proxy};

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
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ClientFraming::Line)]
    pub framing: ClientFraming,

    /// Give up waiting for a reply, or for the close, after this long;
    /// 0: wait as long as it takes.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = values::limit, allow_negative_numbers = true)]
    pub timeout: Limit,

    /// The longest reply accepted, in bytes (suffixes K, KiB, M, MiB).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = values::size, allow_negative_numbers = true)]
    pub max_reply: usize,

    #[command(flatten)]
    pub protocol: ProtocolArgs,

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
    /// (exit 0 open, 6 closed or unreachable, 7 no answer within
    /// --connect-timeout: a silent host, or a firewall that drops).
    #[arg(short = 'z', long)]
    pub check: bool,

    /// Stop when stdin ends, without waiting for the other side to close
    /// (nc's -q 0); replies still on their way are lost.
    #[arg(long)]
    pub exit_on_eof: bool,

    /// nc's -N (shut down the sending side at the end of stdin): what talk
    /// does already, so this is only accepted.
    #[arg(short = 'N', long = "shutdown-on-eof")]
    pub shutdown_on_eof: bool,

    /// Start with a PROXY protocol header (v1 or v2) naming this
    /// connection, as a load balancer would: for trying
    /// `serve --proxy-protocol` without one.
    #[arg(long, value_name = "VERSION", value_enum)]
    pub send_proxy: Option<proxy::Version>,

    /// Write what the server sends to the terminal unchanged. By default a
    /// terminal shows its control bytes escaped (\x1b...), so a server
    /// cannot clear the screen or set the clipboard; a pipe or file always
    /// gets the bytes unchanged.
    #[arg(long)]
    pub raw_output: bool,

    /// Print every call on the connection on stderr as it happens: the
    /// connect (and how long the handshake took), each write and read with
    /// its bytes, the half-close and the close, timed from the connect.
    /// Shows where messages were split or merged by the reads.
    #[arg(long)]
    pub trace: bool,
}

impl TalkArgs {
    /// The client options these arguments describe.
    pub fn options(&self, printer: &crate::printer::Printer) -> talk::TalkOptions {
        talk::TalkOptions {
            addr: self.addr.clone(),
            family: self.connect.family(),
            framing: self.framing,
            connect_timeout: self.connect.connect_timeout.0,
            timeout: self.timeout.0,
            max_reply: self.max_reply,
            welcome: self.protocol.welcome(),
            reply: self.protocol.reply(),
            exit_on_eof: self.exit_on_eof,
            interactive: std::io::IsTerminal::is_terminal(&std::io::stdin()),
            send_proxy: self.send_proxy,
            notices: printer.notices(false),
            trace: self.trace.then(|| printer.tracer()),
            tls: self.tls.then(|| talk::TalkTls {
                cacert: self.cacert.clone(),
                insecure: self.insecure,
                servername: self.servername.clone(),
            }),
        }
    }
}
