//! The response head: parsing it (with httparse, under named size limits)
//! and deciding how the body is framed (RFC 9112 §6.3).
//!
//! Pure functions over bytes; `tcpkit::fetch` feeds them from its socket.
//! Every way a head can be wrong is a [`HeadError`] variant, so callers
//! branch on the kind, not on the message.

/// Why a response head was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The head did not end within [`Limits::max_head`] bytes.
    #[error("the response head is larger than {} (raise --max-head?)", crate::Bytes::of(*limit))]
    TooLarge {
        /// The limit crossed.
        limit: usize,
    },
    /// More fields than [`Limits::max_headers`].
    #[error("the response head has more than {limit} header fields (raise --max-headers?)")]
    TooManyFields {
        /// The limit crossed.
        limit: usize,
    },
    /// The start line is not `HTTP/1.0` or `HTTP/1.1`.
    #[error("the response does not start with HTTP/1.0 or HTTP/1.1 (not an HTTP/1 server?)")]
    NotHttp1,
    /// Any other syntax error that httparse found.
    #[error("malformed response head")]
    Syntax(#[source] httparse::Error),
    /// Transfer-Encoding in an HTTP/1.0 response (RFC 9112 §6.1).
    #[error(
        "an HTTP/1.0 response carries Transfer-Encoding, which HTTP/1.0 does not have \
         (RFC 9112 §6.1)"
    )]
    TransferEncodingInHttp10,
    /// `chunked` applied before another transfer coding.
    #[error("Transfer-Encoding '{codings}' applies chunked before another coding")]
    ChunkedNotLast {
        /// The codings as listed.
        codings: String,
    },
    /// A Content-Length that is not plain digits, or does not fit 64 bits.
    #[error("invalid Content-Length {value:?} (must be digits only)")]
    BadContentLength {
        /// The value as sent.
        value: String,
    },
    /// Two different Content-Length values (RFC 9112 §6.3 rule 5).
    #[error("the response has different Content-Length values ({first} and {second})")]
    ConflictingContentLength {
        /// The first value seen.
        first: u64,
        /// A later, different value.
        second: u64,
    },
}

/// Named limits on what a server may send us before the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in one response head; also caps a chunk-size line and the
    /// trailer section.
    pub max_head: usize,
    /// Header fields in one response head.
    pub max_headers: usize,
    /// Interim (1xx) responses skipped before the final one.
    pub max_interim: usize,
}

/// Default for [`Limits::max_head`], as in hyper and nginx's large buffers.
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;
/// Default for [`Limits::max_headers`], as in hyper.
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Default for [`Limits::max_interim`].
pub const DEFAULT_MAX_INTERIM: usize = 10;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: DEFAULT_MAX_HEAD,
            max_headers: DEFAULT_MAX_HEADERS,
            max_interim: DEFAULT_MAX_INTERIM,
        }
    }
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The bytes exactly as they arrived, blank line included.
    pub raw: Vec<u8>,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// Fields in order; a folded value (obs-fold) has its line breaks
    /// replaced by spaces, as RFC 9112 §5.2 asks of a user agent.
    pub fields: Vec<(String, Vec<u8>)>,
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// There is no body (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Everything until the server closes the connection.
    Close,
}

/// Tries to parse one head at the start of `buf`. `Ok(None)` means more
/// bytes are needed; `Ok(Some((head, len)))` gives the head and its length.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Head, usize)>, HeadError> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut response = httparse::Response::new(&mut slots);
    let status = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .parse_response(&mut response, buf);
    let len = match status {
        Ok(httparse::Status::Complete(len)) if len > limits.max_head => {
            return Err(HeadError::TooLarge {
                limit: limits.max_head,
            });
        }
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= limits.max_head => {
            return Err(HeadError::TooLarge {
                limit: limits.max_head,
            });
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::TooManyFields {
                limit: limits.max_headers,
            });
        }
        Err(httparse::Error::Version) => return Err(HeadError::NotHttp1),
        Err(e) => return Err(HeadError::Syntax(e)),
    };
    let fields = response
        .headers
        .iter()
        .map(|h| (h.name.to_string(), unfold(h.value)))
        .collect();
    let head = Head {
        raw: buf[..len].to_vec(),
        minor: response.version.unwrap_or(1),
        status: response.code.unwrap_or(0),
        reason: response.reason.unwrap_or("").to_string(),
        fields,
    };
    Ok(Some((head, len)))
}

