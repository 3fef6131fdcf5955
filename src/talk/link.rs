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
    /// Dropped before `tcp`, by the last clone: the close is told as it
    /// is made.
    trace: Option<Arc<Traced>>,
    tcp: Arc<TcpStream>,
    tls: Option<Arc<Tls>>,
}

/// `--trace`: where the connection's calls are told, and which
/// connection this is; its drop (the last clone's) is the close.
pub struct Traced {
    tracer: Arc<dyn crate::trace::Tracer>,
    conn: std::net::SocketAddr,
    /// The socket, kept so that its close comes after this is told (and
    /// so that input left unread shows the close as a reset).
    tcp: Option<Arc<TcpStream>>,
}

impl Traced {
    /// Calls on connection `conn` (the client's address) go to `tracer`.
    pub fn new(tracer: Arc<dyn crate::trace::Tracer>, conn: std::net::SocketAddr) -> Traced {
        Traced {
            tracer,
            conn,
            tcp: None,
        }
    }

    /// Tells a call made or returned `at` (see the `Tracer` for which).
    fn tell_at(&self, at: std::time::Instant, what: crate::trace::What) {
        let info = self
            .tcp
            .as_deref()
            .and_then(|tcp| crate::sys::tcp_info(socket2::SockRef::from(tcp)));
        self.tracer
            .event_with(at, crate::trace::Side::Client, self.conn, what, info);
    }

    fn tell(&self, what: crate::trace::What) {
        self.tell_at(std::time::Instant::now(), what);
    }

    /// A read's outcome: bytes, the end, or a failure (a timeout is a
    /// wait, not a call's failure).
    fn read(&self, read: &io::Result<usize>, buf: &[u8]) {
        use crate::trace::What;
        match read {
            Ok(0) => self.tell(What::End),
            Ok(n) => self.tell(What::Read(buf[..*n].to_vec())),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => self.tell(What::Failed(crate::error::describe(e))),
        }
    }

    /// A sending call made at `made` that returned nothing but success
    /// or failure.
    fn done(&self, made: std::time::Instant, done: &io::Result<()>, what: crate::trace::What) {
        match done {
            Ok(()) => self.tell_at(made, what),
            Err(e) => self.tell(crate::trace::What::Failed(crate::error::describe(e))),
        }
    }
}

impl Drop for Traced {
    /// Runs before the socket's last handle goes (this one's field).
    fn drop(&mut self) {
        let unread = self.tcp.as_deref().map_or(0, |tcp| {
            crate::sys::unread_bytes(socket2::SockRef::from(tcp)).unwrap_or(0)
        });
        self.tell(match unread {
            0 => crate::trace::What::Close,
            unread => crate::trace::What::Reset { unread },
        });
    }
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
            trace: None,
        }
    }

    /// Tells every later call to `trace`, if there is one.
    pub fn traced(mut self, trace: Option<Traced>) -> Link {
        self.trace = trace.map(|mut trace| {
            trace.tcp = Some(self.tcp.clone());
            Arc::new(trace)
        });
        self
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
            trace: None,
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
        let read = self.read_untraced(buf);
        if let Some(trace) = &self.trace {
            trace.read(&read, buf);
        }
        read
    }

    fn read_untraced(&self, buf: &mut [u8]) -> io::Result<usize> {
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
        let made = std::time::Instant::now();
        let wrote = match &self.tls {
            None => (&*self.tcp).write_all(bytes),
            Some(tls) => self.write_tls(tls, bytes),
        };
        if let Some(trace) = &self.trace {
            trace.done(made, &wrote, crate::trace::What::Write(bytes.to_vec()));
        }
        wrote
    }

    /// Encrypts `bytes` and sends the records. (The connection's lock is
    /// let go before the records are sent: `flush` takes it again.)
    fn write_tls(&self, tls: &Tls, bytes: &[u8]) -> io::Result<()> {
        lock(&tls.conn).writer().write_all(bytes)?;
        self.flush(tls)
    }

    /// Ends our side: a close_notify over TLS, then the TCP half-close.
    pub fn shutdown_write(&self) -> io::Result<()> {
        if let Some(tls) = &self.tls {
            lock(&tls.conn).send_close_notify();
            self.flush(tls)?;
        }
        let made = std::time::Instant::now();
        let done = self.tcp.shutdown(Shutdown::Write);
        if let Some(trace) = &self.trace {
            trace.done(made, &done, crate::trace::What::ShutdownWrite);
        }
        done
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
