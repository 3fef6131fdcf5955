//! What each scenario plays: its sessions, the server each one meets,
//! and its client's steps.

use std::time::Duration;

use tcpkit_wire::greeting::Framing;

use super::{Place, Scenario, Session, Step};
use crate::server;

/// `exit`, and more than one server read (32 KiB) after it: input the
/// server has not read when it closes.
static AFTER_EXIT: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let mut input = b"Michael\n".repeat(MESSAGES_BEFORE_EXIT);
    input.extend_from_slice(b"exit\n");
    input.extend(std::iter::repeat_n(b'x', 40_000));
    input.push(b'\n');
    input
});

/// Messages before `exit` in the reset scenario: 32,000 bytes of replies,
/// more than the client's small window takes, so most wait in the
/// server's kernel when it closes.
const MESSAGES_BEFORE_EXIT: usize = 2000;

/// What the window scenario's client writes at once: 1,000 messages,
/// whose 16,000 bytes of replies are more than its window takes.
static MANY: std::sync::LazyLock<Vec<u8>> =
    std::sync::LazyLock::new(|| b"Michael\n".repeat(WINDOW_MESSAGES));

/// Messages in the window scenario.
const WINDOW_MESSAGES: usize = 1000;

/// How long the window scenario's client reads nothing: longer than the
/// server's kernel waits before it probes a zero window (its
/// retransmission timeout, at least 200 ms on Linux).
const NOT_READING: Duration = Duration::from_millis(600);

/// The reset scenario's client's receive buffer: its kernel takes 8 KiB
/// (Linux doubles what is asked) of the 32,000 bytes of replies.
const SMALL_WINDOW: usize = 4096;

impl Session {
    /// An ordinary line-framed server with the lingering close, and a
    /// client that takes `steps`.
    fn of(steps: Vec<Step>) -> Session {
        Session {
            framing: Framing::Line,
            linger: server::DEFAULT_LINGER,
            window: None,
            nodelay: false,
            place: Place::Free,
            note: None,
            steps,
        }
    }

    /// What this session shows, said above it.
    fn noted(self, note: &'static str) -> Session {
        Session {
            note: Some(note),
            ..self
        }
    }
}

impl Scenario {
    pub(in crate::trace) fn sessions(self) -> Vec<Session> {
        use Step::*;
        match self {
            Scenario::Tutorial => Vec::new(),
            Scenario::Backlog => backlog(),
            Scenario::Reset => {
                let steps = || vec![Lines(1), Send(AFTER_EXIT.as_slice()), ServerEnds];
                vec![
                    Session {
                        linger: Duration::ZERO,
                        window: Some(SMALL_WINDOW),
                        ..Session::of(steps())
                    }
                    .noted(
                        "close() with input unread (serve --linger 0): a reset, and the replies \
                         still in the server's kernel are lost",
                    ),
                    Session {
                        window: Some(SMALL_WINDOW),
                        ..Session::of(steps())
                    }
                    .noted(
                        "the lingering close: every reply, then the FIN; the rest read and dropped",
                    ),
                ]
            }
            Scenario::Nagle => nagle(),
            Scenario::Window => vec![
                Session {
                    window: Some(SMALL_WINDOW),
                    ..Session::of(vec![
                        Lines(1),
                        Send(MANY.as_slice()),
                        Pause(NOT_READING),
                        Lines(WINDOW_MESSAGES),
                        Send(b"exit\n"),
                    ])
                }
                .noted(
                    "the client writes 1,000 messages and reads nothing for a while: the \
                     replies fill its window",
                ),
            ],
            Scenario::Split => vec![
                Session::of(vec![
                    Lines(1),
                    Send(b"Mich"),
                    ServerReads(1),
                    Send(b"ael\n"),
                    Lines(1),
                    Send(b"exit\n"),
                ])
                .noted(
                    "one message in two writes: the server reads two pieces, and answers once \
                     the line is whole",
                ),
            ],
            Scenario::Merged => vec![
                Session::of(vec![
                    Lines(1),
                    Send(b"Michael\nTracy\nSarah\n"),
                    Lines(3),
                    Send(b"exit\n"),
                ])
                .noted(
                    "three messages in one write: one read holds them all, and the three \
                     replies go out in one write",
                ),
            ],
            Scenario::Framing => vec![
                Session {
                    framing: Framing::Chunk,
                    ..Session::of(vec![Once, Send(b"Michael\nTracy\n"), Once, Send(b"exit")])
                }
                .noted("the tutorial's framing: each read is one message"),
                Session::of(vec![
                    Lines(1),
                    Send(b"Michael\nTracy\n"),
                    Lines(2),
                    Send(b"exit\n"),
                ])
                .noted("line framing: a message is what comes before a newline"),
            ],
        }
    }
}

/// The Nagle scenario: the same two small writes, first with Nagle's
/// algorithm, then with TCP_NODELAY. One exchange comes first, so that
/// the server's kernel takes the connection for an interactive one and
/// delays its ACKs (to send them with a reply).
fn nagle() -> Vec<Session> {
    use Step::*;
    let steps = || {
        vec![
            Lines(1),
            Send(b"Michael\n"),
            Lines(1),
            Send(b"Tra"),
            Send(b"cy\n"),
            Lines(1),
            Send(b"exit\n"),
        ]
    };
    vec![
        Session::of(steps()).noted(
            "two small writes with Nagle's algorithm (the default): the second waits for the \
             first's ACK, which the server's kernel delays",
        ),
        Session {
            nodelay: true,
            ..Session::of(steps())
        }
        .noted("the same with TCP_NODELAY: the second write goes at once"),
    ]
}

/// The backlog scenario: a client waiting in the backlog, then one whose
/// SYN the full backlog drops.
fn backlog() -> Vec<Session> {
    use Step::*;
    vec![
        Session {
            place: Place::Taken,
            ..Session::of(vec![
                Send(b"Michael\n"),
                Pause(Duration::from_millis(100)),
                Release,
                ServerWrites(2),
                Lines(2),
                Send(b"exit\n"),
            ])
        }
        .noted("another client holds the server's one place; this one waits in the backlog"),
        Session {
            place: Place::TakenAndQueueFull,
            ..Session::of(vec![
                Lines(1),
                Send(b"Michael\n"),
                Lines(1),
                Send(b"exit\n"),
            ])
        }
        .noted(
            "six more clients (not drawn) fill the backlog, listen(5), which Linux lets hold \
             six: the kernel drops this client's SYN",
        ),
    ]
}
