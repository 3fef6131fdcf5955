//! `-C/--continue`: resuming a download from the `FILE.part` an earlier
//! one left, without ever splicing two versions of a file together.
//!
//! A download to a file notes the response's validator (a strong `ETag`,
//! else `Last-Modified`) in `FILE.part.validator`, beside the part file.
//! A resumed request asks for the rest with `Range: bytes=N-` and sends the
//! validator back in `If-Range` (RFC 9110 §13.1.5): a server whose file is
//! unchanged answers 206 with the rest; a changed file (or a server without
//! ranges) gets a 200 with all of it, and the part file is started over.
//! Without a validator there is nothing to check a range against, so the
//! download starts over rather than risk a corrupted file.
//!
//! The part file is reopened only if it is a plain file of ours: not a
//! symbolic link, no other hard links (it could be someone else's file),
//! owned by us.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::path::Path;

use tcpkit_wire::head::Head;
use tcpkit_wire::range::{self, ContentRange};
use url::Url;

use crate::error::Error;

mod validator;
pub use validator::{Mark, Validator, file_for, forget, mark};

/// An earlier download's part file, reopened to be continued.
#[derive(Debug)]
pub struct Resume {
    /// The part file, open for reading and writing.
    pub file: File,
    /// Its length: where the rest starts.
    pub offset: u64,
    /// What its bytes were a version of, when the server said.
    pub validator: Option<Validator>,
    /// What it is now, to compare with what its validator vouches for.
    pub mark: Option<Mark>,
}

impl Resume {
    /// Reopens `part` to continue it; `None` when there is none.
    pub fn open(part: &Path) -> Result<Option<Resume>, Error> {
        let file = match open_nofollow(part, true) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) if crate::sys::is_link_refusal(&e) => {
                return Err(not_ours(part, "it is a symbolic link"));
            }
            Err(e) => return Err(file_error("cannot open", part, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| file_error("cannot inspect", part, e))?;
        check_ours(part, &meta)?;
        let validator = Validator::load(part);
        let mark = match &validator {
            Some(_) => Some(Mark::of(&file).map_err(|e| file_error("cannot read", part, e))?),
            None => None,
        };
        Ok(Some(Resume {
            file,
            offset: meta.len(),
            validator,
            mark,
        }))
    }

    /// The `Range` and `If-Range` values that ask `url` for the rest, or
    /// why the download must start over instead.
    pub fn ask(&self, url: &Url) -> Result<(String, String), String> {
        let Some(validator) = &self.validator else {
            return Err("no validator (ETag or Last-Modified) was saved with it".into());
        };
        if validator.url != url.as_str() {
            return Err("it was downloaded from another URL".into());
        }
        match (&validator.part, &self.mark) {
            (None, _) => {
                return Err(
                    "its validator does not say what the part file was when the download \
                     stopped"
                        .into(),
                );
            }
            (Some(was), Some(now)) if was.length != now.length => {
                return Err(format!(
                    "it is {} now, and was {} when the download stopped",
                    tcpkit_wire::Bytes(now.length),
                    tcpkit_wire::Bytes(was.length)
                ));
            }
            (Some(was), Some(now)) if was.digest != now.digest => {
                return Err("its bytes changed since the download stopped".into());
            }
            _ => {}
        }
        let Some(if_range) = validator.if_range() else {
            return Err("no validator (ETag or Last-Modified) was saved with it".into());
        };
        Ok((format!("bytes={}-", self.offset), if_range.to_string()))
    }
}

/// Checks that a 206 answers `Range: bytes=OFFSET-` with `If-Range` for
/// exactly the file the part holds the start of: the range starts at
/// `offset`, ends at the file's last byte, names the length the first
/// response had, agrees with `Content-Length` (`length`, when the body is
/// framed by one) and carries the validator that was sent. Returns how many
/// body bytes the range holds, or what the server got wrong.
pub fn check_partial(
    head: &Head,
    offset: u64,
    saved: &Validator,
    length: Option<u64>,
) -> Result<u64, String> {
    one_plain_range(head)?;
    let Some(value) = head.value("content-range") else {
        return Err("the server answered 206 without a Content-Range".into());
    };
    let shown = tcpkit_wire::Escaped(value.as_bytes());
    let (first, last, complete) = match range::parse(&value) {
        Ok(ContentRange::Bytes {
            first,
            last,
            complete,
        }) => (first, last, complete),
        Ok(ContentRange::Unsatisfied { .. }) => {
            return Err(format!(
                "the server answered 206 with an empty range (Content-Range: {shown})"
            ));
        }
        Err(e) => {
            return Err(format!(
                "the server's Content-Range ({shown}) is invalid: {e}"
            ));
        }
    };
    if first != offset {
        return Err(format!(
            "asked for the rest from byte {offset}, the server sent a range from byte {first}"
        ));
    }
    let Some(complete) = complete else {
        return Err(format!(
            "the server's range (Content-Range: {shown}) does not say the file's length, so \
             its end cannot be checked"
        ));
    };
    if let Some(was) = saved.length
        && was != complete
    {
        return Err(format!(
            "the file is {complete} bytes now and was {was} when the download started \
             (Content-Range: {shown}): it changed"
        ));
    }
    if last + 1 != complete {
        return Err(format!(
            "the server's range ends at byte {last}, not at the file's last byte {} \
             (Content-Range: {shown})",
            complete - 1
        ));
    }
    let bytes = last - first + 1;
    if let Some(n) = length
        && n != bytes
    {
        return Err(format!(
            "the server's Content-Length {n} disagrees with its range of {bytes} bytes \
             (Content-Range: {shown})"
        ));
    }
    check_same_version(head, saved)?;
    Ok(bytes)
}

