//! A scripted exchange over one connection: the welcome, each message and
//! its reply, and the waits between, each bounded and named when it lasts.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use tcpkit_wire::Escaped;
use tcpkit_wire::greeting::ClientFraming;

use super::link::Link;
use super::{
    CHUNK, QUIET_GAP, SILENCE, TLS_CHECK, TalkOptions, is_timeout, lost, no_welcome_from, not_tls,
    timeout_or_lost, write_out,
};
use crate::error::Error;
use crate::setting::{Setting, Words};

/// A scripted exchange over one connection.
pub(super) struct Conversation<'a> {
    pub(super) link: Link,
    pub(super) reader: BufReader<Link>,
    pub(super) opts: &'a TalkOptions,
    /// When the current wait began, if it began before the current read
    /// (the welcome's, which a silence check may have interrupted).
    pub(super) since: Option<Instant>,
}

impl Conversation<'_> {
    /// Says `what`, with the server and how long talk still waits, if the
    /// wait lasts 2 s (until the returned guard is dropped).
    pub(super) fn slow(&self, what: &str) -> crate::notice::SlowNotice {
        let peer = self
            .link
            .tcp()
            .peer_addr()
            .map_or_else(|_| self.opts.addr.clone(), |p| p.to_string());
        crate::notice::SlowNotice::new(
            &self.opts.notices,
            crate::words!(
                "{peer}: {what} after 2s; still waiting ({})",
                crate::notice::up_to(Setting::Timeout, self.opts.timeout)
            ),
        )
    }

    /// Waits up to [`SILENCE`] for the server's first bytes. If none come,
    /// a server that speaks TLS (it waits for the client's hello) is told
    /// apart, on a second connection, from one that is slow or sends no
    /// welcome: the first is an error naming --tls; for the others a
    /// person is told what talk is still waiting for, and it goes on
    /// waiting up to --timeout.
    pub(super) fn wait_for_first_bytes(&mut self) -> Result<(), Error> {
        let silence = self.opts.timeout.map_or(SILENCE, |t| t.min(SILENCE));
        self.link
            .tcp()
            .set_read_timeout(Some(silence))
            .map_err(|e| Error::other("cannot set a read timeout", e))?;
        let waited = matches!(self.reader.fill_buf(), Err(e) if is_timeout(&e));
        self.link
            .tcp()
            .set_read_timeout(self.opts.timeout)
            .map_err(|e| Error::other("cannot set a read timeout", e))?;
        if !waited || self.opts.timeout.is_some_and(|t| t <= silence) {
            return Ok(());
        }
        let Ok(peer) = self.link.tcp().peer_addr() else {
            return Ok(());
        };
        let spent = humantime::format_duration(silence);
        not_tls(&self.link, peer, &spent)?;
        // A server found out for sure settles the matter: said now, not
        // after the whole --timeout.
        if let Some(kind) = crate::probe::silent_server(peer, TLS_CHECK) {
            return Err(Error::protocol(no_welcome_from(peer, &spent, kind)));
        }
        let until = self.opts.timeout.map_or(Words::from("with no limit"), |t| {
            crate::words!(
                "up to {} {}",
                Setting::Timeout,
                humantime::format_duration(t)
            )
        });
        self.opts
            .notices
            .notice(crate::notice::Notice::Hint(crate::words!(
                "nothing from {peer} in {spent}; still waiting for the welcome ({}). A server \
                 that sends none, like an echo or HTTP server, needs {}.",
                until,
                Setting::NoWelcome
            )));
        Ok(())
    }

    pub(super) fn send(&mut self, message: &[u8]) -> Result<(), Error> {
        let mut bytes = message.to_vec();
        if self.opts.framing == ClientFraming::Line {
            bytes.push(b'\n');
        }
        self.link
            .write_all(&bytes)
            .map_err(|e| lost(&format!("sending {}", Escaped(message)), e))?;
        Ok(())
    }

    /// Reads one reply: a line, or one read in chunk framing.
    pub(super) fn receive(&mut self, what: &str) -> Result<Vec<u8>, Error> {
        let mut reply = Vec::new();
        let got = match self.opts.framing {
            ClientFraming::Line => self.receive_line(what, &mut reply)?,
            ClientFraming::Chunk => {
                reply.resize(self.opts.max_reply.clamp(1, CHUNK), 0);
                let got = self.reader.read(&mut reply).map_err(|e| {
                    timeout_or_lost(&format!("waiting for {what}"), self.opts.timeout, e)
                })?;
                reply.truncate(got);
                got
            }
        };
        if got == 0 {
            return Err(Error::protocol(format!(
                "the server closed the connection before sending {what}"
            )));
        }
        if reply.ends_with(b"\n") {
            reply.pop();
            if reply.ends_with(b"\r") {
                reply.pop();
            }
        }
        Ok(reply)
    }

    /// Reads up to and including a newline (or the close); the bytes read.
    /// `--timeout` bounds the whole wait, however the bytes trickle in.
    /// Once bytes have come, it waits at most [`QUIET_GAP`] for more:
    /// bytes that stop without a newline are a framing mismatch, reported
    /// with what came, not a timeout after the whole `--timeout`.
    fn receive_line(&mut self, what: &str, reply: &mut Vec<u8>) -> Result<usize, Error> {
        let limit = self.opts.max_reply.saturating_add(2);
        let deadline = self.deadline();
        loop {
            let wait = match (self.left(deadline, what, reply)?, reply.is_empty()) {
                (left, true) => left,
                (left, false) => Some(left.map_or(QUIET_GAP, |l| l.min(QUIET_GAP))),
            };
            self.link
                .tcp()
                .set_read_timeout(wait)
                .map_err(|e| Error::other("cannot set a read timeout", e))?;
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => {
                    if reply.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
                        continue; // `left` says whether the time is up
                    }
                    return Err(Error::protocol(crate::words!(
                        "got {} with no newline, then nothing for {}: a server that does not \
                         end its lines, like the tutorial's own? try {} chunk",
                        Escaped(reply),
                        humantime::format_duration(QUIET_GAP),
                        Setting::Framing
                    )));
                }
                Err(e) => {
                    return Err(timeout_or_lost(
                        &format!("waiting for {what}"),
                        self.opts.timeout,
                        e,
                    ));
                }
            };
            if buf.is_empty() {
                break; // the close: what came is the reply
            }
            let (take, ends) = match memchr::memchr(b'\n', buf) {
                Some(at) => (at + 1, true),
                None => (buf.len(), false),
            };
            let take = take.min(limit - reply.len());
            reply.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            if ends && reply.ends_with(b"\n") {
                break;
            }
            if reply.len() == limit {
                return Err(Error::protocol(crate::words!(
                    "{what} is longer than {} (see {})",
                    tcpkit_wire::Bytes::of(self.opts.max_reply),
                    Setting::MaxReply
                )));
            }
        }
        self.link
            .tcp()
            .set_read_timeout(self.opts.timeout)
            .map_err(|e| Error::other("cannot set a read timeout", e))?;
        Ok(reply.len())
    }

    /// When a wait that starts now must end (`None`: no limit).
    fn deadline(&self) -> Option<Instant> {
        let from = self.since.unwrap_or_else(Instant::now);
        self.opts.timeout.map(|t| from + t)
    }

    /// The time left before `deadline` (`None`: no limit); a timeout error
    /// that says what came so far when none is left.
    fn left(
        &self,
        deadline: Option<Instant>,
        what: &str,
        got: &[u8],
    ) -> Result<Option<Duration>, Error> {
        let Some(deadline) = deadline else {
            return Ok(None);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let so_far = if got.is_empty() {
                String::new()
            } else {
                format!(" (got {} so far)", Escaped(got))
            };
            return Err(Error::Timeout {
                what: crate::words!("waiting for {what}{so_far}"),
                after: self.opts.timeout.unwrap_or_default(),
                source: None,
            });
        }
        Ok(Some(left))
    }

    /// After `exit`: prints anything the server still says, until it
    /// closes, within `--timeout` in all and `--max-reply` bytes.
    pub(super) fn wait_for_close(&mut self, out: &mut dyn Write) -> Result<(), Error> {
        let what = "the server to close";
        let deadline = self.deadline();
        let mut buf = vec![0; CHUNK];
        let mut said = 0;
        // A server whose reply to `exit` is just another reply (an echo,
        // told with --reply '{}'): that reply is not shown as if the
        // server said more, and the session ends on it, as no close will
        // come.
        let mut answer = self.opts.reply.reply_to(b"exit");
        if self.opts.framing == ClientFraming::Line {
            answer.push(b'\n');
        }
        let mut held: Vec<u8> = Vec::new();
        let expects_exit = self.opts.reply.reply_to(b"exit") == b"exit";
        loop {
            let wait = self.left(deadline, what, b"")?;
            self.link
                .tcp()
                .set_read_timeout(wait)
                .map_err(|e| Error::other("cannot set a read timeout", e))?;
            match self.reader.read(&mut buf) {
                Ok(0) => return write_out(out, &held),
                Ok(n) => {
                    said += n;
                    if said > self.opts.max_reply {
                        return Err(Error::protocol(crate::words!(
                            "after exit the server sent more than {} without closing \
                             (see {})",
                            tcpkit_wire::Bytes::of(self.opts.max_reply),
                            Setting::MaxReply
                        )));
                    }
                    if expects_exit && held.len() + n <= answer.len() {
                        held.extend_from_slice(&buf[..n]);
                        if held == answer {
                            return Ok(());
                        }
                        if answer.starts_with(&held) {
                            continue;
                        }
                        write_out(out, &std::mem::take(&mut held))?;
                        continue;
                    }
                    write_out(out, &std::mem::take(&mut held))?;
                    write_out(out, &buf[..n])?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(lost(&format!("waiting for {what}"), e)),
            }
        }
    }
}
