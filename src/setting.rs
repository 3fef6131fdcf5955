//! The names of settings in messages: a limit that was crossed, a timeout
//! that ran out, an option that conflicts with another.
//!
//! A message is made where the failure is understood, deep in the
//! library, but the name of the setting to change belongs to whoever
//! shows it: a library user set a field (`connect_timeout`), a command
//! line user a flag (`--connect-timeout`). So the library's messages are
//! [`Words`]: text that carries each [`Setting`] it names as data, and is
//! rendered by whoever shows it, with the [`Naming`] it wants
//! ([`Words::render`]). No switch is kept anywhere: the same error can be
//! shown both ways.

use std::fmt;

macro_rules! settings {
    ($($(#[$doc:meta])* $name:ident: $field:literal, $flag:literal;)*) => {
        /// A setting a message may tell the user to change.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Setting {
            $($(#[$doc])* $name,)*
        }

        impl Setting {
            /// Every setting, in declaration order (a [`Words`] marks
            /// one by its index here).
            const ALL: &'static [Setting] = &[$(Setting::$name,)*];

            /// The name in the library's API.
            pub fn field(self) -> &'static str {
                match self {
                    $(Setting::$name => $field,)*
                }
            }

            /// The `tcpkit` flag.
            pub fn flag(self) -> &'static str {
                match self {
                    $(Setting::$name => $flag,)*
                }
            }

            /// The setting whose `tcpkit` flag is `flag` (the first, for
            /// a flag two commands spell alike).
            pub fn of_flag(flag: &str) -> Option<Setting> {
                Setting::ALL.iter().copied().find(|s| s.flag() == flag)
            }
        }
    };
}

settings! {
    /// `server::Builder::bind`.
    Bind: "bind", "--bind";
    /// The port `talk` listens on for one client (nc's `-l`).
    ListenPort: "addr", "-l PORT";
    /// The port `demo`'s server listens on.
    DemoPort: "port", "--port";
    /// The session `demo` plays (`trace::scenario::Scenario`).
    DemoScenario: "scenario", "--scenario";
    /// The reads and writes a recording keeps (`trace::session::record`).
    MaxDrawn: "max_drawn", "--max-drawn";
    /// `server::Builder::reuse_port`.
    ReusePort: "reuse_port", "--reuse-port";
    /// `server::Builder::metrics`.
    Metrics: "metrics", "--metrics";
    /// `server::Builder::agent`.
    Agent: "agent", "--agent";
    /// `server::Config::max_connections`.
    MaxConnections: "max_connections", "--max-connections";
    /// `server::Config::refuse_rate`.
    RefuseRate: "refuse_rate", "--refuse-rate";
    /// `server::Config::grace`.
    Grace: "grace", "--grace";
    /// `server::Config::send_buffer`.
    SendBuffer: "send_buffer", "--send-buffer";
    /// `server::ProxyPolicy::trusted`.
    ProxyFrom: "proxy.trusted", "--proxy-from";
    /// `server::Config::tls_handshake_timeout`.
    TlsHandshakeTimeout: "tls_handshake_timeout", "--tls-handshake-timeout";
    /// The server's certificate file (`tls::ServerTls`).
    TlsCert: "cert", "--tls-cert";
    /// The server's key file (`tls::ServerTls`).
    TlsKey: "key", "--tls-key";
    /// Where a made certificate's PEM goes (`tls::TlsSource::SelfSigned`).
    TlsCertOut: "out", "--tls-cert-out";
    /// The certificates a client trusts (`cacert`).
    Cacert: "cacert", "--cacert";
    /// The name a client checks the certificate for.
    ServerName: "server_name", "--servername";
    /// A client's limit on connecting.
    ConnectTimeout: "connect_timeout", "--connect-timeout";
    /// `fetch::Options::read_timeout`.
    ReadTimeout: "read_timeout", "--read-timeout";
    /// `fetch::Options::max_redirs`.
    MaxRedirs: "max_redirs", "--max-redirs";
    /// `fetch::Options::follow`.
    Follow: "follow", "-L";
    /// `fetch::Options::fail`.
    Fail: "fail", "--fail";
    /// `fetch::Options::headers`.
    Header: "headers", "-H";
    /// `fetch::Options::force`.
    Force: "force", "--force";
    /// `fetch::Options::destination`.
    Output: "destination", "-o";
    /// `fetch::Options::max_filesize`.
    MaxFilesize: "max_filesize", "--max-filesize";
    /// `fetch::Options::compressed`.
    Compressed: "compressed", "--compressed";
    /// `fetch::Options::resume`.
    Resume: "resume", "-C";
    /// `fetch::Options::raw`.
    Raw: "raw", "--raw";
    /// `fetch::Options::insecure`.
    Insecure: "insecure", "--insecure";
    /// `fetch::Limits::max_head`.
    MaxHead: "limits.max_head", "--max-head";
    /// `fetch::Limits::max_interim`.
    MaxInterim: "limits.max_interim", "--max-interim";
    /// `talk::TalkOptions::timeout`.
    Timeout: "timeout", "--timeout";
    /// `bench::Options::reply_timeout`.
    ReplyTimeout: "reply_timeout", "--timeout";
    /// `talk::TalkOptions::max_reply`.
    MaxReply: "max_reply", "--max-reply";
    /// The welcome a client expects.
    Welcome: "welcome", "--welcome";
    /// A client that expects no welcome (an empty one).
    NoWelcome: "welcome: \"\"", "--no-welcome";
    /// A client's TLS.
    Tls: "tls", "--tls";
    /// `bench::Options::depth`.
    Depth: "depth", "--depth";
    /// The reply template a client expects.
    Reply: "reply", "--reply";
    /// A client's framing.
    Framing: "framing", "--framing";
    /// `bench::Options::connections`.
    Connections: "connections", "--connections";
    /// `bench::Options::rate`.
    Rate: "rate", "--rate";
    /// `bench::Options::threads`.
    Threads: "threads", "--threads";
    /// `bench::Options::connect_rate`.
    ConnectRate: "connect_rate", "--connect-rate";
    /// `bench::Options::open_batch`.
    OpenBatch: "open_batch", "--open-batch";
    /// `bench::Options::messages`.
    Messages: "messages", "--messages";
    /// `bench::Options::interval`.
    Interval: "interval", "--interval";
    /// `bench::Options::duration`.
    Duration: "duration", "--duration";
    /// `bench::Options::message`.
    Message: "message", "--message";
    /// The file `bench::message_from_file` reads the message from.
    MessageFile: "message_from_file", "--message-file";
    /// The log level that shows every connection, probes too.
    DebugLog: "tracing::Level::DEBUG", "-v";
    /// `bench::Options::server_pid`.
    ServerPid: "server_pid", "--server-pid";
    /// `bench::Options::warmup`.
    Warmup: "warmup", "--warmup";
    /// `bench::Options::start_at`.
    StartAt: "start_at", "--start-at";
    /// `bench::Options::sample`.
    Sample: "sample", "--sample";
    /// `bench::Options::sources`.
    Source: "sources", "--source";
    /// `bench::Options::send_proxy`.
    SendProxy: "send_proxy", "--send-proxy";
    /// The file `bench::HdrLog` writes.
    HdrLog: "hdr_log", "--hdr-log";
}

/// How a message names its settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Naming {
    /// As the library's fields, in backticks: `` `connect_timeout` ``.
    #[default]
    Fields,
    /// As the `tcpkit` binary's flags: `--connect-timeout`.
    Flags,
}

