//! One connection to a web server: resolve, connect with happy eyeballs
//! (RFC 8305), wrap in TLS for https, and read through a bounded buffer
//! with an idle timeout. [`Conn`] is the only thing that reads the socket.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::request::Target;
use crate::error::Error;
use crate::net::{Family, describe, within};
use crate::setting::Words;

/// RFC 8305 §5: wait this long for one address before also trying the next.
pub const HAPPY_EYEBALLS_DELAY: Duration = Duration::from_millis(250);

/// Read buffer size: large reads keep the copy loop cheap (curl's default
/// is 16 KiB; 256 KiB halves the system calls of a large download again).
pub const READ_BUFFER: usize = 256 * 1024;

/// Anything we can speak HTTP over: a TCP stream or TLS on top of one.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Which address families to try.
    pub family: Family,
    /// Bound on resolving plus connecting plus the TLS handshake (`None`:
    /// none).
    pub connect_timeout: Option<Duration>,
    /// Bound on each wait for data from the server (`None`: none).
    pub read_timeout: Option<Duration>,
    /// The largest response head (and chunk-size line) accepted: the read
    /// buffer must hold one whole, so it is at least this plus one byte.
    pub max_head: usize,
    /// The TLS settings, for https URLs.
    pub tls: Arc<rustls::ClientConfig>,
}

/// Resolves the target's host to the addresses we may try, in the
/// resolver's order.
pub async fn resolve(target: &Target, family: Family) -> Result<Vec<SocketAddr>, Error> {
    let addrs: Vec<SocketAddr> = match target.ip {
        Some(ip) => vec![SocketAddr::new(ip, target.port)],
        None => tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|e| Error::Address {
                spec: target.host.clone(),
                reason: "cannot resolve the host name".into(),
                source: Some(e),
            })?
            .collect(),
    };
    family.filter(&target.host, addrs)
}

/// RFC 8305 §4: alternate address families, starting with the family of
/// the resolver's first answer, keeping the order within each family.
pub fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut same, mut other): (Vec<_>, Vec<_>) =
        addrs.iter().partition(|a| a.is_ipv6() == first.is_ipv6());
    same.reverse();
    other.reverse();
    let mut out = Vec::with_capacity(addrs.len());
    while let Some(a) = same.pop() {
        out.push(a);
        if let Some(b) = other.pop() {
            out.push(b);
        }
    }
    out.extend(other.into_iter().rev());
    out
}

