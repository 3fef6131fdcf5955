//! What a report carries so that runs add up exactly: the bytes behind
//! its counts, the whole run's totals that a server's own counters also
//! see, and the histograms behind its percentiles, in HdrHistogram's own
//! compressed encoding (in JSON, and as an interval log for `--hdr-log`).

use std::io::Write;
use std::time::Duration;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::Intervals;

/// The exact parts of a run, which `bench merge` adds up.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Recorded {
    /// Bytes of the messages behind `done`, as sent.
    pub bytes_sent: u64,
    /// Bytes of the replies behind `done` (with the welcomes, for
    /// sessions and openings), as received.
    pub bytes_received: u64,
    /// Counts over the whole run.
    pub totals: Totals,
    /// The histograms behind the percentiles.
    pub histograms: Histograms,
}

impl Recorded {
    /// A run's, from its merged tally; its intervals began at `start_unix`
    /// (seconds since the Unix epoch).
    pub fn of(tally: super::Tally, start_unix: f64) -> Recorded {
        let some = |h: Histogram<u64>| (!h.is_empty()).then_some(h);
        Recorded {
            bytes_sent: tally.bytes_sent,
            bytes_received: tally.bytes_received,
            totals: Totals {
                connections: tally.opened,
                replies: tally.answered,
                unanswered: tally.unanswered,
            },
            histograms: Histograms {
                latency: some(tally.latency),
                send_lateness: some(tally.lateness),
                intervals: tally.intervals.map(|i| (start_unix, i)),
            },
        }
    }
}

/// Counts over the whole run, not only the window: the preflight, the
/// warm-up, the window and the drain after it. For pingpong and pipeline
/// they are what the servers' own counters saw of this bench (accepted
/// connections, answered messages) when no message was left unanswered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Totals {
    /// Connections opened (the preflight's included).
    pub connections: u64,
    /// Replies read (sessions: replies within them).
    pub replies: u64,
    /// Messages still unanswered when the bench closed.
    pub unanswered: u64,
}

/// The histograms the percentiles were read from, in nanoseconds: added
/// together, they give the percentiles of every sample of every run, not
/// an average of percentiles.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Histograms {
    /// Behind `latency_us`.
    #[cfg_attr(feature = "serde", serde(with = "encoded"))]
    pub latency: Option<Histogram<u64>>,
    /// Behind `send_lateness_us`.
    #[cfg_attr(feature = "serde", serde(with = "encoded"))]
    pub send_lateness: Option<Histogram<u64>>,
    /// `--hdr-log`: the latencies per interval, from the start of the
    /// window (hold: of the opening), in seconds since the Unix epoch.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub intervals: Option<(f64, Intervals)>,
}

/// A histogram as HdrHistogram's compressed encoding in base64, the form
/// its interval logs hold (`HISTFAA...`).
#[cfg(feature = "serde")]
fn encode(h: &Histogram<u64>) -> String {
    use base64::Engine as _;
    use hdrhistogram::serialization::Serializer as _;
    let mut bytes = Vec::new();
    // Into a Vec, whose writes do not fail; the encoder's own checks are
    // on values a histogram of ours always meets.
    let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The histogram [`encode`] wrote, or why the text is not one.
#[cfg(feature = "serde")]
fn decode(text: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("not an HdrHistogram: {e:?}"))
}

#[cfg(feature = "serde")]
mod encoded {
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Option<Histogram<u64>>, s: S) -> Result<S::Ok, S::Error> {
        match h {
            Some(h) => s.serialize_some(&super::encode(h)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Histogram<u64>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| super::decode(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Histograms {
    /// Writes the intervals as an HdrHistogram interval log (the format
    /// wrk2, HdrHistogram's HistogramLogProcessor and HistogramLogAnalyzer
    /// read), each tagged `tag`; values in nanoseconds, each interval's max
    /// in milliseconds as the Java writer gives it.
    pub fn write_log(&self, tag: &str, comment: &str, out: &mut dyn Write) -> std::io::Result<()> {
        let invalid = |e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{e:?}"));
        let start = self.intervals.as_ref().map_or(0.0, |(start, _)| *start);
        let at = std::time::UNIX_EPOCH + Duration::from_secs_f64(start.max(0.0));
        let mut text = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment(comment)
            .with_start_time(at)
            .with_base_time(at)
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut text, &mut serializer)?;
        // The Java writer's legend, which its readers and ours skip.
        text.extend_from_slice(
            b"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
        );
        let mut log = IntervalLogWriterBuilder::new()
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut text, &mut serializer)?;
        let tag = Tag::new(tag);
        if let Some((_, intervals)) = &self.intervals {
            for (k, h) in intervals.histograms.iter().enumerate() {
                log.write_histogram(h, intervals.every * k as u32, intervals.every, tag)
                    .map_err(invalid)?;
            }
        }
        out.write_all(&text)?;
        out.flush()
    }
}

/// `--hdr-log FILE`: created before the run, so that a file that cannot
/// be written fails at once rather than after it; written after, and
/// removed again if the run failed or the write did.
#[derive(Debug)]
pub struct HdrLog(crate::made::Made);

impl HdrLog {
    /// Creates (or empties) `path`.
    pub fn create(path: &std::path::Path) -> Result<HdrLog, crate::Error> {
        std::fs::File::create(path)
            .map(|file| HdrLog(crate::made::Made::new(path, file)))
            .map_err(|e| HdrLog::failed(path, e))
    }

    /// Writes `report`'s intervals ([`super::Report::write_hdr_log`]).
    pub fn write(mut self, report: &super::Report) -> Result<(), crate::Error> {
        report
            .write_hdr_log(&mut self.0.file)
            .map_err(|e| HdrLog::failed(self.0.path(), e))?;
        self.0.whole();
        Ok(())
    }

    fn failed(path: &std::path::Path, e: std::io::Error) -> crate::Error {
        crate::Error::local_file(
            crate::words!(
                "cannot write {} {}",
                crate::setting::Setting::HdrLog,
                path.display()
            ),
            e,
        )
    }
}
