//! Linux: the frames on the loopback interface, through a packet socket
//! (`AF_PACKET`, every protocol, bound to `lo`) with a receive ring
//! (`PACKET_RX_RING`, TPACKET_V2) shared with the kernel, as libpcap
//! reads. Opening one needs `CAP_NET_RAW` (root, or `setcap
//! cap_net_raw+ep` on the binary).
//!
//! Why a ring rather than `recvmsg`: the kernel writes each frame's time
//! into the ring as it delivers the frame to the tap, whatever else runs.
//! A plain packet socket's times (`SO_TIMESTAMPNS`) depend on a switch
//! the kernel flips for the whole machine a moment after it is asked (and
//! other programs' sockets flip it too); a frame taken before is stamped
//! when it is read, later than it came.

use std::cell::Cell;
use std::io;
use std::mem::size_of;
use std::os::unix::io::AsRawFd;
use std::ptr::{self, NonNull};
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, SystemTime};

use socket2::{Domain, Protocol, Socket, Type};

/// `PACKET_OUTGOING` (linux/if_packet.h): a frame this machine sent.
const PACKET_OUTGOING: u8 = 4;

/// One slot of the ring: a loopback frame (64 KiB and its link header)
/// after the ring's own header, in whole pages.
const SLOT: usize = 17 * 4096;
/// Slots in the ring (about 3.3 MiB): a demo's session sends a few
/// hundred frames, read as they come; more wait only while the reader is
/// late, and past this the kernel drops and counts them.
const SLOTS: usize = 48;

/// A packet socket on `lo`, with its receive ring.
#[derive(Debug)]
pub struct LoopbackTap {
    socket: Socket,
    ring: NonNull<u8>,
    /// The slot to read next.
    next: Cell<usize>,
    /// How long a read waits for a frame, in milliseconds.
    tick: libc::c_int,
}

// SAFETY: the ring is this value's alone (mapped in `open`, unmapped in
// `drop`), and the kernel's side of it is synchronised through each
// slot's status word; moving the tap to another thread moves it all.
unsafe impl Send for LoopbackTap {}

/// One frame read from the tap.
#[derive(Debug)]
pub struct Frame {
    /// Its bytes kept (the start of the frame, as much as the buffer held).
    pub len: usize,
    /// Its length on the wire.
    pub wire_len: usize,
    /// When the kernel delivered it to the tap.
    pub at: SystemTime,
}

