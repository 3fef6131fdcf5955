//! The greeting server: `tcpkit serve` as a library.
//!
//! [`Builder`] assembles all of `serve` (the listeners bound or inherited,
//! the metrics and agent ports); [`run`] is its core, and takes listeners
//! the caller bound (tests bind port 0) and a shutdown future. Each listener gets a `listener::Listener` that owns the accept
//! loop and the connection limit; each connection gets a
//! `handler::Handler`, its policy (welcome, answer, delay, shutdown,
//! linger), over a `conn::Connection`, which owns the socket, the
//! [`tcpkit_wire::greeting`] decoder and the fast paths. The socket is
//! anything that implements [`Socket`] and comes from an [`Accept`]:
//! TCP for `serve` ([`run`]), the in-memory `memory` transport (feature `test-util`) for
//! tests ([`serve_on`]); [`traced`] wraps either so that every call is
//! told to a [`crate::trace::Tracer`] (`serve --trace`).
//! Shutdown follows tokio's graceful-shutdown example: stop accepting, wait
//! for the [`TaskTracker`] while open connections are served as before, up
//! to a grace period; then cancel a [`CancellationToken`] the handlers
//! watch (each answers what it received and closes), and drop whatever is
//! left after the lingering close's time. Idle timeouts come
//! from one shared coarse clock (`clock::IdleClock`), not a timer per
//! connection; `probes` sums up the connections that never spoke.
//!
//! Around that core: `budget::Budget` bounds what all connections together buffer
//! (`--max-buffered`); [`ProxyPolicy`] says who may send a PROXY header;
//! [`metrics`] keeps the counters and serves `/metrics` and `/ready`;
//! [`agent`] answers HAProxy's agent check and carries the drain's state
//! ([`Config::drain`]); `side` holds what those two small listeners share;
//! `tls` drives rustls under the connection ([`Config::tls`]).

pub mod agent;
mod budget;
mod builder;
mod clock;
mod conn;
mod handler;
mod listener;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod metrics;
mod probes;
mod shutdown;
mod side;
mod socket;
mod tls;
pub mod traced;

pub use builder::{Builder, Server, reload_tls};
pub use socket::{Accept, Socket};

use budget::{Budget, Held};
use clock::IdleClock;
use probes::ProbeLog;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use tcpkit_wire::Bytes;
use tcpkit_wire::greeting::Settings;

/// Default time a connection may stay silent before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default time a batch of replies may take to be accepted by the client.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time spent draining a client's late input before closing.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(2);
/// Default time a message may take to arrive once its first byte has
/// (nginx bounds a request head's total time the same way).
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time open connections get to finish after a shutdown signal.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// Default server-wide budget for buffered input and unsent replies: room
/// for a thousand maximum-size (64 KiB) unfinished messages.
pub const DEFAULT_MAX_BUFFERED: usize = 64 * 1024 * 1024;
/// Default time a load balancer gets to send the whole PROXY header (the
/// spec asks servers to allow at least 3 s).
pub const DEFAULT_PROXY_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time a client gets to finish its TLS handshake.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on the kernel's send buffer per connection: ample for a
/// client that reads (see docs/protocol.md, "Memory", for the throughput
/// measured with it), and what a client that does not read can make the
/// kernel hold, instead of the 4 MiB it grows to by itself.
pub const DEFAULT_SEND_BUFFER: usize = 64 * 1024;
/// Default refusals a second at `--max-connections`: each costs an accept,
/// a write and a close, tens of microseconds, so a connect flood costs a
/// few percent of a core at most.
pub const DEFAULT_REFUSE_RATE: u32 = 1000;

/// [`Config::drain`] for a server that answers HAProxy's agent check
/// (`serve --agent` without `--drain`): several of HAProxy's usual agent
/// intervals, so the balancer hears "drain" before the listener closes.
pub const DEFAULT_AGENT_DRAIN: Duration = Duration::from_secs(2);
/// After the grace, the time connections get to answer what they received
/// and close, beyond `--linger`'s drain, before they are dropped.
const FINISH_MARGIN: Duration = Duration::from_secs(1);
/// The `tracing` target of the two lines each connection logs, "Accept
/// new connection from ..." and "Connection from ... closed.": a busy
/// service's operator turns them off (`tcpkit::connection=off`, serve's
/// `--no-connection-logs`) and keeps every other line; the metrics count
/// the connections either way.
pub const CONNECTION_LOG: &str = "tcpkit::connection";
/// Default listen backlog (the kernel clamps it to `net.core.somaxconn`).
pub const DEFAULT_BACKLOG: u32 = 1024;

