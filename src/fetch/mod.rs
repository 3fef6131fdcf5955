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

use std::path::PathBuf;
use std::time::Duration;

use tcpkit_wire::Bytes;

use tcpkit_wire::head::{self, Framing, Head};

pub use body::{Copied, copy as copy_body};
pub use conn::{Conn, ConnectOptions, HAPPY_EYEBALLS_DELAY, open, race};
use heads::HeadWriter;
pub use heads::{Heads, Unshown};
pub use output::{BodyWriter, Destination, Plan, Sink};
pub use request::{Target, UserHeaders, build as build_request};
pub use tcpkit_wire::head::{DEFAULT_MAX_HEAD, DEFAULT_MAX_HEADERS, DEFAULT_MAX_INTERIM, Limits};
pub use tls::config as tls_config;

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
    if opts.compressed {
        if opts.resume || opts.raw {
            return Err(Error::InvalidInput(crate::words!(
                "{} saves the body decoded: it cannot continue a part file ({}) or save it raw \
                 ({})",
                Setting::Compressed,
                Setting::Resume,
                Setting::Raw
            )));
        }
        if !headers.has("accept-encoding") {
            headers.add("Accept-Encoding", decode::Coding::ACCEPTED.into());
        }
    }
    let plan = if opts.head_only {
        None
    } else {
        Some(
            Plan::resumable(&opts.destination, &target.url, opts.force, opts.resume)?
                .with_notices(opts.notices.clone()),
        )
    };
    if opts.resume && matches!(opts.destination, Destination::Writer(_)) {
        return Err(Error::InvalidInput(crate::words!(
            "{} continues a file: it cannot work with {} - (standard output)",
            Setting::Resume,
            Setting::Output
        )));
    }
    if opts.resume && opts.raw {
        return Err(Error::InvalidInput(crate::words!(
            "{} saves what the tutorial's client saves; it cannot continue a part file ({})",
            Setting::Raw,
            Setting::Resume
        )));
    }
    if opts.resume && headers.has("range") {
        return Err(Error::InvalidInput(crate::words!(
            "{} asks for the rest of the part file itself: leave out {} 'Range: ...'",
            Setting::Resume,
            Setting::Header
        )));
    }
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
            let kept = match kept_part(plan.as_ref()) {
                Some((part, bytes)) => crate::words!(
                    ": {} kept in {}{}",
                    Bytes(bytes),
                    part.display(),
                    continue_hint(&part)
                ),
                None => Words::default(),
            };
            return Err(Error::Interrupted(crate::words!("interrupted{}", kept)));
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
        })
    })
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

