//! What each subcommand does with its parsed arguments: the glue between
//! [`crate::cli`] and the library modules, kept out of `main.rs`.

use std::collections::BTreeSet;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use tracing::{info, warn};

use tcpkit::net::{self, Family};
use tcpkit::wire::greeting::{Settings, Template};
use tcpkit::{Error, bench, fetch, server, talk};

use crate::cli::{BenchArgs, Cli, Command, DemoArgs, DemoScenario, FetchArgs, ServeArgs, TalkArgs};
use crate::demo;

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let verbosity = cli.verbosity();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Talk(args) => talk(args),
        Command::Demo(args) => demo(args, verbosity),
        Command::Fetch(args) => fetch(args, verbosity > 0),
        Command::Bench(args) => bench(args),
    }
}

/// `--drain` when `--agent` is given and `--drain` is not: several of
/// HAProxy's usual agent intervals.
const DEFAULT_AGENT_DRAIN: Duration = Duration::from_secs(2);

/// The TLS setup of `serve`, and for a certificate made here, where its
/// PEM went (for the pasteable trust hint, logged once the port is known)
/// and the open file, whose lock says "in use" while the server runs.
type TlsSetup = (
    Option<std::sync::Arc<tcpkit::tls::ServerTls>>,
    Option<(std::path::PathBuf, std::fs::File)>,
);

/// `serve --tls-cert`/`--tls-self-signed`: the certificate, announced
/// with its fingerprint (and, when made here, where its PEM went).
fn server_tls(
    args: &ServeArgs,
    addrs: &BTreeSet<std::net::SocketAddr>,
) -> anyhow::Result<TlsSetup> {
    use tcpkit::tls::ServerTls;
    let (tls, made) = if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let tls = ServerTls::from_files(cert, key)?;
        info!(
            "TLS with the certificate in {} (SHA-256 fingerprint {}); SIGHUP reads it again.",
            cert.display(),
            tls.fingerprint()
        );
        (tls, None)
    } else if args.tls_self_signed {
        let names = self_signed_names(&args.bind, addrs);
        let (tls, made) =
            ServerTls::self_signed(&names, tcpkit::tls::server::SELF_SIGNED_VALIDITY)?;
        let (path, file) = write_cert(args.tls_cert_out.as_deref(), &made.cert_pem)?;
        info!(
            "TLS with a self-signed certificate for {}, valid for 30 days, SHA-256 fingerprint {}. \
             Its PEM is in {}.",
            names.join(", "),
            tls.fingerprint(),
            path.display()
        );
        (tls, Some((path, file)))
    } else {
        return Ok((None, None));
    };
    Ok((Some(std::sync::Arc::new(tls)), made))
}

/// Logs, once the server listens at `addr`, how a client trusts the
/// certificate made here: commands to paste as they are, with the address
/// to dial (loopback for a wildcard bind) and the path quoted if needed.
fn log_trust_hint(pem: &std::path::Path, addr: std::net::SocketAddr) {
    let mut dial = addr;
    if dial.ip().is_unspecified() {
        dial.set_ip(match dial.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let shown = pem.display().to_string();
    let path = if shown
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        shown
    } else {
        format!("'{}'", shown.replace('\'', "'\\''"))
    };
    info!(
        "Trust the certificate with `tcpkit talk --tls --cacert {path} {dial}` or \
         `openssl s_client -connect {dial} -CAfile {path}`."
    );
}

/// What a self-signed certificate is made for: each --bind host and
/// address the listeners have (not 0.0.0.0 or ::, which no client dials),
/// and this machine's loopback names.
fn self_signed_names(binds: &[String], addrs: &BTreeSet<std::net::SocketAddr>) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let hosts = binds.iter().filter_map(|spec| {
        let host = spec
            .rsplit_once(':')
            .map_or(spec.as_str(), |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (!host.is_empty() && host.parse::<std::net::IpAddr>().is_err()).then(|| host.to_string())
    });
    let ips = addrs
        .iter()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
        .map(|ip| ip.to_string());
    for name in hosts.chain(ips) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Writes a self-signed certificate's PEM where the user said, or to a new
/// file in the temporary directory; the path written, and the file, locked
/// for as long as it is kept open. A file another running server holds
/// locked is its certificate, which its clients trust: never overwritten.
/// (One a stopped server left is, as a restart with the same flags would.)
fn write_cert(
    to: Option<&std::path::Path>,
    pem: &str,
) -> anyhow::Result<(std::path::PathBuf, std::fs::File)> {
    let (path, mut file) = match to {
        Some(path) => {
            // Not truncated on open: that would empty a running server's
            // file before its lock is seen.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| cert_not_written(path, e))?;
            (path.to_path_buf(), file)
        }
        None => new_cert_file()?,
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::LocalFile {
                message: format!(
                    "--tls-cert-out {} is the certificate of another tcpkit serve that is \
                     running (it holds the file's lock), and its clients trust it: give this \
                     server another path, or stop that one first",
                    path.display()
                ),
                source: None,
            }
            .into());
        }
        // A file system without locks: write as before.
        Err(std::fs::TryLockError::Error(_)) => {}
    }
    file.set_len(0)
        .and_then(|()| file.write_all(pem.as_bytes()))
        .map_err(|e| cert_not_written(&path, e))?;
    Ok((path, file))
}

