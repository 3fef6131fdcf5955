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
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use tcpkit_wire::head::Head;
use tcpkit_wire::range::{self, ContentRange};
use url::Url;

use crate::error::Error;

/// The validator file's longest accepted size: a URL and two header values.
const MAX_VALIDATOR_FILE: u64 = 16 * 1024;

/// What the server said identifies the version of the file being saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    /// The URL that was asked for.
    pub url: String,
    /// The URL whose response the bytes are (after redirects; the same as
    /// `url` without them). A range is asked of it alone: another URL's
    /// file is another file, whatever its entity tag.
    pub from: String,
    /// A strong entity tag, `"..."`.
    pub etag: Option<String>,
    /// The `Last-Modified` date.
    pub last_modified: Option<String>,
    /// The whole file's length, when the first response said it: a
    /// resumed range must end exactly there.
    pub length: Option<u64>,
    /// What the part file was when the download last stopped: a part that
    /// is not that (junk appended, another file put in its place) is not
    /// continued.
    pub part: Option<Mark>,
}

/// A part file's length and a digest of its first and last
/// [`MARK_SPAN`] bytes: cheap to take at every stop, and a changed
/// length, start or end is seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The part file's length.
    pub length: u64,
    /// SHA-256 of its first and last [`MARK_SPAN`] bytes, in hex.
    pub digest: String,
}

/// How much of each end of a part file its [`Mark`] reads.
pub const MARK_SPAN: u64 = 64 * 1024;

impl Mark {
    /// The mark of `file` as it is now.
    pub fn of(file: &File) -> io::Result<Mark> {
        use std::io::{Seek, SeekFrom};
        let mut file = file.try_clone()?;
        let length = file.metadata()?.len();
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0; MARK_SPAN.min(length) as usize];
        for at in [0, length - buf.len() as u64] {
            file.seek(SeekFrom::Start(at))?;
            file.read_exact(&mut buf)?;
            digest.update(&buf);
        }
        let digest = digest
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Mark { length, digest })
    }

    fn parse(text: &str) -> Option<Mark> {
        let (length, digest) = text.split_once(' ')?;
        let digest = digest.trim().to_ascii_lowercase();
        let hex = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
        Some(Mark {
            length: length.parse().ok()?,
            digest: hex.then_some(digest)?,
        })
    }
}

/// Notes beside `part` what it is now, when a validator is kept for it:
/// at every stop that leaves it for a later `-C`.
pub fn mark(part: &Path, file: &File) -> Result<(), Error> {
    let Some(mut validator) = Validator::load(part) else {
        return Ok(());
    };
    validator.part = Some(Mark::of(file).map_err(|e| file_error("cannot read", part, e))?);
    validator.save(part)
}

impl Validator {
    /// The validator of a response to `url` whose whole body is `length`
    /// bytes (when known), if it has one usable in `If-Range` (a weak
    /// `W/` entity tag is not).
    pub fn of(url: &Url, from: &Url, head: &Head, length: Option<u64>) -> Option<Validator> {
        // Two of a kind: which names this version cannot be told.
        if head.values("etag").count() > 1 || head.values("last-modified").count() > 1 {
            return None;
        }
        let etag = head
            .value("etag")
            .filter(|t| t.starts_with('"') && t.len() >= 2 && t.ends_with('"'));
        let last_modified = head.value("last-modified").filter(|d| !d.is_empty());
        let v = Validator {
            part: None,
            url: url.to_string(),
            from: from.to_string(),
            etag,
            last_modified,
            length,
        };
        (v.if_range().is_some() && v.is_clean()).then_some(v)
    }

    /// The `If-Range` value: the entity tag when there is one.
    pub fn if_range(&self) -> Option<&str> {
        self.etag.as_deref().or(self.last_modified.as_deref())
    }

    /// No byte that could end a header line or forge another (the file
    /// is read back from disk, where anyone may have edited it).
    fn is_clean(&self) -> bool {
        [
            Some(&self.url),
            Some(&self.from),
            self.etag.as_ref(),
            self.last_modified.as_ref(),
        ]
        .into_iter()
        .flatten()
        .all(|v| !v.chars().any(char::is_control))
    }

    /// Writes the validator beside `part`, replacing an older one; never
    /// through a symbolic link.
    pub fn save(&self, part: &Path) -> Result<(), Error> {
        let path = file_for(part);
        let mut text = format!("url: {}\n", self.url);
        if self.from != self.url {
            text.push_str(&format!("from: {}\n", self.from));
        }
        if let Some(etag) = &self.etag {
            text.push_str(&format!("etag: {etag}\n"));
        }
        if let Some(date) = &self.last_modified {
            text.push_str(&format!("last-modified: {date}\n"));
        }
        if let Some(length) = self.length {
            text.push_str(&format!("length: {length}\n"));
        }
        if let Some(mark) = &self.part {
            text.push_str(&format!("part: {} {}\n", mark.length, mark.digest));
        }
        forget(part)?;
        let mut file = new_file(&path).map_err(|e| file_error("cannot create", &path, e))?;
        file.write_all(text.as_bytes())
            .map_err(|e| file_error("cannot write", &path, e))
    }

