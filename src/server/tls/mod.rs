//! TLS under [`Connection`](super::conn::Connection): rustls's
//! *unbuffered* connection driven over the nonblocking socket, so the
//! handler and the hot path (one read, every reply, one write, no await)
//! work the same over TLS, and an idle TLS connection holds no buffer.
//! Ciphertext is read into, and decrypted in, a per-thread scratch
//! buffer; records are made in another; a connection keeps only what must
//! wait (the start of a record whose rest has not come, records the
//! socket would not take), and gives it back once used. (rustls's
//! buffered `ServerConnection` keeps a 4 KiB read buffer for each
//! connection for good: 8.3 KiB per idle TLS connection instead of this
//! design's figure in the README.) Only `conn.rs` calls these.
//!
//! - `handshake.rs`: the handshake, before the welcome, within a time
//!   limit; a client that sends plain text instead of a ClientHello is
//!   told so in plain text (as nginx answers plain HTTP on an HTTPS port).
//! - [`read_now`] reads ciphertext and hands out the plaintext of every
//!   whole record in it.
//! - [`write_now`] encrypts and writes; it takes nothing while earlier
//!   records still wait for the socket, so a client that does not read
//!   costs at most one step of replies here, and the rest stays with the
//!   caller as unsent, as over plain TCP.
//! - `failures.rs`: failed handshakes logged one line per client, at most
//!   ten lines a second.

mod failures;
mod handshake;

pub(super) use failures::FailureLog;
pub(super) use handshake::{HandshakeError, handshake};

use std::cell::RefCell;
use std::io;

use super::socket::{self, Socket, write_some};
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{
    AppDataRecord, ConnectionState, EncodeError, EncryptError, InsufficientSizeError,
    UnbufferedStatus,
};

/// The most ciphertext one record takes (RFC 8446 §5.2: 2^14 bytes of
/// plaintext, up to 256 of expansion, and the 5-byte header).
const MAX_RECORD: usize = 16 * 1024 + 256 + 5;

/// Plaintext encrypted at a time by [`send`]: four full records.
const SEAL_STEP: usize = 64 * 1024;

