//! An opening that must wait before the welcome: a load balancer's PROXY
//! header (nothing is sent before it is whole), then the TLS handshake,
//! each within its limit and logged when it fails; then the welcome and
//! answers to whatever came after them in the same reads.

use tracing::info;

use tcpkit_wire::proxy;

use super::super::socket::Socket;
use super::{Answer, Ending, Handler, Refusal};

impl<S: Socket> Handler<S> {
    /// An opening that must wait: with `proxied` (a load balancer's
    /// connection under `--proxy-protocol`) the whole PROXY header first,
    /// nothing sent before it; with TLS the handshake; then the welcome,
    /// then answers to whatever came after them in the same reads.
    pub(super) async fn open_slowly(&mut self, proxied: bool) -> Option<Ending> {
        let shared = self.shared.clone();
        let balancer = self.peer;
        let mut first = Vec::new();
        let mut via = String::new();
        if let Some(policy) = shared.config.proxy.as_ref().filter(|_| proxied) {
            let origin;
            (origin, first) = match self
                .conn
                .read_proxy_header(policy.versions, policy.timeout)
                .await
            {
                Ok(header) => header,
                Err(why) => {
                    info!("Closed a connection from {balancer}: {why}.");
                    return Some(Ending::NoProxyHeader);
                }
            };
            via = match origin {
                proxy::Origin::Proxied { source, .. } => {
                    self.peer = source.into();
                    format!("via {balancer}")
                }
                proxy::Origin::Local => "PROXY LOCAL: the load balancer itself".to_string(),
            };
        }
        if let Some(tls) = &shared.config.tls {
            let started = self
                .conn
                .start_tls(tls.config(), &first, shared.config.tls_handshake_timeout)
                .await;
            if let Err(why) = started {
                if let Some(left_out) = shared.tls_failures.admit() {
                    let also = match left_out {
                        0 => String::new(),
                        n => format!(" ({n} more failed handshakes were not logged one by one)"),
                    };
                    info!(
                        "TLS handshake with {} failed: {}.{also}",
                        self.peer,
                        why.shown(shared.config.naming)
                    );
                }
                return Some(Ending::NoHandshake);
            }
            first.clear(); // it was the start of the handshake
            if let Some(summary) = self.conn.tls_summary() {
                via = match via.is_empty() {
                    true => summary,
                    false => format!("{via}, {summary}"),
                };
            }
        }
        match via.is_empty() {
            true => {
                info!(target: crate::server::CONNECTION_LOG, "Accept new connection from {}...", self.peer)
            }
            false => {
                info!(target: crate::server::CONNECTION_LOG, "Accept new connection from {} ({via})...", self.peer)
            }
        }
        let welcomed = match self.welcome() {
            Answer::Done(ended) => ended,
            Answer::Later(sending) => sending.await,
        };
        if welcomed.is_some() {
            return welcomed;
        }
        // What came after the header is the client's first input.
        self.count(first.len(), 0, 0);
        if let Some(ending) = self.answer_stuck(Vec::new(), first, None).await {
            return Some(ending);
        }
        if !self.budget_unfinished() {
            return Some(self.refuse(Refusal::Busy).await);
        }
        None
    }
}
