//! Log setup for the binary, and [`Escaped`], the only way client bytes
//! reach a log: control bytes and non-UTF-8 escaped, long input truncated,
//! so a client cannot forge log lines or flood the log.

use std::fmt;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Client bytes shown in a log line at most.
pub const LOG_BYTES: usize = 64;

/// Displays bytes escaped (`\n`, `\x1b`, ...) and cut at [`LOG_BYTES`].
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(LOG_BYTES)];
        f.write_str("\"")?;
        for chunk in shown.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '"' || c == '\\' || c.is_control() {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")?;
        if self.0.len() > shown.len() {
            write!(f, "... ({} more bytes)", self.0.len() - shown.len())?;
        }
        Ok(())
    }
}

/// Sends logs to stderr. `verbosity` counts `-v` minus `-q`; `RUST_LOG`
/// wins when set. `plain` leaves out time and level, as the tutorial prints.
pub fn init(verbosity: i8, plain: bool) {
    let level = match verbosity {
        i8::MIN..=-2 => "error",
        -1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    if plain {
        builder.without_time().with_level(false).init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_truncates() {
        assert_eq!(Escaped(b"Michael").to_string(), "\"Michael\"");
        assert_eq!(
            Escaped(b"a\r\n\x1b[31m\"\\\xff").to_string(),
            "\"a\\r\\n\\u{1b}[31m\\\"\\\\\\xff\""
        );
        let long = vec![b'x'; 100];
        assert!(
            Escaped(&long)
                .to_string()
                .ends_with("\"... (36 more bytes)")
        );
    }
}
