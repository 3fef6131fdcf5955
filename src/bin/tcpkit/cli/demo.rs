//! `tcpkit demo`'s arguments.

use clap::{ArgGroup, Args};
use tcpkit::trace::scenario::Scenario;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("files").args(["diagram", "pcap"]).multiple(true)))]
pub struct DemoArgs {
    /// What the client says [default: Michael Tracy Sarah]. Not with
    /// --scenario, which says its own.
    #[arg(value_name = "MESSAGE")]
    pub messages: Vec<String>,

    /// The port the server listens on, on 127.0.0.1 (0: a free one), e.g.
    /// 9999 to talk to it from another terminal meanwhile.
    #[arg(short, long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,

    /// Record the session call by call and draw it as a sequence diagram
    /// in FILE: .svg, .html (the picture and a few lines on each call), or
    /// a text chart here when FILE is "-". Every arrow and mark is a real
    /// call with its real time: the connect, each write and read with its
    /// bytes, the half-closes and closes, and each end's TCP state after.
    #[arg(long, value_name = "FILE")]
    pub diagram: Option<std::path::PathBuf>,

    /// Replace --diagram's and --pcap's FILE if it exists (a symbolic
    /// link is replaced itself, never written through).
    #[arg(long, requires = "files")]
    pub force: bool,

    /// Also write the session's TCP segments to FILE as a pcap capture,
    /// which Wireshark and tshark open. Needs the right to capture on the
    /// loopback interface (Linux: root, or setcap cap_net_raw+ep on the
    /// binary).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<std::path::PathBuf>,

    /// Draw the calls only. By default the picture also shows the TCP
    /// segments under them (SYN, data, ACK, FIN, RST, with their numbers
    /// and windows), where this process may capture them on the loopback
    /// interface; where it may not, one line says why.
    #[arg(long, conflicts_with = "pcap")]
    pub no_packets: bool,

    /// Show one of TCP's pitfalls instead of the tutorial's session, drawn
    /// as --diagram draws it (a text chart here without --diagram).
    #[arg(long, value_name = "NAME", value_enum, default_value = "tutorial")]
    pub scenario: Scenario,

    /// The most reads and writes --diagram draws: the first half and the
    /// last half, with a note saying how many between were left out (a
    /// picture of 100,000 messages would be unreadable, and its recording
    /// took half a gigabyte).
    #[arg(long, value_name = "N", default_value_t = tcpkit::trace::DEFAULT_DRAWN, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..=1_000_000))]
    pub max_drawn: usize,
}
