//! rustls's errors in words: its `Display` falls back to `Debug` for many
//! cases (`invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))`,
//! `IpAddress(0::1)`), which tells a person nothing. Every TLS error a
//! user or an operator reads goes through [`describe`].

use rustls::{AlertDescription, CertificateError, Error};

/// A rustls error as a sentence fragment: what is wrong, in words.
pub fn describe(e: &Error) -> String {
    match e {
        Error::InvalidCertificate(cert) => certificate(cert),
        Error::AlertReceived(alert) => format!("the peer refused it: {}", alert_words(*alert)),
        Error::InvalidMessage(_) => "the peer sent a malformed TLS message".into(),
        Error::InappropriateMessage { .. } | Error::InappropriateHandshakeMessage { .. } => {
            "the peer sent a TLS message out of order".into()
        }
        Error::PeerIncompatible(why) => format!(
            "the peer supports nothing this side does ({})",
            words(&format!("{why:?}"))
        ),
        Error::PeerMisbehaved(why) => format!(
            "the peer broke the TLS protocol ({})",
            words(&format!("{why:?}"))
        ),
        Error::NoCertificatesPresented => "the peer sent no certificate".into(),
        Error::General(text) => text.clone(),
        other => {
            // The remaining Displays are sentences already, unless they
            // fall back to Debug (a `(` right after a word).
            let text = other.to_string();
            if text.contains("(") {
                words(&format!("{other:?}"))
            } else {
                text
            }
        }
    }
}

/// What is wrong with a certificate.
fn certificate(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => "the certificate was not issued by a trusted CA".into(),
        CertificateError::BadSignature => "the certificate's signature does not verify".into(),
        CertificateError::NotValidForName => "the certificate is for another name".into(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<String> = presented.iter().map(|n| presented_name(n)).collect();
            let has = match names.as_slice() {
                [] => "names none (no subjectAltName)".to_string(),
                names => format!("is for {}", names.join(", ")),
            };
            format!(
                "the certificate is not for {} (it {has})",
                expected.to_str()
            )
        }
        CertificateError::Expired => "the certificate has expired".into(),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the certificate expired {} ago",
            ago(time.as_secs().saturating_sub(not_after.as_secs()))
        ),
        CertificateError::NotValidYet => "the certificate is not valid yet".into(),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "the certificate is valid only from {} from now",
            ago(not_before.as_secs().saturating_sub(time.as_secs()))
        ),
        CertificateError::Revoked => "the certificate has been revoked".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the certificate is not for TLS servers (its extended key usage)".into()
        }
        CertificateError::Other(other) => {
            let name = other.to_string();
            if name.contains("CaUsedAsEndEntity") {
                // What to do is the client's hint (`client::hint`).
                "the certificate is a CA certificate (basicConstraints CA:TRUE), which cannot \
                 serve as the server's own unless it is pinned"
                    .into()
            } else {
                format!("the certificate is not acceptable ({})", words(&name))
            }
        }
        other => format!(
            "the certificate is not acceptable ({})",
            words(&format!("{other:?}"))
        ),
    }
}

/// A name as webpki presents it (`DnsName("localhost")`,
/// `IpAddress(0::1)`), as a person writes it (`localhost`, `::1`).
fn presented_name(name: &str) -> String {
    let inner = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .map(|s| s.trim_matches('"').to_string())
    };
    if let Some(dns) = inner("DnsName(") {
        return dns;
    }
    if let Some(ip) = inner("IpAddress(") {
        return ip
            .parse::<std::net::IpAddr>()
            .map_or(ip, |ip| ip.to_string());
    }
    name.to_string()
}

fn ago(seconds: u64) -> String {
    // To the nearest unit below the largest: "2days 3h", not
    // "2days 3h 0m 1s", so that the seconds a check takes do not show,
    // whichever way they go: a day ago checked a second later, or a day
    // from now checked a second later (23h 59m 59s), both say "1day".
    let unit = match seconds {
        86_340.. => 3_600,
        3_600.. => 60,
        _ => 1,
    };
    let nearest = (seconds + unit / 2) / unit * unit;
    humantime::format_duration(std::time::Duration::from_secs(nearest))
        .to_string()
        .split(' ')
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// An alert as words: `UnknownCA` is "unknown CA".
fn alert_words(alert: AlertDescription) -> String {
    match alert {
        AlertDescription::UnknownCA => "unknown CA (it does not trust our certificate)".into(),
        AlertDescription::BadCertificate => "bad certificate".into(),
        AlertDescription::CertificateExpired => "certificate expired".into(),
        AlertDescription::HandshakeFailure => {
            "handshake failure (no version or cipher in common)".into()
        }
        AlertDescription::ProtocolVersion => "protocol version (no TLS version in common)".into(),
        other => words(&format!("{other:?}")),
    }
}

/// A Rust name as words: `CaUsedAsEndEntity` is "ca used as end entity",
/// `Other(OtherError(X))` is "x"; acronyms stay.
fn words(debug: &str) -> String {
    let innermost = debug
        .rsplit('(')
        .next()
        .unwrap_or(debug)
        .trim_end_matches(')');
    let mut out = String::new();
    let chars: Vec<char> = innermost.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let prev_lower = i > 0 && chars[i - 1].is_lowercase();
        if c.is_uppercase() && i > 0 && (prev_lower || next_lower) {
            out.push(' ');
        }
        if c.is_uppercase() && next_lower {
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;

    #[test]
    fn ago_leaves_out_the_seconds_a_check_takes() {
        let day = 86_400;
        assert_eq!(ago(2 * day), "2days");
        assert_eq!(ago(2 * day + 1), "2days");
        assert_eq!(ago(2 * day + 3 * 3600 + 59), "2days 3h");
        assert_eq!(ago(3600 + 61), "1h 1m");
        assert_eq!(ago(61), "1m 1s");
        // A day from now, checked seconds later, is still a day.
        assert_eq!(ago(day - 1), "1day");
        assert_eq!(ago(day - 59), "1day");
        assert_eq!(ago(2 * day - 1), "2days");
        assert_eq!(ago(2 * day + 3 * 3600 - 1), "2days 3h");
    }

    #[test]
    fn no_debug_forms() {
        let cases = [
            Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("::1").unwrap(),
                presented: vec!["DnsName(\"localhost\")".into(), "IpAddress(0::1)".into()],
            }),
            Error::InvalidCertificate(CertificateError::UnknownIssuer),
            Error::AlertReceived(AlertDescription::UnknownCA),
            Error::AlertReceived(AlertDescription::DecryptError),
        ];
        let said: Vec<String> = cases.iter().map(describe).collect();
        assert_eq!(
            said[0],
            "the certificate is not for ::1 (it is for localhost, ::1)"
        );
        assert_eq!(said[3], "the peer refused it: decrypt error");
        for text in said {
            assert!(
                !text.contains("Name(") && !text.contains("Address(") && !text.contains("Other"),
                "{text}"
            );
        }
        assert_eq!(
            words("Other(OtherError(CaUsedAsEndEntity))"),
            "ca used as end entity"
        );
        assert_eq!(words("UnknownCA"), "unknown CA");
    }
}