/// Where `--tls-self-signed` writes its certificate without
/// `--tls-cert-out`: a new file of this process's own in the temporary
/// directory, removed when it stops. The name is made unique when the
/// file is created: a server killed by SIGKILL leaves its file behind,
/// and a later process given the same pid must not stumble on it.
fn new_cert_file() -> anyhow::Result<(std::path::PathBuf, std::fs::File)> {
    let dir = std::env::temp_dir();
    let made = tempfile::Builder::new()
        .prefix(&format!("tcpkit-self-signed-{}-", std::process::id()))
        .suffix(".pem")
        .tempfile_in(&dir)
        .map_err(|e| cert_not_written(&dir, e))?;
    // tempfile makes the file owner-only; a certificate is public, and
    // clients run by other users may pin it. Done before `keep`, so that a
    // failure here still removes the file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        made.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| cert_not_written(made.path(), e))?;
    }
    let (file, path) = made.keep().map_err(|e| cert_not_written(&dir, e.error))?;
    Ok((path, file))
}

fn cert_not_written(path: &std::path::Path, e: std::io::Error) -> Error {
    Error::LocalFile {
        message: format!("cannot write the certificate to {}", path.display()),
        source: Some(e),
    }
}

/// A file removed when this goes out of scope (however `serve` returns),
/// or at a second signal's exit ([`remove_before_exit`]), which skips
/// every destructor.
struct RemovedOnDrop(Option<std::path::PathBuf>);

/// The file a [`RemovedOnDrop`] removes, for [`remove_before_exit`].
static REMOVED_AT_EXIT: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

