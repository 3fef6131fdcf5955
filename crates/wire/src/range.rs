//! The `Content-Range` field of a 206 or 416 response (RFC 9110 §14.4),
//! parsed strictly: a resumed download is only as safe as the range it
//! trusts, so anything but the exact grammar is an error, never a guess.
//!
//! ```text
//! Content-Range     = range-unit SP ( range-resp / unsatisfied-range )
//! range-resp        = first-pos "-" last-pos "/" ( complete-length / "*" )
//! unsatisfied-range = "*/" complete-length
//! ```
//!
//! Positions are DIGITs only (no sign, no space inside), checked for
//! overflow; a range whose last byte comes before its first, or lies past
//! the complete length, is refused (§14.4: "invalid").

use std::fmt;

/// A parsed `Content-Range` in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes FIRST-LAST/COMPLETE` (`COMPLETE` is `None` for `*`).
    Bytes {
        /// The first byte's position.
        first: u64,
        /// The last byte's position (inclusive).
        last: u64,
        /// The whole representation's length, when the server knows it.
        complete: Option<u64>,
    },
    /// `bytes */COMPLETE`: a 416's statement of the full length.
    Unsatisfied {
        /// The whole representation's length.
        complete: u64,
    },
}

impl ContentRange {
    /// How many bytes the range holds (`last - first + 1`); 0 for
    /// [`ContentRange::Unsatisfied`].
    pub fn len(&self) -> u64 {
        match *self {
            // Cannot overflow: parse guarantees first <= last < u64::MAX
            // or last < complete.
            ContentRange::Bytes { first, last, .. } => last - first + 1,
            ContentRange::Unsatisfied { .. } => 0,
        }
    }

    /// True for a range that holds no bytes (only the unsatisfied form).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a `Content-Range` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// The unit is not `bytes`.
    Unit,
    /// The value does not follow the grammar (a missing `-` or `/`, a
    /// sign, a space, a letter).
    Syntax,
    /// A number has more digits than fit in 64 bits.
    Overflow,
    /// The last position comes before the first.
    Backwards,
    /// The last position is at or past the complete length.
    PastEnd,
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RangeError::Unit => "the unit is not bytes",
            RangeError::Syntax => "it is not of the form bytes FIRST-LAST/LENGTH",
            RangeError::Overflow => "a number is too large",
            RangeError::Backwards => "its last byte comes before its first",
            RangeError::PastEnd => "its last byte lies past the length it names",
        })
    }
}

impl std::error::Error for RangeError {}

/// Parses a `Content-Range` value (surrounding whitespace allowed).
pub fn parse(value: &str) -> Result<ContentRange, RangeError> {
    let value = value.trim_matches([' ', '\t']);
    let (unit, rest) = value.split_once(' ').ok_or(RangeError::Syntax)?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return Err(RangeError::Unit);
    }
    let (range, complete) = rest.split_once('/').ok_or(RangeError::Syntax)?;
    if range == "*" {
        return Ok(ContentRange::Unsatisfied {
            complete: number(complete)?,
        });
    }
    let (first, last) = range.split_once('-').ok_or(RangeError::Syntax)?;
    let (first, last) = (number(first)?, number(last)?);
    let complete = match complete {
        "*" => None,
        n => Some(number(n)?),
    };
    if last < first {
        return Err(RangeError::Backwards);
    }
    // last == u64::MAX would make len() overflow: no complete length can
    // hold it, so it is past any end.
    if complete.is_some_and(|c| last >= c) || last == u64::MAX {
        return Err(RangeError::PastEnd);
    }
    Ok(ContentRange::Bytes {
        first,
        last,
        complete,
    })
}

/// 1*DIGIT as a u64, overflow-checked.
fn number(text: &str) -> Result<u64, RangeError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeError::Syntax);
    }
    text.bytes().try_fold(0u64, |n, d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(RangeError::Overflow)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(first: u64, last: u64, complete: Option<u64>) -> ContentRange {
        ContentRange::Bytes {
            first,
            last,
            complete,
        }
    }

    #[test]
    fn the_grammar() {
        assert_eq!(parse("bytes 400-999/1000"), Ok(bytes(400, 999, Some(1000))));
        assert_eq!(parse(" Bytes 0-0/1 "), Ok(bytes(0, 0, Some(1))));
        assert_eq!(parse("bytes 5-9/*"), Ok(bytes(5, 9, None)));
        assert_eq!(
            parse("bytes */1000"),
            Ok(ContentRange::Unsatisfied { complete: 1000 })
        );
        assert_eq!(parse("bytes 400-999/1000").unwrap().len(), 600);
        assert_eq!(
            parse("bytes 0-18446744073709551614/18446744073709551615")
                .unwrap()
                .len(),
            u64::MAX
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for (value, why) in [
            ("items 1-2/3", RangeError::Unit),
            ("bytes=1-2/3", RangeError::Syntax),
            ("bytes 1-2", RangeError::Syntax),
            ("bytes 1/3", RangeError::Syntax),
            ("bytes -2/3", RangeError::Syntax),
            ("bytes 1-/3", RangeError::Syntax),
            ("bytes +1-2/3", RangeError::Syntax),
            ("bytes 1 -2/3", RangeError::Syntax),
            ("bytes 0x1-2/3", RangeError::Syntax),
            ("bytes 1-2/-3", RangeError::Syntax),
            ("bytes */*", RangeError::Syntax),
            ("bytes 1-2/", RangeError::Syntax),
            ("", RangeError::Syntax),
            ("bytes 4000-99999999999999999999999/1", RangeError::Overflow),
            ("bytes 18446744073709551616-1/2", RangeError::Overflow),
            ("bytes 5-4/10", RangeError::Backwards),
            ("bytes 0-10/10", RangeError::PastEnd),
            ("bytes 4000-5000/1", RangeError::PastEnd),
            ("bytes 0-18446744073709551615/*", RangeError::PastEnd),
        ] {
            assert_eq!(parse(value), Err(why), "{value:?}");
        }
    }
}
