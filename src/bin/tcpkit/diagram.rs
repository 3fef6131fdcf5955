//! `tcpkit demo --diagram FILE` and `--scenario`: the library records the
//! session ([`tcpkit::trace::session::record`]) and draws it
//! ([`tcpkit::trace::draw`]); this file picks the picture by the file's
//! name, writes it, and says where it went.

use crate::printer::Printer;
use std::io::Write;
use std::path::Path;

use tcpkit::trace::{self, scenario::Scenario};

/// What to draw, by the file's name.
enum Form {
    Svg,
    Html,
    Chart,
}

fn form_of(file: &Path) -> Result<Form, tcpkit::Error> {
    if file.as_os_str() == "-" {
        return Ok(Form::Chart);
    }
    match file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(e) if e == "svg" => Ok(Form::Svg),
        Some(e) if e == "html" || e == "htm" => Ok(Form::Html),
        _ => Err(tcpkit::Error::InvalidInput(tcpkit::words!(
            "cannot tell what to draw in {}: name a .svg or .html file, or - for a text chart",
            file.display()
        ))),
    }
}

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
    let form = form_of(file)?;
    // Made first: a file that cannot be written is said before the
    // session, not after it.
    let mut out = match form {
        Form::Chart => None,
        _ => Some(trace::draw::create(file, force)?),
    };
    let recording = trace::session::record(messages, scenario, port, max_drawn)?;
    let events = &recording.events;
    let drawn = match form {
        Form::Svg => trace::draw::svg(events, &recording.heading),
        Form::Html => trace::draw::html(events, &recording.heading),
        Form::Chart => trace::draw::chart(events),
    };
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