impl Setting {
    /// This setting's name, as `naming` wants it.
    pub fn name(self, naming: Naming) -> String {
        match naming {
            Naming::Fields => format!("`{}`", self.field()),
            Naming::Flags => self.flag().to_string(),
        }
    }
}

/// Starts a setting's mark inside a [`Words`]' text; the next character
/// is [`INDEX_BASE`] plus the setting's index in `Setting::ALL`. Both are
/// private-use characters, which no message of ours contains otherwise.
const MARK: char = '\u{E000}';
const INDEX_BASE: u32 = 0xE100;

/// A message that may name settings: its text, with each [`Setting`] kept
/// as data until it is rendered ([`Words::render`]). Made inside the
/// library with `words!`, which takes `format!`'s arguments and keeps any
/// `Setting` or `Words` among them as they are. Deliberately not
/// `Display`: whoever shows it says how settings are named.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Words {
    /// The text, each setting in it marked ([`MARK`]).
    marked: String,
}

impl Words {
    /// Words naming no setting.
    pub fn plain(text: impl Into<String>) -> Words {
        let mut marked: String = text.into();
        // Marks come only from `words!`: a stray one from elsewhere (a
        // peer's bytes in a message) is not taken for a setting.
        if marked.contains(MARK) {
            marked = marked.replace(MARK, "\u{FFFD}");
        }
        Words { marked }
    }

    /// The text, each setting named as `naming` wants.
    pub fn render(&self, naming: Naming) -> String {
        let mut out = String::with_capacity(self.marked.len());
        let mut chars = self.marked.chars();
        while let Some(c) = chars.next() {
            if c != MARK {
                out.push(c);
                continue;
            }
            match chars.next().and_then(setting_of) {
                Some(setting) => out.push_str(&setting.name(naming)),
                None => out.push('\u{FFFD}'),
            }
        }
        out
    }

    /// The settings these words name, in order.
    pub fn settings(&self) -> impl Iterator<Item = Setting> + '_ {
        let mut chars = self.marked.chars();
        std::iter::from_fn(move || {
            loop {
                if chars.next()? == MARK
                    && let Some(setting) = chars.next().and_then(setting_of)
                {
                    return Some(setting);
                }
            }
        })
    }

    /// Whether there is nothing to say.
    pub fn is_empty(&self) -> bool {
        self.marked.is_empty()
    }

    /// Made by `words!` from text whose marks it wrote itself.
    #[doc(hidden)]
    pub fn __from_marked(marked: String) -> Words {
        Words { marked }
    }

    /// Appends `more`.
    pub fn push(&mut self, more: &Words) {
        self.marked.push_str(&more.marked);
    }
}