/// Everything `serve` can be told.
#[derive(Clone, Debug)]
pub struct Config {
    /// What the protocol says and how it frames it.
    pub settings: Settings,
    /// Wait this long before each reply (the tutorial's `time.sleep(1)`).
    pub delay: Option<Duration>,
    /// Close a connection that sends nothing for this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose replies are not taken within this long
    /// (`None`: wait as long as it takes).
    pub write_timeout: Option<Duration>,
    /// Refuse a message (with an error line, then close) that is not
    /// complete this long after its first byte came, however steadily its
    /// bytes trickle in: the slowloris bound (`None`: no bound).
    pub message_timeout: Option<Duration>,
    /// After closing our side, read and discard the client's input for at
    /// most this long, so unread input does not turn the close into a reset
    /// that destroys replies still in flight.
    pub linger: Duration,
    /// The most connections served at once; more wait in the backlog.
    pub max_connections: usize,
    /// While `max_connections` are open, tell this many waiting clients a
    /// second `Error: server busy: too many connections open; retry
    /// later` and close them (over TLS: close them), instead of leaving
    /// them in the backlog until their own timeouts (`None`: leave them).
    pub refuse_rate: Option<u32>,
    /// How long open connections may run on after shutdown starts.
    pub grace: Duration,
    /// The most memory, server-wide, held for connections beyond their
    /// idle state: unfinished messages, and replies (with the input behind
    /// them) waiting for a client that does not read. A connection that
    /// would cross it is refused: an error line if it is sending an
    /// unfinished message, a plain close if it is not reading. `None`: no
    /// budget (each connection is still bounded by `max_message`).
    pub max_buffered: Option<usize>,
    /// `--send-buffer`: the most the kernel holds of one connection's
    /// replies not yet taken by the client (its send buffer; `None`: the
    /// kernel's own sizing, which grows up to `net.ipv4.tcp_wmem`'s
    /// maximum). While a client is not reading, what the kernel holds for
    /// it counts against [`Config::max_buffered`] too.
    pub send_buffer: Option<usize>,
    /// `--proxy-protocol`: connections from load balancers start with a
    /// PROXY header naming the real client (`None`: no header expected).
    pub proxy: Option<ProxyPolicy>,
    /// `--metrics`: the counters to keep (served by [`metrics::serve`]).
    pub metrics: Option<Arc<metrics::Metrics>>,
    /// After the shutdown signal, go on serving (and accepting) this long
    /// while [`Config::health`] says "draining", so load balancers stop
    /// sending new clients before the listener closes.
    pub drain: Duration,
    /// What a load balancer's agent check hears ([`agent::serve`]).
    pub health: Arc<agent::Health>,
    /// `--tls-cert`/`--tls-self-signed`: speak TLS, with this certificate
    /// (`None`: plain TCP). The welcome follows the handshake; a PROXY
    /// header, when expected, comes before it.
    pub tls: Option<Arc<crate::tls::ServerTls>>,
    /// How long a client may take to finish its TLS handshake (`None`: no
    /// bound); one that does not is closed and logged.
    pub tls_handshake_timeout: Option<Duration>,
    /// How the server's log lines name a setting to change: as these
    /// fields (the default), or as `tcpkit serve`'s flags.
    pub naming: crate::setting::Naming,
    /// The service manager told when serving starts, reloads and stops
    /// (systemd's `Type=notify`), and fed by the accept loops when it
    /// keeps a watchdog; by default, none.
    pub service: crate::service::Notifier,
    /// Warn (at most once a minute) when `max_connections` are open and
    /// new clients wait; off where waiting in the backlog is the point
    /// (`demo --scenario backlog`, whose picture says so).
    pub warn_at_limit: bool,
}

/// Who may send a PROXY protocol header, in which versions, how fast.
///
/// A connection from a trusted address must start with a whole header
/// before the server sends anything; one that does not is closed (with a
/// log line). Anyone else is served as a direct client, and a header from
/// them is refused (an error line, then the close): a header is only
/// believed from the load balancers named here.
#[derive(Clone, Debug)]
pub struct ProxyPolicy {
    /// The header versions accepted.
    pub versions: tcpkit_wire::proxy::Versions,
    /// The load balancers' addresses (`--proxy-from`).
    pub trusted: Vec<ipnet::IpNet>,
    /// How long the whole header may take to arrive (`None`: no bound).
    pub timeout: Option<Duration>,
}

