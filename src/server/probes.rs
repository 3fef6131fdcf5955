//! [`ProbeLog`]: connections that close before a byte (health checks,
//! port probes), summed up in the log once a minute instead of a line each.

use std::time::Duration;

use tracing::info;

/// Connections that closed before sending a byte (health checks, port
/// probes): each is logged at debug level only, and their number once a
/// minute at info, so a load balancer's checks do not fill the log.
#[derive(Debug, Default)]
pub(super) struct ProbeLog {
    /// Probes since the last summary, and when that was.
    since: std::sync::Mutex<(u64, Option<std::time::Instant>)>,
}

impl ProbeLog {
    /// Counts one; logs the summary when a minute has passed.
    pub(super) fn count(&self, naming: crate::setting::Naming) {
        if let Some((n, over)) = self.count_at(std::time::Instant::now()) {
            info!(
                "{n} connection(s) in the last {} s closed before sending anything: health \
                 checks or port probes (each is logged with {}).",
                over.as_secs(),
                crate::setting::Setting::DebugLog.name(naming)
            );
        }
    }

    /// Counts one probe at `now`; when a summary is due, how many probes
    /// it sums up and over how long (the count starts again).
    pub(super) fn count_at(&self, now: std::time::Instant) -> Option<(u64, Duration)> {
        let mut since = self.since.lock().ok()?;
        let (n, last) = &mut *since;
        *n += 1;
        let over = now.duration_since(*last.get_or_insert(now));
        if over < PROBE_SUMMARY_EVERY {
            return None;
        }
        let summed = *n;
        *since = (0, Some(now));
        Some((summed, over))
    }
}

/// How often the probes are summed up in the log.
const PROBE_SUMMARY_EVERY: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_summed_up_once_a_minute() {
        let log = ProbeLog::default();
        let t0 = std::time::Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        assert_eq!(log.count_at(at(0)), None);
        assert_eq!(log.count_at(at(30)), None);
        assert_eq!(log.count_at(at(59)), None);
        assert_eq!(log.count_at(at(61)), Some((4, Duration::from_secs(61))));
        // The next minute starts at the summary.
        assert_eq!(log.count_at(at(62)), None);
        assert_eq!(log.count_at(at(121)), Some((2, Duration::from_secs(60))));
    }
}
