//! Socket helpers shared by every command: parse and resolve `HOST:PORT`,
//! listen with a chosen backlog (and SO_REUSEPORT), connect with a timeout
//! or from a chosen source address, write a PROXY header, and (from
//! `sys`) raise the fd limit and take sockets a service manager passed.
//!
//! std's `TcpListener::bind` always asks for a backlog of 128, which loses
//! connections when a thousand clients arrive at once; socket2 lets us choose.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::Error;
pub use crate::sys::{
    FIRST_PASSED_FD, adopt_listeners, raise_fd_limit, tcp_migrate_req, tcp_state,
};

#[cfg(unix)]
fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// No SO_REUSEPORT here: [`listen`] says which setting asked for it.
#[cfg(not(unix))]
fn set_reuse_port(_: &Socket) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The PROXY protocol header a load balancer would send ahead of this
/// connection's bytes: our side as the client, the server as the
/// destination (`talk --send-proxy`, `bench --send-proxy`).
pub fn proxy_header(
    version: tcpkit_wire::proxy::Version,
    local: io::Result<SocketAddr>,
    peer: io::Result<SocketAddr>,
) -> io::Result<Vec<u8>> {
    Ok(tcpkit_wire::proxy::encode(version, local?, peer?))
}

/// Writes that header first on a blocking connection.
pub fn send_proxy_header(
    stream: &mut TcpStream,
    version: tcpkit_wire::proxy::Version,
) -> io::Result<()> {
    use std::io::Write;
    let header = proxy_header(version, stream.local_addr(), stream.peer_addr())?;
    stream.write_all(&header)
}

/// Connects to `addr` from the local address `source` (any free port),
/// within `limit`. On Linux the port is chosen at connect time
/// (`IP_BIND_ADDRESS_NO_PORT`), so each source address offers its whole
/// ephemeral range to each server address: how `bench hold --source`
/// opens more connections than one address's ports allow.
pub fn connect_from(
    source: std::net::IpAddr,
    addr: SocketAddr,
    limit: Option<Duration>,
) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: setsockopt on our own socket with a c_int that outlives
        // the call; failure only means the port is chosen at bind.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&raw const on).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    socket.bind(&SocketAddr::new(source, 0).into())?;
    match limit {
        Some(limit) => socket.connect_timeout(&addr.into(), limit)?,
        None => socket.connect(&addr.into())?,
    }
    Ok(socket.into())
}

/// Which address families a command may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    /// Both IPv4 and IPv6.
    #[default]
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

impl Family {
    fn allows(self, addr: &SocketAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }
}

/// Resolves `HOST:PORT` (`127.0.0.1:9999`, `[::1]:9999`, `localhost:9999`)
/// to every address it names, in the resolver's order.
pub fn resolve(spec: &str, family: Family) -> Result<Vec<SocketAddr>, Error> {
    let bad = |reason: &str| Error::Address {
        spec: spec.to_string(),
        reason: reason.to_string().into(),
        source: None,
    };
    let addrs: Vec<SocketAddr> = if let Ok(addr) = spec.parse::<SocketAddr>() {
        vec![addr]
    } else {
        let Some((host, port)) = spec.rsplit_once(':') else {
            return Err(bad(
                "missing port (expected HOST:PORT, e.g. 127.0.0.1:9999)",
            ));
        };
        if host.is_empty() {
            return Err(bad(
                "missing host (expected HOST:PORT, e.g. 127.0.0.1:9999)",
            ));
        }
        if host.contains(':') && !host.starts_with('[') {
            return Err(bad("an IPv6 address needs brackets, e.g. [::1]:9999"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::Address {
                spec: spec.to_string(),
                reason: crate::words!("cannot resolve host '{host}'"),
                source: Some(e),
            })?
            .collect()
    };
    family.filter(spec, addrs)
}

impl Family {
    /// Keeps the addresses of this family, or says why none is left
    /// (`spec` names the host in the message). Every command's `-4`/`-6`
    /// goes through here.
    pub fn filter(self, spec: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Error> {
        let kept: Vec<SocketAddr> = addrs.into_iter().filter(|a| self.allows(a)).collect();
        if kept.is_empty() {
            return Err(Error::Address {
                spec: spec.to_string(),
                reason: match self {
                    Family::V4 => "no IPv4 address (drop -4?)",
                    Family::V6 => "no IPv6 address (drop -6?)",
                    Family::Any => "the name has no addresses",
                }
                .into(),
                source: None,
            });
        }
        Ok(kept)
    }
}

/// Opens a listening socket on `addr` with the given backlog (the kernel
/// clamps it to `net.core.somaxconn`). IPv6 sockets are IPv6-only, so `[::]`
/// and `0.0.0.0` can be bound side by side.
pub fn listen(addr: SocketAddr, backlog: u32) -> Result<std::net::TcpListener, Error> {
    listen_with(addr, backlog, false)
}

/// As [`listen`], and with `reuse_port` (`serve --reuse-port`) other
/// sockets that ask the same may listen on `addr` too: the kernel spreads
/// new connections over them, so several processes can share a port and
/// hand it over to each other.
pub fn listen_with(
    addr: SocketAddr,
    backlog: u32,
    reuse_port: bool,
) -> Result<std::net::TcpListener, Error> {
    let setup = || -> io::Result<Socket> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // Lets a restarted server bind while old connections sit in
        // TIME_WAIT; a second live listener on the port still fails.
        socket.set_reuse_address(true)?;
        if reuse_port {
            set_reuse_port(&socket)?;
        }
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.bind(&addr.into())?;
        socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        socket.set_nonblocking(true)?;
        Ok(socket)
    };
    match setup() {
        Ok(socket) => Ok(socket.into()),
        Err(e) => Err(match e.kind() {
            io::ErrorKind::AddrInUse => Error::AddrInUse {
                addr,
                holder: crate::sys::listener_of(addr),
                flag: crate::setting::Setting::Bind,
            },
            io::ErrorKind::PermissionDenied => Error::PermissionDenied { addr },
            io::ErrorKind::Unsupported if reuse_port => Error::InvalidInput(crate::words!(
                "{} needs SO_REUSEPORT, which this system does not have",
                crate::setting::Setting::ReusePort
            )),
            io::ErrorKind::AddrNotAvailable => Error::Address {
                spec: addr.to_string(),
                reason: "no interface of this machine has that address (try 127.0.0.1 or 0.0.0.0)"
                    .into(),
                source: Some(e),
            },
            _ => Error::Listen { addr, source: e },
        }),
    }
}

/// Runs `work` within `limit`; `None` when the time ran out. A limit of
/// `None` is no limit: every timeout flag takes 0 to mean that.
pub async fn within<F: Future>(limit: Option<Duration>, work: F) -> Option<F::Output> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, work).await.ok(),
        None => Some(work.await),
    }
}

