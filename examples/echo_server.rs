//! The tutorial's greeting server, written against the tcpkit library.
//!
//! The tutorial binds 127.0.0.1:9999 with a backlog of 5 and starts a thread
//! per client. Here the library does the per-client work on async tasks;
//! this file only chooses the address and the shutdown signal.
//!
//! Run: `cargo run --example echo_server`, then `cargo run --example echo_client`.

use tcpkit::{net, server};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .without_time()
        .with_target(false)
        .init();
    // Like the tutorial: loopback only (0.0.0.0 would serve every network),
    // a port above 1023 (lower ones need privileges), a backlog of 5.
    let listener = net::listen("127.0.0.1:9999".parse()?, 5)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    // The defaults are the tutorial's protocol: `Welcome!`, `Hello, NAME!`,
    // `exit` to leave. Ctrl+C stops the server.
    server::run(vec![listener], server::Config::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}