thread_local! {
    /// Ciphertext read and decrypted in place, lent to whichever
    /// connection runs on this thread between awaits.
    static CIPHER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Records being made for the socket, lent the same way.
    static SEAL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// One client's TLS: rustls's state and what must wait.
pub(super) struct Tls {
    conn: UnbufferedServerConnection,
    /// The start of a record whose rest has not come (empty when idle).
    carry: Vec<u8>,
    /// Records made but not yet taken by the socket (empty when idle).
    out: Vec<u8>,
    /// Plaintext that came with the handshake's last message, not handed
    /// out yet.
    early: Vec<u8>,
    /// `carry` may hold whole records not opened yet (they came with the
    /// end of the handshake): read them before waiting on the socket.
    ready: bool,
    /// The client said close_notify, or closed: the stream has ended.
    ended: bool,
}

impl Tls {
    /// Input is waiting in here, not in the socket (or the end is).
    pub(super) fn has_input(&self) -> bool {
        self.ready || self.ended || !self.early.is_empty()
    }

    /// Memory this connection holds beyond its idle state: the start of a
    /// record whose rest has not come, and records waiting for the socket
    /// (counted against `--max-buffered` like an unfinished message).
    pub(super) fn held(&self) -> usize {
        self.carry.capacity() + self.out.capacity() + self.early.capacity()
    }

    /// Records wait for the socket.
    pub(super) fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// The TLS version, the cipher suite, and whether the session resumed.
    pub(super) fn summary(&self) -> Option<String> {
        let version = match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_string(),
            other => format!("{other:?}"),
        };
        let suite = self.conn.negotiated_cipher_suite()?;
        let resumed = match self.conn.handshake_kind() {
            Some(rustls::HandshakeKind::Resumed) => ", resumed",
            _ => "",
        };
        Some(format!("{version}, {:?}{resumed}", suite.suite()))
    }

    /// Queues a close_notify, sent by the next flush.
    pub(super) fn close_notify(&mut self) {
        let _ = seal(&mut self.conn, &mut self.out, Seal::CloseNotify);
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Appends what `make` writes to `out`, giving it `guess` bytes of room
/// first and as much as it says it needs if that was too little.
fn append<E>(
    out: &mut Vec<u8>,
    guess: usize,
    mut make: impl FnMut(&mut [u8]) -> Result<usize, E>,
    needs: impl Fn(&E) -> Option<InsufficientSizeError>,
) -> Result<usize, E> {
    let used = out.len();
    out.resize(used + guess, 0);
    loop {
        match make(&mut out[used..]) {
            Ok(n) => {
                out.truncate(used + n);
                return Ok(n);
            }
            Err(e) => match needs(&e) {
                Some(size) if size.required_size > out.len() - used => {
                    out.resize(used + size.required_size, 0);
                }
                _ => {
                    out.truncate(used);
                    return Err(e);
                }
            },
        }
    }
}

/// Encodes a handshake or alert message rustls has queued into `out`.
fn encode(
    out: &mut Vec<u8>,
    state: &mut rustls::unbuffered::EncodeTlsData<'_, ServerConnectionData>,
) -> io::Result<()> {
    append(
        out,
        4096,
        |room| state.encode(room),
        |e| match e {
            EncodeError::InsufficientSize(size) => Some(*size),
            _ => None,
        },
    )
    .map(drop)
    .map_err(io::Error::other)
}

/// What to seal into records.
enum Seal<'a> {
    Data(&'a [u8]),
    CloseNotify,
}

/// Seals `what` into records appended to `out`, after any message rustls
/// has queued (a key update).
fn seal(
    conn: &mut UnbufferedServerConnection,
    out: &mut Vec<u8>,
    what: Seal<'_>,
) -> io::Result<()> {
    // Each turn either encodes a queued message or seals; a bound keeps a
    // confused state from spinning.
    for _ in 0..16 {
        let status = conn.process_tls_records(&mut []);
        match status.state.map_err(tls_error)? {
            ConnectionState::EncodeTlsData(mut state) => encode(out, &mut state)?,
            ConnectionState::TransmitTlsData(state) => state.done(),
            ConnectionState::WriteTraffic(mut traffic) => {
                let needs = |e: &EncryptError| match e {
                    EncryptError::InsufficientSize(size) => Some(*size),
                    _ => None,
                };
                let sealed = match what {
                    Seal::Data(data) => {
                        let guess = data.len() + (data.len() / (16 * 1024) + 1) * 64;
                        append(out, guess, |room| traffic.encrypt(data, room), needs)
                    }
                    Seal::CloseNotify => {
                        append(out, 64, |room| traffic.queue_close_notify(room), needs)
                    }
                };
                return sealed.map(drop).map_err(io::Error::other);
            }
            // Said once, when the close_notify is read; sending goes on.
            ConnectionState::PeerClosed => {}
            ConnectionState::Closed => return Err(io::ErrorKind::BrokenPipe.into()),
            other => return Err(io::Error::other(format!("TLS cannot send now ({other:?})"))),
        }
    }
    Err(io::Error::other("TLS cannot send now"))
}

/// Opens every whole record in `cipher` and copies its plaintext to
/// `plain`: the plaintext's length and how much of `cipher` was used (the
/// rest is the start of a record still to come). Messages rustls must
/// answer go to `out`.
fn open(tls: &mut Tls, cipher: &mut [u8], plain: &mut [u8]) -> io::Result<(usize, usize)> {
    let Tls {
        conn, out, ended, ..
    } = tls;
    let mut start = 0;
    let mut filled = 0;
    loop {
        let UnbufferedStatus { mut discard, state } =
            conn.process_tls_records(&mut cipher[start..]);
        let more = match state.map_err(tls_error)? {
            ConnectionState::ReadTraffic(mut records) => {
                while let Some(record) = records.next_record() {
                    let AppDataRecord {
                        discard: used,
                        payload,
                    } = record.map_err(tls_error)?;
                    discard += used;
                    let Some(to) = plain.get_mut(filled..filled + payload.len()) else {
                        return Err(io::Error::other("TLS plaintext larger than its records"));
                    };
                    to.copy_from_slice(payload);
                    filled += payload.len();
                }
                true
            }
            ConnectionState::EncodeTlsData(mut state) => {
                encode(out, &mut state)?;
                true
            }
            ConnectionState::TransmitTlsData(state) => {
                state.done();
                true
            }
            ConnectionState::PeerClosed | ConnectionState::Closed => {
                *ended = true;
                false
            }
            // Every whole record is open; the rest has not come yet.
            ConnectionState::WriteTraffic(_) | ConnectionState::BlockedHandshake => false,
            other => return Err(io::Error::other(format!("TLS cannot read now ({other:?})"))),
        };
        start += discard;
        if !more {
            return Ok((filled, start));
        }
    }
}

/// Hands out up to `buf.len()` bytes of plaintext without waiting: what
/// the records read now (and any begun before) hold. 0 is the end of the
/// stream (a close_notify, or a close without one: the greeting protocol
/// has no lengths for a truncation to hide behind, as HTTP has).
/// `WouldBlock` when there is nothing yet.
pub(super) fn read_now<S: Socket>(tcp: &S, tls: &mut Tls, buf: &mut [u8]) -> io::Result<usize> {
    if tls.ended {
        return Ok(0);
    }
    let mut filled = 0;
    if !tls.early.is_empty() {
        filled = tls.early.len().min(buf.len());
        buf[..filled].copy_from_slice(&tls.early[..filled]);
        tls.early.drain(..filled);
        if tls.early.is_empty() {
            tls.early = Vec::new();
        }
        if filled == buf.len() {
            return Ok(filled);
        }
    }
    let got = CIPHER.with_borrow_mut(|cipher| {
        if cipher.len() < buf.len() + MAX_RECORD {
            cipher.resize(buf.len() + MAX_RECORD, 0);
        }
        loop {
            let carried = tls.carry.len();
            cipher[..carried].copy_from_slice(&tls.carry);
            let mut used = carried;
            if tls.ready {
                tls.ready = false;
            } else {
                // Plaintext is never longer than its records: reading no
                // more than `buf` has room for keeps it fitting.
                let room = (buf.len() - filled).saturating_sub(carried);
                if room == 0 {
                    return Ok(filled);
                }
                let read = tcp.read_now(&mut cipher[carried..carried + room]);
                match read {
                    Ok(0) => {
                        tls.ended = true;
                        tls.carry = Vec::new();
                        return Ok(filled);
                    }
                    Ok(n) => used += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => {
                        return Ok(filled);
                    }
                    Err(e) => return Err(e),
                }
            }
            let (plain, opened) = open(tls, &mut cipher[..used], &mut buf[filled..])?;
            filled += plain;
            let rest = &cipher[opened..used];
            if rest.is_empty() {
                tls.carry = Vec::new();
            } else {
                tls.carry.clear();
                tls.carry.extend_from_slice(rest);
            }
            if filled > 0 || tls.ended {
                return Ok(filled);
            }
            // Only the start of a record came: read again (the socket
            // says WouldBlock when that is all there is).
        }
    });
    // Answers rustls owes (alerts, key updates) go out now if they can.
    if tls.wants_write() {
        flush_now(tcp, tls)?;
    }
    got
}

/// Encrypts all of `bytes` and writes what the socket takes without
/// waiting, keeping the rest of the records; takes nothing while earlier
/// records still wait. The number of plaintext bytes taken.
pub(super) fn write_now<S: Socket>(tcp: &S, tls: &mut Tls, bytes: &[u8]) -> io::Result<usize> {
    flush_now(tcp, tls)?;
    if tls.wants_write() || bytes.is_empty() {
        return Ok(0);
    }
    SEAL.with_borrow_mut(|sealed| {
        sealed.clear();
        seal(&mut tls.conn, sealed, Seal::Data(bytes))?;
        let sent = write_some(tcp, sealed)?;
        if sent < sealed.len() {
            tls.out.extend_from_slice(&sealed[sent..]);
        }
        Ok(bytes.len())
    })
}

/// Writes what waiting records the socket takes without waiting; the
/// memory goes back once all are sent.
pub(super) fn flush_now<S: Socket>(tcp: &S, tls: &mut Tls) -> io::Result<()> {
    if tls.out.is_empty() {
        return Ok(());
    }
    let sent = write_some(tcp, &tls.out)?;
    if sent == tls.out.len() {
        tls.out = Vec::new();
    } else {
        tls.out.drain(..sent);
    }
    Ok(())
}

/// Writes every waiting record, waiting for the socket as needed.
pub(super) async fn flush_all<S: Socket>(tcp: &S, tls: &mut Tls) -> io::Result<()> {
    loop {
        flush_now(tcp, tls)?;
        if !tls.wants_write() {
            return Ok(());
        }
        socket::writable(tcp).await?;
    }
}

/// Writes all of `bytes`, waiting for the socket as needed.
pub(super) async fn send<S: Socket>(tcp: &S, tls: &mut Tls, bytes: &[u8]) -> io::Result<()> {
    for step in bytes.chunks(SEAL_STEP) {
        flush_all(tcp, tls).await?;
        seal(&mut tls.conn, &mut tls.out, Seal::Data(step))?;
    }
    flush_all(tcp, tls).await
}
