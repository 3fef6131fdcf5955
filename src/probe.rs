//! What a server that sends no welcome is, found out on a second
//! connection, for the clients' silence checks: a web server (it answers
//! an HTTP request with an HTTP response) or an echo server (it sends a
//! line back unchanged). Each is said only when verified, and then the
//! wait ends with the hint rather than running out the timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What a silent server turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Silent {
    /// It answered `HEAD / HTTP/1.0` with `HTTP/1.x`.
    Http,
    /// It sent a probe line back as it was.
    Echo,
}

/// The line an echo server would send back: no greeting server's reply
/// to it could be the same.
const PROBE: &[u8] = b"tcpkit-probe-7f3a\n";

/// Asks `addr`, on two connections of its own, within `limit`: as a web
/// client, and as an echo's. `None` when neither answer came.
pub(crate) fn silent_server(addr: SocketAddr, limit: Duration) -> Option<Silent> {
    // Both at once: a server that answers neither costs `limit` once.
    let web = std::thread::spawn(move || {
        first_bytes(addr, b"HEAD / HTTP/1.0\r\nHost: probe\r\n\r\n", 8, limit)
            .is_some_and(|got| got.starts_with(b"HTTP/1."))
    });
    let echo = first_bytes(addr, PROBE, PROBE.len(), limit).is_some_and(|got| got == PROBE);
    if web.join().unwrap_or(false) {
        return Some(Silent::Http);
    }
    echo.then_some(Silent::Echo)
}

/// Sends `ask` on a new connection and reads up to `want` bytes back,
/// within `limit`.
fn first_bytes(addr: SocketAddr, ask: &[u8], want: usize, limit: Duration) -> Option<Vec<u8>> {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, limit).ok()?;
    stream.write_all(ask).ok()?;
    let mut got = vec![0; want];
    let mut n = 0;
    while n < want {
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut got[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    got.truncate(n);
    Some(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answering(answer: fn(&[u8]) -> Vec<u8>) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 512];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 || stream.write_all(&answer(&buf[..n])).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn web_and_echo_servers_are_told_apart_and_nothing_else_is_named() {
        let limit = Duration::from_millis(500);
        let echo = answering(|got| got.to_vec());
        let web = answering(|_| b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec());
        let other = answering(|_| b"Hello, stranger!\n".to_vec());
        let silent = answering(|_| Vec::new());
        assert_eq!(silent_server(echo, limit), Some(Silent::Echo));
        assert_eq!(silent_server(web, limit), Some(Silent::Http));
        assert_eq!(silent_server(other, limit), None);
        assert_eq!(silent_server(silent, limit), None);
    }
}
