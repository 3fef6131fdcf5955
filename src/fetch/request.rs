//! What we send: the URL taken apart into host, port and request target,
//! the user's `-H` headers checked, and the request written byte by byte
//! as the tutorial writes it (`GET / HTTP/1.1`, `Host`, `Connection: close`).

use std::net::IpAddr;

use url::Url;

use crate::error::Error;
use crate::setting::Words;

/// One URL, checked and taken apart for connecting and requesting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The whole URL, for messages and resolving redirects.
    pub url: Url,
    /// `https`: wrap the connection in TLS.
    pub tls: bool,
    /// The host name or address, without brackets.
    pub host: String,
    /// The host as an IP address, when it is one (no resolving, and TLS
    /// checks the certificate's IP address instead of a name).
    pub ip: Option<IpAddr>,
    /// The port, the scheme's default filled in.
    pub port: u16,
    /// The `Host` header value: brackets for IPv6, the port when not the default.
    pub authority: String,
    /// The request target: path and query, never empty.
    pub path: String,
}

impl Target {
    /// Parses and checks a URL the user typed. Without a scheme
    /// (`example.com/x`, `127.0.0.1:8080/`) it is http, as curl assumes.
    pub fn parse(text: &str) -> Result<Target, Error> {
        let with_scheme;
        let text = if text.contains("://") {
            text
        } else {
            with_scheme = format!("http://{text}");
            &with_scheme
        };
        let url = Url::parse(text)
            .map_err(|e| Error::InvalidInput(crate::words!("invalid URL '{text}': {e}")))?;
        Target::from_url(url)
    }

