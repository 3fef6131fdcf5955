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
pub(super) struct OneSlot {
    before: Box<[u8]>,
    /// What follows the message, then `\n`.
    after_lf: Box<[u8]>,
    /// What follows the message, then `\r\n`.
    after_crlf: Box<[u8]>,
    /// The three pieces again, each padded to [`WIDE`] bytes, when each
    /// fits: see [`OneSlot::render`].
    wide: Option<[[u8; WIDE]; 3]>,
}

/// The width of the fixed-size copies that [`OneSlot::render`] makes of
/// short pieces.
pub(super) const WIDE: usize = 16;

impl OneSlot {
    fn new(before: &[u8], after: &[u8]) -> OneSlot {
        let after_lf = [after, b"\n"].concat();
        let after_crlf = [after, b"\r\n"].concat();
        let widen = |piece: &[u8]| {
            let mut wide = [0; WIDE];
            wide.get_mut(..piece.len())?.copy_from_slice(piece);
            Some(wide)
        };
        let wide = match (widen(before), widen(&after_lf), widen(&after_crlf)) {
            (Some(b), Some(lf), Some(crlf)) => Some([b, lf, crlf]),
            _ => None,
        };
        OneSlot {
            before: before.into(),
            after_lf: after_lf.into(),
            after_crlf: after_crlf.into(),
            wide,
        }
    }

    /// Appends the reply to `body`, a line's message (`\r\n`-terminated
    /// when `crlf`): the way for pieces or messages too long for
    /// [`OneSlot::render_wide`].
    pub(super) fn render(&self, out: &mut Vec<u8>, body: &[u8], crlf: bool) {
        let after = if crlf {
            &self.after_crlf
        } else {
            &self.after_lf
        };
        out.reserve(self.before.len() + body.len() + after.len());
        out.extend_from_slice(&self.before);
        out.extend_from_slice(body);
        out.extend_from_slice(after);
    }

    /// Writes the reply to `body` into `at` and returns its length. `window`
    /// is the input from the message's first byte on.
    ///
    /// The server's hot path: a pipelining client's read holds dozens of
    /// short lines. Each piece is copied [`WIDE`] bytes at once, padding
    /// and all, where the last one's length ends, so the next copy
    /// overwrites the padding: a move of one register each, where a copy
    /// of a length known only at run time is a call into `memcpy`. `None`,
    /// writing nothing, when a piece or the message is longer than
    /// [`WIDE`], or the window shorter. `benches/decoder.rs` measured 64
    /// lines a read at 500 ns this way (into a `Vec`, cut back after each
    /// copy), 890 with three copies of run-time length, and 360 into room
    /// made ahead, as [`super::usual_lines`] does.
    #[inline(always)]
    pub(super) fn render_wide(
        &self,
        at: &mut [u8; 3 * WIDE],
        body: &[u8],
        window: &[u8],
        crlf: bool,
    ) -> Option<usize> {
        let [before, lf, crlf_wide] = self.wide.as_ref()?;
        let window = window.get(..WIDE)?;
        if body.len() > WIDE {
            return None;
        }
        let (after_wide, after_len) = if crlf {
            (crlf_wide, self.after_crlf.len())
        } else {
            (lf, self.after_lf.len())
        };
        let body_at = self.before.len().min(WIDE);
        let after_at = body_at + body.len();
        at[..WIDE].copy_from_slice(before);
        at[body_at..body_at + WIDE].copy_from_slice(window);
        at[after_at..after_at + WIDE].copy_from_slice(after_wide);
        Some(after_at + after_len.min(WIDE))
    }
}

impl Template {
    /// Parses a template; every `{}` is replaced by the message.
    pub fn parse(text: &str) -> Template {
        let parts = text
            .split("{}")
            .map(|p| p.as_bytes().to_vec().into_boxed_slice())
            .collect::<Vec<Box<[u8]>>>();
        let one = match parts.as_slice() {
            [before, after] => Some(OneSlot::new(before, after)),
            _ => None,
        };
        Template { parts, one }
    }

    /// The template's pieces, when it has one `{}` (the usual case).
    #[inline]
    pub(super) fn one_slot(&self) -> Option<&OneSlot> {
        self.one.as_ref()
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
