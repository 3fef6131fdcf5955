//! `tcpkit demo --diagram FILE` and `--scenario`: the library records the
//! session ([`tcpkit::trace::session::record`]) and draws it
//! ([`tcpkit::trace::draw`], in the [`Form`] the file's name asks for);
//! this file writes it and says where it went.

use crate::printer::Printer;
use std::io::Write;
use std::path::Path;

use tcpkit::trace::{self, draw::Form, scenario::Scenario};

/// Records `scenario` (the tutorial's saying `messages`) and draws it in
/// `file` (`-`: a chart here), replacing an existing one with `force`.
pub fn run(
    printer: &Printer,
    messages: &[String],
    scenario: Scenario,
    file: &Path,
    port: u16,
    max_drawn: usize,
    force: bool,
) -> anyhow::Result<()> {
    let form = Form::of(file)?;
    // Made first: a file that cannot be written is said before the
    // session, not after it.
    let mut out = match form {
        Form::Chart => None,
        _ => Some(trace::draw::create(file, force)?),
    };
    let recording = trace::session::record(messages, scenario, port, max_drawn)?;
    let events = &recording.events;
    let drawn = form.draw(events, &recording.heading);
    match out.as_mut() {
        None => {
            let mut out = printer.out(false, false);
            out.write_all(drawn.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| tcpkit::Error::writing_output("standard output", e))?;
        }
        Some(out) => {
            out.write_all(drawn.as_bytes())
                .map_err(|e| tcpkit::Error::writing_output(&file.display().to_string(), e))?;
            let left_out = match recording.left_out {
                0 => String::new(),
                n => format!(
                    " ({n} reads and writes between the first and the last left out; --max-drawn)"
                ),
            };
            printer.say(format_args!(
                "{} events drawn in {}{left_out}",
                events.len(),
                file.display()
            ));
        }
    }
    Ok(recording.talked?)
}
