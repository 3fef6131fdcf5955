//! What identifies the version of a file being saved (its validator,
//! noted in `FILE.part.validator`), and the mark that says the part file
//! is still the one it vouches for.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use tcpkit_wire::head::Head;
use url::Url;

use super::{file_error, new_file, open_nofollow};
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

    pub(super) fn parse(text: &str) -> Option<Mark> {
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
