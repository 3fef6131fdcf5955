//! `tcpkit demo`'s arguments.

use clap::Args;

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
