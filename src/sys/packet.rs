//! Linux: the frames on the loopback interface, through a packet socket
//! (`AF_PACKET`, every protocol, bound to `lo`). Opening one needs
//! `CAP_NET_RAW` (root, or `setcap cap_net_raw+ep` on the binary).

use std::io;
use std::mem::{MaybeUninit, size_of, size_of_val};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, SystemTime};

use socket2::{Domain, Protocol, Socket, Type};

/// `PACKET_OUTGOING` (linux/if_packet.h): a frame this machine sent.
const PACKET_OUTGOING: u8 = 4;

/// The kernel's buffer of frames not yet read: a demo's session is a few
/// hundred of them, and other programs' loopback traffic shares it.
const BUFFER: usize = 4 << 20;

/// A packet socket on `lo`.
#[derive(Debug)]
pub struct LoopbackTap {
    socket: Socket,
}

/// One frame read from the tap.
#[derive(Debug)]
pub struct Frame {
    /// Its bytes kept (the start of the frame, as much as the buffer held).
    pub len: usize,
    /// Its length on the wire.
    pub wire_len: usize,
    /// When the kernel took it.
    pub at: SystemTime,
}

impl LoopbackTap {
    /// Opens the tap; a read waits at most `tick`, so that its reader can
    /// look at whether it should stop.
    pub fn open(tick: Duration) -> io::Result<LoopbackTap> {
        let all = (libc::ETH_P_ALL as u16).to_be();
        let socket = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(all))),
        )?;
        // SAFETY: a NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: sockaddr_ll is plain data; all zeros is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = all;
        addr.sll_ifindex = i32::try_from(index).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: bind(2) with a sockaddr_ll of the size given, on a
        // socket this owns.
        let bound = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&raw const addr).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(io::Error::last_os_error());
        }
        socket.set_read_timeout(Some(tick))?;
        // Each frame comes with the time the kernel took it (a control
        // message); asked for now, the kernel stamps frames from here on.
        let on: libc::c_int = 1;
        // SAFETY: setsockopt(2) with an int of the size given.
        let stamped = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&raw const on).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if stamped != 0 {
            return Err(io::Error::last_os_error());
        }
        // Less is still a tap: its frames may be dropped under load, and
        // the kernel counts them.
        let _ = socket.set_recv_buffer_size(BUFFER);
        Ok(LoopbackTap { socket })
    }

    /// The next frame received on `lo`, its start in `buf`; `None` when
    /// none came within the tick. Every loopback packet passes the tap
    /// twice, sent and received: only the received copy is returned (as
    /// libpcap does), so each is seen once.
    pub fn next(&self, buf: &mut [u8]) -> io::Result<Option<Frame>> {
        loop {
            let mut from = MaybeUninit::<libc::sockaddr_ll>::zeroed();
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // Room for the timestamp's control message, aligned.
            let mut control = [0u64; 16];
            // SAFETY: msghdr is plain data; all zeros is a valid value.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = from.as_mut_ptr().cast();
            msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msg.msg_iov = &raw mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of_val(&control) as _;
            // SAFETY: recvmsg(2) with buffers that live across the call,
            // each of the size given. MSG_TRUNC: the return is the frame's
            // whole length, even when `buf` held less.
            let n =
                unsafe { libc::recvmsg(self.socket.as_raw_fd(), &raw mut msg, libc::MSG_TRUNC) };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(e),
                };
            }
            // SAFETY: the kernel filled the address (zeroed before).
            let from = unsafe { from.assume_init() };
            if from.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            let wire_len = n as usize;
            return Ok(Some(Frame {
                len: wire_len.min(buf.len()),
                wire_len,
                at: stamp(&msg).unwrap_or_else(SystemTime::now),
            }));
        }
    }

    /// Frames the kernel dropped for want of room in the tap's buffer
    /// since the last ask (PACKET_STATISTICS).
    pub fn dropped(&self) -> u64 {
        let mut stats = MaybeUninit::<libc::tpacket_stats>::zeroed();
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: getsockopt(2) into a tpacket_stats of the size given.
        let rc = unsafe {
            libc::getsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                stats.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return 0;
        }
        // SAFETY: filled by the kernel.
        u64::from(unsafe { stats.assume_init() }.tp_drops)
    }
}

/// When the kernel took the frame `msg` holds: its SCM_TIMESTAMPNS
/// control message, asked for at open. That is before its reader woke,
/// so a read of its bytes is never drawn before it arrived.
fn stamp(msg: &libc::msghdr) -> Option<SystemTime> {
    // SAFETY: walking the control messages the kernel wrote into the
    // buffer `msg` names, with the C library's own macros.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                let secs = u64::try_from(ts.tv_sec).ok()?;
                let nanos = u32::try_from(ts.tv_nsec).ok()?;
                return Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}
