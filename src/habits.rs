//! The habits people bring from nc, curl, wrk and tcpkali: each flag of
//! theirs that `tcpkit` spells otherwise, or has no counterpart for,
//! answered with one line naming what `tcpkit` calls it. A command line
//! parser's own refusal would mislead them ("to pass '-O' as a value, use
//! '-- -O'"), or a flag would be taken and silently ignored.
//!
//! The words name `tcpkit`'s own flags: they are for its command line.

use std::ffi::OsString;

/// curl's `-C -` / `--continue-at -` is fetch's `-C`; curl's byte offset
/// (`-C 4000`) has no counterpart, as fetch resumes exactly where
/// `FILE.part` ends.
pub fn curl_continue_at(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let mut out = Vec::with_capacity(args.len());
    let mut args = args.into_iter().peekable();
    let mut operands = false;
    while let Some(arg) = args.next() {
        let text = arg.to_str().unwrap_or_default();
        if operands {
            out.push(arg);
            continue;
        }
        operands = text == "--";
        if text == "--continue-at=-" {
            out.push("-C".into());
            continue;
        }
        let resume = matches!(text, "-C" | "--continue" | "--continue-at");
        out.push(arg);
        if !resume {
            continue;
        }
        match args.peek().and_then(|a| a.to_str()) {
            Some("-") => {
                args.next();
            }
            Some(n) if n.parse::<u64>().is_ok() => {
                return Err(format!(
                    "'-C {n}': fetch does not take a byte offset; -C (or curl's -C -) resumes \
                     exactly where FILE.part ends, checked against the validator saved with it"
                ));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// nc's `-q SECS` after `talk`: here `-q` is "quieter logs", so `talk -q 0
/// HOST PORT` would take `0` for the address. A `-q` followed by a number
/// is nc's, and gets what tcpkit calls it.
pub fn nc_quit_seconds(args: &[OsString]) -> Option<String> {
    let args: Vec<&str> = args
        .iter()
        .map(|a| a.to_str().unwrap_or_default())
        .collect();
    let talk = args.iter().position(|a| *a == "talk")?;
    let after = &args[talk + 1..];
    let end = after.iter().position(|a| *a == "--").unwrap_or(after.len());
    after[..end].windows(2).find_map(|pair| {
        (pair[0] == "-q" && pair[1].parse::<f64>().is_ok()).then(|| {
            format!(
                "'-q {}' is nc's: here -q means quieter logs; to stop when stdin ends \
                 use --exit-on-eof (nc's -q 0)",
                pair[1]
            )
        })
    })
}

/// nc's `HOST PORT`, two words where tcpkit takes `HOST:PORT`: when
/// `addr` has no port and the first of `rest` is a port number (with nc's
/// `-z`, `check`, any lone word: a port range or service name, to be
/// answered later), it is joined to `addr` (an IPv6 address bracketed)
/// and taken out of `rest`. An address without a port is no address, so
/// nothing else is taken.
pub fn nc_host_port(addr: &mut String, rest: &mut Vec<String>, check: bool) {
    let has_port = addr.parse::<std::net::SocketAddr>().is_ok()
        || addr
            .rsplit_once(':')
            .is_some_and(|(host, _)| !host.contains(':') || host.ends_with(']'));
    let port = rest
        .first()
        .filter(|m| m.parse::<u16>().is_ok() || (check && rest.len() == 1));
    if let (false, Some(port)) = (has_port, port.cloned()) {
        let host = if addr.contains(':') && !addr.starts_with('[') {
            format!("[{addr}]")
        } else {
            addr.clone()
        };
        *addr = format!("{host}:{port}");
        rest.remove(0);
    }
}

/// wrk's order, `bench -c 10 127.0.0.1:9999`, took the address `value`
/// for the scenario: what to write instead.
pub fn scenario_first(value: &str) -> String {
    format!(
        "bench needs a scenario first, then the address: tcpkit bench pingpong {value} \
         (scenarios: pingpong, pipeline, churn, hold, handshake)"
    )
}

/// nc's `-k` (keep listening), alone or in `-lk`, without `--tls`: here
/// `-k` is --insecure, for use with --tls; what to say instead of the
/// command line parser's refusal.
pub fn nc_keep_listening(args: &[OsString]) -> Option<String> {
    let args: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    let nc_k = args
        .iter()
        .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('k'));
    (nc_k && !args.contains(&"--tls")).then(|| {
        "'-k' is --insecure here, for use with --tls; nc's -k (keep listening) has no \
         counterpart: talk -l takes one client; to serve many, use tcpkit serve --bind ADDR"
            .into()
    })
}

/// nc's flags, for talk and serve.
pub fn nc(flag: &str, sub: Option<&str>, args: &[OsString]) -> Option<String> {
    let listening = args.iter().any(|a| a == "-l" || a == "--listen");
    let meaning = match flag {
        "-u" => "tcpkit speaks TCP only; nc's -u (UDP) has no counterpart",
        "-w" => "for nc's -w SECS use --connect-timeout SECS and --timeout SECS",
        "-e" | "-c" => "tcpkit does not run a program for a connection (nc's -e and -c)",
        "-p" if sub == Some("talk") && listening => {
            "the port goes in ADDR: tcpkit talk -l PORT (or -l HOST PORT)"
        }
        "-p" => "nc's -p (a source port) has no counterpart",
        "-n" => "nc's -n is not needed: a numeric address is never looked up",
        _ => return None,
    };
    Some(format!("unknown flag '{flag}': {meaning}"))
}

/// `serve -p 30005`, `serve --port 30005`, `serve 30005`, `serve
/// 127.0.0.1:30005`: the address goes in --bind.
pub fn serve_address(flag: &str, args: &[OsString]) -> Option<String> {
    let after = |flag: &str| {
        args.iter()
            .skip_while(|a| *a != flag)
            .nth(1)
            .and_then(|a| a.to_str())
            .map(str::to_string)
    };
    let given = match flag {
        "-p" => after(flag)?,
        "--port" => after(flag).or_else(|| {
            args.iter()
                .filter_map(|a| a.to_str()?.strip_prefix("--port="))
                .next()
                .map(str::to_string)
        })?,
        _ if !flag.starts_with('-') => flag.to_string(),
        _ => return None,
    };
    Some(match given.parse::<u16>() {
        Ok(port) => format!(
            "the port goes in --bind HOST:PORT: tcpkit serve --bind 127.0.0.1:{port} (this \
             machine only) or --bind 0.0.0.0:{port} (every network it is on)"
        ),
        Err(_) => format!("the address goes in --bind: tcpkit serve --bind {given}"),
    })
}

/// curl's flags, for fetch: what fetch has under another name, or one line
/// saying it has no such feature.
pub fn curl(flag: &str) -> Option<&'static str> {
    Some(match flag {
        "-X" | "--request" => "fetch sends GET (HEAD with -I) and nothing else",
        "-d" | "--data" | "--data-binary" | "--data-raw" | "--json" | "-F" | "--form" | "-T"
        | "--upload-file" => "fetch sends no request body: it GETs (or HEADs with -I)",
        "-u" | "--user" => "send the header yourself: -H 'Authorization: Basic BASE64'",
        "-A" | "--user-agent" => "use -H 'User-Agent: NAME'",
        "-e" | "--referer" => "use -H 'Referer: URL'",
        "-b" | "--cookie" | "-c" | "--cookie-jar" => {
            "fetch keeps no cookies; send one with -H 'Cookie: NAME=VALUE'"
        }
        "-x" | "--proxy" => "fetch connects directly; it does not go through a proxy",
        "--http2" | "--http3" | "--http2-prior-knowledge" => "fetch speaks HTTP/1.1 only",
        "-i" | "--include" => {
            "fetch prints the response head already: on stdout before the saved body's summary \
             (on stderr when -o - sends the body to stdout); -D FILE writes it to FILE too"
        }
        "-#" | "--progress-bar" => "fetch draws a progress bar on a terminal already",
        "-J" | "--remote-header-name" => {
            "fetch names the file after the URL's last path segment; Content-Disposition \
             is not used"
        }
        "--retry" => "fetch does not retry; after a cut, -C continues where it stopped",
        "-w" | "--write-out" => "fetch has no --write-out; -v shows both heads",
        "--limit-rate" => "fetch does not limit its rate; it reads as fast as the server sends",
        "--output-dir" => "name the whole path with -o DIR/FILE",
        "-r" | "--range" => {
            "fetch saves whole files; -C continues an unfinished one with a checked Range"
        }
        _ => return None,
    })
}

/// wrk's and tcpkali's flags, for bench, where they are not bench's own.
pub fn load_tool(flag: &str) -> Option<&'static str> {
    Some(match flag {
        "-r" | "--message-rate" => {
            "tcpkali's -r is messages per second per connection; bench's --rate (-R) is \
             messages per second over all connections"
        }
        "-s" | "--script" => "bench runs no scripts; its scenarios are built in",
        "-e" | "-em" | "--unescape-message-args" => {
            "tcpkali's -e (escapes in messages) has no counterpart: the message goes in \
             --message TEXT (-m) as bytes, or --message-file FILE"
        }
        "-H" | "--header" => "bench speaks the greeting protocol, not HTTP",
        "-w" | "--workers" => "tcpkali's -w (workers) is --threads (-t) here",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn curl_continue_at_dash_is_resume() {
        let out = curl_continue_at(os(&["tcpkit", "fetch", "-C", "-", "http://h/x"])).unwrap();
        assert_eq!(out, os(&["tcpkit", "fetch", "-C", "http://h/x"]));
        let out = curl_continue_at(os(&["tcpkit", "fetch", "--continue-at=-", "u"])).unwrap();
        assert_eq!(out, os(&["tcpkit", "fetch", "-C", "u"]));
        // `-o -` (stdout) is not -C's.
        let out = curl_continue_at(os(&["tcpkit", "fetch", "-o", "-", "u"])).unwrap();
        assert_eq!(out, os(&["tcpkit", "fetch", "-o", "-", "u"]));
        let err = curl_continue_at(os(&["tcpkit", "fetch", "-C", "4000", "u"])).unwrap_err();
        assert!(err.contains("does not take a byte offset"), "{err}");
    }

    #[test]
    fn nc_host_port_joins_only_a_port_to_an_address_without_one() {
        let joined = |addr: &str, rest: &[&str], check: bool| {
            let mut addr = addr.to_string();
            let mut rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            nc_host_port(&mut addr, &mut rest, check);
            (addr, rest)
        };
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            joined("127.0.0.1", &["9999", "Michael"], false),
            ("127.0.0.1:9999".into(), words(&["Michael"]))
        );
        assert_eq!(joined("::1", &["80"], false), ("[::1]:80".into(), vec![]));
        // Has a port already: "80" is a message.
        assert_eq!(
            joined("[::1]:9", &["80"], false),
            ("[::1]:9".into(), words(&["80"]))
        );
        assert_eq!(joined("h:9", &["1"], false), ("h:9".into(), words(&["1"])));
        // Not a port: nothing is taken.
        assert_eq!(
            joined("h", &["Michael"], false),
            ("h".into(), words(&["Michael"]))
        );
        // nc -z's range or service name, alone, is taken to be answered.
        assert_eq!(joined("h", &["http"], true), ("h:http".into(), vec![]));
        assert_eq!(
            joined("h", &["http", "x"], true),
            ("h".into(), words(&["http", "x"]))
        );
    }
}
