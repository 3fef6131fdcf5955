//! What the server says and how it frames it: the framings, the welcome,
//! the reply template and the message limit, with their defaults.

/// How a connection's byte stream is cut into messages. (Each variant's
/// first paragraph is `serve --framing`'s help for it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Framing {
    /// Chunk-framed until the first newline arrives, line-framed from then on.
    Auto,
    /// A message is the bytes before a newline.
    ///
    /// (A `\r` before the `\n` is dropped.)
    Line,
    /// Each read from the socket is one message (the tutorial's wire format).
    Chunk,
}

/// How a client frames what it sends and reads. (Each variant's doc is
/// `talk --framing`'s and `bench --framing`'s help for it.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ClientFraming {
    /// Messages and replies end with a newline (for tcpkit serve).
    #[default]
    Line,
    /// Each write is a message, each read a reply (the tutorial's server).
    Chunk,
}

impl ClientFraming {
    /// The terminator a client adds to each message it sends.
    pub fn terminator(self) -> &'static [u8] {
        match self {
            ClientFraming::Line => b"\n",
            ClientFraming::Chunk => b"",
        }
    }
}

/// The default welcome text.
pub const DEFAULT_WELCOME: &str = "Welcome!";
/// The default reply template.
pub const DEFAULT_REPLY: &str = "Hello, {}!";
/// The default limit on one message, in bytes (terminator not counted).
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;
/// The message that closes a connection without a reply.
pub const EXIT: &[u8] = b"exit";

/// A reply template: literal text with `{}` standing for the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The literal pieces around each `{}`; the message goes between two pieces.
    parts: Vec<Box<[u8]>>,
    /// The usual template's pieces with the terminators added, when it
    /// has exactly one `{}`.
    one: Option<OneSlot>,
}

/// A template with one `{}`, ready for a line's reply in three copies.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OneSlot {
    before: Box<[u8]>,
    /// What follows the message, then `\n`.
    after_lf: Box<[u8]>,
    /// What follows the message, then `\r\n`.
    after_crlf: Box<[u8]>,
}

impl Template {
    /// Parses a template; every `{}` is replaced by the message.
    pub fn parse(text: &str) -> Template {
        let parts = text
            .split("{}")
            .map(|p| p.as_bytes().to_vec().into_boxed_slice())
            .collect::<Vec<Box<[u8]>>>();
        let one = match parts.as_slice() {
            [before, after] => Some(OneSlot {
                before: before.clone(),
                after_lf: [after, &b"\n"[..]].concat().into_boxed_slice(),
                after_crlf: [after, &b"\r\n"[..]].concat().into_boxed_slice(),
            }),
            _ => None,
        };
        Template { parts, one }
    }

    /// With one `{}`: the text before it, and the text after it with the
    /// line's terminator (`\r\n` when `crlf`).
    #[inline]
    pub(super) fn one_slot(&self, crlf: bool) -> Option<(&[u8], &[u8])> {
        self.one.as_ref().map(|one| {
            let after = if crlf { &one.after_crlf } else { &one.after_lf };
            (&one.before[..], &after[..])
        })
    }

    /// The reply to `message` (without any line terminator).
    pub fn reply_to(&self, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.render(&mut out, message, &[]);
        out
    }

    /// Appends the reply to a message that arrived in two pieces (`head` then
    /// `tail`), so a line split across reads needs no copy to be answered.
    pub(super) fn render(&self, out: &mut Vec<u8>, head: &[u8], tail: &[u8]) {
        // The usual template has one `{}`: reserve once, copy four pieces.
        if let [prefix, suffix] = self.parts.as_slice() {
            out.reserve(prefix.len() + head.len() + tail.len() + suffix.len() + 2);
            out.extend_from_slice(prefix);
            out.extend_from_slice(head);
            out.extend_from_slice(tail);
            out.extend_from_slice(suffix);
            return;
        }
        let (first, rest) = self
            .parts
            .split_first()
            .expect("split always yields at least one piece");
        out.extend_from_slice(first);
        for part in rest {
            out.extend_from_slice(head);
            out.extend_from_slice(tail);
            out.extend_from_slice(part);
        }
    }
}

impl Default for Template {
    fn default() -> Self {
        Template::parse(DEFAULT_REPLY)
    }
}

/// What the server says and how it frames it; shared by all connections.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How messages are framed.
    pub framing: Framing,
    /// The welcome text, sent on accept (nothing is sent when it is empty).
    pub welcome: Vec<u8>,
    /// The reply template.
    pub reply: Template,
    /// The longest message accepted, in bytes, terminator not counted.
    pub max_message: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            framing: Framing::Auto,
            welcome: DEFAULT_WELCOME.as_bytes().to_vec(),
            reply: Template::default(),
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

impl Settings {
    /// The bytes sent on accept: the welcome, with `\n` unless chunk-framed.
    pub fn welcome_bytes(&self) -> Vec<u8> {
        let mut out = self.welcome.clone();
        if !out.is_empty() && self.framing != Framing::Chunk {
            out.push(b'\n');
        }
        out
    }
}
