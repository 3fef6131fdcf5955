//! `tcpkit demo --diagram FILE`, `--pcap FILE` and `--scenario`: the
//! library records the session with its packets where it may
//! ([`tcpkit::trace::session::record`]) and draws it
//! ([`tcpkit::trace::draw`], in the [`Form`] the file's name asks for);
//! this file writes the picture and the pcap file and says where they
//! went, or why the packets are missing.

use std::io::Write;
use std::path::Path;

use tcpkit::made::Made;
use tcpkit::trace::{self, draw::Form};

use crate::cli::DemoArgs;
use crate::printer::Printer;

/// Records the session `args` ask for and draws it in `--diagram`'s file
/// (none, or `-`: a chart here), its packets in `--pcap`'s.
pub fn run(printer: &Printer, args: &DemoArgs) -> anyhow::Result<()> {
    let file = args.diagram.as_deref().unwrap_or(Path::new("-"));
    let form = Form::of(file)?;
    // Made first: a file that cannot be written is said before the
    // session, not after it. Each is removed again unless it is written
    // whole (a failed session, a failed write, the packets not captured).
    let mut out = match form {
        Form::Chart => None,
        _ => Some(Made::new(file, trace::draw::create(file, args.force)?)),
    };
    let mut pcap = match &args.pcap {
        Some(path) => Some(Made::new(path, trace::draw::create(path, args.force)?)),
        None => None,
    };
    let recording = trace::session::record(
        &args.messages,
        args.scenario,
        args.port,
        args.max_drawn,
        !args.no_packets,
    )?;
    let events = &recording.events;
    let drawn = form.draw(events, &recording.heading, printer.columns());
    let written = match out.as_mut() {
        None => {
            let mut out = printer.out(false, false);
            out.write_all(drawn.as_bytes()).and_then(|()| out.flush())
        }
        Some(out) => out.file.write_all(drawn.as_bytes()).map(|()| out.whole()),
    };
    written.map_err(|e| tcpkit::Error::writing_output(&file.display().to_string(), e))?;
    if out.is_some() {
        let drawn = recording.drawn().render(crate::FLAGS);
        printer.say(format_args!("{drawn} drawn in {}", file.display()));
    }
    if let Some(note) = recording.packets_note() {
        printer.say(note.render(crate::FLAGS));
    }
    if let Some(made) = pcap.as_mut() {
        let frames = recording.write_pcap(std::io::BufWriter::new(&made.file), made.path())?;
        made.whole();
        printer.say(format_args!(
            "{frames} packets written to {}",
            made.path().display()
        ));
    }
    Ok(recording.talked?)
}