/// A 206 that could be spliced at all: one of each field that says what
/// it holds, in no coding, and one range rather than several.
fn one_plain_range(head: &Head) -> Result<(), String> {
    // One of each, or the range cannot be trusted for a splice: which of
    // two validators (or two ranges) would be the true one?
    for name in ["Content-Range", "ETag", "Last-Modified", "Content-Encoding"] {
        let n = head.values(name).count();
        if n > 1 {
            return Err(format!(
                "the server sent {n} {name} fields with the range: which one is true cannot be \
                 told, so it is not spliced"
            ));
        }
    }
    // The part file holds the file's own bytes: a range in another coding
    // would append gzip (or other) bytes to them.
    if let Some(coding) = head.value("content-encoding")
        && !coding.trim().eq_ignore_ascii_case("identity")
    {
        return Err(format!(
            "the server sent the range encoded ({}, Content-Encoding) though no coding was \
             asked for: it cannot be appended to the file's own bytes",
            tcpkit_wire::Escaped(coding.as_bytes())
        ));
    }
    // One range was asked for; RFC 9110 §14.6 forbids a multipart answer
    // to it, whose framing would otherwise be spliced into the file.
    if let Some(kind) = head.value("content-type")
        && kind
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/byteranges")
    {
        return Err(format!(
            "the server answered one range with several ({}): its multipart framing is not \
             the file's bytes",
            tcpkit_wire::Escaped(kind.as_bytes())
        ));
    }
    Ok(())
}

/// The 206 must be of the version `If-Range` named. RFC 9110 §15.3.7
/// requires the `ETag` a 200 would carry, so one sent must come back
/// unchanged; a `Last-Modified` the 206 carries must match the one saved,
/// whether or not an entity tag was the `If-Range` (a server that keeps
/// one tag across versions changes the date).
fn check_same_version(head: &Head, saved: &Validator) -> Result<(), String> {
    let differs = |name: &str, sent: &str| match head.value(name) {
        Some(got) if got == sent => None,
        Some(got) => Some(format!(
            "the server sent {name} {} for If-Range {}: another version of the file",
            tcpkit_wire::Escaped(got.as_bytes()),
            tcpkit_wire::Escaped(sent.as_bytes())
        )),
        None => Some(format!(
            "the server sent no {name} with the range, so it cannot be checked against \
             If-Range {}",
            tcpkit_wire::Escaped(sent.as_bytes())
        )),
    };
    if let Some(etag) = &saved.etag
        && let Some(wrong) = differs("ETag", etag)
    {
        return Err(wrong);
    }
    match (&saved.last_modified, head.value("last-modified")) {
        (Some(date), Some(_)) if saved.etag.is_none() => {
            differs("Last-Modified", date).map_or(Ok(()), Err)
        }
        (Some(date), Some(got)) if got != *date => Err(format!(
            "the server sent Last-Modified {} with the same ETag, where the part file's \
             version has {}: another version of the file",
            tcpkit_wire::Escaped(got.as_bytes()),
            tcpkit_wire::Escaped(date.as_bytes())
        )),
        _ => Ok(()),
    }
}

/// A response that says it is the whole file (a 200) must not label its
/// body a part of it: a `Content-Range` that names less than all of the
/// file (RFC 9110 §14.4 gives it no meaning outside 206 and 416) is a
/// part sent as the whole, and saving it would publish a wrong file.
pub fn check_whole(head: &Head) -> Result<(), String> {
    let Some(value) = head.value("content-range") else {
        return Ok(());
    };
    match range::parse(&value) {
        Ok(ContentRange::Bytes {
            first: 0,
            last,
            complete: Some(complete),
        }) if last.checked_add(1) == Some(complete) => Ok(()),
        _ => Err(format!(
            "the server answered {} with Content-Range: {}, which names a part of the file, \
             not all of it; nothing is saved",
            head.status_line(),
            tcpkit_wire::Escaped(value.as_bytes())
        )),
    }
}

/// The full length a 416 response names: `Content-Range: bytes */LEN`.
pub fn unsatisfied_length(head: &Head) -> Option<u64> {
    match range::parse(&head.value("content-range")?) {
        Ok(ContentRange::Unsatisfied { complete }) => Some(complete),
        _ => None,
    }
}

fn open_nofollow(path: &Path, write: bool) -> io::Result<File> {
    crate::sys::no_follow(OpenOptions::new().read(true).write(write)).open(path)
}

fn new_file(path: &Path) -> io::Result<File> {
    crate::sys::no_follow(OpenOptions::new().write(true).create_new(true)).open(path)
}

/// A part file may be continued only if nobody else's data is behind it.
fn check_ours(part: &Path, meta: &fs::Metadata) -> Result<(), Error> {
    if !meta.is_file() {
        return Err(not_ours(part, "it is not a regular file"));
    }
    match crate::sys::not_only_ours(meta) {
        Some(why) => Err(not_ours(part, why)),
        None => Ok(()),
    }
}

fn not_ours(part: &Path, why: &str) -> Error {
    Error::local(format!(
        "will not continue {}: {why} (remove it to download afresh)",
        part.display()
    ))
}

fn file_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::local_file(format!("{what} {}", path.display()), e)
}

#[cfg(test)]
mod tests;
