//! Errors in words: the one renderer of a chain of causes, what a stopped
//! download kept, and an I/O error as it reads in a sentence.

use std::io;

use tcpkit_wire::Bytes;

use super::Error;
use crate::setting::Words;

/// Any chain of causes in one line, the one renderer of errors: each
/// cause in order (ours as [`Error::line`], I/O errors as they read in a
/// sentence, "connection refused", not "Connection refused (os error
/// 111)", anything else as it displays), a message repeated as its own
/// source said once (as `transparent` wrappers and contexts do), then the
/// hint of the first [`Error`] in it. The binary prints it after
/// `tcpkit: error: `, with its `anyhow` contexts in the chain.
pub fn chain_in_words(err: &(dyn std::error::Error + 'static)) -> Words {
    let mut parts: Vec<Words> = Vec::new();
    let mut hint = None;
    let mut cause = Some(err);
    while let Some(error) = cause {
        let text = if let Some(e) = error.downcast_ref::<io::Error>() {
            describe(e).into()
        } else if let Some(ours) = error.downcast_ref::<Error>() {
            hint.get_or_insert_with(|| ours.hint());
            ours.line()
        } else {
            error.to_string().into()
        };
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        // A timeout's I/O error ("timed out") only restates it.
        if let Some(Error::Timeout { .. }) = error.downcast_ref::<Error>() {
            break;
        }
        cause = error.source();
    }
    let mut out = Words::default();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(&": ".into());
        }
        out.push(part);
    }
    out.push(&hint.unwrap_or_default());
    out
}

/// What a stopped download left: its part file, and whether `-C` can
/// continue it (a validator was saved with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The part file.
    pub part: std::path::PathBuf,
    /// Its length.
    pub bytes: u64,
    /// Whether a validator was saved with it, so that it can be continued.
    pub resumable: bool,
}

impl Kept {
    /// `400 B kept in f.part (run the same command with -C to continue
    /// it)`.
    pub fn words(&self) -> Words {
        let step = if self.resumable {
            crate::words!(
                " (run the same command with {} to continue it)",
                crate::setting::Setting::Resume
            )
        } else {
            Words::default()
        };
        crate::words!(
            "{} kept in {}{}",
            Bytes(self.bytes),
            self.part.display(),
            step
        )
    }
}

/// An I/O error's message as it reads in a sentence: std's text without
/// its "(os error N)" suffix, lower-cased ("connection refused").
pub fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_lowercase(),
        None => text,
    }
}
