//! `tcpkit serve --metrics 127.0.0.1:9100` as a library user writes it:
//! the same server, metrics and readiness port included, in a few lines.
//! [`tcpkit::server::Builder`] binds everything (an address in use is an
//! error before anything is served); `run` serves until Ctrl+C, then
//! shuts down gracefully as `serve` does.
//!
//! Run: `cargo run --example full_server`, then `tcpkit talk` and
//! `curl 127.0.0.1:9100/metrics`.

use tcpkit::server::{Builder, Config};

#[tokio::main]
async fn main() -> Result<(), tcpkit::Error> {
    tracing_subscriber::fmt().with_target(false).init();
    let server = Builder::new(Config::default())
        .bind("127.0.0.1:9999".parse().expect("a literal address"))
        .metrics("127.0.0.1:9100".parse().expect("a literal address"))
        .listen()
        .await?;
    tracing::info!(
        "Waiting for connection on {:?}; metrics on {:?}",
        server.local_addrs(),
        server.metrics_addr()
    );
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
