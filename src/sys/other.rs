//! Systems other than Linux: what they do not say, left unknown.

use std::net::SocketAddr;

use super::Holder;

pub fn link_open_file(_file: &std::fs::File, _to: &std::path::Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

pub fn listener_of(_addr: SocketAddr) -> Option<Holder> {
    None
}

pub fn tcp_state(_: SocketAddr, _: SocketAddr) -> Option<Option<&'static str>> {
    None
}

/// No packet socket here: the pictures are drawn from the calls alone.
#[derive(Debug)]
pub struct LoopbackTap;

/// One frame read from the tap (never, here).
#[derive(Debug)]
pub struct Frame {
    /// Its bytes kept.
    pub len: usize,
    /// Its length on the wire.
    pub wire_len: usize,
    /// When the kernel took it.
    pub at: std::time::SystemTime,
}

impl LoopbackTap {
    pub fn open(_tick: std::time::Duration) -> std::io::Result<LoopbackTap> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    pub fn next(&self, _buf: &mut [u8]) -> std::io::Result<Option<Frame>> {
        Ok(None)
    }

    pub fn dropped(&self) -> u64 {
        0
    }
}
