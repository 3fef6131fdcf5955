//! What only the operating system can do or tell, one named function per
//! concern, so platform differences live here and nowhere else:
//! - which process holds a listening port (for the "address already in
//!   use" error), and linking an open file under a new name (for fetch's
//!   safe publish). Linux answers through /proc: the socket's inode in
//!   /proc/net/tcp and tcp6, then the process whose /proc/PID/fd links to
//!   it; `linkat` of /proc/self/fd/N. Elsewhere, and for processes we may
//!   not look into, the holder is "unknown" (the error keeps a neutral
//!   hint) and linking is unsupported (fetch publishes by name after
//!   checking it);
//! - opening files without following links, and telling whether a file
//!   may be someone else's (fetch's part files);
//! - the open-file limit, and sampling another process's memory and CPU
//!   (`bench --server-pid`, Linux only);
//! - the kernel's send buffer of a socket, and how much of it is queued
//!   (Linux's SIOCOUTQ);
//! - the listening sockets a service manager passes (`LISTEN_FDS`) and
//!   Linux's `tcp_migrate_req` setting (`serve --reuse-port`);
//! - the frames on the loopback interface, for the packets under a
//!   picture (Linux's packet socket, `packet.rs`).

use std::fmt;
use std::net::SocketAddr;

/// A process that holds a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`), escaped for printing.
    pub name: String,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (pid {})", self.name, self.pid)
    }
}

/// Gives the open `file` the name `to` (a new name; an existing one is
/// `AlreadyExists`), whatever its own path now names: Linux links the
/// descriptor itself (`linkat` through /proc/self/fd). Elsewhere this is
/// `Unsupported` and the caller publishes by name.
pub fn link_open_file(file: &std::fs::File, to: &std::path::Path) -> std::io::Result<()> {
    imp::link_open_file(file, to)
}

// ---- Files: created and opened without following links ----

/// Makes `options` refuse to open through a symbolic link (Unix
/// `O_NOFOLLOW`) or a reparse point (Windows), so a name an attacker
/// swapped for a link is not written through.
pub(crate) fn no_follow(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        /// Opens the reparse point itself instead of its target.
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
    }
    #[cfg(not(any(unix, windows)))]
    {
        options
    }
}

/// True when opening failed because the name is a symbolic link (what
/// [`no_follow`] refuses).
pub(crate) fn is_link_refusal(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        // Windows opens the reparse point itself; the caller's file-type
        // check refuses it.
        let _ = e;
        false
    }
}

/// True when `path` names the open `file` itself (not a link to it).
pub(crate) fn names_file(path: &std::path::Path, file: &std::fs::File) -> bool {
    let is_plain = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    let same = || -> std::io::Result<bool> {
        Ok(same_file::Handle::from_path(path)? == same_file::Handle::from_file(file.try_clone()?)?)
    };
    is_plain && same().unwrap_or(false)
}

/// Why an existing file may be someone else's, if it may: other hard
/// links to it, or another owner (Unix). Windows has neither check here
/// (its link count needs an unstable API); the no-follow open still holds.
pub(crate) fn not_only_ours(meta: &std::fs::Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() != 1 {
            return Some("it has other hard links, so it may be someone else's file");
        }
        // SAFETY: geteuid cannot fail.
        if meta.uid() != unsafe { libc::geteuid() } {
            return Some("it belongs to another user");
        }
        None
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

// ---- Socket buffers ----

/// Bounds the kernel's send buffer of `socket` so that it holds at most
/// about `bytes` of a connection's unsent and unacknowledged data (sockets
/// accepted from a listener inherit it, and it turns off the kernel's
/// growing of the buffer up to `net.ipv4.tcp_wmem`'s maximum). Returns
/// what the kernel granted, which it may clamp to its own minimum or to
/// `net.core.wmem_max`.
pub fn set_send_buffer(socket: socket2::SockRef<'_>, bytes: usize) -> std::io::Result<usize> {
    ask_send_buffer(&socket, bytes)?;
    socket.send_buffer_size()
}

/// As [`set_send_buffer`], without asking what was granted: one system
/// call, for each accepted connection (those accepted before their
/// listener was bounded, as under socket activation, do not inherit it).
pub fn ask_send_buffer(socket: &socket2::Socket, bytes: usize) -> std::io::Result<()> {
    // Linux doubles the size asked for, to leave room for its bookkeeping,
    // and reports the doubled size (socket(7)): ask for half.
    let ask = if cfg!(target_os = "linux") {
        bytes / 2
    } else {
        bytes
    };
    socket.set_send_buffer_size(ask.max(1))
}

/// Bytes written to `socket` that the peer has not acknowledged yet, as
/// `ss` shows them in Send-Q (Linux's SIOCOUTQ); `None` where the system
/// does not say.
pub fn unsent_bytes(socket: socket2::SockRef<'_>) -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut queued: libc::c_int = 0;
        // SAFETY: SIOCOUTQ (TIOCOUTQ) on a socket we own writes one c_int
        // into `queued`, which outlives the call.
        let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &raw mut queued) };
        (rc == 0).then(|| usize::try_from(queued).unwrap_or(0))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// Whether stderr is the systemd journal's stream: systemd sets
