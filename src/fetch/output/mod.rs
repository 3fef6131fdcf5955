//! Where the body goes: a safe file name from the URL, `FILE.part` while
//! downloading and a rename when complete (so a cut download never passes
//! for a whole one), or a stream of the caller's (the binary's stdout).
//! Raises the transfer's progress as notices. The
//! name itself is made safe in `name.rs`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use url::Url;

use super::name::name_from_url;
use super::resume::{self, Resume, Validator};
use crate::error::Error;
use crate::setting::Setting;

mod sink;
use sink::Bar;
pub use sink::Sink;

/// Where the user wants the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A name from the URL's last path segment, in the current directory.
    FromUrl,
    /// The file the user named with `-o`.
    File(PathBuf),
    /// A stream of the caller's, written as the body comes (`-o -`: the
    /// binary hands its stdout; the library opens none of its own).
    Writer(BodyWriter),
}

/// A caller's stream for the body: shared, so that options stay cheap to
/// clone; two are equal when they are the same stream.
#[derive(Clone, Default)]
pub struct BodyWriter(Option<std::sync::Arc<std::sync::Mutex<Box<dyn Write + Send>>>>);

impl BodyWriter {
    /// Writes the body to `out`.
    pub fn new(out: impl Write + Send + 'static) -> BodyWriter {
        BodyWriter(Some(std::sync::Arc::new(std::sync::Mutex::new(Box::new(
            out,
        )))))
    }
}

impl std::fmt::Debug for BodyWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyWriter")
    }
}

impl PartialEq for BodyWriter {
    fn eq(&self, other: &BodyWriter) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Eq for BodyWriter {}

/// The default writer takes every byte and keeps none.
impl Write for BodyWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match &self.0 {
            Some(out) => out.lock().unwrap_or_else(|e| e.into_inner()).write(bytes),
            None => Ok(bytes.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &self.0 {
            Some(out) => out.lock().unwrap_or_else(|e| e.into_inner()).flush(),
            None => Ok(()),
        }
    }
}

/// The chosen output, checked before anything is downloaded.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The final path, or `None` for the caller's stream.
    target: Option<PathBuf>,
    /// The caller's stream, for [`Destination::Writer`].
    writer: Option<BodyWriter>,
    /// Write straight to the target (a device or pipe such as /dev/null).
    direct: bool,
    /// Replace an existing file.
    force: bool,
    /// `-C`: an existing `.part` is to be continued, not refused.
    resume: bool,
    /// Where a warning about the published file goes.
    notices: std::sync::Arc<dyn crate::notice::Notices>,
}

impl Plan {
    /// Raises its warnings (a part file replaced during the download) on
    /// `notices`.
    pub fn with_notices(mut self, notices: std::sync::Arc<dyn crate::notice::Notices>) -> Plan {
        self.notices = notices;
        self
    }

    /// Checks the destination: an existing regular file needs `--force`,
    /// a directory is refused. `url` names the file for [`Destination::FromUrl`].
    pub fn new(dest: &Destination, url: &Url, force: bool) -> Result<Plan, Error> {
        Plan::resumable(dest, url, force, false)
    }

    /// As [`Plan::new`]; with `resume` (`-C`), an existing `.part` is to be
    /// continued (see [`Plan::resume`]) instead of refused.
    pub fn resumable(
        dest: &Destination,
        url: &Url,
        force: bool,
        resume: bool,
    ) -> Result<Plan, Error> {
        let (path, from_url) = match dest {
            Destination::Writer(writer) => {
                return Ok(Plan {
                    target: None,
                    writer: Some(writer.clone()),
                    direct: true,
                    force,
                    resume: false,
                    notices: crate::notice::quiet(),
                });
            }
            Destination::File(path) => (path.clone(), false),
            Destination::FromUrl => (PathBuf::from(name_from_url(url)), true),
        };
        // A name from the URL never follows a symlink; one the user typed does.
        let meta = if from_url {
            fs::symlink_metadata(&path)
        } else {
            fs::metadata(&path)
        };
        let direct = match meta {
            Ok(m) if m.is_dir() => {
                return Err(Error::local(crate::words!(
                    "{} is a directory (name a file with {})",
                    path.display(),
                    Setting::Output
                )));
            }
            Ok(m) if m.is_file() || m.is_symlink() => {
                // As wget -c: a finished download is said to be one.
                let part = Plan::part_of(&path);
                if resume && !force && fs::symlink_metadata(&part).is_err() {
                    return Err(Error::local(crate::words!(
                        "{} is already there, and {} is not: the download finished, and {} has \
                         nothing to continue (use {} to download it again)",
                        path.display(),
                        part.display(),
                        Setting::Resume,
                        Setting::Force
                    )));
                }
                if !force {
                    return Err(Error::local(crate::words!(
                        "{} already exists (use {} to overwrite it, or {} to choose another name)",
                        path.display(),
                        Setting::Force,
                        Setting::Output
                    )));
                }
                false
            }
            // A device, pipe or socket: there is nothing to rename.
            Ok(_) => true,
            Err(_) => false,
        };
        let plan = Plan {
            target: Some(path),
            writer: None,
            direct,
            force,
            resume,
            notices: crate::notice::quiet(),
        };
        // Checked before connecting too, as the final name is.
        if let Some(part) = plan.part_path()
            && !force
            && !resume
            && fs::symlink_metadata(&part).is_ok()
        {
            return Err(part_exists(&part));
        }
        Ok(plan)
    }

    /// The final path, for messages (`-` for stdout).
    pub fn shown(&self) -> String {
        self.target
            .as_ref()
            .map_or("-".into(), |p| p.display().to_string())
    }

