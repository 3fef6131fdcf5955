//! What waits, and how it is bounded: replies a client has not taken yet
//! (held from the server's budget, with the input behind them), the rest
//! of a read that asked for more replies than one turn makes (answered
//! in turns, in the lane), and `--delay`'s slow answers. The hot path
//! (`mod.rs`, `conn.rs`) never comes here; only a connection whose
//! answer could not be sent at once does.

use tcpkit_wire::greeting::Progress;
use tcpkit_wire::proxy;

use super::super::Held;
use super::super::conn::{Answered, End, OUTPUT_STEP};
use super::super::socket::Socket;
use super::{BUSY, Ending, Handler, UNTRUSTED_HEADER};

impl<S: Socket> Handler<S> {
    /// The client is not taking its replies as fast as it sends: hold what
    /// the socket would not take and the input behind it (from the
    /// server's budget), and read nothing more until both are answered and
    /// sent. TCP does the rest: the client's sends stall once the kernel's
    /// buffers fill, and each such client costs a bounded amount.
    pub(super) async fn answer_stuck(
        &mut self,
        unsent: Vec<u8>,
        rest: Vec<u8>,
        end: Option<End>,
    ) -> Option<Ending> {
        if unsent.is_empty() && rest.is_empty() {
            return end.map(Ending::from);
        }
        let shared = self.shared.clone();
        let Some(held) = shared
            .budget
            .hold(rest.len() + unsent.len().max(OUTPUT_STEP))
        else {
            return Some(Ending::BusyUnread);
        };
        self.answer_rest(unsent, rest, end, held).await
    }

    /// Sends `unsent`, then answers `rest` a step at a time, each step's
    /// replies sent before the next is made, while `_held` keeps their
    /// share of the budget.
    async fn answer_rest(
        &mut self,
        mut unsent: Vec<u8>,
        rest: Vec<u8>,
        end: Option<End>,
        _held: Held<'_>,
    ) -> Option<Ending> {
        let mut pos = 0;
        let shared = self.shared.clone();
        let mut turn = None;
        loop {
            if let Err(ending) = self.send_held(&unsent, &mut turn).await {
                return Some(ending);
            }
            if pos == rest.len() {
                return end.map(Ending::from);
            }
            // A client that reads as fast as it is answered never makes
            // the send above wait: a step is a turn in the lane. After
            // each, the runtime's other tasks run (yielding, the lane kept,
            // so that a handful of such connections are in the runtime's
            // queue, not all of them), then the lane goes to the next in
            // line (it is fair: a turn given back goes to the first in
            // line, and this connection lines up behind it).
            if turn.is_some() {
                tokio::task::yield_now().await;
                drop(turn.take());
            }
            turn = shared.lane.acquire().await.ok();
            unsent.clear();
            let progress =
                self.conn
                    .answer_more(&self.shared.config.settings, &rest[pos..], &mut unsent);
            pos += progress.consumed;
            self.count(0, progress.replies, unsent.len());
            self.answered |= progress.replies > 0;
            if let Some(close) = progress.close {
                if let Err(e) = self
                    .conn
                    .send(&unsent, self.shared.config.write_timeout)
                    .await
                {
                    return Some(e.into());
                }
                return Some(close.into());
            }
        }
    }

    /// Sends replies; when the socket does not take them all at once, the
    /// client is not reading: the lane's `turn` goes to the next in line,
    /// and what the kernel holds unsent (its send buffer is full of our
    /// replies: memory this client holds as much as ours, bounded by
    /// --send-buffer) is held from the budget while we wait. No room: the
    /// client is closed.
    async fn send_held(
        &mut self,
        bytes: &[u8],
        turn: &mut Option<tokio::sync::SemaphorePermit<'_>>,
    ) -> Result<(), Ending> {
        let sent = self.conn.send_now(bytes).map_err(Ending::Failed)?;
        let shared = self.shared.clone();
        let _kernel = if sent < bytes.len() {
            drop(turn.take());
            let Some(held) = shared.budget.hold(self.conn.unsent_in_kernel()) else {
                return Err(Ending::BusyUnread);
            };
            Some(held)
        } else {
            None
        };
        self.conn
            .send(&bytes[sent..], self.shared.config.write_timeout)
            .await
            .map_err(Ending::from)
    }

