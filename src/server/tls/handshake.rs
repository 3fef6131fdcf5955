//! The server side of a TLS handshake, over the nonblocking socket and
//! within `--tls-handshake-timeout`, before the welcome; and why one
//! failed, for the log.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::super::socket::{self, Socket};
use rustls::ServerConfig;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, UnbufferedStatus};
use tcpkit_wire::Escaped;

use super::{Tls, encode, flush_all};

/// The first byte of a TLS handshake record (RFC 8446 §5.1).
const HANDSHAKE_RECORD: u8 = 0x16;

/// Why a handshake did not finish.
#[derive(Debug)]
pub(in crate::server) enum HandshakeError {
    /// The client sent something that is not TLS (the bytes, escaped).
    NotTls(String),
    /// The client's TLS was refused (no common version or cipher, a bad
    /// record, an alert from the client about our certificate).
    Refused(rustls::Error),
    /// The client closed before the handshake finished.
    Closed,
    /// The handshake did not finish within the limit.
    TimedOut(Duration),
    /// The socket failed.
    Failed(io::Error),
}

/// A [`HandshakeError`] in a log line, naming settings as the server's
/// [`Config::naming`](crate::server::Config::naming) says.
pub(crate) struct Shown<'a>(&'a HandshakeError, crate::setting::Naming);

impl HandshakeError {
    /// This failure as the server's log gives it.
    pub(crate) fn shown(&self, naming: crate::setting::Naming) -> Shown<'_> {
        Shown(self, naming)
    }
}

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Shown(error, naming) = self;
        match error {
            HandshakeError::NotTls(bytes) => {
                write!(
                    f,
                    "not a TLS client: it sent {bytes} (told it in plain text)"
                )
            }
            HandshakeError::Refused(e) => f.write_str(&crate::tls::words::describe(e)),
            HandshakeError::Closed => f.write_str("the client closed before it finished"),
            HandshakeError::TimedOut(limit) => write!(
                f,
                "not finished within {} (see {})",
                humantime::format_duration(*limit),
                crate::setting::Setting::TlsHandshakeTimeout.name(*naming)
            ),
            HandshakeError::Failed(e) => write!(f, "error: {e}"),
        }
    }
}

/// What a plain-text client is told on a TLS port.
const PLAIN_ON_TLS: &[u8] =
    b"Error: this server speaks TLS; connect with TLS (tcpkit talk --tls, openssl s_client)\n";

/// Where a handshake is after its messages so far.
enum Step {
    NeedInput,
    Done,
}

/// Runs the server side of a handshake on `tcp`, starting with `first`
/// (bytes already read, after a PROXY header), within `limit`.
pub(in crate::server) async fn handshake<S: Socket>(
    tcp: &S,
    config: Arc<ServerConfig>,
    first: &[u8],
    limit: Option<Duration>,
) -> Result<Box<Tls>, HandshakeError> {
    let conn = UnbufferedServerConnection::new(config).map_err(HandshakeError::Refused)?;
    let mut tls = Box::new(Tls {
        conn,
        carry: Vec::new(),
        out: Vec::new(),
        early: Vec::new(),
        ready: false,
        ended: false,
    });
    let mut input = first.to_vec();
    let run = async {
        let mut piece = vec![0u8; 4096];
        let mut checked = false;
        loop {
            if !checked && !input.is_empty() {
                checked = true;
                if input[0] != HANDSHAKE_RECORD {
                    let _ = socket::write_some(tcp, PLAIN_ON_TLS);
                    let shown = &input[..input.len().min(64)];
                    return Err(HandshakeError::NotTls(Escaped(shown).to_string()));
                }
            }
            let step = advance(&mut tls, &mut input);
            // What rustls said goes out whatever happened (an alert too).
            flush_all(tcp, &mut tls)
                .await
                .map_err(HandshakeError::Failed)?;
            if let Step::Done = step? {
                return Ok(());
            }
            socket::readable(tcp)
                .await
                .map_err(HandshakeError::Failed)?;
            match tcp.read_now(&mut piece) {
                Ok(0) => return Err(HandshakeError::Closed),
                Ok(n) => input.extend_from_slice(&piece[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(HandshakeError::Failed(e)),
            }
        }
    };
    match crate::net::within(limit, run).await {
        Some(Ok(())) => {
            // Whatever came after the handshake's last message: records
            // to open first (`ready`), or the start of one.
            tls.carry = input;
            Ok(tls)
        }
        Some(Err(e)) => Err(e),
        None => Err(HandshakeError::TimedOut(limit.unwrap_or_default())),
    }
}

/// Feeds the handshake what came, collecting its answers in `tls.out`.
fn advance(tls: &mut Tls, input: &mut Vec<u8>) -> Result<Step, HandshakeError> {
    let Tls {
        conn,
        out,
        ready,
        early,
        ..
    } = tls;
    loop {
        let UnbufferedStatus { mut discard, state } = conn.process_tls_records(input);
        let step = match state {
            Err(e) => {
                // rustls queues an alert for the client; send it with the
                // refusal.
                let _ = alerts(conn, out, input);
                return Err(HandshakeError::Refused(e));
            }
            Ok(ConnectionState::EncodeTlsData(mut state)) => {
                encode(out, &mut state).map_err(HandshakeError::Failed)?;
                None
            }
            Ok(ConnectionState::TransmitTlsData(state)) => {
                state.done();
                None
            }
            Ok(ConnectionState::BlockedHandshake) => Some(Step::NeedInput),
            Ok(ConnectionState::WriteTraffic(_)) => Some(Step::Done),
            // The client's first records came with its last handshake
            // message: keep their plaintext, and open any others in the
            // same read, before waiting on the socket.
            Ok(ConnectionState::ReadTraffic(mut records)) => {
                while let Some(record) = records.next_record() {
                    let record = record.map_err(HandshakeError::Refused)?;
                    discard += record.discard;
                    early.extend_from_slice(record.payload);
                }
                *ready = true;
                Some(Step::Done)
            }
            Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => {
                return Err(HandshakeError::Closed);
            }
            Ok(other) => {
                return Err(HandshakeError::Failed(io::Error::other(format!(
                    "unexpected TLS state {other:?}"
                ))));
            }
        };
        input.drain(..discard);
        if let Some(step) = step {
            return Ok(step);
        }
    }
}

/// Encodes the alerts rustls queued on an error. `input` is what the
/// failed call was given: rustls may still count on its start.
fn alerts(
    conn: &mut UnbufferedServerConnection,
    out: &mut Vec<u8>,
    input: &mut [u8],
) -> io::Result<()> {
    for _ in 0..4 {
        let status = conn.process_tls_records(input);
        match status.state {
            Ok(ConnectionState::EncodeTlsData(mut state)) => encode(out, &mut state)?,
            Ok(ConnectionState::TransmitTlsData(state)) => state.done(),
            _ => return Ok(()),
        }
    }
    Ok(())
}
