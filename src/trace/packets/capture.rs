//! Capturing on the loopback interface: a thread reads the tap until
//! the session is over, keeping every TCP frame (bounded), each with the
//! kernel's own time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::{Captured, Frame, parse};
use crate::error::Error;
use crate::sys::LoopbackTap;

/// How long a read of the tap waits before looking whether to stop; also
/// how long the loopback must be quiet, once stopping, for the capture to
/// have everything the session sent.
const TICK: Duration = Duration::from_millis(50);
/// The most of one frame kept: a loopback frame is at most 64 KiB and its
/// link header.
pub(super) const SNAPLEN: usize = 65_550;
/// The most frames kept: other programs' loopback traffic is captured too
/// until the session's connections are known, and must not grow memory
/// without bound.
const MAX_FRAMES: usize = 20_000;
/// The most bytes of frames kept.
const MAX_BYTES: usize = 64 << 20;

/// A capture running on the loopback interface, in a thread of its own.
#[derive(Debug)]
pub struct Capture {
    stop: Arc<AtomicBool>,
    /// The servers' ports: frames to or from them are kept, the rest of
    /// the loopback's traffic (other programs') is not.
    ports: Arc<Mutex<Vec<u16>>>,
    thread: JoinHandle<Captured>,
}

impl Capture {
    /// Starts capturing every TCP frame on the loopback interface. Fails,
    /// saying why and what to do, without the right to capture.
    pub fn start() -> Result<Capture, Error> {
        let tap = LoopbackTap::open(TICK).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    "not permitted (it needs root or CAP_NET_RAW: run as root, or sudo setcap \
                     cap_net_raw+ep on the tcpkit binary)"
                        .to_string()
                }
                std::io::ErrorKind::Unsupported => "done on Linux only".to_string(),
                _ => crate::error::describe(&e),
            };
            Error::Other {
                message: format!("cannot capture the packets on the loopback interface: {why}")
                    .into(),
                source: None,
            }
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let ports = Arc::new(Mutex::new(Vec::new()));
        // Read here, before the session starts: a capture thread that
        // starts late (a busy machine) still maps every frame's time.
        let clocks = clocks();
        let watched = ports.clone();
        let thread = std::thread::Builder::new()
            .name("tcpkit-capture".into())
            .spawn(move || capture(&tap, clocks, &stopping, &watched))
            .map_err(|e| Error::Other {
                message: "cannot start the capture's thread".into(),
                source: Some(Box::new(e)),
            })?;
        Ok(Capture {
            stop,
            ports,
            thread,
        })
    }

    /// Keeps the frames to and from `port` (a server's, bound before any
    /// client connects to it) from now on.
    pub fn watch(&self, port: u16) {
        self.ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(port);
    }

    /// Stops once the loopback has been quiet for a moment (the session's
    /// last segments read), and hands over what was captured.
    pub fn finish(self) -> Captured {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The capture's thread: frames until asked to stop and the tap is quiet.
fn capture(
    tap: &LoopbackTap,
    clocks: (Instant, SystemTime),
    stop: &AtomicBool,
    ports: &Mutex<Vec<u16>>,
) -> Captured {
    let mut captured = Captured {
        start: Some(clocks),
        ..Captured::default()
    };
    let mut buf = vec![0; SNAPLEN];
    let mut kept_bytes = 0;
    loop {
        match tap.next(&mut buf) {
            Ok(Some(frame)) => {
                let bytes = &buf[..frame.len];
                let Some(raw) = parse(bytes) else { continue };
                let watched = ports.lock().unwrap_or_else(|e| e.into_inner());
                if !watched.contains(&raw.from.port()) && !watched.contains(&raw.to.port()) {
                    continue;
                }
                drop(watched);
                if captured.frames.len() >= MAX_FRAMES || kept_bytes + bytes.len() > MAX_BYTES {
                    captured.lost += 1;
                    continue;
                }
                kept_bytes += bytes.len();
                captured.frames.push(Frame {
                    at: frame.at,
                    bytes: bytes.to_vec(),
                    wire_len: frame.wire_len,
                });
            }
            Ok(None) if stop.load(Ordering::Relaxed) => break,
            Ok(None) => {}
            Err(e) => {
                captured.stopped = Some(crate::error::describe(&e));
                break;
            }
        }
    }
    captured.lost += tap.dropped();
    captured
}

/// The same moment on both clocks: the kernel stamps frames on the wall
/// clock, the calls are timed on the monotonic one. Read as the tightest
/// of a few brackets, so that a thread preempted between two readings
/// does not shift every packet by the time it waited.
fn clocks() -> (Instant, SystemTime) {
    (0..5)
        .map(|_| {
            let before = Instant::now();
            let wall = SystemTime::now();
            let after = Instant::now();
            (after - before, before + (after - before) / 2, wall)
        })
        .min_by_key(|(bracket, ..)| *bracket)
        .map(|(_, at, wall)| (at, wall))
        .unwrap_or_else(|| (Instant::now(), SystemTime::now()))
}