impl RemovedOnDrop {
    fn new(path: Option<std::path::PathBuf>) -> RemovedOnDrop {
        if let Ok(mut at_exit) = REMOVED_AT_EXIT.lock() {
            at_exit.clone_from(&path);
        }
        RemovedOnDrop(path)
    }
}

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Removes, before `process::exit`, what a [`RemovedOnDrop`] would have.
pub fn remove_before_exit() {
    if let Ok(mut at_exit) = REMOVED_AT_EXIT.lock()
        && let Some(path) = at_exit.take()
    {
        let _ = std::fs::remove_file(path);
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // First, while this is the only thread: it clears LISTEN_FDS.
    let inherited = crate::activation::passed_listeners()
        .context("cannot use the sockets the service manager passed (LISTEN_FDS)")?;
    crate::alloc::small_pages();
    crate::alloc::return_memory_promptly();
    let fd_limit = net::raise_fd_limit();
    let max_connections = args
        .max_connections
        .map_or_else(|| net::default_max_connections(fd_limit), |n| n as usize);
    let config = server::Config {
        settings: Settings {
            framing: args.framing.into(),
            welcome: args.welcome.clone().into_bytes(),
            reply: Template::parse(&args.reply),
            max_message: args.max_message,
        },
        delay: args.delay.filter(|d| !d.is_zero()),
        idle_timeout: args.idle_timeout.0,
        write_timeout: args.write_timeout.0,
        message_timeout: args.message_timeout.0,
        linger: args.linger,
        max_connections,
        refuse_rate: (args.refuse_rate > 0).then_some(args.refuse_rate),
        grace: args.grace,
        max_buffered: args.max_buffered.0,
        send_buffer: args.send_buffer.0,
        proxy: args.proxy_protocol.map(|versions| server::ProxyPolicy {
            versions: versions.into(),
            trusted: args.proxy_from.clone(),
            timeout: args.proxy_timeout.0,
        }),
        metrics: args.metrics.as_ref().map(|_| {
            let metrics = server::metrics::Metrics::default();
            std::sync::Arc::new(match crate::logging::dropped() {
                Some(dropped) => metrics.with_log_drops(dropped),
                None => metrics,
            })
        }),
        drain: args.drain.unwrap_or(if args.agent.is_some() {
            DEFAULT_AGENT_DRAIN
        } else {
            Duration::ZERO
        }),
        health: Default::default(),
        tls: None,
        tls_handshake_timeout: args.tls_handshake_timeout.0,
    };
    let agent_at = match &args.agent {
        Some(spec) => Some(net::resolve(spec, Family::Any)?[0]),
        None => None,
    };
    let metrics_at = match &args.metrics {
        Some(spec) => Some(net::resolve(spec, Family::Any)?[0]),
        None => None,
    };
    // Every address each --bind names, each once, in a stable order; none
    // when a service manager passed the listening sockets.
    let mut addrs = BTreeSet::new();
    if inherited.is_empty() {
        for spec in &args.bind {
            if let Some(hint) = crate::habits::address_mistake(spec, "tcpkit serve --bind {}") {
                return Err(address_error(spec, hint).context("--bind"));
            }
            addrs.extend(net::resolve(spec, Family::Any)?);
        }
    } else {
        info!(
            "Using {} listening socket(s) passed by the service manager (LISTEN_FDS); --bind is not used.",
            inherited.len()
        );
    }
    if args.reuse_port && net::tcp_migrate_req() == Some(false) {
        warn!(
            "--reuse-port: net.ipv4.tcp_migrate_req is 0, so when this process stops, \
             connections still waiting in its accept queue are reset instead of moving to \
             another process on the port. For restarts without loss: \
             sysctl -w net.ipv4.tcp_migrate_req=1, start the new process, then stop the old one."
        );
    }
    let mut config = config;
    // Kept for the second signal's line: how many connections it drops.
    let health = config.health.clone();
    let (tls, made_pem) = server_tls(&args, &addrs)?;
    config.tls = tls;
    // The certificate file made in the temporary directory is ours alone:
    // it goes when the server does (a --tls-cert-out file stays).
    let _made_cert = RemovedOnDrop::new(
        made_pem
            .as_ref()
            .filter(|_| args.tls_cert_out.is_none())
            .map(|(path, _)| path.clone()),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(crate::alloc::give_back_this_threads_memory)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // SIGHUP (a process's signal, so the binary's) reads the
        // certificate again; the library does the reading and the log.
        if let Some(tls) = config.tls.clone() {
            let mut reloads = crate::signals::Reloads::watch();
            tokio::spawn(async move {
                loop {
                    reloads.next().await;
                    server::reload_tls(&tls);
                }
            });
        }
        let mut builder = server::Builder::new(config)
            .inherited(inherited)
            .backlog(args.backlog)
            .reuse_port(args.reuse_port);
        for addr in addrs {
            builder = builder.bind(addr);
        }
        if let Some(addr) = metrics_at {
            builder = builder.metrics(addr);
        }
        if let Some(addr) = agent_at {
            builder = builder.agent(addr);
        }
        if args.trace {
            builder = builder.trace(crate::trace::stderr());
        }
        let server = builder.listen().await?;
        if let (Some(pem), Some(first)) = (
            made_pem.as_ref().map(|(path, _)| path),
            server.local_addrs().first(),
        ) {
            log_trust_hint(pem, *first);
        }
        info!("Serving up to {max_connections} connections at once (open-file limit {fd_limit}).");
        server.run(crate::shutdown_signal(health)).await;
        Ok(())
    })
}

