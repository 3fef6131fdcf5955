//! Whether one source address would open more connections to one server
//! than Linux's `connect()` finds ports for quickly.
//!
//! `connect()` picks a local port from `net.ipv4.ip_local_port_range`
//! for each (source, destination) pair, trying ports of one parity first
//! (the other is left to `bind()`): once that half is taken, each new
//! connect scans the taken ports before it finds one of the other parity,
//! and opening falls from thousands a second to a crawl, without an error.
//! So the knee is half the range (14,116 of 32768-60999), which a run is
//! told of before it starts, with the number of `--source` addresses that
//! keeps every pair under it.

use std::net::{IpAddr, SocketAddr};

use super::{Options, Scenario, Targets};
use crate::setting::{Setting, Words};

/// The warning for a run that would pass the knee on some pair, if it
/// would (`None` too where the range cannot be read).
pub(super) fn crowded(opts: &Options, targets: &Targets) -> Option<Words> {
    let range = crate::sys::ephemeral_ports()?;
    warning(
        range,
        opts.scenario,
        opts.connections,
        &opts.sources,
        &targets.0,
    )
}

/// [`crowded`] for the ephemeral ports `first..=last`.
fn warning(
    (first, last): (u16, u16),
    scenario: Scenario,
    connections: usize,
    sources: &[IpAddr],
    servers: &[SocketAddr],
) -> Option<Words> {
    // Churn and handshake close each connection as they go.
    if !matches!(
        scenario,
        Scenario::Pingpong | Scenario::Pipeline | Scenario::Hold
    ) || servers.is_empty()
    {
        return None;
    }
    let ports = usize::from(last) - usize::from(first) + 1;
    let knee = ports / 2;
    let busiest = busiest_pair(connections, sources.len(), servers.len());
    if busiest <= knee {
        return None;
    }
    // Connection 0's pair is as busy as any.
    let from = match sources.first() {
        Some(source) => format!("{source}"),
        None => "one source address".to_string(),
    };
    let needed = (1..=crate::units::MAX_ADDRESSES)
        .find(|&n| busiest_pair(connections, n, servers.len()) <= knee)
        .unwrap_or(crate::units::MAX_ADDRESSES);
    let spread = match scenario {
        Scenario::Hold if needed < 254 => crate::words!(
            "spread them with {} over {needed} or more addresses (such as \
             127.0.0.2-127.0.0.{})",
            Setting::Source,
            needed + 1
        ),
        Scenario::Hold => crate::words!(
            "spread them with {} over {needed} or more addresses",
            Setting::Source
        ),
        _ => crate::words!("use fewer {} or more servers", Setting::Connections),
    };
    Some(crate::words!(
        "{busiest} connections from {from} to {} pass half the ephemeral port range \
         ({knee} of {first}-{last}, net.ipv4.ip_local_port_range): past it, Linux's connect() \
         scans the taken ports for each new one, and opening slows tenfold and worse; {}",
        servers[0],
        spread
    ))
}

/// The most connections one (source, server) pair gets when connection
/// `i` goes from source `i % sources` to server `i % servers`.
fn busiest_pair(connections: usize, sources: usize, servers: usize) -> usize {
    let (sources, servers) = (sources.max(1), servers.max(1));
    // The pattern repeats every lcm(sources, servers) connections, in
    // which each pair it reaches gets exactly one.
    let period = sources / gcd(sources, servers) * servers;
    let (whole, rest) = (connections / period, connections % period);
    // Pair (i % sources, i % servers) for i < rest gets one more; the
    // first of them, i = 0, is as busy as any.
    whole + usize::from(rest > 0)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINUX: (u16, u16) = (32768, 60999);

    fn servers(n: usize) -> Vec<SocketAddr> {
        (0..n)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], 9000 + i as u16)))
            .collect()
    }

    #[test]
    fn a_run_past_half_the_range_on_one_pair_is_told_how_many_sources_keep_it_under() {
        let one = servers(1);
        // The knee itself: 14,116 of 28,232 ports. At it, nothing; one past it, the warning.
        assert!(warning(LINUX, Scenario::Hold, 14_116, &[], &one).is_none());
        let past = warning(LINUX, Scenario::Hold, 14_117, &[], &one)
            .expect("past the knee")
            .render(crate::Naming::Flags);
        assert!(
            past.starts_with("14117 connections from one source address to 127.0.0.1:9000")
                && past.contains("(14116 of 32768-60999")
                && past.contains("--source over 2 or more addresses (such as 127.0.0.2-127.0.0.3)"),
            "{past}"
        );
        // A million over 60 servers and 71 sources: 235 a pair, none past it.
        let sixty = servers(60);
        let sources: Vec<IpAddr> = (0..71)
            .map(|i| IpAddr::from([127, 0, 1, i as u8]))
            .collect();
        assert!(warning(LINUX, Scenario::Hold, 1_000_000, &sources, &sixty).is_none());
        // Sources that line up with the servers (2 and 2) use only two of
        // the four pairs: 20,000 each of 40,000.
        let two: Vec<IpAddr> = (0..2)
            .map(|i| IpAddr::from([127, 0, 0, 2 + i as u8]))
            .collect();
        let lined_up = warning(LINUX, Scenario::Hold, 40_000, &two, &servers(2))
            .expect("20,000 a pair")
            .render(crate::Naming::Flags);
        assert!(
            lined_up.starts_with("20000 connections from 127.0.0.2"),
            "{lined_up}"
        );
        // Churn closes as it goes; pingpong is told to use fewer.
        assert!(warning(LINUX, Scenario::Churn, 20_000, &[], &one).is_none());
        let pingpong = warning(LINUX, Scenario::Pingpong, 20_000, &[], &one)
            .unwrap()
            .render(crate::Naming::Flags);
        assert!(
            pingpong.ends_with("use fewer --connections or more servers"),
            "{pingpong}"
        );
    }

    /// The count by going through every connection, as hold assigns them.
    fn counted(connections: usize, sources: usize, servers: usize) -> usize {
        let mut pairs = std::collections::HashMap::new();
        for i in 0..connections {
            *pairs.entry((i % sources, i % servers)).or_insert(0) += 1;
        }
        pairs.into_values().max().unwrap_or(0)
    }

    #[test]
    fn the_busiest_pair_is_what_going_through_every_connection_finds() {
        for connections in [0, 1, 7, 100, 14_117, 30_001] {
            for sources in 1..=6 {
                for servers in 1..=4 {
                    assert_eq!(
                        busiest_pair(connections, sources, servers),
                        counted(connections, sources, servers),
                        "{connections} over {sources} sources and {servers} servers"
                    );
                }
            }
        }
    }
}
