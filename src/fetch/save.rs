//! Saving a final response's body: a resumed range checked against the
//! part file before a byte is appended, a body decoded (`--compressed`),
//! `--max-filesize`, and what is kept when it ends early; and `--raw`,
//! the tutorial's literal client.

use tcpkit_wire::Bytes;
use tcpkit_wire::head::{Framing, Head};

use super::body::Copied;
use super::conn::Conn;
use super::output::{Plan, Sink};
use super::{
    Fetched, HeadWriter, Options, body, continue_hint, decode, escape_controls, resume, warn,
};
use crate::error::Error;

/// Where a body starts: a part file to continue (with whether the rest
/// was asked for), and the response's validator to keep for a later `-C`.
#[derive(Default)]
pub(super) struct Start {
    pub(super) resume: Option<(resume::Resume, bool)>,
    pub(super) validator: Option<resume::Validator>,
}

/// Saves the body of a final response.
pub(super) async fn save(
    opts: &Options,
    conn: &mut Conn,
    head: &Head,
    framing: Framing,
    plan: &Plan,
    start: Start,
) -> Result<Fetched, Error> {
    let length = match framing {
        Framing::Length(n) => Some(n),
        Framing::None => Some(0),
        _ => None,
    };
    let place = match place(opts, head, plan, start.resume, length)? {
        Placed::Body(place) => place,
        Placed::Whole(fetched) => return Ok(fetched),
    };
    let offset = place.offset;
    let mut sink = open_sink(opts, head, plan, place.resume, offset, length)?;
    // A decoded file keeps no validator: a later -C would ask for a range
    // of the encoded bytes to continue the decoded ones.
    if offset == 0 {
        plan.note_validator(start.validator.as_ref().filter(|_| !sink.decodes()))?;
    } else {
        opts.notices
            .notice(crate::notice::Notice::Hint(crate::words!(
                "continuing {} from byte {offset}",
                plan.part_path().unwrap_or_default().display()
            )));
    }
    let copied = body::copy(conn, framing, opts.limits.max_head, &mut sink)
        .await
        .and_then(|copied| sink.end_decoding().map(|()| copied));
    let (sink, copied) = match place.range {
        Some(bytes) => within_range(sink, offset, bytes, copied, plan)?,
        None => (sink, copied),
    };
    end(opts, head, plan, sink, copied)
}

/// Where a body goes in the file.
struct Place {
    /// The part file continued, if one was.
    resume: Option<resume::Resume>,
    /// Where the body starts: after the part file's bytes when the server
    /// sent exactly the rest, else 0.
    offset: u64,
    /// The bytes a checked 206's range holds, to compare with what came.
    range: Option<u64>,
}

/// A body to write, or a download already whole.
enum Placed {
    Body(Place),
    /// A 416 to a part file that was all of the file.
    Whole(Fetched),
}

/// Where the body of `head` goes: after the part file (a 206 whose range
/// checks out), over it (a whole file), nowhere (the part was already
/// whole), or an error that leaves the part file as it was.
fn place(
    opts: &Options,
    head: &Head,
    plan: &Plan,
    resume: Option<(resume::Resume, bool)>,
    length: Option<u64>,
) -> Result<Placed, Error> {
    let part = || plan.part_path().unwrap_or_default().display().to_string();
    let body = |resume, offset, range| {
        Ok(Placed::Body(Place {
            resume,
            offset,
            range,
        }))
    };
    match resume {
        None => body(None, 0, None),
        Some((r, true)) if head.status == 206 => {
            let checked = match &r.validator {
                Some(saved) => resume::check_partial(head, r.offset, saved, length),
                None => Err("no validator was saved with the part file".into()),
            };
            match checked {
                Ok(bytes) => {
                    let offset = r.offset;
                    body(Some(r), offset, Some(bytes))
                }
                Err(why) => Err(Error::protocol(format!(
                    "{why}; {} is left as it was",
                    part()
                ))),
            }
        }
        Some((r, true)) if head.status == 416 => {
            // Nothing left to send: the part file may be all of it, if it
            // is as long as the file was and is.
            let was = r.validator.as_ref().and_then(|v| v.length);
            if resume::unsatisfied_length(head) != Some(r.offset)
                || was.is_some_and(|n| n != r.offset)
            {
                return Err(Error::protocol(format!(
                    "the server cannot send the rest of {} ({}); remove it to download afresh",
                    part(),
                    head.status_line()
                )));
            }
            let offset = r.offset;
            let sink = plan.open_resumed(r, offset, None)?;
            sink.finish()?;
            Ok(Placed::Whole(Fetched {
                status: head.status,
                bytes: offset,
                saved_to: Some(plan.shown()),
            }))
        }
        Some((r, ranged)) if (200..300).contains(&head.status) => {
            if ranged {
                warn(
                    &opts.notices,
                    crate::words!(
                        "the server sent the whole file ({}; it changed since {} was saved, or it \
                         does not resume): downloading it afresh",
                        head.status_line(),
                        part()
                    ),
                );
            }
            body(Some(r), 0, None)
        }
        Some(_) => Err(Error::HttpStatus {
            status: head.status,
            message: crate::words!(
                "the server answered {}; {} is left as it was for a later {}",
                head.status_line(),
                part(),
                crate::setting::Setting::Resume
            ),
        }),
    }
}