    /// Sends what one read left unsent and answers the rest of it.
    pub(super) async fn finish_read(&mut self, answered: Answered) -> Option<Ending> {
        let Answered {
            unsent, rest, end, ..
        } = answered;
        if unsent.is_empty() && !rest.is_empty() {
            return self.answer_in_turns(rest).await;
        }
        self.answer_stuck(unsent, rest, end).await
    }

    /// Answers the rest of a read that asked for more replies than one turn
    /// makes ([`super::super::conn::TURN_REPLIES`]), after letting the thread's other connections
    /// have their turn. The rest is held from the server's budget while it
    /// waits; with no room there, it is answered now, in this turn, as far
    /// as the socket takes the replies, as before turns were taken.
    async fn answer_in_turns(&mut self, rest: Vec<u8>) -> Option<Ending> {
        let shared = self.shared.clone();
        if let Some(held) = shared.budget.hold(rest.len() + OUTPUT_STEP) {
            return self.answer_rest(Vec::new(), rest, None, held).await;
        }
        let answered = match self
            .conn
            .answer_rest_now(&self.shared.config.settings, &rest)
        {
            Ok(answered) => answered,
            Err(e) => return Some(Ending::Failed(e)),
        };
        self.count(0, answered.replies, answered.bytes_out);
        self.answered |= answered.replies > 0;
        self.answer_stuck(answered.unsent, answered.rest, answered.end)
            .await
    }

    /// Answers a read handed back undecoded: a PROXY header from a client
    /// that may not send one is refused; else slowly with `--delay`, or as
    /// any other read (it was held only to be checked).
    pub(super) async fn answer_held(&mut self, input: Vec<u8>) -> Option<Ending> {
        self.count(input.len(), 0, 0);
        if std::mem::take(&mut self.check_first) && proxy::looks_like_header(&input) {
            self.shared.metered(|m| m.sent(UNTRUSTED_HEADER.len()));
            let refused = self
                .conn
                .send(UNTRUSTED_HEADER, self.shared.config.write_timeout);
            return Some(match refused.await {
                Ok(()) => Ending::UntrustedHeader,
                Err(e) => e.into(),
            });
        }
        if self.shared.config.delay.is_some() {
            self.answer_slowly(input).await
        } else {
            self.answer_stuck(Vec::new(), input, None).await
        }
    }

    /// `--delay`: answers the messages of one read one at a time, waiting
    /// before each reply. Only this connection waits.
    pub(super) async fn answer_slowly(&mut self, input: Vec<u8>) -> Option<Ending> {
        // The read waits here, up to --delay per message: it counts
        // against the budget like any other buffered input.
        let shared = self.shared.clone();
        let Some(_held) = shared.budget.hold(input.len()) else {
            return Some(
                match self.conn.send(BUSY, shared.config.write_timeout).await {
                    Ok(()) => Ending::Busy,
                    Err(e) => e.into(),
                },
            );
        };
        let delay = self.shared.config.delay.unwrap_or_default();
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            out.clear();
            let rest = &input[pos..];
            let progress = if rest.is_empty() {
                Progress::default()
            } else {
                self.conn
                    .decode(&self.shared.config.settings, rest, &mut out, 1)
            };
            pos += progress.consumed;
            if progress.replies == 0 && progress.close.is_none() {
                return None;
            }
            if progress.replies > 0 {
                // Exactly --delay: the timer alone answered 10ms in 11.3.
                crate::pace::until(std::time::Instant::now() + delay, true).await;
                self.count(0, 1, out.len());
                self.answered = true;
            }
            if let Err(e) = self.conn.send(&out, self.shared.config.write_timeout).await {
                return Some(e.into());
            }
            if let Some(close) = progress.close {
                return Some(close.into());
            }
        }
    }
}
