//! tcpkit as a library: the greeting server, its client, the web client
//! and the load generator behind the `tcpkit` binary.
//!
//! The library never owns the process: it does not parse arguments, set up
//! logging or exit, and it watches signals only when its caller asks
//! ([`signal`]). Every failure comes back as an
//! [`Error`] whose [`ErrorKind`] a caller can branch on; the binary maps
//! kinds to its documented exit codes.
//!
//! - [`server`]: `tcpkit serve`: [`server::run`] on listeners the caller
//!   bound (tests bind port 0), until a shutdown future completes.
//! - [`talk`]: `tcpkit talk`, the tutorial's client, scripted or joined to
//!   a reader and a writer like `nc`.
//! - [`fetch`]: `tcpkit fetch`, the tutorial's web client done correctly.
//! - [`bench`](mod@bench): `tcpkit bench`, the load generator that checks every reply.
//! - [`net`]: resolving `HOST:PORT`, listening with a backlog, connecting.
//! - [`habits`]: nc's, curl's, wrk's and tcpkali's flags, and what tcpkit
//!   calls each.
//! - [`spelling`]: addresses as people mistype them, and what to write instead.
//! - [`units`]: durations, sizes, counts and networks as people write them.
//!   What differs by operating system is kept in one private module,
//!   `sys`.
//! - [`tls`]: client trust and the server's certificate, for every command.
//! - [`term`]: a writer that makes a peer's bytes safe to show on a terminal.
//! - [`demo`]: the tutorial's two windows in one, a server's log and a
//!   client's lines in cause-and-effect order.
//! - [`trace`]: a session's calls as events (`--trace`), and the sequence
//!   diagram drawn from them (`demo --diagram`).
//! - [`lossy`]: a writer that never makes its caller wait on a stalled
//!   output (logs, traces, notices): it drops, counts and says so.
//! - [`signal`]: the signals that stop a server or a download (Ctrl+C,
//!   SIGTERM) and reload a certificate (SIGHUP), watched when asked.
//! - [`memory`]: giving freed memory back to the system under mimalloc.
//! - [`notice`]: hints, warnings and progress, for the caller to show.
//! - [`setting`]: messages as [`Words`] that keep the settings they name
//!   as data, rendered as fields or as the binary's flags by whoever
//!   shows them.
//! - [`wire`]: the pure codecs (the `tcpkit-wire` crate), re-exported.

#![warn(missing_docs)]

pub mod bench;
pub mod demo;
mod error;
pub mod fetch;
pub mod habits;
pub mod lossy;
pub mod made;
pub mod memory;
pub mod net;
pub mod notice;
mod pace;
mod probe;
pub mod server;
pub mod service;
pub mod setting;
pub mod signal;
pub mod spelling;
mod sys;
pub mod talk;
pub mod term;
pub mod tls;
pub mod trace;
pub mod units;

pub use error::{Error, ErrorKind, Kept, chain_in_words};
pub use setting::{Naming, Setting, Words};
pub use sys::Holder;
pub use tcpkit_wire as wire;
