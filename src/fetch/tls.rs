//! TLS for https: the handshake over a connected socket, with the shared
//! client configuration ([`crate::tls::client`]) offering ALPN `http/1.1`.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::request::Target;
use crate::error::Error;

/// Builds the client configuration once per run.
pub fn config(cacert: Option<&Path>, insecure: bool) -> Result<Arc<ClientConfig>, Error> {
    crate::tls::client::config(cacert, insecure, &[b"http/1.1"])
}

/// Runs the TLS handshake over a connected socket.
pub async fn handshake(
    tcp: TcpStream,
    target: &Target,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, Error> {
    let name = match target.ip {
        Some(ip) => ServerName::IpAddress(ip.into()),
        None => crate::tls::client::server_name(&target.host)?,
    };
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            // fetch bounds the handshake with its own timeouts.
            crate::tls::client::handshake_failed(
                e,
                &target.host_port(),
                None,
                &"check the URL's host".into(),
            )
        })
}
