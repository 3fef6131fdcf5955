//! `tcpkit serve --tls-self-signed --metrics 127.0.0.1:29999` as a library
//! user writes it: the same server, from the library alone, in a dozen
//! lines. [`tcpkit::server::Builder`] raises the open-file limit and sizes
//! the connection limit from it, makes the certificate and writes its PEM
//! for clients to trust (removed when the server stops), binds everything
//! (an address in use is an error before anything is served), and logs
//! as `serve` does; `run` serves until Ctrl+C or SIGTERM (what a service
//! manager sends), then shuts down gracefully. Under systemd's
//! `Type=notify` it says ready, reloading and stopping, and feeds the
//! watchdog, as `serve` does.
//!
//! Run: `cargo run --example full_server`, then the `tcpkit talk --tls
//! --cacert ...` line it logs, and `curl 127.0.0.1:29999/metrics`.

use tcpkit::server::{Builder, Config};
use tcpkit::tls::source::TlsSource;

#[tokio::main]
async fn main() -> Result<(), tcpkit::Error> {
    tracing_subscriber::fmt().with_target(false).init();
    let config = Config {
        service: tcpkit::service::Notifier::from_env(),
        ..Config::default()
    };
    let server = Builder::new(config)
        .bind("localhost:9999")
        .metrics("127.0.0.1:29999")
        .tls(TlsSource::SelfSigned { out: None })
        .raise_fd_limit(None)
        .listen()
        .await?;
    for warning in server.warnings() {
        tracing::warn!("{warning}");
    }
    server.reload_tls_at_sighup();
    server.run(tcpkit::signal::stopped()).await;
    Ok(())
}
