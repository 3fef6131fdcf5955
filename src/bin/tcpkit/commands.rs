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

/// The made certificate's temporary file, for [`remove_before_exit`]: a
/// second signal's exit skips the destructor that removes it.
static REMOVED_AT_EXIT: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// Removes, before `process::exit`, what the made certificate's drop would have.
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
    let serving = args
        .tls_source()
        .map(|source| source.load(&addrs))
        .transpose()?;
    let made = serving.as_ref().and_then(|s| s.made.as_ref());
    if let Ok(mut at_exit) = REMOVED_AT_EXIT.lock() {
        *at_exit = made.and_then(|m| m.removed_at_exit()).map(Into::into);
    }
    config.tls = serving.as_ref().map(|s| s.tls.clone());
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
        if let (Some(made), Some(first)) = (made, server.local_addrs().first()) {
            tcpkit::tls::source::log_trust_hint(made.path(), *first);
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
    let example = match (args.listen, args.check) {
        (true, _) => "tcpkit talk -l {}",
        (_, true) => "tcpkit talk -z {}",
        _ => "tcpkit talk {}",
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
