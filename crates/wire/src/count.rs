//! [`Bytes`]: a byte count in words, `1 byte` or `2 bytes`, for messages
//! and replies a person reads.

use std::fmt;

/// Displays `n` with the right form of "byte": `1 byte`, `0 bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl Bytes {
    /// From a `usize` (lengths, limits).
    pub fn of(n: usize) -> Bytes {
        Bytes(u64::try_from(n).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bytes;

    #[test]
    fn one_byte_many_bytes() {
        assert_eq!(Bytes(0).to_string(), "0 bytes");
        assert_eq!(Bytes(1).to_string(), "1 byte");
        assert_eq!(Bytes::of(65536).to_string(), "65536 bytes");
    }
}
