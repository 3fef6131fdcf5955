//! The file a picture goes to: which form its name asks for, and opening
//! it with the care fetch takes.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use super::Event;
use crate::error::Error;
use crate::setting::Setting;

/// A picture's form, by the name of the file it goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// An SVG picture (`.svg`).
    Svg,
    /// An HTML page with the picture and a few lines on each event
    /// (`.html`, `.htm`).
    Html,
    /// A text chart (`-`: standard output).
    Chart,
}

impl Form {
    /// The form `file`'s name asks for; a name that asks for none is an
    /// error that says which names do.
    pub fn of(file: &Path) -> Result<Form, Error> {
        if file.as_os_str() == "-" {
            return Ok(Form::Chart);
        }
        match file
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => Ok(Form::Svg),
            Some("html" | "htm") => Ok(Form::Html),
            _ => Err(Error::InvalidInput(crate::words!(
                "cannot tell what to draw in {}: name a .svg or .html file, or - for a text chart",
                file.display()
            ))),
        }
    }

    /// `events` drawn in this form; `heading` names the picture, and a
    /// chart is at most `columns` wide.
    pub fn draw(self, events: &[Event], heading: &str, columns: usize) -> String {
        match self {
            Form::Svg => super::svg(events, heading),
            Form::Html => super::html(events, heading),
            Form::Chart => super::chart(events, columns),
        }
    }
}

/// Opens `path` for a picture, with the care fetch takes: a new file,
/// never written through a symbolic link; an existing one (a file, or a
/// link, which is never followed) is replaced only with `force`, and then
/// the link itself goes, not what it points to.
pub fn create(path: &Path, force: bool) -> Result<File, Error> {
    let cannot = |e: io::Error| Error::LocalFile {
        message: crate::words!("cannot create {}", path.display()),
        source: Some(e),
    };
    if let Ok(meta) = fs::symlink_metadata(path) {
        let what = if meta.file_type().is_symlink() {
            "is a symbolic link (tcpkit does not write through one)"
        } else if meta.is_dir() {
            return Err(Error::local(crate::words!(
                "{} is a directory: name a file in it",
                path.display()
            )));
        } else {
            "exists"
        };
        if !force {
            return Err(Error::local(crate::words!(
                "{} {what}: add {} to replace it, or name another file",
                path.display(),
                Setting::Force
            )));
        }
        fs::remove_file(path).map_err(cannot)?;
    }
    // A file made in between is not written through either: create_new
    // fails on it, a link included.
    crate::sys::no_follow(OpenOptions::new().write(true).create_new(true))
        .open(path)
        .map_err(cannot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_picks_the_form() {
        assert_eq!(Form::of(Path::new("-")).unwrap(), Form::Chart);
        assert_eq!(Form::of(Path::new("a/b.SVG")).unwrap(), Form::Svg);
        assert_eq!(Form::of(Path::new("s.htm")).unwrap(), Form::Html);
        let err = Form::of(Path::new("s.png")).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        let said = err.to_string();
        assert!(said.contains("name a .svg or .html file"), "{said}");
        assert!(Form::of(Path::new("svg")).is_err());
    }
}
