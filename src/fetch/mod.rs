//! `tcpkit fetch`: the tutorial's web client, done correctly.
//!
//! The tutorial opens a socket, writes `GET / HTTP/1.1` with `Host` and
//! `Connection: close`, reads until the server closes, prints everything
//! before the first blank line and saves the rest. We keep that shape (our
//! own socket, a request we write ourselves, the head printed, the body
//! saved) and fix what it gets wrong with real servers: the body is framed
//! by Content-Length or chunked coding (RFC 9112 §6.3), a short body is an
//! error and stays a `.part` file, https works, redirects can be followed.
//!
//! - `request`: the URL taken apart, `-H` headers checked, request bytes.
//! - `conn`: resolve, happy-eyeballs connect, TLS, the read buffer.
//! - `tls`: rustls configuration (webpki roots, `--cacert`, `--insecure`).
//! - `body`: copying the body by its framing.
//! - `output`: safe file names, `.part` files, stdout, the progress bar.
//! - `resume`: `-C`, continuing a `.part` file with Range and If-Range.
//! - `transfer`: the request per hop, redirects, the final head checked.
//! - `save`: a final response's body to its file: the resumed range's
//!   checks, `--compressed`, what is kept when it ends early; `--raw`.
//! - `decode`: gzip and deflate, decoded in bounded steps.
//!
//! The response head and the chunked coding are pure codecs in
//! [`tcpkit_wire::head`] and [`tcpkit_wire::chunked`]. [`run`] does a whole
//! fetch; the re-exported pieces ([`open`], [`build_request`],
//! [`read_head`], [`copy_body`]) let a program do it step by step, as
//! `examples/http_client.rs` does.
//!
//! `--raw` keeps the tutorial's literal behaviour, for comparison.

mod body;
mod conn;
mod decode;
mod heads;
mod name;
mod output;
mod request;
mod resume;
mod save;
mod tls;
mod transfer;

use std::path::PathBuf;
use std::time::Duration;

use tcpkit_wire::Bytes;

pub use body::{Copied, copy as copy_body};
pub use conn::{Conn, ConnectOptions, HAPPY_EYEBALLS_DELAY, open, race};
use heads::HeadWriter;
pub use heads::{CurlHeads, Heads, Unshown};
pub use output::{BodyWriter, Destination, Plan, Sink};
pub use request::{Target, UserHeaders, build as build_request};
pub use tcpkit_wire::head::{DEFAULT_MAX_HEAD, DEFAULT_MAX_HEADERS, DEFAULT_MAX_INTERIM, Limits};
pub use tls::config as tls_config;
pub use transfer::read_head;
use transfer::transfer;

use crate::error::Error;
use crate::net::{Family, within};
use crate::setting::{Setting, Words};

/// Default for `--max-redirs`, as in curl.
pub const DEFAULT_MAX_REDIRS: u32 = 10;

/// Everything `fetch` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The URL to fetch.
    pub url: String,
    /// Where the body goes.
    pub destination: Destination,
    /// Also write every response head to this file (`-D`).
    pub dump_head: Option<PathBuf>,
    /// Send HEAD instead of GET; no body is saved (`-I`).
    pub head_only: bool,
    /// Extra request headers, `Name: value` (`-H`).
    pub headers: Vec<String>,
    /// Follow redirects (`-L`).
    pub follow: bool,
    /// How many redirects `-L` follows at most.
    pub max_redirs: u32,
    /// The tutorial's literal client: split at the first blank line, save
    /// the rest undecoded.
    pub raw: bool,
    /// Overwrite an existing file.
    pub force: bool,
    /// Treat an HTTP error status (400 and up) as a failure.
    pub fail: bool,
    /// Which address families to connect over.
    pub family: Family,
    /// Extra CA certificates to trust (PEM).
    pub cacert: Option<PathBuf>,
    /// Skip certificate checks.
    pub insecure: bool,
    /// Bound on resolving, connecting and the TLS handshake (`None`: none).
    pub connect_timeout: Option<Duration>,
    /// Bound on each wait for data (`None`: none).
    pub read_timeout: Option<Duration>,
    /// Bound on the whole transfer, redirects included.
    pub max_time: Option<Duration>,
    /// Size limits on what the server sends before and around the body.
    pub limits: Limits,
    /// The largest body saved (`--max-filesize`); `None`: no limit.
    pub max_filesize: Option<u64>,
    /// `-C`: continue the `FILE.part` an earlier download left (see the
    /// `resume` module), instead of refusing to touch it.
    pub resume: bool,
    /// Ask for a gzip or deflate body and save it decoded (curl's
    /// `--compressed`).
    pub compressed: bool,
    /// Where the request and response heads go (default: nowhere; the
    /// binary shows them as curl does). The `-D` file is [`Options::dump_head`].
    pub heads: std::sync::Arc<dyn Heads>,
    /// Where hints, warnings and progress go (default: nowhere; the
    /// binary shows them on stderr).
    pub notices: std::sync::Arc<dyn crate::notice::Notices>,
}

/// Default for `--read-timeout`.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for Options {
    /// `tcpkit fetch`'s defaults, for no URL yet: the body to a file named
    /// from the URL, redirects said but not followed, a connect within
    /// 10 s, each read within 30 s, nothing shown.
    fn default() -> Options {
        Options {
            url: String::new(),
            destination: Destination::FromUrl,
            dump_head: None,
            head_only: false,
            headers: Vec::new(),
            follow: false,
            max_redirs: DEFAULT_MAX_REDIRS,
            raw: false,
            force: false,
            fail: false,
            family: Family::Any,
            cacert: None,
            insecure: false,
            connect_timeout: Some(crate::talk::DEFAULT_CONNECT_TIMEOUT),
            read_timeout: Some(DEFAULT_READ_TIMEOUT),
            max_time: None,
            limits: Limits::default(),
            max_filesize: None,
            resume: false,
            compressed: false,
            heads: std::sync::Arc::new(Unshown),
            notices: crate::notice::quiet(),
        }
    }
}

