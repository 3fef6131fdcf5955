//! [`Link`]: the connection `talk` reads and writes, plain TCP or TLS,
//! shared by the reading side and the input thread.
//!
//! Over TLS one rustls `ClientConnection` serves both threads: the reader
//! waits on the socket *without* holding it, then decrypts what came; a
//! writer encrypts under it. Records must reach the socket in the order
//! rustls made them (TLS 1.3 numbers them), so taking records out of
//! rustls and writing them to the socket happen together under one write
//! lock, which the reader also takes to send its alerts.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::ClientConnection;

use crate::error::Error;

/// Ciphertext read from the socket at a time: small enough that what it
/// decrypts to always fits rustls's buffer of received plaintext.
const CIPHER_READ: usize = 8 * 1024;

/// `talk --tls`: what to trust and which name to check.
#[derive(Clone, Debug, Default)]
pub struct TalkTls {
    /// Trust the certificates in this PEM file too (`--cacert`).
    pub cacert: Option<PathBuf>,
    /// Check nothing (`-k`/`--insecure`); the handshake still proves the
    /// server holds the key of the certificate it shows.
    pub insecure: bool,
    /// The name to check the certificate against and send as SNI
    /// (`--servername`); default: the host of the address.
    pub servername: Option<String>,
}

/// A connection to the server, cheap to clone: clones share the socket
/// (and the TLS state).
#[derive(Clone)]
pub struct Link {
    tcp: Arc<TcpStream>,
    tls: Option<Arc<Tls>>,
}

struct Tls {
    conn: Mutex<ClientConnection>,
    /// Held while records go from rustls to the socket.
    write: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Link {
    /// Plain TCP.
    pub fn plain(tcp: TcpStream) -> Link {
        Link {
            tcp: Arc::new(tcp),
            tls: None,
        }
    }

    /// Runs a TLS handshake over `tcp` as a client of `host` (the host
    /// part of the address the user gave) with `config` (made from
    /// `settings` before connecting, so that a bad `--cacert` is told
    /// first), each read bounded by `limit`.
    pub fn tls(
        tcp: TcpStream,
        config: Arc<rustls::ClientConfig>,
        settings: &TalkTls,
        host: &str,
        spec: &str,
        limit: Option<Duration>,
    ) -> Result<Link, Error> {
        let name = crate::tls::client::server_name(settings.servername.as_deref().unwrap_or(host))?;
        tcp.set_read_timeout(limit)
            .map_err(|e| Error::lost("cannot set a read timeout", e))?;
        let conn = crate::tls::client::handshake_blocking(&tcp, config, name, spec)?;
        Ok(Link {
            tcp: Arc::new(tcp),
            tls: Some(Arc::new(Tls {
                conn: Mutex::new(conn),
                write: Mutex::new(()),
            })),
        })
    }

    /// Whether this link speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The socket (for timeouts and addresses).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Reads what comes next (0: the server closed). A read timeout set on
    /// the socket shows as `WouldBlock` or `TimedOut`, as over plain TCP.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &self.tls else {
            return (&*self.tcp).read(buf);
        };
        loop {
            {
                let mut conn = lock(&tls.conn);
                match conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // Closed without a close_notify: the greeting protocol
                    // has no lengths a truncation could hide behind.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
            }
            let mut cipher = [0u8; CIPHER_READ];
            let n = (&*self.tcp).read(&mut cipher)?;
            {
                let mut conn = lock(&tls.conn);
                let mut rest = &cipher[..n];
                loop {
                    conn.read_tls(&mut rest)?;
                    conn.process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    if rest.is_empty() {
                        break;
                    }
                }
            }
            // Key updates and alerts rustls wants to answer.
            self.flush(tls)?;
        }
    }

    /// Writes all of `bytes`.
    pub fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        let Some(tls) = &self.tls else {
            return (&*self.tcp).write_all(bytes);
        };
        lock(&tls.conn).writer().write_all(bytes)?;
        self.flush(tls)
    }

    /// Ends our side: a close_notify over TLS, then the TCP half-close.
    pub fn shutdown_write(&self) -> io::Result<()> {
        if let Some(tls) = &self.tls {
            lock(&tls.conn).send_close_notify();
            self.flush(tls)?;
        }
        self.tcp.shutdown(Shutdown::Write)
    }

    /// Sends every record rustls has made, in order.
    fn flush(&self, tls: &Tls) -> io::Result<()> {
        let _order = lock(&tls.write);
        let mut records = Vec::new();
        {
            let mut conn = lock(&tls.conn);
            while conn.wants_write() {
                conn.write_tls(&mut records)?;
            }
        }
        (&*self.tcp).write_all(&records)
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Link::read(self, buf)
    }
}

impl Read for &Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Link::read(self, buf)
    }
}
