//! The tutorial's client for the greeting server, written against the
//! tcpkit library: print the welcome, send three names and print each
//! reply, then send `exit`.
//!
//! Run `cargo run --example echo_server` first, then `cargo run --example echo_client`.

use tcpkit::talk::{self, TalkOptions};

fn main() -> Result<(), tcpkit::Error> {
    let names = ["Michael", "Tracy", "Sarah"].map(String::from);
    let opts = TalkOptions {
        addr: "127.0.0.1:9999".to_string(),
        ..TalkOptions::default()
    };
    talk::script(&opts, &names, &mut std::io::stdout())
}
