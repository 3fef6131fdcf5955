//! [`Builder`]: the whole `tcpkit serve` assembled in the library, so that
//! a library user gets the identical server with a few lines: the service
//! listeners (bound here from addresses or `HOST:PORT` words, or inherited
//! from a service manager), the metrics and agent ports, the TLS
//! certificate (from files, or made and written where clients can trust
//! it) and its reload, and the open-file limit that bounds connections.
//! The binary keeps only what belongs to a process: parsing flags,
//! reading `LISTEN_FDS`, signals, and exit codes.
//!
//! ```no_run
//! # async fn example() -> Result<(), tcpkit::Error> {
//! use tcpkit::server::{Builder, Config};
//! let server = Builder::new(Config::default())
//!     .bind("127.0.0.1:9999")
//!     .metrics("127.0.0.1:29999")
//!     .listen()
//!     .await?;
//! tracing::info!("listening on {:?}", server.local_addrs());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Config, DEFAULT_BACKLOG, agent, metrics};
use crate::error::Error;
use crate::net::{self, Family};
use crate::tls::ServerTls;
use crate::tls::source::{MadeCert, TlsSource};

/// Where a listener goes: an address, or `HOST:PORT` as a person writes
/// it (resolved by [`Builder::listen`], each address it names once).
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// This address.
    Addr(SocketAddr),
    /// Every address these words resolve to (`localhost:9999`: both
    /// loopbacks).
    Spec(String),
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Endpoint {
        Endpoint::Addr(addr)
    }
}

impl From<&str> for Endpoint {
    fn from(spec: &str) -> Endpoint {
        Endpoint::Spec(spec.to_string())
    }
}

impl From<String> for Endpoint {
    fn from(spec: String) -> Endpoint {
        Endpoint::Spec(spec)
    }
}

impl Endpoint {
    /// Its addresses; a spec resolves to its first one where only one
    /// listener can be (metrics, agent).
    fn resolve(&self) -> Result<Vec<SocketAddr>, Error> {
        match self {
            Endpoint::Addr(addr) => Ok(vec![*addr]),
            Endpoint::Spec(spec) => net::resolve(spec, Family::Any),
        }
    }

    fn first(&self) -> Result<SocketAddr, Error> {
        Ok(self.resolve()?[0])
    }
}