/// `JOURNAL_STREAM` to its device and inode (`DEV:INODE`) for a service,
/// and a child whose stderr is elsewhere inherits the variable, so both
/// must match (sd-daemon's rule). (Asked by the log lines of feature
/// `cli`.)
#[cfg(feature = "cli")]
pub fn stderr_is_the_journal() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Some((dev, ino)) = std::env::var("JOURNAL_STREAM").ok().and_then(|v| {
            let (dev, ino) = v.split_once(':')?;
            Some((dev.parse::<u64>().ok()?, ino.parse::<u64>().ok()?))
        }) else {
            return false;
        };
        // Linux names fd 2 here, whatever it is (a socket, a pipe, a file).
        std::fs::metadata("/proc/self/fd/2")
            .or_else(|_| std::fs::metadata("/dev/stderr"))
            .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// What the kernel knows of the TCP connection of `socket` (Linux's
/// TCP_INFO); `None` where the system does not say.
pub fn tcp_info(socket: socket2::SockRef<'_>) -> Option<crate::trace::TcpInfo> {
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: tcp_info is plain data; all zeros is a valid value.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: getsockopt(2) into a tcp_info of the size given, on a
        // socket the caller holds.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&raw mut info).cast(),
                &mut len,
            )
        };
        (rc == 0).then(|| crate::trace::TcpInfo {
            rtt: std::time::Duration::from_micros(u64::from(info.tcpi_rtt)),
            cwnd: info.tcpi_snd_cwnd,
            unacked: info.tcpi_unacked,
            retransmitted: info.tcpi_total_retrans,
        })
    }
    #[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
    {
        let _ = socket;
        None
    }
}

/// Bytes that have arrived on `socket` and not been read yet (FIONREAD);
/// `None` where the system does not say. A close with any makes the
/// kernel send a reset.
pub fn unread_bytes(socket: socket2::SockRef<'_>) -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut waiting: libc::c_int = 0;
        // SAFETY: FIONREAD on a socket we own writes one c_int into
        // `waiting`, which outlives the call.
        let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::FIONREAD, &raw mut waiting) };
        (rc == 0).then(|| usize::try_from(waiting).unwrap_or(0))
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsRawSocket;
        use windows_sys::Win32::Networking::WinSock::{FIONREAD, SOCKET, ioctlsocket};
        let mut waiting: u32 = 0;
        // SAFETY: FIONREAD on a socket we own writes one u32 into
        // `waiting`, which outlives the call.
        let rc =
            unsafe { ioctlsocket(socket.as_raw_socket() as SOCKET, FIONREAD, &raw mut waiting) };
        (rc == 0).then(|| usize::try_from(waiting).unwrap_or(0))
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = socket;
        None
    }
}

// ---- Limits and processes (process.rs) ----

mod process;
pub use process::{
    ProcessSample, ProcessStats, can_sample_processes, raise_fd_limit, sample_process, this_process,
};