    /// Where data goes while downloading.
    pub fn part_path(&self) -> Option<PathBuf> {
        let target = self.target.as_ref()?;
        if self.direct {
            return None;
        }
        Some(Plan::part_of(target))
    }

    /// `FILE.part`.
    fn part_of(target: &Path) -> PathBuf {
        let mut name = target.as_os_str().to_owned();
        name.push(".part");
        PathBuf::from(name)
    }

    /// With `-C`, the part file an earlier download left, reopened to be
    /// continued (only if it is a plain file of ours); `None` without `-C`
    /// or without a part file.
    pub fn resume(&self) -> Result<Option<Resume>, Error> {
        match self.part_path() {
            Some(part) if self.resume => Resume::open(&part),
            _ => Ok(None),
        }
    }

    /// Writes `validator` beside the part file, for a later `-C`; removes
    /// an older one when there is none.
    pub fn note_validator(&self, validator: Option<&Validator>) -> Result<(), Error> {
        let Some(part) = self.part_path() else {
            return Ok(());
        };
        match validator {
            Some(v) => v.save(&part),
            None => resume::forget(&part),
        }
    }

    /// Writes into a continued part file from `offset` on (0: afresh),
    /// dropping whatever it held past that.
    pub fn open_resumed(
        &self,
        resume: Resume,
        offset: u64,
        total: Option<u64>,
    ) -> Result<Sink, Error> {
        use std::io::{Seek, SeekFrom};
        let part = self.part_path().unwrap_or_default();
        let mut file = resume.file;
        file.set_len(offset)
            .and_then(|()| file.seek(SeekFrom::Start(offset)))
            .map_err(|e| file_error("cannot continue", &part, e))?;
        let part_file = file
            .try_clone()
            .map_err(|e| file_error("cannot open", &part, e))?;
        let mut sink = self.sink(Box::new(file), Some(part_file), total);
        sink.written = offset;
        if let Some(bar) = &mut sink.bar {
            bar.set(offset);
        }
        Ok(sink)
    }

    fn sink(&self, writer: Box<dyn Write>, part_file: Option<File>, total: Option<u64>) -> Sink {
        Sink {
            out: BufWriter::with_capacity(super::conn::READ_BUFFER, writer),
            plan: self.clone(),
            part_file,
            written: 0,
            limit: None,
            decoder: None,
            published: false,
            // Raised for the caller to draw (or not); none to callers
            // that want no notices.
            bar: self.notices.wanted().then(|| Bar {
                notices: self.notices.clone(),
                total,
                at: 0,
            }),
        }
    }

    /// Opens the destination; `total` sizes the progress bar when known.
    pub fn open(&self, total: Option<u64>) -> Result<Sink, Error> {
        let mut part_file = None;
        let writer: Box<dyn Write> = match (&self.target, self.part_path()) {
            (None, _) => Box::new(self.writer.clone().unwrap_or_default()),
            (Some(target), None) => Box::new(
                OpenOptions::new()
                    .write(true)
                    .open(target)
                    .map_err(|e| file_error("cannot open", target, e))?,
            ),
            (Some(_), Some(part)) => {
                let file = create_part(&part, self.force)?;
                part_file = Some(
                    file.try_clone()
                        .map_err(|e| file_error("cannot open", &part, e))?,
                );
                Box::new(file)
            }
        };
        Ok(self.sink(writer, part_file, total))
    }
}

/// Creates `FILE.part` as a new file of ours: never through a symlink, and
/// never by truncating a file that is there (it may be a hard link to
/// someone else's file). With `force` an existing name is unlinked first,
/// which leaves whatever it pointed to alone.
fn create_part(part: &Path, force: bool) -> Result<File, Error> {
    let create = || {
        // Readable too: if the name is swapped, the data is copied out.
        crate::sys::no_follow(OpenOptions::new().read(true).write(true).create_new(true)).open(part)
    };
    match create() {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == ErrorKind::AlreadyExists && force => {
            fs::remove_file(part).map_err(|e| file_error("cannot remove", part, e))?;
            create().map_err(|e| file_error("cannot create", part, e))
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(part_exists(part)),
        Err(e) => Err(file_error("cannot create", part, e)),
    }
}

/// Publishes the bytes of our open `file` under `target` by copying them
/// into a new file there (or, with `force`, into a new file beside it that
/// then replaces it): for when the `.part` name no longer names our file.
fn publish_copy(file: &File, target: &Path, force: bool) -> Result<(), Error> {
    use std::io::{Seek, SeekFrom};
    let fresh = |path: &Path| {
        crate::sys::no_follow(OpenOptions::new().write(true).create_new(true)).open(path)
    };
    let path = if force {
        let mut name = target.as_os_str().to_owned();
        name.push(format!(".tcpkit-{}", std::process::id()));
        PathBuf::from(name)
    } else {
        target.to_path_buf()
    };
    let mut dest = fresh(&path).map_err(|e| file_error("cannot create", &path, e))?;
    let mut src = file;
    src.seek(SeekFrom::Start(0))
        .and_then(|_| io::copy(&mut src, &mut dest))
        .and_then(|_| dest.flush())
        .map_err(|e| file_error("cannot write", &path, e))?;
    if force {
        fs::rename(&path, target).map_err(|e| file_error("cannot rename to", target, e))?;
    }
    Ok(())
}

/// A `.part` name that is taken: never written through (it may be a hard
/// link to someone else's file).
fn part_exists(part: &Path) -> Error {
    Error::local(crate::words!(
        "{} already exists (left by an earlier download?): remove it, or use {} to replace it",
        part.display(),
        Setting::Force
    ))
}

/// True when `path` still names `file` (the same inode), not something put
/// in its place.
fn still_ours(path: &Path, file: &File) -> bool {
    crate::sys::names_file(path, file)
}

fn file_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::local_file(format!("{what} {}", path.display()), e)
}
