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
