//! Saving a final response's body: a resumed range checked against the
//! part file before a byte is appended, a body decoded (`--compressed`),
//! `--max-filesize`, and what is kept when it ends early; and `--raw`,
//! the tutorial's literal client.

use tcpkit_wire::Bytes;
use tcpkit_wire::head::{Framing, Head};

use super::conn::Conn;
use super::output::Plan;
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
    let part = || plan.part_path().unwrap_or_default().display().to_string();
    // The bytes a checked 206's range holds, to compare with what came.
    let mut range = None;
    // Where the body goes in the file: after the part file's bytes when
    // the server sent exactly the rest, else from the start.
    let (resume, offset) = match start.resume {
        None => (None, 0),
        Some((r, true)) if head.status == 206 => {
            let checked = match &r.validator {
                Some(saved) => resume::check_partial(head, r.offset, saved, length),
                None => Err("no validator was saved with the part file".into()),
            };
            match checked {
                Ok(bytes) => {
                    let offset = r.offset;
                    range = Some(bytes);
                    (Some(r), offset)
                }
                Err(why) => {
                    return Err(Error::protocol(format!(
                        "{why}; {} is left as it was",
                        part()
                    )));
                }
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
            return Ok(Fetched {
                status: head.status,
                bytes: offset,
                saved_to: Some(plan.shown()),
            });
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
            (Some(r), 0)
        }
        Some(_) => {
            return Err(Error::HttpStatus(crate::words!(
                "the server answered {}; {} is left as it was for a later {}",
                head.status_line(),
                part(),
                crate::setting::Setting::Resume
            )));
        }
    };
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
    // A Content-Length over the limit is refused before a byte is written.
    if let (Some(limit), Some(total)) = (opts.max_filesize, total)
        && total > limit
    {
        return Err(Error::TooLarge(crate::words!(
            "the body is {} (Content-Length), larger than {} {}",
            Bytes(total),
            crate::setting::Setting::MaxFilesize,
            Bytes(limit)
        )));
    }
    let sink = match resume {
        Some(r) => plan.open_resumed(r, offset, total)?,
        None => plan.open(total)?,
    };
    let mut sink = sink.with_limit(opts.max_filesize).decoding(coding);
    // A decoded file keeps no validator: a later -C would ask for a range
    // of the encoded bytes to continue the decoded ones.
    if offset == 0 {
        plan.note_validator(start.validator.as_ref().filter(|_| coding.is_none()))?;
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
    // A range body framed by chunks or by the close may hold other than
    // the bytes its range said: more is never published, nor kept.
    let copied = match range {
        Some(bytes) if sink.written() - offset > bytes => {
            let got = sink.written() - offset;
            sink.roll_back(offset)?;
            return Err(Error::protocol(format!(
                "the server sent {} for a range of {}; {} is left as it was",
                Bytes(got),
                Bytes(bytes),
                part()
            )));
        }
        Some(bytes) if copied.is_ok() && sink.written() - offset < bytes => {
            Err(Error::truncated(format!(
                "the body ended after {} of the range's {}",
                Bytes(sink.written() - offset),
                Bytes(bytes)
            )))
        }
        _ => copied,
    };
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
