//! `tcpkit demo --diagram FILE`, `--pcap FILE` and `--scenario`: the
//! library records the session with its packets where it may
//! ([`tcpkit::trace::session::record`]) and draws it
//! ([`tcpkit::trace::draw`], in the [`Form`] the file's name asks for);
//! this file writes the picture and the pcap file and says where they
//! went, or why the packets are missing.

use std::io::Write;
use std::path::Path;

use tcpkit::trace::session::Packets;
use tcpkit::trace::{self, What, draw::Form};

use crate::cli::DemoArgs;
use crate::printer::Printer;

/// Records the session `args` ask for and draws it in `--diagram`'s file
/// (none, or `-`: a chart here), its packets in `--pcap`'s.
pub fn run(printer: &Printer, args: &DemoArgs) -> anyhow::Result<()> {
    let file = args.diagram.as_deref().unwrap_or(Path::new("-"));
    let form = Form::of(file)?;
    // Made first: a file that cannot be written is said before the
    // session, not after it.
    let mut out = match form {
        Form::Chart => None,
        _ => Some(trace::draw::create(file, args.force)?),
    };
    let mut pcap = match &args.pcap {
        Some(path) => Some(trace::draw::create(path, args.force)?),
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
    let drawn = form.draw(events, &recording.heading);
    let written = match out.as_mut() {
        None => {
            let mut out = printer.out(false, false);
            out.write_all(drawn.as_bytes()).and_then(|()| out.flush())
        }
        Some(out) => out.write_all(drawn.as_bytes()),
    };
    written.map_err(|e| tcpkit::Error::writing_output(&file.display().to_string(), e))?;
    let count = |kind: fn(&What) -> bool| events.iter().filter(|e| kind(&e.what)).count();
    let segments = count(|w| matches!(w, What::Segment(_)));
    let calls = count(|w| !matches!(w, What::Segment(_) | What::Note(_) | What::State(_)));
    if out.is_some() {
        let left_out = match (recording.left_out, recording.segments_left_out) {
            (0, _) => String::new(),
            (n, 0) => {
                format!(
                    " ({n} reads and writes between the first and the last left out; --max-drawn)"
                )
            }
            (n, m) => format!(
                " ({n} reads and writes between the first and the last left out, and the {m} \
                 segments sent meanwhile; --max-drawn)"
            ),
        };
        printer.say(format_args!(
            "{calls} calls and {segments} TCP segments drawn in {}{left_out}",
            file.display()
        ));
    }
    if let Packets::Captured { captured, .. } = &recording.packets
        && captured.lost > 0
    {
        printer.warn(format_args!(
            "the capture lost {} frames on the loopback interface (busy with other traffic): \
             segments may be missing from the picture",
            captured.lost
        ));
    }
    match (recording.packets, pcap.as_mut(), &args.pcap) {
        (Packets::Unavailable(why), Some(_), Some(path)) => {
            // The empty file made first is no capture.
            let _ = std::fs::remove_file(path);
            return Err(anyhow::Error::from(why).context(format!("--pcap {}", path.display())));
        }
        (Packets::Unavailable(why), ..) => printer.say(format_args!(
            "the picture shows the calls only: {}",
            tcpkit::chain_in_words(&why).render(crate::FLAGS)
        )),
        (Packets::Captured { captured, clients }, Some(file), Some(path)) => {
            let frames = captured
                .write_pcap(&clients, std::io::BufWriter::new(file))
                .map_err(|why| tcpkit::Error::LocalFile {
                    message: tcpkit::words!("cannot write {}: {}", path.display(), why),
                    source: None,
                })?;
            printer.say(format_args!(
                "{frames} packets written to {}",
                path.display()
            ));
        }
        _ => {}
    }
    Ok(recording.talked?)
}