/// Replaces the CR and LF of an obs-fold with spaces.
fn unfold(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

impl Head {
    /// The values of every field named `name` (case-insensitive), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `name`, as text, trimmed.
    pub fn value(&self, name: &str) -> Option<String> {
        self.values(name)
            .next()
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
    }

    /// A 1xx response: another head follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// A status that `-L` follows when a Location is given.
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }

    /// `404 Not Found`, for messages.
    pub fn status_line(&self) -> String {
        format!("{} {}", self.status, self.reason)
            .trim_end()
            .to_string()
    }

    /// How the body is framed, per RFC 9112 §6.3, and any warnings about
    /// the choice. `head_request` is true when we sent HEAD.
    pub fn framing(&self, head_request: bool) -> Result<(Framing, Vec<String>), HeadError> {
        let mut warnings = Vec::new();
        // §6.3 rule 1: these never have a body, whatever the fields say.
        if head_request || self.is_interim() || self.status == 204 || self.status == 304 {
            return Ok((Framing::None, warnings));
        }
        let has_length = self.values("content-length").next().is_some();
        let codings: Vec<String> = self
            .values("transfer-encoding")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|c| String::from_utf8_lossy(c).trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect();
        if self.values("transfer-encoding").next().is_some() {
            if self.minor == 0 {
                return Err(HeadError::TransferEncodingInHttp10);
            }
            if has_length {
                warnings.push(
                    "the response has both Transfer-Encoding and Content-Length; \
                     Transfer-Encoding wins (RFC 9112 §6.3)"
                        .into(),
                );
            }
            let chunked_at = codings.iter().position(|c| c == "chunked");
            let last_is_chunked = codings.last().is_some_and(|c| c == "chunked");
            if chunked_at.is_some_and(|at| at + 1 != codings.len()) {
                return Err(HeadError::ChunkedNotLast {
                    codings: codings.join(", "),
                });
            }
            let others: Vec<&str> = codings
                .iter()
                .filter(|c| *c != "chunked")
                .map(String::as_str)
                .collect();
            if !others.is_empty() {
                warnings.push(format!(
                    "the body keeps its '{}' transfer coding: tcpkit decodes only chunked",
                    others.join(", ")
                ));
            }
            // §6.3 rule 4: not ending in chunked means read until close.
            let framing = if last_is_chunked {
                Framing::Chunked
            } else {
                Framing::Close
            };
            return Ok((framing, warnings));
        }
        if has_length {
            return Ok((Framing::Length(self.content_length()?), warnings));
        }
        Ok((Framing::Close, warnings))
    }

    /// The one Content-Length, from every field and comma-separated value;
    /// equal repeats are allowed, different ones are an error (§6.3 rule 5).
    fn content_length(&self) -> Result<u64, HeadError> {
        let mut found: Option<u64> = None;
        for value in self.values("content-length") {
            for item in value.split(|&b| b == b',') {
                let text = String::from_utf8_lossy(item).trim().to_string();
                let valid = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
                let n = valid.then(|| text.parse::<u64>().ok()).flatten();
                let Some(n) = n else {
                    return Err(HeadError::BadContentLength {
                        value: String::from_utf8_lossy(item).trim().to_string(),
                    });
                };
                match found {
                    Some(m) if m != n => {
                        return Err(HeadError::ConflictingContentLength {
                            first: m,
                            second: n,
                        });
                    }
                    _ => found = Some(n),
                }
            }
        }
        found.ok_or_else(|| HeadError::BadContentLength {
            value: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse(text.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    fn framing(text: &str) -> Result<Framing, HeadError> {
        head(text).framing(false).map(|(f, _)| f)
    }

    #[test]
    fn parses_a_head_and_its_length() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let (h, len) = parse(text.as_bytes(), &Limits::default()).unwrap().unwrap();
        assert_eq!(len, text.len() - 5);
        assert_eq!(h.status_line(), "200 OK");
        assert_eq!(h.value("CONTENT-LENGTH").as_deref(), Some("5"));
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nA: b\r\n", &Limits::default())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn framing_rules() {
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
            Ok(Framing::Length(5))
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n"),
            Ok(Framing::Length(5))
        );
        for bad in ["+5", "-1", "5x", "", "99999999999999999999999"] {
            let text = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
            assert_eq!(
                framing(&text),
                Err(HeadError::BadContentLength { value: bad.into() }),
            );
        }
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(HeadError::ConflictingContentLength {
                first: 5,
                second: 6
            })
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Ok(Framing::Close)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            Err(HeadError::ChunkedNotLast {
                codings: "chunked, gzip".into()
            })
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HeadError::TransferEncodingInHttp10)
        );
        assert_eq!(framing("HTTP/1.0 200 OK\r\n\r\n"), Ok(Framing::Close));
        for status in ["204 No Content", "304 Not Modified", "103 Early Hints"] {
            let text = format!("HTTP/1.1 {status}\r\nContent-Length: 9\r\n\r\n");
            assert_eq!(framing(&text), Ok(Framing::None));
        }
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n");
        assert_eq!(h.framing(true).unwrap().0, Framing::None);
        let (f, warnings) =
            head("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n")
                .framing(false)
                .unwrap();
        assert_eq!(f, Framing::Chunked);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_head: 64,
            max_headers: 2,
            max_interim: 1,
        };
        let endless = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(100));
        assert_eq!(
            parse(endless.as_bytes(), &limits).unwrap_err(),
            HeadError::TooLarge { limit: 64 }
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &limits).unwrap_err(),
            HeadError::TooManyFields { limit: 2 }
        );
        assert_eq!(
            parse(b"SMTP/1.1 200 OK\r\n\r\n", &limits).unwrap_err(),
            HeadError::NotHttp1
        );
    }

    #[test]
    fn obs_fold_becomes_spaces() {
        let h = head("HTTP/1.1 200 OK\r\nX-Long: one\r\n two\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(h.value("x-long").as_deref(), Some("one   two"));
    }
}
