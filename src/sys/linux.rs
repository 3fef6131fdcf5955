//! Linux: what /proc, the sockets' options and the kernel's calls say.

use std::ffi::CString;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::Holder;

pub fn link_open_file(file: &fs::File, to: &Path) -> io::Result<()> {
    let from =
        CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(io::Error::other)?;
    let to = CString::new(to.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: two NUL-terminated paths that live across the call.
    let done = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The state column's value for a listening socket.
const LISTEN: &str = "0A";

pub fn tcp_state(local: SocketAddr, remote: SocketAddr) -> Option<Option<&'static str>> {
    let mut read_any = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(table) = fs::read_to_string(table) else {
            continue;
        };
        read_any = true;
        if let Some(state) = state_of(&table, local, remote) {
            return Some(Some(state));
        }
    }
    read_any.then_some(None)
}

/// The state of the socket from `local` to `remote` in a /proc/net/tcp
/// table (an IPv4 address may show as `::ffff:a.b.c.d` in tcp6).
pub(super) fn state_of(table: &str, local: SocketAddr, remote: SocketAddr) -> Option<&'static str> {
    let same = |hex: &str, want: SocketAddr| -> Option<bool> {
        let (ip, port) = hex.split_once(':')?;
        let (ip, port) = (parse_ip(ip)?, u16::from_str_radix(port, 16).ok()?);
        Some(port == want.port() && ip.to_canonical() == want.ip().to_canonical())
    };
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (l, r, state) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
        if !(same(l, local)? && same(r, remote)?) {
            return None;
        }
        Some(match *state {
            "01" => "ESTABLISHED",
            "02" => "SYN_SENT",
            "03" => "SYN_RECV",
            "04" => "FIN_WAIT1",
            "05" => "FIN_WAIT2",
            "06" => "TIME_WAIT",
            "07" => "CLOSE",
            "08" => "CLOSE_WAIT",
            "09" => "LAST_ACK",
            "0A" => "LISTEN",
            "0B" => "CLOSING",
            _ => "UNKNOWN",
        })
    })
}

pub fn listener_of(addr: SocketAddr) -> Option<Holder> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| fs::read_to_string(table).ok())
        .find_map(|table| listening_inode(&table, addr))?;
    holder_of(inode)
}

/// The inode of a listening socket in a /proc/net/tcp table whose
/// local address takes `addr`'s port on its address or a wildcard.
pub(super) fn listening_inode(table: &str, addr: SocketAddr) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
        if *state != LISTEN {
            return None;
        }
        let (ip, port) = local.split_once(':')?;
        let (ip, port) = (parse_ip(ip)?, u16::from_str_radix(port, 16).ok()?);
        let covers = ip == addr.ip() || ip.is_unspecified() || addr.ip().is_unspecified();
        (port == addr.port() && covers)
            .then(|| inode.parse().ok())
            .flatten()
    })
}

/// An address as /proc prints it: 32-bit words in hex, each in the
/// machine's byte order.
fn parse_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// The process with a descriptor for socket `inode`, among those whose
/// /proc entries we may read.
fn holder_of(inode: u64) -> Option<Holder> {
    let target = format!("socket:[{inode}]");
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let fds = fs::read_dir(entry.path().join("fd")).ok()?;
        let holds = fds
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == &*target));
        if !holds {
            return None;
        }
        let comm = fs::read(entry.path().join("comm")).unwrap_or_default();
        // Escaped (a process can name itself anything), without the
        // quotes Escaped puts around it.
        let shown = tcpkit_wire::Escaped(comm.trim_ascii()).to_string();
        let name = shown
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(&shown)
            .to_string();
        Some(Holder { pid, name })
    })
}