fn talk(mut args: TalkArgs) -> anyhow::Result<()> {
    args.join_host_port();
    // nc's `-l PORT`: this machine's loopback, as serve binds by default.
    if args.listen && args.addr.parse::<u16>().is_ok() {
        args.addr = format!("127.0.0.1:{}", args.addr);
    }
    if (args.check || args.listen || args.exit_on_eof) && !args.messages.is_empty() {
        let flag = match (args.check, args.listen) {
            (true, _) => "-z checks the port and sends nothing",
            (_, true) => "-l joins stdin and stdout to the client",
            _ => "--exit-on-eof is for stdin",
        };
        return Err(Error::InvalidInput(format!(
            "{flag}, so it takes no MESSAGE (got '{}'): tcpkit talk ... HOST:PORT, or nc's \
             HOST PORT",
            args.messages.join(" ")
        ))
        .into());
    }
    let example = if args.listen {
        "tcpkit talk -l {}"
    } else {
        "tcpkit talk {}"
    };
    if let Some(hint) = crate::habits::address_mistake(&args.addr, example) {
        return Err(address_error(&args.addr, hint));
    }
    // `tcpkit talk Michael` or `talk Michael Tracy`: the first word was
    // taken for the server. Say where the server goes, not only that a
    // port is missing (and how to give a host its port).
    if !args.addr.contains(':') && !args.listen && !args.check {
        let word = &args.addr;
        // An address or localhost is surely the host: only its port is
        // missing. Another word may be a message put first.
        let host = word.parse::<std::net::IpAddr>().is_ok() || word == "localhost";
        let reason = if host {
            format!("missing port: {word}:PORT (tcpkit talk {word}:9999)")
        } else {
            format!(
                "missing port (the server comes first, as HOST:PORT: tcpkit talk \
                 127.0.0.1:9999 {word} ...; if {word} is the host, {word}:PORT)"
            )
        };
        return Err(Error::Address {
            spec: word.clone(),
            reason,
            source: None,
        }
        .into());
    }
    let opts = args.options();
    if args.insecure {
        crate::logging::sayln!(
            "tcpkit: warning: --insecure: the server's certificate is not checked"
        );
    }
    // A hostile server must not drive the user's terminal: what it says
    // is shown escaped there, unless asked (a pipe gets it unchanged).
    let stdout = io::stdout();
    let mut out: Box<dyn Write> = if stdout.is_terminal() && !args.raw_output {
        Box::new(tcpkit::term::SafeTerminal::new(stdout.lock()))
    } else {
        Box::new(stdout.lock())
    };
    if args.check {
        let peer = talk::check(&opts)?;
        let _ = writeln!(out, "{} is open ({peer} accepted a connection)", opts.addr);
        return Ok(());
    }
    if args.listen {
        let listening = talk::listen(&opts)?;
        if let Ok(addr) = listening.local_addr() {
            crate::logging::sayln!("tcpkit: waiting for one client on {addr}...");
        }
        listening.join_one(&opts, io::stdin(), &mut out, |peer| {
            crate::logging::sayln!("tcpkit: connection from {peer}");
        })?;
        return Ok(());
    }
    if args.messages.is_empty() {
        Ok(talk::interactive(&opts, io::stdin(), &mut out)?)
    } else {
        Ok(talk::script(&opts, &args.messages, &mut out)?)
    }
}

/// An address written in a way [`crate::habits::address_mistake`] knows.
fn address_error(spec: &str, hint: String) -> anyhow::Error {
    Error::Address {
        spec: spec.to_string(),
        reason: hint,
        source: None,
    }
    .into()
}