impl ProxyPolicy {
    /// True when `ip` is one of the load balancers (an IPv4 client of a
    /// dual-stack socket, `::ffff:a.b.c.d`, counts as `a.b.c.d`).
    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }
}

impl Config {
    /// The longest a graceful shutdown takes, from the signal to "Server
    /// stopped.": the drain, the grace, then answering and the lingering
    /// close, bounded (the linger and a second more; nothing with a grace
    /// of 0). A supervisor's stop timeout (systemd's `TimeoutStopSec`,
    /// Kubernetes' `terminationGracePeriodSeconds`) must be longer, with
    /// room for the process to exit after it (the binary gives its log a
    /// second to drain).
    pub fn longest_stop(&self) -> Duration {
        let closing = if self.grace.is_zero() {
            Duration::ZERO
        } else {
            self.linger + FINISH_MARGIN
        };
        self.drain + self.grace + closing
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            settings: Settings::default(),
            delay: None,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            message_timeout: Some(DEFAULT_MESSAGE_TIMEOUT),
            linger: DEFAULT_LINGER,
            max_connections: 1024,
            refuse_rate: Some(DEFAULT_REFUSE_RATE),
            grace: DEFAULT_GRACE,
            max_buffered: Some(DEFAULT_MAX_BUFFERED),
            send_buffer: Some(DEFAULT_SEND_BUFFER),
            proxy: None,
            metrics: None,
            drain: Duration::ZERO,
            health: Arc::default(),
            tls: None,
            tls_handshake_timeout: Some(DEFAULT_TLS_HANDSHAKE_TIMEOUT),
            naming: crate::setting::Naming::Fields,
            warn_at_limit: true,
            service: crate::service::Notifier::default(),
        }
    }
}

/// What every connection handler reads: the [`Config`] itself, and what
/// serving builds from it once.
#[derive(Debug)]
struct Shared {
    /// The server's settings, as given.
    config: Config,
    /// The welcome as sent on the wire, computed once.
    welcome: Vec<u8>,
    /// Cancelled when the grace ends (or no connection is left): each
    /// connection answers what it has received, then closes.
    token: CancellationToken,
    /// Cancelled when the grace period is over: stop whatever is under way.
    kill: CancellationToken,
    /// The coarse clock every connection reads for its idle timeout.
    clock: IdleClock,
    /// See [`Config::max_buffered`].
    budget: Budget,
    /// Keeps failed handshakes from flooding the log.
    tls_failures: tls::FailureLog,
    /// Probes seen, summed up in the log once a minute.
    probes: ProbeLog,
    /// Turns for connections whose reads ask for more replies than one
    /// turn makes: taken in order, a few at a time, so that however many
    /// such connections there are, they wait here and not in the runtime's
    /// queue, ahead of every other connection.
    lane: tokio::sync::Semaphore,
    /// One permit per connection being served (`--max-connections`),
    /// shared by all listeners. A listener takes one before it accepts
    /// and forgets it; the handler's drop gives it back. An owned permit
    /// in the handler would cost every connection 16 bytes of state.
    slots: Semaphore,
    /// When the server started: connections keep their opening time as
    /// milliseconds since (a u32 is 4 bytes in every connection's state).
    started: std::time::Instant,
    /// Connections whose "closed" line is not logged yet. The tracker
    /// counts a connection's task until it has returned, a moment after
    /// that line: a shutdown in that moment must not call it open.
    /// Shared with [`Config::health`], which tells the caller.
    open: Arc<std::sync::atomic::AtomicUsize>,
}

impl Shared {
    /// Counts on the metrics, when `--metrics` keeps them.
    fn metered(&self, count: impl FnOnce(&metrics::Metrics)) {
        if let Some(metrics) = &self.config.metrics {
            count(metrics);
        }
    }

    /// Milliseconds since the server started, wrapping after 49 days
    /// (differences stay right for connections shorter than that).
    fn uptime_ms(&self) -> u32 {
        self.started.elapsed().as_millis() as u32
    }
}

