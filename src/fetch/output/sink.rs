//! An open destination for body bytes: the writer, the progress it raises,
//! and how it ends: published whole, kept as a part file, or abandoned.

use std::fs::{self, File};
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::PathBuf;

use super::super::decode::{Coding, Decoder};
use super::super::resume;
use super::{Plan, file_error, publish_copy, still_ours};
use crate::error::Error;
use crate::setting::Setting;

/// A transfer's progress, raised as notices for the binary to draw.
pub(super) struct Bar {
    pub(super) notices: std::sync::Arc<dyn crate::notice::Notices>,
    pub(super) total: Option<u64>,
    pub(super) at: u64,
}

impl Bar {
    pub(super) fn set(&mut self, at: u64) {
        self.at = at;
        self.notices.notice(crate::notice::Notice::Transfer {
            done: at,
            total: self.total,
        });
    }

    pub(super) fn end(self, completed: bool) {
        self.notices
            .notice(crate::notice::Notice::TransferEnd { completed });
    }
}

/// An open destination for body bytes.
pub struct Sink {
    pub(super) out: BufWriter<Box<dyn Write>>,
    pub(super) plan: Plan,
    /// The `.part` file we created, kept open to publish exactly it.
    pub(super) part_file: Option<File>,
    pub(super) written: u64,
    /// `--max-filesize`: the most body bytes written.
    pub(super) limit: Option<u64>,
    pub(super) bar: Option<Bar>,
    /// `--compressed`: the body's coding, decoded on the way in.
    pub(super) decoder: Option<Decoder>,
    /// Moved to its final name: there is no part file left to mark.
    pub(super) published: bool,
}

/// However a download stops short (an error, Ctrl+C, `--max-time`), the
/// part file it leaves is flushed and marked beside its validator, so
/// that a later `-C` continues exactly these bytes and nothing else.
impl Drop for Sink {
    fn drop(&mut self) {
        if self.published {
            return;
        }
        let _ = self.out.flush();
        if let (Some(part), Some(file)) = (self.plan.part_path(), &self.part_file)
            && still_ours(&part, file)
        {
            let _ = resume::mark(&part, file);
        }
    }
}

impl Sink {
    /// Refuses to write more than `limit` bytes (`--max-filesize`).
    pub fn with_limit(mut self, limit: Option<u64>) -> Sink {
        self.limit = limit;
        self
    }

    /// Whether the body is decoded on its way in (`--compressed`).
    pub fn decodes(&self) -> bool {
        self.decoder.is_some()
    }

    /// Decodes the body's bytes (`--compressed`) before they are written:
    /// `written` and `--max-filesize` then count decoded bytes.
    pub fn decoding(mut self, coding: Option<Coding>) -> Sink {
        self.decoder = coding.map(Decoder::new);
        self
    }

    /// Writes body bytes (decoded first, if they are encoded).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let Some(mut decoder) = self.decoder.take() else {
            return self.write_plain(bytes);
        };
        let fed = decoder.feed(bytes, |out| self.write_plain(out));
        self.decoder = Some(decoder);
        fed
    }

    /// The body has ended: an encoded one must have ended its stream too;
    /// writes the decoder's last bytes.
    pub fn end_decoding(&mut self) -> Result<(), Error> {
        let Some(mut decoder) = self.decoder.take() else {
            return Ok(());
        };
        decoder.finish(|out| self.write_plain(out))
    }

    fn write_plain(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if let Some(limit) = self.limit
            && self.written + bytes.len() as u64 > limit
        {
            return Err(Error::TooLarge {
                limit,
                declared: None,
            });
        }
        self.out.write_all(bytes).map_err(|e| self.write_error(e))?;
        self.written += bytes.len() as u64;
        if let Some(bar) = &mut self.bar {
            bar.set(bar.at + bytes.len() as u64);
        }
        Ok(())
    }

    /// Body bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn write_error(&self, e: io::Error) -> Error {
        let path = self.plan.part_path().or_else(|| self.plan.target.clone());
        match path {
            Some(p) => file_error("cannot write", &p, e),
            None => Error::writing_output("standard output", e),
        }
    }

    /// The body is complete: flush, move `FILE.part` to `FILE`, and drop
    /// the validator kept for `-C`.
    pub fn finish(mut self) -> Result<(), Error> {
        let part = self.plan.part_path();
        self.publish()?;
        self.published = true;
        match part {
            Some(part) => resume::forget(&part),
            None => Ok(()),
        }
    }

    fn publish(&mut self) -> Result<(), Error> {
        if let Some(bar) = self.bar.take() {
            bar.end(true);
        }
        self.out.flush().map_err(|e| self.write_error(e))?;
        let (Some(target), Some(part), Some(file)) =
            (&self.plan.target, self.plan.part_path(), &self.part_file)
        else {
            return Ok(());
        };
        // What lands under the final name must be the file we wrote, even
        // if someone swapped `.part` for a link meanwhile: link our open
        // file itself where the system can (Linux), else check that the
        // name is still ours first.
        if !self.plan.force {
            match crate::sys::link_open_file(file, target) {
                Ok(()) => {
                    if still_ours(&part, file) {
                        fs::remove_file(&part)
                            .map_err(|e| file_error("cannot remove", &part, e))?;
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    return Err(Error::local(crate::words!(
                        "{} appeared while downloading; the data is in {} (use {} to overwrite)",
                        target.display(),
                        part.display(),
                        Setting::Force
                    )));
                }
                Err(_) => {} // not supported here: publish by name, checked
            }
        }
        if !still_ours(&part, file) {
            super::super::warn(
                &self.plan.notices,
                crate::words!(
                    "{} was replaced during the download; {} gets the bytes tcpkit wrote, \
                 copied from its own open file, and the replacement is left alone",
                    part.display(),
                    target.display()
                ),
            );
            return publish_copy(file, target, self.plan.force);
        }
        if self.plan.force {
            return fs::rename(&part, target)
                .map_err(|e| file_error("cannot rename to", target, e));
        }
        // A hard link fails if the name was taken meanwhile, where a
        // rename would silently replace the file.
        match fs::hard_link(&part, target) {
            Ok(()) => fs::remove_file(&part).map_err(|e| file_error("cannot remove", &part, e)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(Error::local(crate::words!(
                "{} appeared while downloading; the data is in {} (use {} to overwrite)",
                target.display(),
                part.display(),
                Setting::Force
            ))),
            Err(e) => Err(file_error("cannot publish", target, e)),
        }
    }

    /// The body was wrong past `offset`: cut the part file back to the
    /// `offset` bytes it held before, as if nothing had been written.
    pub fn roll_back(mut self, offset: u64) -> Result<(), Error> {
        if let Some(bar) = self.bar.take() {
            bar.end(false);
        }
        let part = self.plan.part_path().unwrap_or_default();
        // Whatever is still buffered is past `offset` too: the flush only
        // empties the buffer before the cut.
        self.out
            .flush()
            .map_err(|e| file_error("cannot write", &part, e))?;
        match &self.part_file {
            Some(file) => file
                .set_len(offset)
                .map_err(|e| file_error("cannot truncate", &part, e)),
            None => Ok(()),
        }
    }

    /// The body is not complete: flush what there is into `FILE.part`
    /// and return that path, for the error message.
    pub fn abandon(mut self) -> Option<PathBuf> {
        if let Some(bar) = self.bar.take() {
            bar.end(false);
        }
        let _ = self.out.flush();
        self.plan.part_path()
    }
}