fn demo(mut args: DemoArgs, verbosity: i8) -> anyhow::Result<()> {
    if args.messages.iter().any(|m| m.contains('\n')) {
        return Err(Error::InvalidInput("demo messages cannot contain line breaks".into()).into());
    }
    if args.scenario != DemoScenario::Tutorial && !args.messages.is_empty() {
        return Err(Error::InvalidInput(
            "--scenario plays its own messages: give MESSAGEs without --scenario (or with \
             --scenario tutorial)"
                .into(),
        )
        .into());
    }
    if args.messages.is_empty() {
        args.messages = ["Michael", "Tracy", "Sarah"].map(String::from).to_vec();
    }
    match (&args.diagram, args.scenario) {
        (None, DemoScenario::Tutorial) => demo::run(&args.messages, verbosity, args.port),
        (file, scenario) => crate::diagram::run(
            &args.messages,
            scenario.into(),
            file.as_deref().unwrap_or(std::path::Path::new("-")),
            args.port,
            args.max_drawn,
        ),
    }
}

fn fetch(args: FetchArgs, verbose: bool) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let mut opts = args.options(io::stderr().is_terminal());
    opts.heads = crate::heads::shown(
        opts.silent,
        verbose,
        opts.destination == fetch::Destination::Stdout,
        opts.dump_head
            .as_ref()
            .is_some_and(|p| p.as_os_str() == "-"),
    );
    // One connection at a time: a single-threaded runtime is all it needs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Ctrl+C stops the download cleanly: FILE.part keeps what came.
    let fetched =
        runtime.block_on(async { fetch::run_until(&opts, crate::interrupted()).await })?;
    if let (Some(path), false) = (&fetched.saved_to, opts.silent)
        && path != "-"
    {
        crate::logging::sayln!(
            "tcpkit: saved {} to {path}",
            tcpkit::wire::Bytes(fetched.bytes)
        );
    }
    Ok(())
}

/// The longest `--message-file` read: far more than a greeting server
/// takes by default (64 KiB), and a bound on what a typo can load.
const MAX_MESSAGE_FILE: u64 = 1024 * 1024;

/// The message in `path`, less one trailing newline.
fn message_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let shown = path.display();
    let unreadable = |e| Error::LocalFile {
        message: format!("cannot read --message-file {shown}"),
        source: Some(e),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_MESSAGE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_MESSAGE_FILE {
        return Err(Error::InvalidInput(format!(
            "--message-file {shown} is larger than 1 MiB, the longest message bench sends"
        ))
        .into());
    }
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    Ok(bytes)
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    for spec in &args.addrs {
        let example = format!("tcpkit bench {} {{}}", args.scenario_name());
        if let Some(hint) = crate::habits::address_mistake(spec, &example) {
            return Err(address_error(spec, hint));
        }
    }
    let mut opts = args.options(io::stderr().is_terminal() && !args.json);
    opts.tls = args.tls()?;
    if args.insecure {
        crate::logging::sayln!(
            "tcpkit: warning: --insecure: the server's certificate is not checked"
        );
    }
    if let Some(path) = &args.message_file {
        opts.message = message_file(path)?;
    }
    let report = bench::run(&opts)?;
    let mut stdout = io::stdout().lock();
    let shown = if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)
    } else {
        write!(stdout, "{}", report.table())
    };
    shown
        .and_then(|()| stdout.flush())
        .map_err(|e| tcpkit::Error::writing_output("standard output", e))?;
    if !report.clean() {
        if report.errors == 0 && report.mismatches == 0 && report.done == 0 {
            // Sessions paced by --interval may simply be longer than the run.
            let hint = match (opts.interval, opts.messages.unwrap_or(3)) {
                (Some(pause), messages) if messages > 0 && !pause.is_zero() => format!(
                    " (each session pauses {} in all with --messages {messages} --interval {}: \
                     measure longer with --duration)",
                    humantime::format_duration(pause * messages as u32),
                    humantime::format_duration(pause)
                ),
                _ => String::new(),
            };
            return Err(Error::BenchFailed(format!(
                "{} {}: no {} completed in the {:.1} s measured{hint}",
                report.scenario, report.server, report.unit, report.seconds
            ))
            .into());
        }
        return Err(Error::BenchFailed(format!(
            "{} {}: {} errors and {} wrong replies{}",
            report.scenario,
            report.server,
            report.errors,
            report.mismatches,
            report
                .first_error
                .as_ref()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        ))
        .into());
    }
    Ok(())
}