    /// The validator saved beside `part`, if there is a readable one.
    pub fn load(part: &Path) -> Option<Validator> {
        let file = open_nofollow(&file_for(part), false).ok()?;
        let mut text = String::new();
        file.take(MAX_VALIDATOR_FILE)
            .read_to_string(&mut text)
            .ok()?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        // A length that does not parse makes the whole file untrusted.
        let length = match field("length:") {
            Some(n) => Some(n.parse().ok()?),
            None => None,
        };
        let url = field("url:")?;
        // A mark that does not parse makes the whole file untrusted.
        let part = match field("part:") {
            Some(m) => Some(Mark::parse(&m)?),
            None => None,
        };
        let v = Validator {
            part,
            from: field("from:").unwrap_or_else(|| url.clone()),
            url,
            etag: field("etag:"),
            last_modified: field("last-modified:"),
            length,
        };
        (v.if_range().is_some() && v.is_clean()).then_some(v)
    }
}

/// Removes the validator beside `part`, if there is one.
pub fn forget(part: &Path) -> Result<(), Error> {
    let path = file_for(part);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(file_error("cannot remove", &path, e)),
    }
}

/// `FILE.part.validator`.
pub fn file_for(part: &Path) -> PathBuf {
    let mut name = part.as_os_str().to_owned();
    name.push(".validator");
    PathBuf::from(name)
}

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
mod tests {
    use super::*;
    use tcpkit_wire::head::{Limits, parse};

