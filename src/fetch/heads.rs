//! Where the heads of a transfer go: each request's and response's head
//! is handed to the caller's [`Heads`] (the binary shows them on the
//! terminal as curl does, `-v`'s `> ` and `< ` lines included), and the
//! response heads are written to the `-D` file when one is named.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;

/// What the caller does with the heads of a transfer (the default,
/// [`Unshown`], nothing).
pub trait Heads: Send + Sync + std::fmt::Debug {
    /// A request head about to be sent to `host_port`.
    fn request(&self, host_port: &str, head: &[u8]) {
        let _ = (host_port, head);
    }

    /// A response head as it came (interim ones too), or, with `raw`, what
    /// came before the first blank line, control bytes escaped.
    fn response(&self, head: &[u8]) {
        let _ = head;
    }
}

/// Heads shown nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unshown;

impl Heads for Unshown {}

/// The caller's [`Heads`], and the `-D` file.
pub(super) struct HeadWriter {
    shown: Arc<dyn Heads>,
    dump: Option<(PathBuf, File)>,
}

impl HeadWriter {
    /// Creates the dump file, if one is named (`-` is the caller's: its
    /// [`Heads`] shows them on standard output).
    pub(super) fn new(
        shown: Arc<dyn Heads>,
        dump_head: Option<&PathBuf>,
    ) -> Result<HeadWriter, Error> {
        let dump = match dump_head {
            Some(path) if path.as_os_str() != "-" => Some((
                path.clone(),
                File::create(path).map_err(|e| {
                    Error::local_file(format!("cannot create {}", path.display()), e)
                })?,
            )),
            _ => None,
        };
        Ok(HeadWriter { shown, dump })
    }

    /// A request head, before it is sent.
    pub(super) fn request(&mut self, host_port: &str, request: &[u8]) {
        self.shown.request(host_port, request);
    }

    /// A response head (or a part of one).
    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.shown.response(bytes);
        if let Some((path, file)) = &mut self.dump {
            file.write_all(bytes)
                .map_err(|e| Error::local_file(format!("cannot write {}", path.display()), e))?;
        }
        Ok(())
    }
}
