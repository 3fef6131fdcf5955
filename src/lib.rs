//! tcpkit: the tutorial's TCP greeting server and its clients, as a library.
//!
//! - [`protocol`]: the greeting protocol as a pure decoder, no I/O.
//! - [`server`]: `tcpkit serve`, the accept loop and the connection handler.
//! - [`client`]: `tcpkit talk`, scripted or interactive.
//! - [`fetch`]: `tcpkit fetch`, the tutorial's web client done correctly.
//! - [`bench`](mod@bench): `tcpkit bench`, the load generator.
//! - [`net`]: resolving, listening with a backlog, connecting with a timeout.
//! - [`error`]: the error classes callers branch on, and their exit codes.
//!
//! The binary adds [`cli`] (argument parsing), [`commands`] (dispatch),
//! [`demo`] and [`logging`].

pub mod bench;
pub mod cli;
pub mod client;
pub mod commands;
pub mod demo;
pub mod error;
pub mod fetch;
pub mod logging;
pub mod net;
pub mod protocol;
pub mod server;

pub use error::Error;