/// The setting a mark's index character stands for.
fn setting_of(index: char) -> Option<Setting> {
    let index = u32::from(index).checked_sub(INDEX_BASE)?;
    Setting::ALL.get(usize::try_from(index).ok()?).copied()
}

impl fmt::Debug for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.render(Naming::Fields), f)
    }
}

/// As its text with settings named as fields, the library's own naming
/// (bench's JSON report): a program that wants flags renders the words
/// itself ([`Words::render`]).
#[cfg(feature = "serde")]
impl serde::Serialize for Words {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.render(Naming::Fields))
    }
}

/// From a report's JSON (`bench merge`): the text as it was rendered.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Words {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Words, D::Error> {
        String::deserialize(deserializer).map(Words::plain)
    }
}

impl From<String> for Words {
    fn from(text: String) -> Words {
        Words::plain(text)
    }
}

impl From<&str> for Words {
    fn from(text: &str) -> Words {
        Words::plain(text)
    }
}

/// One argument of `words!`, as it goes into the text: a [`Setting`]
/// marked, [`Words`] with their marks, anything else as it displays
/// (with the format's width and precision).
#[doc(hidden)]
pub trait Piece {
    /// The argument, ready for `format!`.
    fn piece(&self) -> Shown<'_>;
}

/// What [`Piece`] gives `format!`.
#[doc(hidden)]
pub enum Shown<'a> {
    /// Text with its marks, written as it is.
    Marked(std::borrow::Cow<'a, str>),
    /// Anything else, displayed as it would be by `format!`.
    Plain(&'a dyn fmt::Display),
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Marked(text) => f.write_str(text),
            Shown::Plain(value) => {
                // Only `words!` writes marks: a stray one from elsewhere
                // (a peer's bytes in a message) is not taken for a setting.
                let text = value.to_string();
                if text.contains(MARK) {
                    return f.write_str(&text.replace(MARK, "\u{FFFD}"));
                }
                value.fmt(f)
            }
        }
    }
}

impl Piece for Setting {
    fn piece(&self) -> Shown<'_> {
        let index = Setting::ALL
            .iter()
            .position(|s| s == self)
            .and_then(|i| u32::try_from(i).ok())
            .and_then(|i| char::from_u32(INDEX_BASE + i))
            .unwrap_or('\u{FFFD}');
        Shown::Marked(format!("{MARK}{index}").into())
    }
}

impl Piece for Words {
    fn piece(&self) -> Shown<'_> {
        Shown::Marked(self.marked.as_str().into())
    }
}

impl Piece for &Setting {
    fn piece(&self) -> Shown<'_> {
        (**self).piece()
    }
}

impl Piece for &Words {
    fn piece(&self) -> Shown<'_> {
        (**self).piece()
    }
}

impl<T: fmt::Display> Piece for T {
    fn piece(&self) -> Shown<'_> {
        Shown::Plain(self)
    }
}

/// [`Words`] from `format!`'s arguments, each [`Setting`] (or [`Words`])
/// among the positional ones kept as data; anything else is displayed as
/// `format!` would (a setting in an inline `{name}` would not compile, as
/// `Setting` is not `Display`):
///
/// ```
/// use tcpkit::{Naming, Setting, words};
/// let w = words!("raise {} (now {}s)", Setting::ConnectTimeout, 10);
/// assert_eq!(w.render(Naming::Flags), "raise --connect-timeout (now 10s)");
/// assert_eq!(w.render(Naming::Fields), "raise `connect_timeout` (now 10s)");
/// ```
#[macro_export]
macro_rules! words {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {
        $crate::setting::Words::__from_marked(::std::format!(
            $fmt $(, $crate::setting::Piece::piece(&$arg))*
        ))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_name_their_settings_as_the_shower_asks() {
        let w = crate::words!(
            "raise {} (now {}), or use {}",
            Setting::ConnectTimeout,
            "10s",
            Setting::Resume
        );
        assert_eq!(
            w.render(Naming::Fields),
            "raise `connect_timeout` (now 10s), or use `resume`"
        );
        assert_eq!(
            w.render(Naming::Flags),
            "raise --connect-timeout (now 10s), or use -C"
        );
        assert_eq!(
            w.settings().collect::<Vec<_>>(),
            [Setting::ConnectTimeout, Setting::Resume]
        );
        // Words inside words keep their settings.
        let outer = crate::words!("{}; then {}", w, Setting::MaxRedirs);
        assert_eq!(outer.settings().count(), 3);
        assert!(outer.render(Naming::Flags).ends_with("then --max-redirs"));
    }

    #[test]
    fn a_peers_text_is_never_taken_for_a_setting() {
        let hostile = format!("{MARK}{}", char::from_u32(INDEX_BASE).unwrap());
        let w = crate::words!("the server said {}", hostile);
        assert_eq!(w.settings().count(), 0);
        assert_eq!(Words::plain(hostile.clone()).settings().count(), 0);
        assert!(!w.render(Naming::Flags).contains(Setting::ALL[0].flag()));
    }
}
