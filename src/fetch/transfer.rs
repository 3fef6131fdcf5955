//! One fetch's exchanges: a connection and a request per hop, each
//! redirect followed (or said), the final head checked against what was
//! asked, then the body handed to `save`.

use tcpkit_wire::Bytes;
use tcpkit_wire::head::{self, Framing, Head};

use super::conn::{self, Conn, ConnectOptions};
use super::heads::HeadWriter;
use super::output::Plan;
use super::request::{self, Target, UserHeaders};
use super::resume::{self, Resume};
use super::{Fetched, Limits, Options, save, warn};
use crate::error::Error;
use crate::net::within;
use crate::notice::SlowNotice;
use crate::setting::{Setting, Words};

/// What asks for the rest of a part file: the URL its bytes came from,
/// and the `Range` and `If-Range` values to send there.
type Ask = (String, (String, String));

/// The request–response loop: one connection per hop, following redirects.
pub(super) async fn transfer(
    opts: &Options,
    mut target: Target,
    mut headers: UserHeaders,
    plan: Option<&Plan>,
    connect: &ConnectOptions,
    heads: &mut HeadWriter,
) -> Result<Fetched, Error> {
    let asked = target.url.clone();
    let mut resume = match plan {
        Some(plan) => plan.resume()?,
        None => None,
    };
    let ask = ask_for_rest(opts, resume.as_ref(), &target, plan);
    let user_range = headers.has("range");
    let mut redirects = 0;
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
        let mut conn = connect_and_send(opts, &target, &sent, connect, heads).await?;
        if opts.raw {
            return save::raw(opts, &mut conn, plan, heads).await;
        }
        let head = final_head(opts, &mut conn, &target, heads).await?;
        if opts.follow
            && head.is_redirect()
            && let Some(location) = head.value("location")
        {
            target = redirect(opts, &target, &mut headers, &location, &mut redirects)?;
            continue;
        }
        let asked_for = Asked {
            rest: ask.as_ref(),
            ranged,
            user_range,
            resuming: resume.is_some(),
        };
        check_final(opts, &head, &target, plan, &asked_for)?;
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

/// -C: the Range and If-Range that ask for the rest of the part file, and
/// of which URL (the one its bytes came from, and no other); `None`, said
/// as a warning, when the part cannot be checked.
fn ask_for_rest(
    opts: &Options,
    resume: Option<&Resume>,
    target: &Target,
    plan: Option<&Plan>,
) -> Option<Ask> {
    let r = resume.filter(|r| r.offset > 0)?;
    match r.ask(&target.url) {
        Ok(values) => r.validator.as_ref().map(|v| (v.from.clone(), values)),
        Err(why) => {
            warn(
                &opts.notices,
                crate::words!(
                    "cannot continue {} safely ({why}): downloading it afresh",
                    plan.and_then(Plan::part_path).unwrap_or_default().display()
                ),
            );
            None
        }
    }
}

/// Connects to `target` and sends the request, each wait that lasts said.
async fn connect_and_send(
    opts: &Options,
    target: &Target,
    sent: &UserHeaders,
    connect: &ConnectOptions,
    heads: &mut HeadWriter,
) -> Result<Conn, Error> {
    let slow = SlowNotice::if_wanted(&opts.notices, || {
        crate::words!(
            "no answer from {} in 2s; still connecting ({})",
            target.host_port(),
            crate::notice::up_to(Setting::ConnectTimeout, opts.connect_timeout)
        )
    });
    let mut conn = conn::open(target, connect).await?;
    drop(slow);
    let method = if opts.head_only { "HEAD" } else { "GET" };
    let request = request::build(method, target, sent);
    heads.request(&target.host_port(), &request);
    conn.send(&request).await?;
    Ok(conn)
}

/// The final response head, within `--read-timeout` as a whole: a server
/// that sends a line every few seconds must not hold us forever.
async fn final_head(
    opts: &Options,
    conn: &mut Conn,
    target: &Target,
    heads: &mut HeadWriter,
) -> Result<Head, Error> {
    let head_timeout = || Error::Timeout {
        what: "waiting for the response head".into(),
        after: opts.read_timeout.unwrap_or_default(),
        source: None,
    };
    let slow = SlowNotice::if_wanted(&opts.notices, || {
        crate::words!(
            "connected to {}; no response head in 2s, still waiting ({})",
            target.host_port(),
            crate::notice::up_to(Setting::ReadTimeout, opts.read_timeout)
        )
    });
    let head = within(
        opts.read_timeout,
        read_final_head(conn, &opts.limits, heads),
    )
    .await;
    drop(slow);
    match head {
        None => Err(head_timeout()),
        // Each read inside has the same bound: when it is the one that
        // fires, say it the same way (the two race when nothing comes).
        Some(Err(e)) if crate::ErrorKind::of(&e) == Some(crate::ErrorKind::Timeout) => {
            Err(head_timeout())
        }
        Some(result) => result,
    }
}

/// The next hop of a redirect to `location`, within `--max-redirs`: the
/// user's credentials stay with their origin, and a step down to http (or
/// to an unchecked https) is said.
fn redirect(
    opts: &Options,
    target: &Target,
    headers: &mut UserHeaders,
    location: &str,
    redirects: &mut u32,
) -> Result<Target, Error> {
    if *redirects == opts.max_redirs {
        return Err(Error::Redirects {
            followed: *redirects,
            location: location.to_string(),
        });
    }
    *redirects += 1;
    let next = target
        .url
        .join(location)
        .map_err(|e| e.to_string())
        .and_then(|url| Target::from_url(url).map_err(|e| e.to_string()))
        .map_err(|e| Error::protocol(format!("cannot follow the redirect to {location:?}: {e}")))?;
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
                "{}: following a redirect to https ({}), whose certificate is not checked",
                Setting::Insecure,
                next.url
            ),
        );
    }
    Ok(next)
}

/// How a hop asked for the body.
struct Asked<'a> {
    /// What asks for the rest of the part file, if anything does.
    rest: Option<&'a Ask>,
    /// Whether this hop's request carried that range.
    ranged: bool,
    /// Whether the user's own `-H Range` asked for a range.
    user_range: bool,
    /// Whether a part file is being continued.
    resuming: bool,
}

/// Checks the final head against what was asked: `--fail`, and a range
/// answered only where one was asked (a part is never taken for the file).
fn check_final(
    opts: &Options,
    head: &Head,
    target: &Target,
    plan: Option<&Plan>,
    asked: &Asked<'_>,
) -> Result<(), Error> {
    if opts.fail && head.status >= 400 {
        return Err(Error::HttpStatus {
            status: head.status,
            message: crate::words!(
                "the server answered {} for {}",
                head.status_line(),
                target.url
            ),
        });
    }
    if let Some((from, _)) = asked.rest
        && !asked.ranged
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
    if !asked.user_range
        && let Err(why) = whole_or_ours(head, asked.ranged)
    {
        let left = match plan.and_then(Plan::part_path) {
            Some(part) if asked.resuming => format!("; {} is left as it was", part.display()),
            _ => String::new(),
        };
        return Err(Error::protocol(format!("{why}{left}")));
    }
    Ok(())
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