/// The request–response loop: one connection per hop, following redirects.
async fn transfer(
    opts: &Options,
    mut target: Target,
    mut headers: UserHeaders,
    plan: Option<&Plan>,
    connect: &ConnectOptions,
    heads: &mut HeadWriter,
) -> Result<Fetched, Error> {
    let method = if opts.head_only { "HEAD" } else { "GET" };
    let mut redirects = 0;
    // -C: ask for the rest of the part file, if it can be checked.
    let asked = target.url.clone();
    let resume = match plan {
        Some(plan) => plan.resume()?,
        None => None,
    };
    // The Range and If-Range that ask for the rest, and of which URL:
    // the one the part's bytes came from, and no other.
    let mut ask = None;
    if let Some(r) = &resume
        && r.offset > 0
    {
        match r.ask(&target.url) {
            Ok(values) => ask = r.validator.as_ref().map(|v| (v.from.clone(), values)),
            Err(why) => warn(
                &opts.notices,
                crate::words!(
                    "cannot continue {} safely ({why}): downloading it afresh",
                    plan.and_then(Plan::part_path).unwrap_or_default().display()
                ),
            ),
        }
    }
    let user_range = headers.has("range");
    let mut resume = resume;
    loop {
        // Each hop's own headers: a range goes only where it belongs.
        let mut sent = headers.clone();
        let ranged = match &ask {
            Some((from, (range, if_range))) if *from == target.url.as_str() => {
                sent.add("Range", range.clone());
                sent.add("If-Range", if_range.clone());
                true
            }
            _ => false,
        };
        let slow = opts.notices.wanted().then(|| {
            crate::notice::SlowNotice::new(
                &opts.notices,
                crate::words!(
                    "no answer from {} in 2s; still connecting ({})",
                    target.host_port(),
                    crate::notice::up_to(Setting::ConnectTimeout, opts.connect_timeout)
                ),
            )
        });
        let mut conn = conn::open(&target, connect).await?;
        drop(slow);
        let request = request::build(method, &target, &sent);
        heads.request(&target.host_port(), &request);
        conn.send(&request).await?;
        if opts.raw {
            return save::raw(opts, &mut conn, plan, heads).await;
        }
        // --read-timeout bounds the whole head too: a server that sends a
        // line every few seconds must not hold us forever.
        let head_timeout = || Error::Timeout {
            what: "waiting for the response head".into(),
            after: opts.read_timeout.unwrap_or_default(),
        };
        let slow = opts.notices.wanted().then(|| {
            crate::notice::SlowNotice::new(
                &opts.notices,
                crate::words!(
                    "connected to {}; no response head in 2s, still waiting ({})",
                    target.host_port(),
                    crate::notice::up_to(Setting::ReadTimeout, opts.read_timeout)
                ),
            )
        });
        let head = within(
            opts.read_timeout,
            read_final_head(&mut conn, &opts.limits, heads),
        )
        .await;
        drop(slow);
        let head = match head {
            None => return Err(head_timeout()),
            // Each read inside has the same bound: when it is the one that
            // fires, say it the same way (the two race when nothing comes).
            Some(Err(e)) if crate::ErrorKind::of(&e) == Some(crate::ErrorKind::Timeout) => {
                return Err(head_timeout());
            }
            Some(result) => result?,
        };
        if opts.follow
            && head.is_redirect()
            && let Some(location) = head.value("location")
        {
            if redirects == opts.max_redirs {
                return Err(Error::Redirects(crate::words!(
                    "too many redirects: stopped after {redirects} (the last pointed to \
                     {location}; raise {}, or the server may be looping)",
                    Setting::MaxRedirs
                )));
            }
            redirects += 1;
            let next = target
                .url
                .join(&location)
                .map_err(|e| e.to_string())
                .and_then(|url| Target::from_url(url).map_err(|e| e.to_string()))
                .map_err(|e| {
                    Error::protocol(format!("cannot follow the redirect to {location:?}: {e}"))
                })?;
            if !target.same_origin(&next) {
                headers.strip_for_other_origin();
            }
            if target.tls && !next.tls {
                warn(
                    &opts.notices,
                    crate::words!(
                        "following a redirect from https to http ({}): the rest is not encrypted",
                        next.url
                    ),
                );
            }
            if !target.tls && next.tls && opts.insecure {
                warn(
                    &opts.notices,
                    crate::words!(
                        "{}: following a redirect to https ({}), whose certificate is not \
                         checked",
                        Setting::Insecure,
                        next.url
                    ),
                );
            }
            target = next;
            continue;
        }
        if opts.fail && head.status >= 400 {
            return Err(Error::HttpStatus(crate::words!(
                "the server answered {} for {}",
                head.status_line(),
                target.url
            )));
        }
        if let Some((from, _)) = &ask
            && !ranged
        {
            warn(
                &opts.notices,
                crate::words!(
                    "cannot continue {} safely (its bytes came from {from}, and the answer \
                     comes from {}): downloading it afresh",
                    plan.and_then(Plan::part_path).unwrap_or_default().display(),
                    target.url
                ),
            );
        }
        if !user_range && let Err(why) = whole_or_ours(&head, ranged) {
            let left = match plan.and_then(Plan::part_path) {
                Some(part) if resume.is_some() => format!("; {} is left as it was", part.display()),
                _ => String::new(),
            };
            return Err(Error::protocol(format!("{why}{left}")));
        }
        let (framing, warnings) = head.framing(opts.head_only).map_err(Error::Head)?;
        let warnings = warnings.into_iter().map(Words::from);
        for w in warnings.chain(status_warning(&head, &target, opts)) {
            warn(&opts.notices, w);
        }
        let Some(plan) = plan else {
            return Ok(Fetched {
                status: head.status,
                bytes: 0,
                saved_to: None,
            });
        };
        // The whole file's length, for a later -C to check its range against.
        let length = match framing {
            Framing::Length(n) if head.status == 200 => Some(n),
            _ => None,
        };
        let start = save::Start {
            resume: resume.take().map(|r| (r, ranged)),
            validator: resume::Validator::of(&asked, &target.url, &head, length),
        };
        return save::save(opts, &mut conn, &head, framing, plan, start).await;
    }
}

