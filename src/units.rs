//! Quantities as a person writes them (a flag's value, a config line),
//! each parser with an error that says what it accepts: durations as curl
//! and nc take them (a bare number is seconds), limits where 0 means none,
//! sizes with units, addresses and networks, and whole numbers in a range
//! (a negative number gets the range). The `tcpkit` binary's flags use
//! them as clap value parsers; nothing here knows of clap.

use std::time::Duration;

const DURATION_EXAMPLES: &str = "examples: 3, 0.5, 250ms, 10s, 5m";

/// A duration: a bare number of seconds, fractions too (`3`, `0.5`, as in
/// curl's `--max-time 3`), or with units (`250ms`, `10s`, `5m`, `1h 30m`).
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!(
            "a duration cannot be negative ({DURATION_EXAMPLES})"
        ));
    }
    if text.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        let seconds: f64 = text
            .parse()
            .map_err(|_| format!("'{text}' is not a number of seconds ({DURATION_EXAMPLES})"))?;
        return Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("'{text}' seconds is too long"));
    }
    humantime::parse_duration(text).map_err(|e| format!("{e} ({DURATION_EXAMPLES})"))
}

/// A time limit; 0 turns it off (`Limit(None)`), as curl's `--max-time 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(pub Option<Duration>);

/// Parses a [`Limit`]: any [`duration`], where 0 means no limit.
pub fn limit(text: &str) -> Result<Limit, String> {
    let d = duration(text)?;
    Ok(Limit((!d.is_zero()).then_some(d)))
}

/// A byte count: `65536`, `64K`, `64KiB`, `1M`, `1MiB` (K = 1024), at least 1.
pub fn size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err("a size cannot be negative (examples: 512, 64KiB, 1MiB)".into());
    }
    // Digits with at most one decimal point, as curl and du take them:
    // `1.5M` is 1,572,864 bytes.
    let end = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    let not_a_size = || format!("'{text}' is not a size (examples: 512, 64KiB, 1.5MiB)");
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || fraction.contains('.') {
        return Err(not_a_size());
    }
    let whole: usize = whole.parse().map_err(|_| not_a_size())?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown size unit '{other}' (use K, KiB, M, MiB, G or GiB)"
            ));
        }
    };
    let too_large = || format!("'{text}' is too large");
    let mut size = whole.checked_mul(scale).ok_or_else(too_large)?;
    if !fraction.is_empty() {
        // Exact in integers: fraction × scale / 10^digits, whole bytes only.
        let digits = u32::try_from(fraction.len()).map_err(|_| not_a_size())?;
        let tenths = 10u128.checked_pow(digits).ok_or_else(not_a_size)?;
        let part: u128 = fraction.parse().map_err(|_| not_a_size())?;
        let bytes = part * scale as u128;
        if !bytes.is_multiple_of(tenths) {
            return Err(format!(
                "'{text}' is not a whole number of bytes (examples: 1.5MiB, 0.5K)"
            ));
        }
        let extra = usize::try_from(bytes / tenths).map_err(|_| too_large())?;
        size = size.checked_add(extra).ok_or_else(too_large)?;
    }
    if size == 0 {
        return Err("the size must be at least 1 byte".into());
    }
    Ok(size)
}

/// A byte budget; 0 turns it off (`Budget(None)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget(pub Option<usize>);

/// Parses a [`Budget`]: any [`size`], where 0 means no budget.
pub fn budget(text: &str) -> Result<Budget, String> {
    if text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        == "0"
    {
        return Ok(Budget(None));
    }
    size(text).map(|n| Budget(Some(n)))
}

/// An address or network: `127.0.0.1` (that address alone), `10.0.0.0/8`,
/// `::1`, `fd00::/8`.
pub fn cidr(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(ipnet::IpNet::from(ip));
    }
    text.parse::<ipnet::IpNet>().map_err(|_| {
        format!("'{text}' is not an address or a network (examples: 127.0.0.1, 10.0.0.0/8, ::1)")
    })
}

/// Local addresses (`bench --source`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addresses(pub Vec<std::net::IpAddr>);

/// The most addresses `--source` takes.
pub const MAX_ADDRESSES: usize = 1024;

/// Parses `127.0.0.2-127.0.0.9` (an IPv4 range), `::1`, or a list of
/// either with commas.
pub fn addresses(text: &str) -> Result<Addresses, String> {
    use std::net::{IpAddr, Ipv4Addr};
    let bad = |part: &str| {
        format!(
            "'{part}' is not an address, a range or a network (examples: 127.0.0.2, \
             127.0.0.2-127.0.0.9, 127.0.1.0/26)"
        )
    };
    let mut all = Vec::new();
    for part in text.split(',').map(str::trim) {
        if part.contains('/') {
            // A network: its host addresses (ipnet's hosts: a /24 gives
            // .1 to .254).
            let net: ipnet::IpNet = part.parse().map_err(|_| bad(part))?;
            let hosts: Vec<IpAddr> = net.hosts().take(MAX_ADDRESSES + 1).collect();
            if hosts.len() > MAX_ADDRESSES {
                return Err(format!(
                    "at most {MAX_ADDRESSES} addresses ({part} has more)"
                ));
            }
            all.extend(hosts);
        } else if let Some((first, last)) = part.split_once('-') {
            let first: Ipv4Addr = first.trim().parse().map_err(|_| bad(part))?;
            let last: Ipv4Addr = last.trim().parse().map_err(|_| bad(part))?;
            let (first, last) = (u32::from(first), u32::from(last));
            if last < first {
                return Err(format!("the range '{part}' ends before it starts"));
            }
            if (last - first) as usize >= MAX_ADDRESSES {
                return Err(format!("at most {MAX_ADDRESSES} addresses"));
            }
            all.extend((first..=last).map(|n| IpAddr::V4(Ipv4Addr::from(n))));
        } else {
            all.push(part.parse().map_err(|_| bad(part))?);
        }
    }
    if all.len() > MAX_ADDRESSES {
        return Err(format!("at most {MAX_ADDRESSES} addresses"));
    }
    Ok(Addresses(all))
}