/// `setsockopt(2)` at SOL_PACKET with a value of its own size.
fn set<T>(socket: &Socket, option: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: setsockopt(2) with a value of the size given, on a socket
    // this owns.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_PACKET,
            option,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
        set(
            &socket,
            libc::PACKET_VERSION,
            &(libc::tpacket_versions::TPACKET_V2 as libc::c_int),
        )?;
        let request = libc::tpacket_req {
            tp_block_size: SLOT as libc::c_uint,
            tp_block_nr: SLOTS as libc::c_uint,
            tp_frame_size: SLOT as libc::c_uint,
            tp_frame_nr: SLOTS as libc::c_uint,
        };
        set(&socket, libc::PACKET_RX_RING, &request)?;
        // SAFETY: maps the ring the kernel just made for this socket, of
        // the size asked for, shared with the kernel.
        let ring = unsafe {
            libc::mmap(
                ptr::null_mut(),
                SLOT * SLOTS,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                socket.as_raw_fd(),
                0,
            )
        };
        if ring == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let tap = LoopbackTap {
            socket,
            ring: NonNull::new(ring.cast()).ok_or(io::ErrorKind::InvalidData)?,
            next: Cell::new(0),
            tick: libc::c_int::try_from(tick.as_millis()).unwrap_or(libc::c_int::MAX),
        };
        tap.bind_to_loopback(all)?;
        Ok(tap)
    }

    fn bind_to_loopback(&self, all: u16) -> io::Result<()> {
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
                self.socket.as_raw_fd(),
                (&raw const addr).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The next frame received on `lo`, its start in `buf`; `None` when
    /// none came within the tick. Every loopback packet passes the tap
    /// twice, sent and received: only the received copy is returned (as
    /// libpcap does), so each is seen once.
    pub fn next(&self, buf: &mut [u8]) -> io::Result<Option<Frame>> {
        loop {
            let slot = self.next.get();
            // SAFETY: a slot of the mapped ring, whose header the kernel
            // writes and hands over through its status word.
            let header =
                unsafe { self.ring.as_ptr().add(slot * SLOT) }.cast::<libc::tpacket2_hdr>();
            // SAFETY: as above; the status is read afresh each time.
            let status = unsafe { ptr::read_volatile(&raw const (*header).tp_status) };
            if status & libc::TP_STATUS_USER == 0 {
                if !self.wait()? {
                    return Ok(None);
                }
                continue;
            }
            // The frame is written before its status says so.
            fence(Ordering::Acquire);
            // SAFETY: the slot is ours until handed back below: its
            // header, then the address after it, then the frame at tp_mac.
            let (header_copy, kind) = unsafe {
                let h = ptr::read_volatile(header);
                let address = header
                    .cast::<u8>()
                    .add(libc::TPACKET_ALIGN(size_of::<libc::tpacket2_hdr>()))
                    .cast::<libc::sockaddr_ll>();
                (h, ptr::read_unaligned(address).sll_pkttype)
            };
            let len = (header_copy.tp_snaplen as usize)
                .min(buf.len())
                .min(SLOT.saturating_sub(usize::from(header_copy.tp_mac)));
            // SAFETY: `len` bytes of the frame inside the slot into `buf`.
            unsafe {
                ptr::copy_nonoverlapping(
                    header.cast::<u8>().add(usize::from(header_copy.tp_mac)),
                    buf.as_mut_ptr(),
                    len,
                );
            }
            fence(Ordering::Release);
            // SAFETY: hands the slot back to the kernel.
            unsafe { ptr::write_volatile(&raw mut (*header).tp_status, libc::TP_STATUS_KERNEL) };
            self.next.set((slot + 1) % SLOTS);
            if kind == PACKET_OUTGOING {
                continue;
            }
            let at = SystemTime::UNIX_EPOCH
                + Duration::new(u64::from(header_copy.tp_sec), header_copy.tp_nsec);
            return Ok(Some(Frame {
                len,
                wire_len: header_copy.tp_len as usize,
                at,
            }));
        }
    }

    /// Waits up to the tick for a frame: false when none came.
    fn wait(&self) -> io::Result<bool> {
        let mut poll = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        // SAFETY: poll(2) on one pollfd of ours.
        match unsafe { libc::poll(&raw mut poll, 1, self.tick) } {
            0 => Ok(false),
            // An error on the tap is said, not polled for again and again.
            n if n > 0 && poll.revents & libc::POLLERR != 0 => Err(self
                .socket
                .take_error()?
                .unwrap_or_else(|| io::Error::other("the tap reported an error"))),
            n if n > 0 => Ok(true),
            _ => {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => Ok(true),
                    _ => Err(e),
                }
            }
        }
    }

    /// Frames the kernel dropped for want of room in the ring since the
    /// last ask (PACKET_STATISTICS).
    pub fn dropped(&self) -> u64 {
        // SAFETY: tpacket_stats is plain data; all zeros is a valid value.
        let mut stats: libc::tpacket_stats = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: getsockopt(2) into a tpacket_stats of the size given.
        let rc = unsafe {
            libc::getsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&raw mut stats).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return 0;
        }
        u64::from(stats.tp_drops)
    }
}

impl Drop for LoopbackTap {
    fn drop(&mut self) {
        // SAFETY: unmaps the ring mapped in `open`, of the same size; no
        // reference into it outlives this value.
        unsafe {
            libc::munmap(self.ring.as_ptr().cast(), SLOT * SLOTS);
        }
    }
}