/// Opens the destination for a body of `length` (when known) starting at
/// `offset`: decoded with `--compressed`, bounded by `--max-filesize`
/// (a Content-Length over it is refused before a byte is written).
fn open_sink(
    opts: &Options,
    head: &Head,
    plan: &Plan,
    resume: Option<resume::Resume>,
    offset: u64,
    length: Option<u64>,
) -> Result<Sink, Error> {
    // --compressed: a body in a coding fetch decodes is saved decoded, so
    // its Content-Length says nothing of the file's size.
    let coding = if opts.compressed {
        decode::Coding::of(head.value("content-encoding").as_deref())?
    } else {
        None
    };
    let total = length
        .filter(|_| coding.is_none())
        .map(|n| n.saturating_add(offset));
    if let (Some(limit), Some(total)) = (opts.max_filesize, total)
        && total > limit
    {
        return Err(Error::TooLarge {
            limit,
            declared: Some(total),
        });
    }
    let sink = match resume {
        Some(r) => plan.open_resumed(r, offset, total)?,
        None => plan.open(total)?,
    };
    Ok(sink.with_limit(opts.max_filesize).decoding(coding))
}

/// A range body framed by chunks or by the close may hold other than the
/// `bytes` its range said: more is never published, nor kept; fewer is a
/// truncated download.
fn within_range(
    sink: Sink,
    offset: u64,
    bytes: u64,
    copied: Result<Copied, Error>,
    plan: &Plan,
) -> Result<(Sink, Result<Copied, Error>), Error> {
    let got = sink.written() - offset;
    if got > bytes {
        sink.roll_back(offset)?;
        return Err(Error::protocol(format!(
            "the server sent {} for a range of {}; {} is left as it was",
            Bytes(got),
            Bytes(bytes),
            plan.part_path().unwrap_or_default().display()
        )));
    }
    if copied.is_ok() && got < bytes {
        let cut = Error::truncated(format!(
            "the body ended after {} of the range's {}",
            Bytes(got),
            Bytes(bytes)
        ));
        return Ok((sink, Err(cut)));
    }
    Ok((sink, copied))
}

/// Publishes a whole body, or keeps what came of a cut one (and says how
/// to continue it).
fn end(
    opts: &Options,
    head: &Head,
    plan: &Plan,
    sink: Sink,
    copied: Result<Copied, Error>,
) -> Result<Fetched, Error> {
    match copied {
        Ok(copied) => {
            if copied.excess > 0 {
                warn(
                    &opts.notices,
                    crate::words!(
                        "ignored {} the server sent after the end of the body",
                        Bytes::of(copied.excess)
                    ),
                );
            }
            let bytes = sink.written();
            sink.finish()?;
            Ok(Fetched {
                status: head.status,
                bytes,
                saved_to: Some(plan.shown()),
            })
        }
        Err(e) => {
            let bytes = sink.written();
            let kept = sink.abandon();
            let note = match kept {
                Some(part) => crate::words!(
                    "download incomplete, {} kept in {}{}",
                    Bytes(bytes),
                    part.display(),
                    continue_hint(&part)
                ),
                None => crate::words!("download incomplete after {}", Bytes(bytes)),
            };
            Err(e.context(note))
        }
    }
}

/// `--raw`: the tutorial's client. Reads to the end, prints what comes
/// before the first blank line, saves everything after it undecoded.
pub(super) async fn raw(
    opts: &Options,
    conn: &mut Conn,
    plan: Option<&Plan>,
    heads: &mut HeadWriter,
) -> Result<Fetched, Error> {
    let split = loop {
        if let Some(at) = memchr::memmem::find(conn.buffered(), b"\r\n\r\n") {
            break at;
        }
        if conn.buffered().len() > opts.limits.max_head {
            return Err(Error::protocol(crate::words!(
                "no blank line in the first {} (raise {}?)",
                Bytes::of(opts.limits.max_head),
                crate::setting::Setting::MaxHead
            )));
        }
        if conn.fill().await? == 0 {
            return Err(Error::protocol(
                "the server closed the connection before a blank line",
            ));
        }
    };
    let head = conn.buffered()[..split].to_vec();
    // The tutorial prints the header without its blank line; it is not
    // checked here, so control bytes are shown escaped.
    heads.write(escape_controls(&head).as_bytes())?;
    heads.write(b"\n")?;
    conn.consume(split + 4);
    let status = head
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
        .unwrap_or(0);
    let Some(plan) = plan else {
        return Ok(Fetched {
            status,
            bytes: 0,
            saved_to: None,
        });
    };
    save(
        opts,
        conn,
        &Head {
            raw: head,
            minor: 1,
            status,
            reason: String::new(),
            fields: Vec::new(),
        },
        Framing::Close,
        plan,
        Start::default(),
    )
    .await
}