/// A wall-clock time: RFC 3339 (`2026-12-06T09:00:00Z`, or with an
/// offset) or `+DURATION` from now (`+30s`).
pub fn start_at(text: &str) -> Result<std::time::SystemTime, String> {
    let text = text.trim();
    if let Some(ahead) = text.strip_prefix('+') {
        return Ok(std::time::SystemTime::now() + duration(ahead)?);
    }
    humantime::parse_rfc3339_weak(text).map_err(|_| {
        format!(
            "'{text}' is not a time: give one as RFC 3339 (2026-12-06T09:00:00Z) or as +DURATION \
             from now (+30s)"
        )
    })
}

/// A whole number from `min` to `max`.
pub fn count<T: TryFrom<u64>>(text: &str, min: u64, max: u64) -> Result<T, String> {
    let range = || format!("must be a whole number from {min} to {max}");
    let n: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{}' {}", text.trim(), range()))?;
    if n < min || n > max {
        return Err(format!("{n} is out of range: {}", range()));
    }
    T::try_from(n).map_err(|_| range())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_bare_seconds_and_units() {
        assert_eq!(duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(duration(".25"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(duration("-1").unwrap_err().contains("cannot be negative"));
        assert!(duration("1.2.3").unwrap_err().contains("not a number"));
        assert!(duration("soon").unwrap_err().contains("examples"));
        assert!(duration("1e400").is_err());
        assert!(
            duration("99999999999999999999999")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn zero_turns_a_limit_off() {
        assert_eq!(cidr("127.0.0.1").unwrap().to_string(), "127.0.0.1/32");
        assert_eq!(cidr("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(cidr("::1").unwrap().to_string(), "::1/128");
        assert!(cidr("10.0.0.0/33").is_err());
        assert!(cidr("localhost").is_err());
        let range = addresses("127.0.0.2-127.0.0.4,::1").unwrap().0;
        let shown: Vec<String> = range.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.2", "127.0.0.3", "127.0.0.4", "::1"]);
        assert!(addresses("127.0.0.9-127.0.0.2").is_err());
        assert!(addresses("10.0.0.0-10.1.0.0").is_err());
        assert!(addresses("localhost").is_err());
        // A network gives its hosts; one too large for the bound is refused.
        let net = addresses("127.0.1.0/29").unwrap().0;
        assert_eq!(net.len(), 6);
        assert_eq!(net[0].to_string(), "127.0.1.1");
        assert_eq!(net[5].to_string(), "127.0.1.6");
        assert_eq!(addresses("fd00::/126").unwrap().0.len(), 4); // IPv6 has no broadcast
        assert_eq!(addresses("127.0.2.0/22").unwrap().0.len(), 1022);
        assert!(
            addresses("127.0.0.0/21")
                .unwrap_err()
                .contains("at most 1024")
        );
        assert!(addresses("127.0.0.0/33").is_err());
        assert_eq!(budget("0"), Ok(Budget(None)));
        assert_eq!(budget("0MiB"), Ok(Budget(None)));
        assert_eq!(budget("1"), Ok(Budget(Some(1))));
        assert_eq!(budget("64MiB"), Ok(Budget(Some(64 << 20))));
        assert!(budget("-1").is_err());
        assert_eq!(limit("0"), Ok(Limit(None)));
        assert_eq!(limit("0s"), Ok(Limit(None)));
        assert_eq!(limit("0.001"), Ok(Limit(Some(Duration::from_millis(1)))));
    }

    #[test]
    fn sizes() {
        assert_eq!(size("512"), Ok(512));
        assert_eq!(size("64KiB"), Ok(65536));
        assert_eq!(size("1M"), Ok(1 << 20));
        assert!(size("0").is_err());
        assert!(size("-1").unwrap_err().contains("negative"));
        assert!(size("12 parsecs").is_err());
        assert!(size("99999999999999999999G").is_err());
        // Fractions, as curl and du take them, in whole bytes only.
        assert_eq!(size("1.5M"), Ok(1_572_864));
        assert_eq!(size("0.5K"), Ok(512));
        assert_eq!(size("1.25GiB"), Ok(1_342_177_280));
        assert_eq!(size("2."), Ok(2));
        assert!(size("1.5").unwrap_err().contains("whole number of bytes"));
        assert!(
            size("0.0001K")
                .unwrap_err()
                .contains("whole number of bytes")
        );
        assert!(size(".5M").is_err());
        assert!(size("1.2.3M").is_err());
        assert!(size("0.0M").is_err());
        assert!(size("1.00000000000000000000000000000000000000001M").is_err());
        assert!(size("1T").unwrap_err().contains("G or GiB"));
    }

    #[test]
    fn counts_have_a_range() {
        assert_eq!(count::<u32>("1", 1, 10), Ok(1));
        assert_eq!(count::<u32>("10", 1, 10), Ok(10));
        assert_eq!(
            count::<u32>("11", 1, 10),
            Err("11 is out of range: must be a whole number from 1 to 10".into())
        );
        assert_eq!(
            count::<u32>("-1", 1, 10),
            Err("'-1' must be a whole number from 1 to 10".into())
        );
        assert!(count::<u32>("0", 1, 10).is_err());
        assert_eq!(count::<u32>("0", 0, 10), Ok(0));
    }
}