    /// Checks a parsed URL (also used for redirect targets).
    pub fn from_url(url: Url) -> Result<Target, Error> {
        let bad = |why: &Words| Error::InvalidInput(crate::words!("cannot fetch '{url}': {}", why));
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(bad(&crate::words!(
                    "unsupported scheme '{other}' (tcpkit fetch speaks http and https)"
                )));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(&crate::words!(
                "credentials in the URL are not supported (send them with {} 'Authorization: \
                 ...')",
                crate::setting::Setting::Header
            )));
        }
        let (host, ip) = match url.host() {
            Some(url::Host::Domain(d)) => (d.to_string(), None),
            Some(url::Host::Ipv4(a)) => (a.to_string(), Some(IpAddr::V4(a))),
            Some(url::Host::Ipv6(a)) => (a.to_string(), Some(IpAddr::V6(a))),
            None => return Err(bad(&"the URL has no host".into())),
        };
        let Some(port) = url.port_or_known_default() else {
            return Err(bad(&"the URL has no port".into()));
        };
        let host_str = url.host_str().unwrap_or(&host);
        let authority = match url.port() {
            Some(p) => format!("{host_str}:{p}"),
            None => host_str.to_string(),
        };
        let mut path = url.path().to_string();
        if path.is_empty() {
            path.push('/');
        }
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        Ok(Target {
            tls,
            host,
            ip,
            port,
            authority,
            path,
            url,
        })
    }

    /// `host:port`, with brackets around an IPv6 address, for messages.
    pub fn host_port(&self) -> String {
        match self.ip {
            Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    /// Same scheme, host and port: credentials may follow a redirect only
    /// within one origin (curl's rule since CVE-2022-27776).
    pub fn same_origin(&self, other: &Target) -> bool {
        self.tls == other.tls && self.host == other.host && self.port == other.port
    }
}

/// Headers sent by default, in this order; `-H` with the same name
/// replaces one, and `-H 'Name:'` with nothing after the colon removes it.
const DEFAULTS: [&str; 4] = ["Host", "User-Agent", "Accept", "Connection"];

/// Headers the user asked for, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserHeaders(Vec<(String, String)>);

impl UserHeaders {
    /// Checks each `Name: value`: the name must be an HTTP token, and the
    /// value may not hold CR, LF or NUL (they would forge more headers).
    pub fn parse(specs: &[String]) -> Result<UserHeaders, Error> {
        let mut headers = Vec::new();
        for spec in specs {
            let bad =
                |why: &str| Error::InvalidInput(crate::words!("invalid header {spec:?}: {why}"));
            let Some((name, value)) = spec.split_once(':') else {
                return Err(bad("expected 'Name: value'"));
            };
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(bad("the name must be letters, digits or !#$%&'*+-.^_`|~"));
            }
            if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                return Err(bad("the value may not contain line breaks or NUL"));
            }
            headers.push((name.to_string(), value.trim().to_string()));
        }
        Ok(UserHeaders(headers))
    }

    /// Drops what must not follow a redirect to another origin:
    /// credentials, cookies, and a Host the user chose for the first one.
    pub fn strip_for_other_origin(&mut self) {
        self.0.retain(|(name, _)| {
            !["authorization", "proxy-authorization", "cookie", "host"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
        });
    }

    /// True when the user gave a header of this name.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds a header the program needs (already checked: no CR, LF, NUL).
    pub(crate) fn add(&mut self, name: &str, value: String) {
        self.0.push((name.to_string(), value));
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `tchar` from RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The request bytes: `METHOD TARGET HTTP/1.1`, the default headers (as
/// replaced by the user's), the user's other headers, a blank line.
pub fn build(method: &str, target: &Target, user: &UserHeaders) -> Vec<u8> {
    let agent = concat!("tcpkit/", env!("CARGO_PKG_VERSION"));
    let defaults = [target.authority.as_str(), agent, "*/*", "close"];
    let mut out = format!("{method} {} HTTP/1.1\r\n", target.path);
    for (name, value) in DEFAULTS.iter().zip(defaults) {
        match user.get(name) {
            Some("") => {}
            Some(v) => out.push_str(&format!("{name}: {v}\r\n")),
            None => out.push_str(&format!("{name}: {value}\r\n")),
        }
    }
    for (name, value) in &user.0 {
        if !DEFAULTS.iter().any(|d| d.eq_ignore_ascii_case(name)) && !value.is_empty() {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(specs: &[&str]) -> UserHeaders {
        UserHeaders::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    /// Host, port, Host header and request target of a URL.
    fn parts(url: &str) -> (String, u16, String, String) {
        let t = Target::parse(url).unwrap();
        (t.host, t.port, t.authority, t.path)
    }

    #[test]
    fn takes_urls_apart() {
        let owned = |h: &str, p, a: &str, r: &str| (h.into(), p, a.into(), r.into());
        assert_eq!(
            parts("http://[::1]:8080/a/b?x=1#frag"),
            owned("::1", 8080, "[::1]:8080", "/a/b?x=1")
        );
        assert_eq!(
            parts("https://Example.COM"),
            owned("example.com", 443, "example.com", "/")
        );
        let t = Target::parse("https://Example.COM").unwrap();
        assert!(t.tls && t.ip.is_none());
        let t = Target::parse("http://127.0.0.1:80/a b").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("127.0.0.1", "/a%20b")
        );
    }

    #[test]
    fn refuses_what_it_cannot_fetch() {
        let msg = |u| Target::parse(u).unwrap_err().to_string();
        // Without a scheme, http is assumed, as curl does.
        let bare = Target::parse("example.com:8080/x").unwrap();
        assert_eq!(
            (bare.tls, bare.port, bare.path.as_str()),
            (false, 8080, "/x")
        );
        assert!(msg("http://").contains("empty host"));
        assert!(msg("ftp://example.com/").contains("unsupported scheme 'ftp'"));
        assert!(msg("http://user:pw@example.com/").contains("credentials"));
    }

    #[test]
    fn writes_the_request() {
        let t = Target::parse("http://127.0.0.1:9/index.html").unwrap();
        let req = build(
            "GET",
            &t,
            &headers(&["X-Test: 1", "Accept: text/html", "User-Agent:"]),
        );
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAccept: text/html\r\n\
             Connection: close\r\nX-Test: 1\r\n\r\n"
        );
    }

    #[test]
    fn refuses_header_injection() {
        for bad in ["NoColon", "Bad Name: x", "X: a\r\nEvil: 1", ": x"] {
            assert!(UserHeaders::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        let mut h = headers(&["Authorization: Bearer x", "Cookie: a=1", "X-Keep: 1"]);
        h.strip_for_other_origin();
        assert_eq!(h, headers(&["X-Keep: 1"]));
        let a = Target::parse("http://a.test/").unwrap();
        assert!(a.same_origin(&Target::parse("http://a.test:80/other").unwrap()));
        assert!(!a.same_origin(&Target::parse("https://a.test/").unwrap()));
        assert!(!a.same_origin(&Target::parse("http://a.test:81/").unwrap()));
    }
}
