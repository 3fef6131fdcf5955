//! `bench --tls`: the load's connections over rustls, async for the load
//! threads ([`Stream`]) and blocking for `hold` and the preflight
//! ([`SyncStream`]). One client configuration serves the whole run, so
//! its session cache lets connections resume (`--no-tls-resume` turns it
//! off: every handshake is full).

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

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

/// A load connection, plain or TLS.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: rustls's state is large).
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Runs the handshake when `tls` says so.
    pub async fn over(tcp: TcpStream, tls: Option<&BenchTls>) -> Result<Stream, String> {
        let Some(tls) = tls else {
            return Ok(Stream::Plain(tcp));
        };
        TlsConnector::from(tls.config.clone())
            .connect(tls.name.clone(), tcp)
            .await
            .map(|s| Stream::Tls(Box::new(s)))
            .map_err(|e| format!("TLS handshake failed: {e}"))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
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