/// A 206 answers a range, and only ours (`ranged`): to a request for the
/// whole file, it is a part of it. A 200 is the whole file, and must not
/// label itself a part. (The user's own `-H Range` is not checked here:
/// what answers it is theirs.)
fn whole_or_ours(head: &Head, ranged: bool) -> Result<(), String> {
    match head.status {
        206 if !ranged => Err(format!(
            "the server answered {} (Content-Range: {}) to a request for the whole file: a part \
             is not the file, so nothing is saved",
            head.status_line(),
            tcpkit_wire::Escaped(head.value("content-range").unwrap_or_default().as_bytes())
        )),
        200 => resume::check_whole(head),
        _ => Ok(()),
    }
}

/// What a user should hear about a final status they did not ask to
/// handle: a redirect not followed, or an error page saved as the body.
fn status_warning(head: &Head, target: &Target, opts: &Options) -> Option<Words> {
    let saved = if opts.head_only {
        ""
    } else {
        "; the saved body is the redirect's own"
    };
    if head.is_redirect() && !opts.follow {
        let location = head.value("location")?;
        let to = match target.url.join(&location) {
            Ok(url) => url.to_string(),
            Err(_) => tcpkit_wire::Escaped(location.as_bytes()).to_string(),
        };
        return Some(crate::words!(
            "the server answered {} and redirects to {to}: add {} to follow it{saved}",
            head.status_line(),
            Setting::Follow
        ));
    }
    if head.status >= 400 && !opts.head_only {
        return Some(crate::words!(
            "the server answered {}: the saved body is its error response \
             (add {} to save nothing and exit 12)",
            head.status_line(),
            Setting::Fail
        ));
    }
    None
}

/// Reads heads until a final (non-1xx) one, writing each as it arrived.
async fn read_final_head(
    conn: &mut Conn,
    limits: &Limits,
    heads: &mut HeadWriter,
) -> Result<Head, Error> {
    let mut interim = 0;
    loop {
        let head = read_head(conn, limits).await?;
        heads.write(&head.raw)?;
        if !head.is_interim() {
            return Ok(head);
        }
        interim += 1;
        if interim > limits.max_interim {
            return Err(Error::protocol(crate::words!(
                "more than {} interim (1xx) responses (raise {}?)",
                limits.max_interim,
                Setting::MaxInterim
            )));
        }
    }
}

/// Reads one head (interim or final) from the connection.
pub async fn read_head(conn: &mut Conn, limits: &Limits) -> Result<Head, Error> {
    loop {
        // Not HTTP at all: show what came instead, as talk would.
        let parsed = head::parse(conn.buffered(), limits).map_err(|e| match e {
            head::HeadError::NotHttp1 | head::HeadError::Syntax(_) => Error::protocol(format!(
                "{e}; the server sent {}",
                tcpkit_wire::Escaped(conn.buffered())
            )),
            e => Error::Head(e),
        })?;
        if let Some((head, len)) = parsed {
            conn.consume(len);
            return Ok(head);
        }
        if conn.fill().await? == 0 {
            return Err(if conn.buffered().is_empty() {
                Error::protocol("the server closed the connection without answering")
            } else {
                Error::truncated(format!(
                    "the server closed the connection in the middle of the response head \
                     (after {})",
                    Bytes::of(conn.buffered().len())
                ))
            });
        }
    }
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
