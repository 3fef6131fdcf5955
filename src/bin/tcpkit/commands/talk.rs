//! `tcpkit talk`: nc's habits answered, then a check (`-z`), a listener
//! (`-l`), a joined session or the tutorial's scripted client.

use std::io::{self, Write};

use tcpkit::{Error, talk};

use super::address_error;
use crate::cli::TalkArgs;
use crate::printer::Printer;

pub(super) fn talk(mut args: TalkArgs, printer: &Printer) -> anyhow::Result<()> {
    tcpkit::habits::nc_host_port(&mut args.addr, &mut args.messages, args.check);
    // nc's `-l PORT`: this machine's loopback, as serve binds by default.
    if args.listen && args.addr.parse::<u16>().is_ok() {
        args.addr = format!("127.0.0.1:{}", args.addr);
    }
    if (args.check || args.listen || args.exit_on_eof) && !args.messages.is_empty() {
        let flag = match (args.check, args.listen) {
            (true, _) => "-z checks the port and sends nothing",
            (_, true) => "-l joins stdin and stdout to the client",
            _ => "--exit-on-eof is for stdin",
        };
        return Err(Error::InvalidInput(tcpkit::words!(
            "{flag}, so it takes no MESSAGE (got '{}'): tcpkit talk ... HOST:PORT, or nc's \
             HOST PORT",
            args.messages.join(" ")
        ))
        .into());
    }
    let example = match (args.listen, args.check) {
        (true, _) => "tcpkit talk -l {}",
        (_, true) => "tcpkit talk -z {}",
        _ => "tcpkit talk {}",
    };
    if let Some(hint) = crate::spelling::address_mistake(&args.addr, example) {
        return Err(address_error(&args.addr, hint));
    }
    if !args.listen
        && !args.check
        && let Some(reason) = crate::spelling::missing_port(&args.addr, "tcpkit talk {}")
    {
        return Err(address_error(&args.addr, reason));
    }
    let opts = args.options(printer);
    if args.insecure {
        printer.warn("--insecure: the server's certificate is not checked");
    }
    // A hostile server must not drive the user's terminal: what it says
    // is shown escaped there, unless asked (a pipe gets it unchanged).
    let mut out = printer.out(true, args.raw_output);
    if args.check {
        let peer = talk::check(&opts)?;
        let _ = writeln!(out, "{} is open ({peer} accepted a connection)", opts.addr);
        return Ok(());
    }
    if args.listen {
        let listening = talk::listen(&opts)?;
        if let Ok(addr) = listening.local_addr() {
            printer.say(format_args!("waiting for one client on {addr}..."));
        }
        listening.join_one(&opts, io::stdin(), &mut out, |peer| {
            printer.say(format_args!("connection from {peer}"));
        })?;
        return Ok(());
    }
    if args.messages.is_empty() {
        Ok(talk::interactive(&opts, io::stdin(), &mut out)?)
    } else {
        Ok(talk::script(&opts, &args.messages, &mut out)?)
    }
}
