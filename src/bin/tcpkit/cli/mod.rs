//! The command line: clap derive structs whose doc comments are the help.
//!
//! Parsing only; [`crate::commands`] turns these into library calls. The
//! value enums are the library's own (the scenarios, and the wire codecs'
//! framings and PROXY versions): clap's `ValueEnum` is derived for them
//! under a feature (`cli`, `tcpkit-wire/clap`), their doc lines the help.
//! Option groups used by several subcommands are declared once and
//! flattened in. One file per subcommand's arguments; the connection
//! options they share are here.

mod bench;
mod demo;
mod fetch;
mod serve;
mod talk;

use clap::{Args, Parser, Subcommand};

use tcpkit::net::Family;

use crate::values::{self, Limit};

pub use bench::{BenchArgs, BenchCommand, MergeCommand};
pub use demo::DemoArgs;
pub use fetch::FetchArgs;
pub use serve::ServeArgs;
pub use talk::TalkArgs;

/// What the server says, for a client to check its words against: shared
/// by `talk` and `bench`.
#[derive(Debug, Args)]
pub struct ProtocolArgs {
    /// The welcome the server sends first (empty: none); talk with
    /// MESSAGEs and bench wait for it and check it.
    #[arg(long, value_name = "TEXT", default_value = tcpkit::wire::greeting::DEFAULT_WELCOME)]
    pub welcome: String,

    /// The server sends no welcome (as --welcome ''), like an echo server.
    #[arg(long, conflicts_with = "welcome")]
    pub no_welcome: bool,

    /// The server's reply template ({} stands for the message); talk with
    /// MESSAGEs and bench check each reply against it.
    #[arg(long, value_name = "TEMPLATE", default_value = tcpkit::wire::greeting::DEFAULT_REPLY)]
    pub reply: String,
}

impl ProtocolArgs {
    /// The welcome expected; empty for none.
    pub fn welcome(&self) -> String {
        if self.no_welcome {
            String::new()
        } else {
            self.welcome.clone()
        }
    }

    /// The reply template.
    pub fn reply(&self) -> tcpkit::wire::greeting::Template {
        tcpkit::wire::greeting::Template::parse(&self.reply)
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

/// The heading of the flags every subcommand takes, shown apart from its own.
const GLOBAL: &str = "Global options";

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
    /// More log detail (-v debug, -vv trace; RUST_LOG overrides). fetch
    /// -v also shows the request and response heads on stderr, marked
    /// `> ` and `< ` as curl -v does.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,

    /// Less log detail (-q warnings only, -qq errors only).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub quiet: u8,

    /// Log lines without time or level, as the tutorial prints them
    /// (--log-format plain).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub plain_logs: bool,

    /// How log lines look.
    #[arg(long, global = true, value_name = "FORMAT", value_enum, default_value = "text", help_heading = GLOBAL)]
    pub log_format: crate::logging::Style,

    /// Most bytes of log lines (and --trace lines, notices) held for a
    /// stderr that is not being read, such as a terminal paused with
    /// Ctrl+S or a stalled log reader. Work never waits on its log: past
    /// this, the oldest lines make room for the newest, and how many went
    /// is said where they were once stderr drains (serve --metrics:
    /// tcpkit_log_lines_dropped_total).
    #[arg(long, global = true, value_name = "SIZE", default_value = "256KiB", value_parser = values::size, help_heading = GLOBAL)]
    pub log_buffer: usize,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// `-v` count minus `-q` count.
    pub fn verbosity(&self) -> i8 {
        i8::try_from(i16::from(self.verbose) - i16::from(self.quiet)).unwrap_or(0)
    }

    /// How log lines look: `demo`'s picture has its server in this
    /// process, whose lines are shown in its window (`server | ...`).
    pub fn log_style(&self) -> crate::logging::Style {
        use crate::logging::Style;
        match &self.command {
            Command::Demo(demo)
                if demo.diagram.is_some()
                    || demo.scenario != tcpkit::trace::scenario::Scenario::Tutorial =>
            {
                Style::Window
            }
            // An explicit --log-format wins over --plain-logs.
            _ if self.plain_logs && self.log_format == Style::Full => Style::Plain,
            _ => self.log_format,
        }
    }

    /// Whether serve logs a line as each connection opens and closes.
    pub fn connection_logs(&self) -> bool {
        !matches!(&self.command, Command::Serve(serve) if serve.no_connection_logs)
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
  tcpkit bench churn ADDR1 ADDR2 --connect-rate 500          sessions over two servers
  tcpkit bench merge a.json b.json                           runs made side by side, added up")]
    Bench(BenchCommand),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        assert_eq!(args.framing, tcpkit::wire::greeting::Framing::Auto);
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
        assert_eq!(
            args.options(&crate::printer::Printer::new()).family,
            Family::V4
        );
        assert!(parse(&["talk", "-4", "-6"]).is_err());
        let cli = parse(&["talk"]).unwrap();
        let Command::Talk(args) = cli.command else {
            panic!("not talk")
        };
        assert_eq!(args.addr, "127.0.0.1:9999");
        assert!(args.messages.is_empty());
    }
}
