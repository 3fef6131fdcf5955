//! The message bench sends, read from a file (`--message-file`): bounded,
//! so that a typo naming a huge file cannot load it, and without the one
//! trailing newline an editor leaves.

use std::io::Read;
use std::path::Path;

use crate::error::Error;
use crate::setting::Setting;

/// The longest message file read: far more than a greeting server takes
/// by default (64 KiB), and a bound on what a typo can load.
pub const MAX_MESSAGE_FILE: u64 = 1024 * 1024;

/// The message in `path`, less one trailing newline (`\n` or `\r\n`).
pub fn message_from_file(path: &Path) -> Result<Vec<u8>, Error> {
    let shown = path.display();
    let unreadable = |e| Error::LocalFile {
        message: crate::words!("cannot read {} {shown}", Setting::MessageFile),
        source: Some(e),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_MESSAGE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_MESSAGE_FILE {
        return Err(Error::InvalidInput(crate::words!(
            "{} {shown} is larger than 1 MiB, the longest message bench sends",
            Setting::MessageFile
        )));
    }
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_crossed_by_one_byte_and_one_newline_goes() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("m");
        let at_limit = vec![b'x'; MAX_MESSAGE_FILE as usize];
        std::fs::write(&path, &at_limit).expect("write");
        assert_eq!(
            message_from_file(&path).expect("at the limit").len(),
            at_limit.len()
        );
        let mut over = at_limit;
        over.push(b'x');
        std::fs::write(&path, &over).expect("write");
        let refused = message_from_file(&path).expect_err("over the limit");
        assert!(
            refused.to_string().contains("larger than 1 MiB"),
            "{refused}"
        );
        std::fs::write(&path, b"Michael\r\n\n").expect("write");
        assert_eq!(message_from_file(&path).expect("read"), b"Michael\r\n");
        std::fs::write(&path, b"Michael\r\n").expect("write");
        assert_eq!(message_from_file(&path).expect("read"), b"Michael");
    }
}