/// `net.ipv4.tcp_migrate_req` (Linux, per network namespace): whether
/// connections still waiting in the accept queue of a listener that
/// closes move to another listener of its reuse-port group (true) or are
/// reset (false). `None` where there is no such setting.
pub fn tcp_migrate_req() -> Option<bool> {
    let value = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_migrate_req").ok()?;
    Some(value.trim() != "0")
}

/// The ephemeral ports `connect()` picks from, first and last (Linux:
/// `net.ipv4.ip_local_port_range`; `None` elsewhere).
pub fn ephemeral_ports() -> Option<(u16, u16)> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut ends = range.split_whitespace().map(|n| n.parse::<u16>().ok());
    let (first, last) = (ends.next()??, ends.next()??);
    (first <= last).then_some((first, last))
}

/// The first descriptor a service manager passes (systemd's
/// `SD_LISTEN_FDS_START`).
pub const FIRST_PASSED_FD: i32 = 3;

/// Takes over the `count` listening sockets a service manager passed, as
/// descriptors from [`FIRST_PASSED_FD`] (systemd's socket activation; the
/// caller reads `LISTEN_PID` and `LISTEN_FDS`, which belong to the
/// process). A descriptor that is not a listening TCP socket is an error.
///
/// # Safety
///
/// Those descriptors must be open and owned by nothing else in the
/// process: they are closed when the listeners are dropped.
pub unsafe fn adopt_listeners(count: i32) -> std::io::Result<Vec<std::net::TcpListener>> {
    // SAFETY: passed on from the caller.
    unsafe { imp_activation::adopt_listeners(count) }
}

/// The process listening on `addr` (or on a wildcard address with its
/// port), when the system says.
pub fn listener_of(addr: SocketAddr) -> Option<Holder> {
    imp::listener_of(addr)
}

/// What the kernel shows of this machine's TCP socket from `local` to
/// `remote`: its state's name (`TIME_WAIT`, `ESTABLISHED`...), `Some(None)`
/// when the kernel keeps no such socket (closed and gone), and `None`
/// where the system does not say (only Linux's /proc does).
pub fn tcp_state(local: SocketAddr, remote: SocketAddr) -> Option<Option<&'static str>> {
    imp::tcp_state(local, remote)
}

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod imp;

#[cfg(target_os = "linux")]
mod packet;
/// The frames on the loopback interface (Linux, with `CAP_NET_RAW`;
/// elsewhere opening it is `Unsupported`).
#[cfg(not(target_os = "linux"))]
pub use imp::LoopbackTap;
#[cfg(target_os = "linux")]
pub use packet::LoopbackTap;

#[cfg(not(target_os = "linux"))]
#[path = "other.rs"]
mod imp;

#[cfg(all(test, target_os = "linux"))]
mod tests;

#[cfg(unix)]
mod imp_activation {
    use std::io;
    use std::os::unix::io::FromRawFd;

    use super::FIRST_PASSED_FD as FIRST;

    pub unsafe fn adopt_listeners(count: i32) -> io::Result<Vec<std::net::TcpListener>> {
        let mut listeners = Vec::new();
        for fd in FIRST..FIRST.saturating_add(count.max(0)) {
            // SAFETY: the caller vouches that these are ours alone.
            let socket = unsafe { socket2::Socket::from_raw_fd(fd) };
            let listening = socket.r#type()? == socket2::Type::STREAM && is_listener(&socket)?;
            if !listening {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("descriptor {fd} from LISTEN_FDS is not a listening TCP socket"),
                ));
            }
            socket.set_cloexec(true)?;
            socket.set_nonblocking(true)?;
            listeners.push(socket.into());
        }
        Ok(listeners)
    }

    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    fn is_listener(socket: &socket2::Socket) -> io::Result<bool> {
        socket.is_listener()
    }

    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    fn is_listener(_: &socket2::Socket) -> io::Result<bool> {
        Ok(true)
    }
}

#[cfg(not(unix))]
mod imp_activation {
    pub unsafe fn adopt_listeners(_: i32) -> std::io::Result<Vec<std::net::TcpListener>> {
        Ok(Vec::new())
    }
}
