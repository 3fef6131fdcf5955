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
use url::Url;

use crate::error::Error;

/// The validator file's longest accepted size: a URL and two header values.
const MAX_VALIDATOR_FILE: u64 = 16 * 1024;

/// What the server said identifies the version of the file being saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    /// The URL that was asked for.
    pub url: String,
    /// A strong entity tag, `"..."`.
    pub etag: Option<String>,
    /// The `Last-Modified` date.
    pub last_modified: Option<String>,
}

impl Validator {
    /// The validator of a response to `url`, if it has one usable in
    /// `If-Range` (a weak `W/` entity tag is not).
    pub fn of(url: &Url, head: &Head) -> Option<Validator> {
        let etag = head
            .value("etag")
            .filter(|t| t.starts_with('"') && t.len() >= 2 && t.ends_with('"'));
        let last_modified = head.value("last-modified").filter(|d| !d.is_empty());
        let v = Validator {
            url: url.to_string(),
            etag,
            last_modified,
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
        if let Some(etag) = &self.etag {
            text.push_str(&format!("etag: {etag}\n"));
        }
        if let Some(date) = &self.last_modified {
            text.push_str(&format!("last-modified: {date}\n"));
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
        let v = Validator {
            url: field("url:")?,
            etag: field("etag:"),
            last_modified: field("last-modified:"),
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
        Ok(Some(Resume {
            file,
            offset: meta.len(),
            validator: Validator::load(part),
        }))
    }

    /// The `Range` and `If-Range` values that ask `url` for the rest, or
    /// why the download must start over instead.
    pub fn ask(&self, url: &Url) -> Result<(String, String), &'static str> {
        let Some(validator) = &self.validator else {
            return Err("no validator (ETag or Last-Modified) was saved with it");
        };
        if validator.url != url.as_str() {
            return Err("it was downloaded from another URL");
        }
        let Some(if_range) = validator.if_range() else {
            return Err("no validator (ETag or Last-Modified) was saved with it");
        };
        Ok((format!("bytes={}-", self.offset), if_range.to_string()))
    }
}

/// The first byte of a 206 response's `Content-Range: bytes FIRST-LAST/LEN`.
pub fn range_start(head: &Head) -> Option<u64> {
    let value = head.value("content-range")?;
    let range = value.trim().strip_prefix("bytes ")?;
    let (first, _) = range.split_once('-')?;
    first.trim().parse().ok()
}

/// The full length a 416 response names: `Content-Range: bytes */LEN`.
pub fn unsatisfied_length(head: &Head) -> Option<u64> {
    let value = head.value("content-range")?;
    value.trim().strip_prefix("bytes */")?.trim().parse().ok()
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
        let v = Validator::of(&url, &head("ETag: \"v1\"\r\nLast-Modified: Mon\r\n")).unwrap();
        assert_eq!(v.if_range(), Some("\"v1\""));
        let v = Validator::of(&url, &head("ETag: W/\"v1\"\r\nLast-Modified: Mon\r\n")).unwrap();
        assert_eq!(v.if_range(), Some("Mon"));
        assert_eq!(Validator::of(&url, &head("ETag: W/\"v1\"\r\n")), None);
        assert_eq!(Validator::of(&url, &head("")), None);
    }

    #[test]
    fn content_ranges() {
        let h = head("Content-Range: bytes 400-999/1000\r\n");
        assert_eq!(range_start(&h), Some(400));
        assert_eq!(range_start(&head("Content-Range: bytes */1000\r\n")), None);
        assert_eq!(range_start(&head("Content-Range: items 1-2/3\r\n")), None);
        assert_eq!(
            unsatisfied_length(&head("Content-Range: bytes */1000\r\n")),
            Some(1000)
        );
        assert_eq!(unsatisfied_length(&head("")), None);
    }

    #[test]
    fn a_validator_file_round_trips_and_an_edited_one_cannot_forge_headers() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("f.part");
        let v = Validator {
            url: "http://h/f".into(),
            etag: Some("\"v1\"".into()),
            last_modified: None,
        };
        v.save(&part).unwrap();
        assert_eq!(Validator::load(&part), Some(v.clone()));
        v.save(&part).unwrap();
        fs::write(file_for(&part), "url: http://h/f\netag: \"a\"\rX-Evil: 1\n").unwrap();
        assert_eq!(Validator::load(&part), None);
        forget(&part).unwrap();
        forget(&part).unwrap();
        assert!(!file_for(&part).exists());
    }
}
