//! `bench --tls`: the load's connections over rustls, async for the load
//! threads ([`Stream`]) and blocking for `hold` and the preflight
//! ([`SyncStream`]). One client configuration serves the whole run, so
//! its session cache lets connections resume (`--no-tls-resume` turns it
//! off: every handshake is full).

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

/// What a run's TLS connections trust and check.
#[derive(Clone, Debug)]
pub struct BenchTls {
    /// The client configuration (and its session cache) for every
    /// connection of the run.
    pub config: Arc<ClientConfig>,
    /// The name checked and sent as SNI.
    pub name: ServerName<'static>,
}

impl BenchTls {
    /// A configuration trusting the webpki roots and `cacert` (or nothing,
    /// `insecure`), checking `name`; `resume: false` keeps no sessions.
    pub fn new(
        cacert: Option<&std::path::Path>,
        insecure: bool,
        name: &str,
        resume: bool,
    ) -> Result<BenchTls, crate::Error> {
        let shared = crate::tls::client::config(cacert, insecure, &[])?;
        let mut config = (*shared).clone();
        if !resume {
            config.resumption = rustls::client::Resumption::disabled();
        }
        Ok(BenchTls {
            config: Arc::new(config),
            name: crate::tls::client::server_name(name)?,
        })
    }
}

/// A load connection, plain or TLS: tokio-util's `Either` forwards the
/// async reads and writes to whichever it holds.
pub type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// Runs the handshake over `tcp` when `tls` says so.
pub async fn over(tcp: TcpStream, tls: Option<&BenchTls>) -> Result<Stream, crate::setting::Words> {
    let Some(tls) = tls else {
        return Ok(Either::Left(tcp));
    };
    TlsConnector::from(tls.config.clone())
        .connect(tls.name.clone(), tcp)
        .await
        .map(|s| Either::Right(Box::new(s)))
        .map_err(|e| crate::words!("TLS handshake failed: {e}"))
}

/// A blocking connection, plain or TLS (`hold`, the preflight).
pub enum SyncStream {
    /// Plain TCP.
    Plain(std::net::TcpStream),
    /// TLS over TCP.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>>),
}

impl SyncStream {
    /// Runs the handshake when `tls` says so, each read bounded by the
    /// socket's read timeout; `spec` names the server in errors.
    pub fn over(
        tcp: std::net::TcpStream,
        tls: Option<&BenchTls>,
        spec: &str,
    ) -> Result<SyncStream, crate::Error> {
        let Some(tls) = tls else {
            return Ok(SyncStream::Plain(tcp));
        };
        let conn = crate::tls::client::handshake_blocking(
            &tcp,
            tls.config.clone(),
            tls.name.clone(),
            spec,
        )?;
        Ok(SyncStream::Tls(Box::new(rustls::StreamOwned::new(
            conn, tcp,
        ))))
    }

    /// The socket under it.
    pub fn tcp(&self) -> &std::net::TcpStream {
        match self {
            SyncStream::Plain(s) => s,
            SyncStream::Tls(s) => &s.sock,
        }
    }
}

impl Read for SyncStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SyncStream::Plain(s) => s.read(buf),
            SyncStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for SyncStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SyncStream::Plain(s) => s.write(buf),
            SyncStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            SyncStream::Plain(s) => s.flush(),
            SyncStream::Tls(s) => s.flush(),
        }
    }
}