/// What a successful fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The final status code.
    pub status: u16,
    /// Body bytes written.
    pub bytes: u64,
    /// Where they went (`-` for stdout), or `None` when no body was saved.
    pub saved_to: Option<String>,
}

/// Fetches `opts.url`: prints or dumps each head, saves the body. The
/// head goes to stdout, or to stderr when the body does.
pub async fn run(opts: &Options) -> Result<Fetched, Error> {
    run_until(opts, std::future::pending()).await
}

/// As [`run`], but stops cleanly when `interrupt` completes (the binary
/// passes Ctrl+C): what came so far stays in `FILE.part`, and the error
/// ([`Error::Interrupted`]) says how much and how to continue it.
pub async fn run_until(
    opts: &Options,
    interrupt: impl Future<Output = ()>,
) -> Result<Fetched, Error> {
    let target = Target::parse(&opts.url)?;
    let mut headers = UserHeaders::parse(&opts.headers)?;
    check_options(opts, &headers)?;
    if opts.compressed && !headers.has("accept-encoding") {
        headers.add("Accept-Encoding", decode::Coding::ACCEPTED.into());
    }
    let plan = if opts.head_only {
        None
    } else {
        Some(
            Plan::resumable(&opts.destination, &target.url, opts.force, opts.resume)?
                .with_notices(opts.notices.clone()),
        )
    };
    let tls = tls::config(opts.cacert.as_deref(), opts.insecure)?;
    // Over plain http there is no certificate to skip: the warning comes
    // only where one is not checked (here, or at a redirect to https).
    if opts.insecure && target.tls {
        warn(
            &opts.notices,
            crate::words!(
                "{}: the server's certificate is not checked",
                Setting::Insecure
            ),
        );
    }
    let connect = ConnectOptions {
        family: opts.family,
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
        max_head: opts.limits.max_head,
        tls,
    };
    let mut heads = HeadWriter::new(opts.heads.clone(), opts.dump_head.as_ref())?;
    let work = transfer(opts, target, headers, plan.as_ref(), &connect, &mut heads);
    // Either way out drops `work`, whose sink flushes into FILE.part.
    let finished = tokio::select! {
        done = within(opts.max_time, work) => done,
        () = interrupt => {
            let kept = kept_part(plan.as_ref()).map(|(part, bytes)| crate::Kept {
                resumable: resume::file_for(&part).exists(),
                part,
                bytes,
            });
            return Err(Error::Interrupted { kept });
        }
    };
    finished.unwrap_or_else(|| {
        // As at Ctrl+C: what was kept, and how to continue it.
        let kept = kept_part(plan.as_ref())
            .map(|(part, bytes)| {
                let step = continue_step(&part)
                    .map(|step| crate::words!("; {}", step))
                    .unwrap_or_default();
                crate::words!(" ({} kept in {}{})", Bytes(bytes), part.display(), step)
            })
            .unwrap_or_default();
        Err(Error::Timeout {
            what: crate::words!("the transfer{}", kept),
            after: opts.max_time.unwrap_or_default(),
            source: None,
        })
    })
}

/// Refuses options that cannot work together, before anything is sent.
fn check_options(opts: &Options, headers: &UserHeaders) -> Result<(), Error> {
    let refuse = |words| Err(Error::InvalidInput(words));
    if opts.compressed && (opts.resume || opts.raw) {
        return refuse(crate::words!(
            "{} saves the body decoded: it cannot continue a part file ({}) or save it raw ({})",
            Setting::Compressed,
            Setting::Resume,
            Setting::Raw
        ));
    }
    if opts.resume && matches!(opts.destination, Destination::Writer(_)) {
        return refuse(crate::words!(
            "{} continues a file: it cannot work with {} - (standard output)",
            Setting::Resume,
            Setting::Output
        ));
    }
    if opts.resume && opts.raw {
        return refuse(crate::words!(
            "{} saves what the tutorial's client saves; it cannot continue a part file ({})",
            Setting::Raw,
            Setting::Resume
        ));
    }
    if opts.resume && headers.has("range") {
        return refuse(crate::words!(
            "{} asks for the rest of the part file itself: leave out {} 'Range: ...'",
            Setting::Resume,
            Setting::Header
        ));
    }
    Ok(())
}

/// The part file a stopped download left, and its size.
fn kept_part(plan: Option<&Plan>) -> Option<(PathBuf, u64)> {
    let part = plan?.part_path()?;
    let bytes = std::fs::symlink_metadata(&part).ok()?.len();
    Some((part, bytes))
}

/// How to continue `part`, when a validator was saved with it: ` (run
/// the same command with -C to continue it)`, or nothing.
fn continue_hint(part: &std::path::Path) -> Words {
    continue_step(part)
        .map(|step| crate::words!(" ({})", step))
        .unwrap_or_default()
}

/// The step that continues `part`, when a validator was saved with it.
fn continue_step(part: &std::path::Path) -> Option<Words> {
    resume::file_for(part).exists().then(|| {
        crate::words!(
            "run the same command with {} to continue it",
            Setting::Resume
        )
    })
}

/// Shows bytes as text with control bytes other than CR, LF and tab escaped.
fn escape_controls(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !matches!(c, '\r' | '\n' | '\t') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Raises a warning on `notices`.
fn warn(notices: &std::sync::Arc<dyn crate::notice::Notices>, message: Words) {
    notices.notice(crate::notice::Notice::Warning(message));
}