/// Races connections to `addrs` (interleaved), starting the next one when
/// the last fails or after `stagger`; the first to connect wins and the
/// others are dropped. `spec` names the server in the error.
pub async fn race(spec: &str, addrs: &[SocketAddr], stagger: Duration) -> Result<TcpStream, Error> {
    let mut pending = interleave(addrs).into_iter();
    let mut attempts = JoinSet::new();
    let mut failures: Vec<(SocketAddr, io::Error)> = Vec::new();
    loop {
        if let Some(addr) = pending.next() {
            attempts.spawn(async move { (addr, TcpStream::connect(addr).await) });
        }
        let finished = if pending.len() > 0 {
            tokio::select! {
                finished = attempts.join_next() => finished,
                () = tokio::time::sleep(stagger) => continue,
            }
        } else {
            attempts.join_next().await
        };
        // A failure loops back and starts the next address at once (§5).
        match finished {
            Some(Ok((_, Ok(stream)))) => {
                // The request goes out in one write; do not hold it back.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Some(Ok((addr, Err(e)))) => failures.push((addr, e)),
            Some(Err(e)) => {
                return Err(Error::Connect {
                    spec: spec.to_string(),
                    hint: Words::default(),
                    source: Some(io::Error::other(e)),
                });
            }
            None => return Err(connect_error(spec, failures)),
        }
    }
}

/// One failure is the error's cause; several are listed in its hint (an
/// error has one source), each address with what it said.
fn connect_error(spec: &str, mut failures: Vec<(SocketAddr, io::Error)>) -> Error {
    let (hint, source) = match failures.len() {
        0 => (": no address to try".to_string(), None),
        1 => {
            let (addr, e) = failures.remove(0);
            let hint = if e.kind() == io::ErrorKind::ConnectionRefused {
                format!(" (is a server running on {addr}?)")
            } else {
                String::new()
            };
            (hint, Some(e))
        }
        _ => {
            let each: Vec<String> = failures
                .iter()
                .map(|(addr, e)| format!("{addr}: {}", describe(e)))
                .collect();
            (format!(": {}", each.join("; ")), None)
        }
    };
    Error::Connect {
        spec: spec.to_string(),
        hint: hint.into(),
        source,
    }
}

/// Connects to `target` (resolve, race, TLS), all within the connect timeout.
pub async fn open(target: &Target, opts: &ConnectOptions) -> Result<Conn, Error> {
    let spec = target.host_port();
    let started = std::time::Instant::now();
    let timed_out = || Error::Timeout {
        what: crate::words!("connecting to {spec}"),
        after: opts.connect_timeout.unwrap_or_default(),
        source: None,
    };
    let connect = async {
        let addrs = resolve(target, opts.family).await?;
        race(&spec, &addrs, HAPPY_EYEBALLS_DELAY).await
    };
    let tcp = within(opts.connect_timeout, connect)
        .await
        .ok_or_else(timed_out)??;
    let stream: Box<dyn Stream> = if target.tls {
        // What is left of the connect timeout is the handshake's. A server
        // that took the connection but says nothing to a ClientHello is,
        // most often, a plain-text server waiting for its own protocol:
        // that is a TLS failure (exit 9), not a slow network.
        let left = opts
            .connect_timeout
            .map(|t| t.saturating_sub(started.elapsed()));
        let handshake = super::tls::handshake(tcp, target, opts.tls.clone());
        match within(left, handshake).await {
            Some(done) => Box::new(done?),
            None => {
                return Err(Error::Tls {
                    message: crate::words!(
                        "no TLS answer from {spec} within {} of connecting",
                        humantime::format_duration(opts.connect_timeout.unwrap_or_default())
                    ),
                    hint: " (the connection was made but the server said nothing to the TLS \
                           hello: a plain-text server on that port? try http://)"
                        .into(),
                    source: None,
                });
            }
        }
    } else {
        Box::new(tcp)
    };
    let buffer = READ_BUFFER.max(opts.max_head.saturating_add(1));
    Ok(Conn::new(stream, target.tls, opts.read_timeout, buffer))
}

/// A connection plus the bytes read from it and not yet used.
pub struct Conn {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
    /// `buf[start..end]` holds the unused bytes.
    start: usize,
    end: usize,
    tls: bool,
    read_timeout: Option<Duration>,
    /// The TLS peer closed without close_notify: a close-delimited body
    /// may have been cut by an attacker or a broken middlebox.
    unclean_close: bool,
}

impl Conn {
    /// Wraps a connected stream with a read buffer of `buffer` bytes.
    /// `tls` says whether it is TLS, for messages.
    pub fn new(
        stream: Box<dyn Stream>,
        tls: bool,
        read_timeout: Option<Duration>,
        buffer: usize,
    ) -> Conn {
        Conn {
            stream,
            buf: vec![0; buffer.max(1)],
            start: 0,
            end: 0,
            tls,
            read_timeout,
            unclean_close: false,
        }
    }

    /// Sends all of `bytes`.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match within(self.read_timeout, write).await {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(Error::Connect {
                spec: "the server".into(),
                hint: " (while sending the request)".into(),
                source: Some(e),
            }),
            None => Err(Error::Timeout {
                what: "sending the request".into(),
                after: self.read_timeout.unwrap_or_default(),
                source: None,
            }),
        }
    }

    /// The bytes read and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// True when a TLS server closed without close_notify.
    pub fn closed_uncleanly(&self) -> bool {
        self.unclean_close
    }

    /// Reads more bytes into the buffer; `Ok(0)` means the server closed.
    pub async fn fill(&mut self) -> Result<usize, Error> {
        if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let free = &mut self.buf[self.end..];
        if free.is_empty() {
            return Err(Error::protocol(
                "read buffer full (a limit is larger than the buffer)",
            ));
        }
        match within(self.read_timeout, self.stream.read(free)).await {
            Some(Ok(n)) => {
                self.end += n;
                Ok(n)
            }
            // rustls reports a close without close_notify this way.
            Some(Err(e)) if self.tls && e.kind() == io::ErrorKind::UnexpectedEof => {
                self.unclean_close = true;
                Ok(0)
            }
            Some(Err(e)) => Err(Error::Truncated {
                message: "reading from the server failed".into(),
                source: Some(e),
            }),
            None => Err(Error::Timeout {
                what: "waiting for data from the server".into(),
                after: self.read_timeout.unwrap_or_default(),
                source: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaves_families() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let v6 = [a("[::1]:1"), a("[::2]:1"), a("[::3]:1")];
        let v4 = [a("127.0.0.1:1"), a("127.0.0.2:1")];
        let input = [v6[0], v6[1], v6[2], v4[0], v4[1]];
        assert_eq!(interleave(&input), [v6[0], v4[0], v6[1], v4[1], v6[2]]);
        let input = [v4[0], v6[0], v4[1], v6[1], v6[2]];
        assert_eq!(interleave(&input), [v4[0], v6[0], v4[1], v6[1], v6[2]]);
        assert!(interleave(&[]).is_empty());
    }
}
