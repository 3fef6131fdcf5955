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

/// A writer one thread at a time may use, for [`CurlHeads`].
pub type Shared = std::sync::Mutex<Box<dyn Write + Send>>;

/// The heads as curl shows them: each response head as it came on
/// `console` (curl's stdout, or stderr when the body goes to stdout),
/// and with `-v` both heads on `verbose`, marked `> ` and `< ` after a
/// `* connected to` line. A closed output never stops the transfer.
pub struct CurlHeads {
    /// Where response heads are shown as they came.
    pub console: Option<Shared>,
    /// `-v`: where both heads are shown, marked.
    pub verbose: Option<Shared>,
}

impl std::fmt::Debug for CurlHeads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurlHeads")
            .field("console", &self.console.is_some())
            .field("verbose", &self.verbose.is_some())
            .finish()
    }
}

fn lock(out: &Shared) -> std::sync::MutexGuard<'_, Box<dyn Write + Send>> {
    out.lock().unwrap_or_else(|e| e.into_inner())
}

impl Heads for CurlHeads {
    fn request(&self, host_port: &str, head: &[u8]) {
        if let Some(out) = &self.verbose {
            let mut out = lock(out);
            let _ = writeln!(out, "* connected to {host_port}");
            let _ = marked(&mut **out, b"> ", head);
        }
    }

    fn response(&self, head: &[u8]) {
        if let Some(out) = &self.verbose {
            let _ = marked(&mut **lock(out), b"< ", head);
        }
        if let Some(out) = &self.console {
            let mut out = lock(out);
            let _ = out.write_all(head).and_then(|()| out.flush());
        }
    }
}

/// Writes each line of a head with `mark` before it (`> `, `< `), the
/// blank line that ends it as a lone mark.
fn marked(out: &mut dyn Write, mark: &[u8], head: &[u8]) -> std::io::Result<()> {
    for line in head.split_inclusive(|b| *b == b'\n') {
        out.write_all(mark)?;
        out.write_all(line)?;
    }
    out.flush()
}

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
