//! Addresses as people mistype them: a URL where `HOST:PORT` goes, a
//! port without its host, nc's port ranges and service names. Each
//! mistake gets a hint that says what to write instead, in the caller's
//! words (`example` is its command, with `{}` for the address).

/// A client's or server's address that is not `HOST:PORT` in a way people
/// often write it: a URL, a port alone. The hint says what to write;
/// `example` is the command with `{}` for the address.
pub fn address_mistake(spec: &str, example: &str) -> Option<String> {
    if let Some((scheme, rest)) = spec.split_once("://") {
        let host_port = rest.split('/').next().unwrap_or_default();
        let scheme = scheme.to_ascii_lowercase();
        return Some(if scheme == "http" || scheme == "https" {
            let default = if scheme == "http" { 80 } else { 443 };
            let dial = if host_port.contains(':') && !host_port.ends_with(']') {
                host_port.to_string()
            } else {
                format!("{host_port}:{default}")
            };
            format!(
                "a URL, where HOST:PORT goes ({}); to download it: tcpkit fetch {spec}",
                example.replace("{}", &dial)
            )
        } else {
            format!(
                "drop the '{scheme}://': HOST:PORT alone ({})",
                example.replace("{}", host_port)
            )
        });
    }
    if let Some(hint) = port_word(spec, example) {
        return Some(hint);
    }
    let port = spec.parse::<u16>().ok()?;
    Some(format!(
        "a port without its host: {}",
        example.replace("{}", &format!("127.0.0.1:{port}"))
    ))
}

/// nc's port words: a range (`20-30`) or a service name (`http`), where
/// tcpkit takes one port number.
fn port_word(spec: &str, example: &str) -> Option<String> {
    if spec.parse::<std::net::IpAddr>().is_ok() {
        return None; // `fe80::abcd` ends in letters, and is no port.
    }
    let (host, port) = spec.rsplit_once(':')?;
    if host.is_empty() || port.parse::<u16>().is_ok() {
        return None;
    }
    let at = |port: &str| example.replace("{}", &format!("{host}:{port}"));
    if let Some((low, high)) = port.split_once('-')
        && let (Ok(_), Ok(_)) = (low.parse::<u16>(), high.parse::<u16>())
    {
        return Some(format!(
            "one PORT, not a range as nc takes: one run per port (for p in $(seq {low} {high}); \
             do {}; done)",
            at("$p")
        ));
    }
    if !port.bytes().any(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some(match service_port(port) {
        Some(number) => format!(
            "the port is a number, not a service name as nc takes; {port} is {number} in \
             /etc/services: {}",
            at(&number.to_string())
        ),
        None => format!("the port is a number, not a service name as nc takes ({port})"),
    })
}

/// The TCP port `/etc/services` gives a service name (or an alias).
fn service_port(name: &str) -> Option<u16> {
    let table = std::fs::read_to_string("/etc/services").ok()?;
    table.lines().find_map(|line| {
        let mut words = line.split('#').next()?.split_whitespace();
        let first = words.next()?;
        let (port, proto) = words.next()?.split_once('/')?;
        let named = first == name || words.any(|alias| alias == name);
        (named && proto == "tcp").then(|| port.parse().ok())?
    })
}

/// A server given without its port (`tcpkit talk Michael`, `talk
/// 127.0.0.1`): says where the server goes, not only that a port is
/// missing. An address or `localhost` is surely the host; another word
/// may be a message put first. `None` when `word` has a port.
pub fn missing_port(word: &str, example: &str) -> Option<String> {
    if word.contains(':') {
        return None;
    }
    let host = word.parse::<std::net::IpAddr>().is_ok() || word == "localhost";
    Some(if host {
        format!(
            "missing port: {word}:PORT ({})",
            example.replace("{}", &format!("{word}:9999"))
        )
    } else {
        format!(
            "missing port (the server comes first, as HOST:PORT: {} ...; if {word} is the \
             host, {word}:PORT)",
            example.replace("{}", &format!("127.0.0.1:9999 {word}"))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nc_port_words_are_answered() {
        let hint = |spec| address_mistake(spec, "tcpkit talk -z {}");
        assert!(hint("h:20-30").is_some_and(|h| h.contains("seq 20 30")));
        // /etc/services may be missing: the hint says a number either way.
        assert!(hint("h:ssh").is_some_and(|h| h.contains("not a service name")));
        assert_eq!(hint("h:22"), None);
        assert_eq!(hint("fe80::abcd"), None);
    }

    #[test]
    fn address_mistakes() {
        let talk = "tcpkit talk {}";
        let hint = address_mistake("http://example.com/", talk).unwrap();
        assert!(hint.contains("tcpkit talk example.com:80"), "{hint}");
        assert!(hint.contains("tcpkit fetch http://example.com/"), "{hint}");
        let hint = address_mistake("https://[::1]:8443/x", talk).unwrap();
        assert!(hint.contains("tcpkit talk [::1]:8443"), "{hint}");
        let hint = address_mistake("tcp://127.0.0.1:9999", talk).unwrap();
        assert!(hint.contains("drop the 'tcp://'") && hint.contains("talk 127.0.0.1:9999"));
        let hint = address_mistake("30005", "tcpkit serve --bind {}").unwrap();
        assert!(hint.contains("--bind 127.0.0.1:30005"), "{hint}");
        assert_eq!(address_mistake("127.0.0.1:9999", talk), None);
        assert_eq!(address_mistake("localhost", talk), None);
    }

    #[test]
    fn a_missing_port_says_where_the_server_goes() {
        let talk = "tcpkit talk {}";
        let hint = missing_port("127.0.0.1", talk).unwrap();
        assert_eq!(
            hint,
            "missing port: 127.0.0.1:PORT (tcpkit talk 127.0.0.1:9999)"
        );
        let hint = missing_port("Michael", talk).unwrap();
        assert!(
            hint.contains("tcpkit talk 127.0.0.1:9999 Michael ..."),
            "{hint}"
        );
        assert_eq!(missing_port("h:1", talk), None);
    }
}