/// Connects to the first of `addrs` that answers, each try bounded by
/// `timeout` (`None`: the system's own limit); `spec` is what the user
/// typed, for the error message.
pub fn connect(
    spec: &str,
    addrs: &[SocketAddr],
    timeout: Option<Duration>,
) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in addrs {
        let tried = match timeout {
            Some(timeout) => TcpStream::connect_timeout(addr, timeout),
            None => TcpStream::connect(addr),
        };
        match tried {
            Ok(stream) => {
                // Replies and messages are small: send them at once.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some((*addr, e)),
        }
    }
    let Some((addr, e)) = last else {
        return Err(Error::Address {
            spec: spec.to_string(),
            reason: "the name has no addresses".into(),
            source: None,
        });
    };
    Err(match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => match timeout {
            Some(after) => Error::Timeout {
                what: crate::words!("connecting to {spec}"),
                after,
                source: Some(e),
            },
            None => Error::Connect {
                spec: spec.to_string(),
                hint: crate::words!(" (the system gave up connecting to {addr})"),
                source: Some(e),
            },
        },
        io::ErrorKind::ConnectionRefused => Error::Connect {
            spec: spec.to_string(),
            hint: crate::words!(" (is the server running on {addr}?)"),
            source: Some(e),
        },
        _ => Error::Connect {
            spec: spec.to_string(),
            hint: crate::words!(" (while connecting to {addr})"),
            source: Some(e),
        },
    })
}

pub use crate::error::describe;

/// The connection limit that fits in `fd_limit` open files, keeping some
/// for listeners, the runtime and standard streams.
pub fn default_max_connections(fd_limit: u64) -> usize {
    let reserve = (fd_limit / 8).clamp(16, 64);
    usize::try_from(fd_limit.saturating_sub(reserve).max(1)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_literals_and_names() {
        assert_eq!(
            resolve("127.0.0.1:9999", Family::Any).unwrap(),
            vec!["127.0.0.1:9999".parse().unwrap()]
        );
        assert_eq!(
            resolve("[::1]:80", Family::Any).unwrap(),
            vec!["[::1]:80".parse().unwrap()]
        );
        assert!(
            resolve("localhost:9999", Family::V4)
                .unwrap()
                .iter()
                .all(|a| a.is_ipv4())
        );
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        let msg = |s| resolve(s, Family::Any).unwrap_err().to_string();
        assert!(msg("localhost").contains("missing port"));
        assert!(msg(":99").contains("missing host"));
        assert!(msg("::1:99").contains("brackets"));
        assert!(msg("localhost:99999").contains("port must be a number"));
        assert!(
            resolve("127.0.0.1:1", Family::V6)
                .unwrap_err()
                .to_string()
                .contains("no IPv6")
        );
    }

    #[test]
    fn connection_limit_leaves_room() {
        assert_eq!(default_max_connections(20000), 19936);
        assert_eq!(default_max_connections(64), 48);
        assert_eq!(default_max_connections(1), 1);
    }
}