/// How many connections take their extra turns at once: one per thread
/// the runtime may run on, so they can keep every core busy.
fn lanes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Sets `--send-buffer` on the listeners, so the kernel sizes the
/// buffers of connections it completes from then on; says so when it
/// grants another size. (Connections already in the backlog, as after a
/// hand-over, were made with the old size: each accepted socket gets the
/// bound again, in the accept loop.)
fn bound_send_buffers<A: Accept>(listeners: &[A], bytes: usize, naming: crate::setting::Naming) {
    let flag = crate::setting::Setting::SendBuffer.name(naming);
    let mut told = false;
    for listener in listeners {
        match listener.bound_unsent(bytes) {
            Ok(_) | Err(_) if told => {}
            Ok(granted) if granted != bytes => warn!(
                "{flag} {}: the kernel grants {} per connection (its bounds: net.core.wmem_max and \
                 a minimum of its own).",
                Bytes::of(bytes),
                Bytes::of(granted)
            ),
            Ok(_) => continue,
            Err(e) => warn!(
                "{flag} {}: the kernel refused it ({e}); each connection's send buffer is the \
                 kernel's default.",
                Bytes::of(bytes)
            ),
        }
        told = true;
    }
}

/// Serves on every listener until `shutdown` completes, then closes
/// gracefully: after `config.drain`, no new connections; the open ones
/// are served as before until their clients end them, for up to
/// `config.grace`; then each answers what it received and closes, and
/// whatever has not closed `config.linger` (and a second) later is
/// dropped. Returns as soon as no connection is left.
pub async fn run(listeners: Vec<TcpListener>, config: Config, shutdown: impl Future) {
    serve_on(listeners, config, shutdown).await
}

/// [`run`] over any transport: the listeners hand out the connections
/// ([`Accept`]), each is served over its [`Socket`]. Tests run the
/// server on `memory` sockets (feature `test-util`) this way.
pub async fn serve_on<A: Accept>(listeners: Vec<A>, config: Config, shutdown: impl Future) {
    let max_connections = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let shared = Arc::new(Shared {
        welcome: config.settings.welcome_bytes(),
        token: CancellationToken::new(),
        kill: CancellationToken::new(),
        clock: IdleClock::new(config.idle_timeout, config.message_timeout),
        budget: Budget::new(config.max_buffered),
        tls_failures: tls::FailureLog::default(),
        probes: ProbeLog::default(),
        lane: tokio::sync::Semaphore::new(lanes()),
        slots: Semaphore::new(max_connections),
        started: std::time::Instant::now(),
        open: config.health.open_counter(),
        config,
    });
    let config = &shared.config;
    if let Some(budget) = config.max_buffered
        && budget < config.settings.max_message
    {
        warn!(
            "The buffer budget ({}) is smaller than the longest message ({}): \
             longer messages will be refused as if the server were busy.",
            Bytes::of(budget),
            Bytes::of(shared.config.settings.max_message)
        );
    }
    // Cancelled after the drain: the accept loops stop; connections go on.
    let stop_accepting = CancellationToken::new();
    if let Some(metrics) = &config.metrics {
        metrics.bounded_by(metrics::Bounds {
            max_connections,
            max_buffered: config.max_buffered,
            buffered: shared.budget.used(),
            health: config.health.clone(),
        });
    }
    let tracker = TaskTracker::new();
    let clock = {
        let shared = shared.clone();
        tokio::spawn(async move {
            shared.clock.run(&shared.token).await;
        })
    };

    if let Some(bytes) = config.send_buffer {
        bound_send_buffers(&listeners, bytes, config.naming);
    }
    let mut accept_loops = tokio::task::JoinSet::new();
    let mut addrs = Vec::new();
    for listener in listeners {
        match listener.local_addr() {
            Ok(addr) => {
                info!("Waiting for connection on {addr}...");
                addrs.push(addr.to_string());
            }
            Err(e) => warn!("listening on an address the kernel will not name: {e}"),
        }
        let listener = listener::Listener {
            listener,
            max_connections,
            shared: shared.clone(),
            token: stop_accepting.clone(),
            tracker: tracker.clone(),
            heart: config.service.heart(),
        };
        accept_loops.spawn(listener.run());
    }
    config
        .service
        .ready(format!("Waiting for connections on {}", addrs.join(", ")));

    shutdown.await;
    shutdown::stages(shutdown::Serving {
        shared,
        accept_loops,
        stop_accepting,
        tracker,
        clock,
    })
    .await;
}
