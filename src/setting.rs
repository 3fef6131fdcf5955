//! The names of settings in messages: a limit that was crossed, a timeout
//! that ran out, an option that conflicts with another.
//!
//! A message is made where the failure is understood, deep in the
//! library, but the name of the setting to change belongs to whoever
//! called it: a library user set a field (`connect_timeout`), a command
//! line user a flag (`--connect-timeout`). So the library names a
//! [`Setting`], which shows as the field, in backticks, unless the
//! program has called [`name_as_flags`] (the `tcpkit` binary does, first
//! thing), after which it shows as the flag.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once by [`name_as_flags`].
static AS_FLAGS: AtomicBool = AtomicBool::new(false);

/// From now on, settings in messages are named as `tcpkit`'s flags.
pub fn name_as_flags() {
    AS_FLAGS.store(true, Ordering::Relaxed);
}

macro_rules! settings {
    ($($(#[$doc:meta])* $name:ident: $field:literal, $flag:literal;)*) => {
        /// A setting a message may tell the user to change.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Setting {
            $($(#[$doc])* $name,)*
        }

        impl Setting {
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
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if AS_FLAGS.load(Ordering::Relaxed) {
            f.write_str(self.flag())
        } else {
            write!(f, "`{}`", self.field())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_shows_as_the_field_until_flags_are_asked_for() {
        // One test, since the switch is for the whole process.
        assert_eq!(Setting::ConnectTimeout.to_string(), "`connect_timeout`");
        name_as_flags();
        assert_eq!(Setting::ConnectTimeout.to_string(), "--connect-timeout");
        assert_eq!(Setting::Resume.to_string(), "-C");
    }
}
