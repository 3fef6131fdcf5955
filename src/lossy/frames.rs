//! A progress bar's terminal on a [`Lossy`] queue (indicatif's
//! `TermLike`, with the `cli` feature): what a command line needs to
//! draw a bar in front of a stderr that may stall.

use std::io;
use std::sync::Mutex;

use indicatif::TermLike;

use super::Lossy;

/// indicatif's terminal on a queue: each frame a progress bar draws is
/// gathered and queued as one piece at its flush, so a stalled terminal
/// drops whole frames rather than holding up the work the bar shows (a
/// download), and the bar keeps its place among the log lines.
#[derive(Debug)]
pub struct Frames {
    queue: Lossy,
    frame: Mutex<String>,
}

impl Frames {
    /// A terminal whose frames go to `queue` (in front of stderr).
    pub fn new(queue: Lossy) -> Frames {
        Frames {
            queue,
            frame: Mutex::default(),
        }
    }

    /// Moves the cursor `n` places (`A` up, `B` down, `C` right, `D` left).
    fn cursor(&self, n: usize, way: char) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.add(&format!("\x1b[{n}{way}"))
    }

    fn add(&self, text: &str) -> io::Result<()> {
        self.frame
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(text);
        Ok(())
    }
}

impl TermLike for Frames {
    fn width(&self) -> u16 {
        // An ioctl on stderr: it never waits on the reader.
        console::Term::stderr().size().1
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'D')
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.add(s)?;
        self.add("\n")
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.add(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.add("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        let frame = std::mem::take(&mut *self.frame.lock().unwrap_or_else(|e| e.into_inner()));
        if !frame.is_empty() {
            self.queue.send(frame.as_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[derive(Clone, Default)]
    struct Got(Arc<Mutex<Vec<u8>>>);

    impl Write for Got {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_frame_is_queued_whole_at_its_flush() {
        let got = Got::default();
        let queue = Lossy::new(got.clone(), 1024).unwrap();
        let terminal = Frames::new(queue.clone());
        terminal.move_cursor_up(0).unwrap();
        terminal.move_cursor_up(1).unwrap();
        terminal.clear_line().unwrap();
        terminal.write_str("12 KiB [=> ]").unwrap();
        assert!(queue.flush_within(Duration::from_secs(5)));
        assert!(got.0.lock().unwrap().is_empty(), "a frame went out torn");
        terminal.flush().unwrap();
        assert!(queue.flush_within(Duration::from_secs(5)));
        assert_eq!(&*got.0.lock().unwrap(), b"\x1b[1A\r\x1b[2K12 KiB [=> ]");
    }
}