    fn head(fields: &str) -> Head {
        let raw = format!("HTTP/1.1 200 OK\r\n{fields}\r\n");
        parse(raw.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn strong_etags_first_then_dates_and_never_weak_tags() {
        let url = Url::parse("http://h/f").unwrap();
        let of = |fields: &str| Validator::of(&url, &url, &head(fields), None);
        let v = of("ETag: \"v1\"\r\nLast-Modified: Mon\r\n").unwrap();
        assert_eq!(v.if_range(), Some("\"v1\""));
        let v = of("ETag: W/\"v1\"\r\nLast-Modified: Mon\r\n").unwrap();
        assert_eq!(v.if_range(), Some("Mon"));
        assert_eq!(of("ETag: W/\"v1\"\r\n"), None);
        assert_eq!(of(""), None);
    }

    fn v1(length: Option<u64>) -> Validator {
        Validator {
            url: "http://h/f".into(),
            from: "http://h/f".into(),
            etag: Some("\"v1\"".into()),
            last_modified: None,
            length,
            part: None,
        }
    }

    #[test]
    fn a_partial_answer_must_be_exactly_the_rest_of_the_same_file() {
        let ok = "ETag: \"v1\"\r\n";
        let check = |fields: &str, length| {
            check_partial(
                &head(&format!("{ok}{fields}")),
                400,
                &v1(Some(1000)),
                length,
            )
        };
        assert_eq!(
            check("Content-Range: bytes 400-999/1000\r\n", Some(600)),
            Ok(600)
        );
        assert_eq!(
            check("Content-Range: bytes 400-999/1000\r\n", None),
            Ok(600)
        );
        for (fields, length, says) in [
            ("", Some(600), "without a Content-Range"),
            (
                "Content-Range: bytes 0-599/1000\r\n",
                Some(600),
                "a range from byte 0",
            ),
            (
                "Content-Range: bytes 400-500/1000\r\n",
                Some(101),
                "ends at byte 500",
            ),
            (
                "Content-Range: bytes 400-999/1000\r\n",
                Some(100),
                "Content-Length 100",
            ),
            (
                "Content-Range: bytes 400-1999/2000\r\n",
                Some(1600),
                "it changed",
            ),
            (
                "Content-Range: bytes 400-999/*\r\n",
                Some(600),
                "does not say the file's length",
            ),
            ("Content-Range: bytes */1000\r\n", Some(0), "an empty range"),
            (
                "Content-Range: bytes 400-99999999999999999999999/1\r\n",
                Some(600),
                "too large",
            ),
            (
                "Content-Range: bytes 400-999/400\r\n",
                Some(600),
                "past the length",
            ),
        ] {
            let got = check(fields, length).unwrap_err();
            assert!(got.contains(says), "{fields:?}: {got}");
        }
        // Without a length saved (an older validator file), the range
        // still has to end at the length it names.
        let h = head(&format!("{ok}Content-Range: bytes 400-1999/2000\r\n"));
        assert_eq!(check_partial(&h, 400, &v1(None), None), Ok(1600));
    }

    #[test]
    fn a_partial_answer_must_carry_the_validator_sent() {
        let range = "Content-Range: bytes 400-999/1000\r\n";
        let check = |fields: &str, saved: &Validator| {
            check_partial(&head(&format!("{range}{fields}")), 400, saved, Some(600))
        };
        let other = check("ETag: \"v2\"\r\n", &v1(None)).unwrap_err();
        assert!(
            other.contains(r#"ETag "\"v2\"" for If-Range "\"v1\"""#),
            "{other}"
        );
        let none = check("", &v1(None)).unwrap_err();
        assert!(none.contains("no ETag"), "{none}");
        let dated = Validator {
            etag: None,
            last_modified: Some("Mon".into()),
            ..v1(None)
        };
        assert_eq!(check("Last-Modified: Mon\r\n", &dated), Ok(600));
        // RFC 9110 §15.3.7 does not require Last-Modified on a 206.
        assert_eq!(check("", &dated), Ok(600));
        let later = check("Last-Modified: Tue\r\n", &dated).unwrap_err();
        assert!(
            later.contains(r#"Last-Modified "Tue" for If-Range "Mon""#),
            "{later}"
        );
        // Both saved: the same tag with another date is another version.
        let both = Validator {
            last_modified: Some("Mon".into()),
            ..v1(None)
        };
        let tag = "ETag: \"v1\"\r\n";
        assert_eq!(
            check(&format!("{tag}Last-Modified: Mon\r\n"), &both),
            Ok(600)
        );
        assert_eq!(check(tag, &both), Ok(600));
        let spliced = check(&format!("{tag}Last-Modified: Tue\r\n"), &both).unwrap_err();
        assert!(spliced.contains("with the same ETag"), "{spliced}");
    }

    #[test]
    fn a_partial_answer_with_two_of_a_kind_another_coding_or_several_parts_is_refused() {
        let range = "Content-Range: bytes 400-999/1000\r\n";
        let tag = "ETag: \"v1\"\r\n";
        let check = |fields: &str| {
            check_partial(
                &head(&format!("{range}{tag}{fields}")),
                400,
                &v1(None),
                Some(600),
            )
        };
        assert_eq!(check("Content-Encoding: identity\r\n"), Ok(600));
        for (fields, says) in [
            ("ETag: \"v2\"\r\n", "2 ETag fields"),
            (
                "Last-Modified: Mon\r\nLast-Modified: Tue\r\n",
                "2 Last-Modified",
            ),
            (range, "2 Content-Range"),
            ("Content-Encoding: gzip\r\n", "encoded (\"gzip\""),
            (
                "Content-Type: multipart/byteranges; boundary=x\r\n",
                "multipart",
            ),
        ] {
            let got = check(fields).unwrap_err();
            assert!(got.contains(says), "{fields:?}: {got}");
        }
    }

    #[test]
    fn a_validator_with_two_tags_or_dates_is_not_kept() {
        let url = Url::parse("http://h/f").unwrap();
        let of = |fields: &str| Validator::of(&url, &url, &head(fields), None);
        assert_eq!(of("ETag: \"v1\"\r\nETag: \"v2\"\r\n"), None);
        assert_eq!(of("Last-Modified: Mon\r\nLast-Modified: Tue\r\n"), None);
    }

    #[test]
    fn a_mark_sees_a_changed_length_start_or_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let mark = |bytes: &[u8]| {
            fs::write(&path, bytes).unwrap();
            Mark::of(&File::open(&path).unwrap()).unwrap()
        };
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let base = mark(&big);
        assert_eq!(base.length, 300_000);
        assert_eq!(mark(&big), base);
        let mut start = big.clone();
        start[10] ^= 1;
        assert_ne!(mark(&start).digest, base.digest);
        let mut end = big.clone();
        end[299_990] ^= 1;
        assert_ne!(mark(&end).digest, base.digest);
        assert_eq!(mark(b"").length, 0);
        assert_eq!(
            Mark::parse(&format!("{} {}", base.length, base.digest)),
            Some(base)
        );
        assert_eq!(Mark::parse("12 nothex"), None);
    }

    #[test]
    fn unsatisfied_ranges_name_the_length() {
        assert_eq!(
            unsatisfied_length(&head("Content-Range: bytes */1000\r\n")),
            Some(1000)
        );
        assert_eq!(
            unsatisfied_length(&head("Content-Range: bytes 0-1/2\r\n")),
            None
        );
        assert_eq!(unsatisfied_length(&head("")), None);
    }

    #[test]
    fn a_validator_file_round_trips_and_an_edited_one_cannot_forge_headers() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("f.part");
        let v = v1(Some(1000));
        v.save(&part).unwrap();
        assert_eq!(Validator::load(&part), Some(v.clone()));
        v.save(&part).unwrap();
        fs::write(file_for(&part), "url: http://h/f\netag: \"a\"\rX-Evil: 1\n").unwrap();
        assert_eq!(Validator::load(&part), None);
        fs::write(
            file_for(&part),
            "url: http://h/f\netag: \"a\"\nlength: -1\n",
        )
        .unwrap();
        assert_eq!(Validator::load(&part), None, "a length that is no number");
        forget(&part).unwrap();
        forget(&part).unwrap();
        assert!(!file_for(&part).exists());
    }
}
