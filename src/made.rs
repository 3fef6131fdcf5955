//! A file made for a command's output (a picture, packets, an
//! HdrHistogram log), created before the work so that a path that cannot
//! be written fails at once, and removed again unless it was written
//! whole: a failed run, a failed write leave no file that looks like a
//! result.

use std::fs::File;
use std::path::{Path, PathBuf};

/// An output file, removed when dropped before [`Made::whole`].
#[derive(Debug)]
pub struct Made {
    /// The file, to write to.
    pub file: File,
    path: PathBuf,
    whole: bool,
}

impl Made {
    /// `file`, just created at `path`.
    pub fn new(path: &Path, file: File) -> Made {
        Made {
            file,
            path: path.to_path_buf(),
            whole: false,
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// It was written whole: keep it.
    pub fn whole(&mut self) {
        self.whole = true;
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        if !self.whole {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
