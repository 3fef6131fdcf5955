//! [`Builder`]: the whole `tcpkit serve` assembled in the library, so that
//! a library user gets the identical server with a few lines: the service
//! listeners (bound here, or inherited from a service manager), the
//! metrics and agent ports, and the TLS certificate's reload. The binary
//! keeps only what belongs to a process: parsing flags, reading
//! `LISTEN_FDS`, signals, and exit codes.
//!
//! ```no_run
//! # async fn example() -> Result<(), tcpkit::Error> {
//! use tcpkit::server::{Builder, Config};
//! let server = Builder::new(Config::default())
//!     .bind("127.0.0.1:9999".parse().unwrap())
//!     .metrics("127.0.0.1:9100".parse().unwrap())
//!     .listen()
//!     .await?;
//! tracing::info!("listening on {:?}", server.local_addrs());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use std::sync::Arc;

use super::{Config, DEFAULT_BACKLOG, agent, metrics};
use crate::error::Error;
use crate::net;

/// What to listen on and beside what; [`Builder::listen`] binds it all.
pub struct Builder {
    config: Config,
    binds: Vec<SocketAddr>,
    inherited: Vec<std::net::TcpListener>,
    backlog: u32,
    reuse_port: bool,
    metrics_at: Option<SocketAddr>,
    agent_at: Option<SocketAddr>,
    trace: Option<Arc<dyn crate::trace::Tracer>>,
}

impl Builder {
    /// A server with `config`, listening nowhere yet.
    pub fn new(config: Config) -> Builder {
        Builder {
            config,
            binds: Vec::new(),
            inherited: Vec::new(),
            backlog: DEFAULT_BACKLOG,
            reuse_port: false,
            metrics_at: None,
            agent_at: None,
            trace: None,
        }
    }

    /// Tells `tracer` every call on every connection (`serve --trace`):
    /// the server's sockets are wrapped ([`super::traced`]).
    pub fn trace(mut self, tracer: Arc<dyn crate::trace::Tracer>) -> Builder {
        self.trace = Some(tracer);
        self
    }

    /// Listens on `addr` too (port 0: one the system picks).
    pub fn bind(mut self, addr: SocketAddr) -> Builder {
        self.binds.push(addr);
        self
    }

    /// Serves on sockets that are listening already (a service manager's,
    /// [`net::adopt_listeners`]), as well as any bound here.
    pub fn inherited(mut self, listeners: Vec<std::net::TcpListener>) -> Builder {
        self.inherited = listeners;
        self
    }

    /// The kernel's queue of connections not yet accepted, for every
    /// listener bound here.
    pub fn backlog(mut self, backlog: u32) -> Builder {
        self.backlog = backlog;
        self
    }

    /// Lets other sockets with `SO_REUSEPORT` listen on the same addresses
    /// (hand-overs between processes; see [`net::listen_with`]).
    pub fn reuse_port(mut self, reuse_port: bool) -> Builder {
        self.reuse_port = reuse_port;
        self
    }

    /// Serves Prometheus metrics and `/ready` on `addr` (needs
    /// `config.metrics`; one is made if it is `None`).
    pub fn metrics(mut self, addr: SocketAddr) -> Builder {
        self.metrics_at = Some(addr);
        self
    }

    /// Serves HAProxy's agent check on `addr`.
    pub fn agent(mut self, addr: SocketAddr) -> Builder {
        self.agent_at = Some(addr);
        self
    }

    /// Binds every listener; an address in use or not this machine's is
    /// an error here, before anything is served. Must run inside a tokio
    /// runtime.
    pub async fn listen(mut self) -> Result<Server, Error> {
        let from_std = |listener: std::net::TcpListener| {
            let addr = listener
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            TcpListener::from_std(listener).map_err(|source| Error::Listen { addr, source })
        };
        let mut listeners = Vec::new();
        for listener in self.inherited {
            listeners.push(from_std(listener)?);
        }
        for addr in &self.binds {
            listeners.push(from_std(net::listen_with(
                *addr,
                self.backlog,
                self.reuse_port,
            )?)?);
        }
        let side = |addr: SocketAddr, flag: crate::setting::Setting| {
            from_std(net::listen(addr, self.backlog).map_err(|e| e.named_by(flag))?)
        };
        let metrics_listener = match self.metrics_at {
            Some(addr) => {
                self.config.metrics.get_or_insert_with(Default::default);
                Some(side(addr, crate::setting::Setting::Metrics)?)
            }
            None => None,
        };
        let agent_listener = match self.agent_at {
            Some(addr) => Some(side(addr, crate::setting::Setting::Agent)?),
            None => None,
        };
        Ok(Server {
            config: self.config,
            trace: self.trace,
            listeners,
            metrics_listener,
            agent_listener,
        })
    }
}

/// A server whose listeners are bound: [`Server::run`] serves until
/// shutdown.
pub struct Server {
    config: Config,
    trace: Option<Arc<dyn crate::trace::Tracer>>,
    listeners: Vec<TcpListener>,
    metrics_listener: Option<TcpListener>,
    agent_listener: Option<TcpListener>,
}

impl Server {
    /// The service addresses, in the order they were given (inherited
    /// first).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The metrics port's address, if it has one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The agent port's address, if it has one.
    pub fn agent_addr(&self) -> Option<SocketAddr> {
        self.agent_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then closes as [`super::run`]
    /// says; the metrics and agent ports answer until the server is done.
    pub async fn run(self, shutdown: impl Future) {
        let stop_sides = CancellationToken::new();
        if let (Some(listener), Some(metrics)) =
            (self.metrics_listener, self.config.metrics.clone())
        {
            tokio::spawn(metrics::serve(
                listener,
                metrics,
                self.config.health.clone(),
                stop_sides.clone(),
            ));
        }
        if let Some(listener) = self.agent_listener {
            tokio::spawn(agent::serve(
                listener,
                self.config.health.clone(),
                stop_sides.clone(),
            ));
        }
        match self.trace {
            Some(tracer) => {
                let traced = self
                    .listeners
                    .into_iter()
                    .map(|l| super::traced::TracedListener::new(l, tracer.clone()))
                    .collect();
                super::serve_on(traced, self.config, shutdown).await;
            }
            None => super::run(self.listeners, self.config, shutdown).await,
        }
        stop_sides.cancel();
    }
}

/// Reads the certificate files of `tls` again (the binary calls it at
/// SIGHUP) and logs what came of it; a failure keeps the old pair.
pub fn reload_tls(tls: &crate::tls::ServerTls) {
    let Some(file) = tls.cert_file() else {
        warn!("SIGHUP: a self-signed certificate has no files to read again; nothing reloaded.");
        return;
    };
    let old = tls.fingerprint();
    match tls.reload() {
        Ok(new) => info!(
            "SIGHUP: reloaded the TLS certificate from {} (SHA-256 fingerprint {new}); \
             new handshakes use it.",
            file.display()
        ),
        Err(e) => warn!(
            "SIGHUP: cannot reload the TLS certificate: {}; keeping the old one \
             (SHA-256 fingerprint {old}).",
            e.in_words()
        ),
    }
}