/// What to listen on and beside what; [`Builder::listen`] binds it all.
pub struct Builder {
    config: Config,
    binds: Vec<Endpoint>,
    inherited: Vec<std::net::TcpListener>,
    backlog: u32,
    reuse_port: bool,
    metrics_at: Option<Endpoint>,
    agent_at: Option<Endpoint>,
    trace: Option<Arc<dyn crate::trace::Tracer>>,
    tls: Option<TlsSource>,
    fd_limit: Option<Option<usize>>,
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
            tls: None,
            fd_limit: None,
        }
    }

    /// Speaks TLS with the certificate `source` gives, read or made at
    /// [`Builder::listen`] (a self-signed one names every address bound);
    /// [`Server::tls`] reloads it.
    pub fn tls(mut self, source: TlsSource) -> Builder {
        self.tls = Some(source);
        self
    }

    /// At [`Builder::listen`], raises this process's open-file limit as
    /// far as it may go (a process-wide change, as `serve` makes), and
    /// serves up to `max_connections` at once, or, when `None`, as many
    /// as the limit leaves room for ([`net::default_max_connections`]).
    pub fn raise_fd_limit(mut self, max_connections: Option<usize>) -> Builder {
        self.fd_limit = Some(max_connections);
        self
    }

    /// Tells `tracer` every call on every connection (`serve --trace`):
    /// the server's sockets are wrapped ([`super::traced`]).
    pub fn trace(mut self, tracer: Arc<dyn crate::trace::Tracer>) -> Builder {
        self.trace = Some(tracer);
        self
    }

    /// Listens on `addr` too (port 0: one the system picks); `HOST:PORT`
    /// words listen on every address they name. Addresses come first, in
    /// their order, then the words' addresses, each once, sorted.
    pub fn bind(mut self, addr: impl Into<Endpoint>) -> Builder {
        self.binds.push(addr.into());
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
    pub fn metrics(mut self, addr: impl Into<Endpoint>) -> Builder {
        self.metrics_at = Some(addr.into());
        self
    }

    /// Serves HAProxy's agent check on `addr`.
    pub fn agent(mut self, addr: impl Into<Endpoint>) -> Builder {
        self.agent_at = Some(addr.into());
        self
    }

    /// The addresses to bind: given ones in order, then the words'
    /// addresses, each once and sorted.
    fn bind_addrs(&self) -> Result<Vec<SocketAddr>, Error> {
        let mut addrs = Vec::new();
        let mut named = BTreeSet::new();
        for bind in &self.binds {
            match bind {
                Endpoint::Addr(addr) => addrs.push(*addr),
                Endpoint::Spec(_) => named.extend(bind.resolve()?),
            }
        }
        for addr in named {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        Ok(addrs)
    }

    /// Binds every listener; an address in use or not this machine's is
    /// an error here, before anything is served. Must run inside a tokio
    /// runtime.
    pub async fn listen(mut self) -> Result<Server, Error> {
        let binds = self.bind_addrs()?;
        let metrics_at = self.metrics_at.as_ref().map(Endpoint::first).transpose()?;
        let agent_at = self.agent_at.as_ref().map(Endpoint::first).transpose()?;
        let mut warnings = Vec::new();
        if self.reuse_port && net::tcp_migrate_req() == Some(false) {
            warnings.push(MIGRATE_WARNING.to_string());
        }
        let fd_limit = self.fd_limit.map(|max_connections| {
            let limit = net::raise_fd_limit();
            self.config.max_connections =
                max_connections.unwrap_or_else(|| net::default_max_connections(limit));
            limit
        });
        let specs: Vec<String> = self
            .binds
            .iter()
            .filter_map(|b| match b {
                Endpoint::Spec(spec) => Some(spec.clone()),
                Endpoint::Addr(_) => None,
            })
            .collect();
        let serving = match &self.tls {
            Some(source) => Some(source.load(&binds.iter().copied().collect(), &specs)?),
            None => None,
        };
        if let Some(serving) = &serving {
            self.config.tls = Some(serving.tls.clone());
        }
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
        for addr in binds {
            listeners.push(from_std(net::listen_with(
                addr,
                self.backlog,
                self.reuse_port,
            )?)?);
        }
        let side = |addr: SocketAddr, flag: crate::setting::Setting| {
            from_std(net::listen(addr, self.backlog).map_err(|e| e.named_by(flag))?)
        };
        let metrics_listener = match metrics_at {
            Some(addr) => {
                self.config.metrics.get_or_insert_with(Default::default);
                Some(side(addr, crate::setting::Setting::Metrics)?)
            }
            None => None,
        };
        let agent_listener = match agent_at {
            Some(addr) => Some(side(addr, crate::setting::Setting::Agent)?),
            None => None,
        };
        let (tls, made) = match serving {
            Some(serving) => (Some(serving.tls), serving.made),
            None => (None, None),
        };
        if let (Some(made), Some(first)) = (&made, listeners.first())
            && let Ok(addr) = first.local_addr()
        {
            crate::tls::source::log_trust_hint(made.path(), addr);
        }
        if let Some(limit) = fd_limit {
            info!(
                "Serving up to {} connections at once (open-file limit {limit}).",
                self.config.max_connections
            );
        }
        Ok(Server {
            config: self.config,
            trace: self.trace,
            listeners,
            metrics_listener,
            agent_listener,
            tls,
            made,
            warnings,
        })
    }
}

/// Said when `SO_REUSEPORT` hand-overs would lose connections.
const MIGRATE_WARNING: &str = "--reuse-port: net.ipv4.tcp_migrate_req is 0, so when this \
     process stops, connections still waiting in its accept queue are reset instead of moving \
     to another process on the port. For restarts without loss: sysctl -w \
     net.ipv4.tcp_migrate_req=1, start the new process, then stop the old one.";

/// A server whose listeners are bound: [`Server::run`] serves until
/// shutdown.
pub struct Server {
    config: Config,
    trace: Option<Arc<dyn crate::trace::Tracer>>,
    listeners: Vec<TcpListener>,
    metrics_listener: Option<TcpListener>,
    agent_listener: Option<TcpListener>,
    tls: Option<Arc<ServerTls>>,
    /// A made certificate's file, kept (and locked) while serving.
    made: Option<MadeCert>,
    warnings: Vec<String>,
}

impl Server {
    /// What the caller should tell its operator before serving: a
    /// configuration that works, but not as well as it could (with
    /// `reuse_port`, a kernel that resets queued connections when this
    /// process stops).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The certificate being served with, to reload with [`reload_tls`]
    /// (or let [`Server::reload_tls_at_sighup`] do it).
    pub fn tls(&self) -> Option<Arc<ServerTls>> {
        self.tls.clone()
    }

    /// Reads the certificate files again at each SIGHUP, for new
    /// handshakes, as `serve` does (nothing without TLS, or on Windows);
    /// SIGHUP is watched from this call on. Must run inside the runtime.
    pub fn reload_tls_at_sighup(&self) {
        if let Some(tls) = self.tls() {
            let naming = self.config.naming;
            let service = self.config.service.clone();
            let mut reloads = crate::signal::Reloads::watch();
            tokio::spawn(async move {
                loop {
                    reloads.next().await;
                    service.reloading();
                    let done = match reload_tls(&tls, naming) {
                        true => "reloaded the TLS certificate",
                        false => "the TLS certificate's reload failed; serving with the old one",
                    };
                    service.ready(format!("Serving; SIGHUP: {done}"));
                }
            });
        }
    }

    /// A made certificate's file, when there is one.
    pub fn made_cert(&self) -> Option<&MadeCert> {
        self.made.as_ref()
    }

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
        // Removed (if temporary) when serving is done.
        let _made = self.made;
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
/// SIGHUP) and logs what came of it, naming settings as `naming` says; a
/// failure keeps the old pair. True when the new pair is in use.
pub fn reload_tls(tls: &crate::tls::ServerTls, naming: crate::setting::Naming) -> bool {
    let Some(file) = tls.cert_file() else {
        warn!("SIGHUP: a self-signed certificate has no files to read again; nothing reloaded.");
        return false;
    };
    let old = tls.fingerprint();
    match tls.reload() {
        Ok(new) => info!(
            "SIGHUP: reloaded the TLS certificate from {} (SHA-256 fingerprint {new}); \
             new handshakes use it.",
            file.display()
        ),
        Err(e) => {
            warn!(
                "SIGHUP: cannot reload the TLS certificate: {}; keeping the old one \
                 (SHA-256 fingerprint {old}).",
                e.in_words().render(naming)
            );
            return false;
        }
    }
    true
}
