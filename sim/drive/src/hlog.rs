//! The replay's histograms as HdrHistogram interval logs — the text format of Java's
//! `HistogramLogWriter`, read by `HistogramLogProcessor`, Python's `hdrh.log.HistogramLogReader`
//! and every other HdrHistogram port: one line per interval and tag, holding the interval's start
//! (seconds since the log's `BaseTime`), its length, its largest value and its histogram as
//! compressed V2 in base64.
//!
//! A run directory holds four, in `histograms/`, with values in microseconds and one interval per
//! second of intended send time, counted from the instant the replay's schedule started (which
//! every shard of a replay shares, so their intervals line up):
//!
//! - `latency.hlog` — latency from the intended send time, tagged `<route>.<class>` (`verify.2xx`);
//! - `service.hlog` — service time from the actual send, tagged `<route>`;
//! - `lateness.hlog` — how late the driver started requests, untagged;
//! - `outcomes.hlog` — what befell requests besides their answer, tagged `<route>.<what>`
//!   (`verify.retried`, `register.paper`; see `measure::Happening`): the per-second counts of
//!   retries, give-ups and a fault's deferrals add across shards as the latencies do.
//!
//! A second is written once no request due in it can still be running; a request that ends later
//! still is written as a second line for the same interval and tag, which readers add (HDR
//! histograms add exactly). Merging shards is the same addition.

use anyhow::Context as _;
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Highest latency recorded exactly enough: one hour, in microseconds.
pub const MAX_US: u64 = 3_600_000_000;

/// A histogram of microseconds as every log of a run holds them (1 µs to one hour, three
/// significant digits), so that any two add.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid bounds")
}

/// The four logs of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Log {
    Latency,
    Service,
    Lateness,
    Outcomes,
}

/// How many logs a run has.
pub const LOGS: usize = 4;

impl Log {
    pub const ALL: [Log; LOGS] = [Log::Latency, Log::Service, Log::Lateness, Log::Outcomes];

    pub fn file_name(self) -> &'static str {
        match self {
            Log::Latency => "latency.hlog",
            Log::Service => "service.hlog",
            Log::Lateness => "lateness.hlog",
            Log::Outcomes => "outcomes.hlog",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Log::Latency => {
                "latency from the intended send time (us), per second and <route>.<status class>"
            }
            Log::Service => "service time from the actual send (us), per second and <route>",
            Log::Lateness => "how late the driver started requests (us), per second",
            Log::Outcomes => {
                "what befell requests besides their answer, per second of their intended send and <route>.<retried|given_up|deferred|paper|abandoned> (us: the wait before a retry, the time to a give-up, the time held)"
            }
        }
    }
}

/// The directory of a run's logs.
pub fn dir_of(run: &Path) -> PathBuf {
    run.join("histograms")
}

/// Appends intervals to a run's four logs.
pub struct Writer {
    files: Vec<std::io::BufWriter<std::fs::File>>,
    serializer: V2DeflateSerializer,
}

impl Writer {
    /// Creates the four logs in `run/histograms` (replacing any there), their headers naming
    /// `start`, the wall-clock instant of the replay's second 0.
    pub fn create(run: &Path, start: SystemTime, about: &str) -> anyhow::Result<Writer> {
        let dir = dir_of(run);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut files = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        for log in Log::ALL {
            let path = dir.join(log.file_name());
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            IntervalLogWriterBuilder::new()
                .add_comment(&format!("{about}: {}", log.what()))
                .add_comment("[Histogram log format version 1.3]")
                .with_start_time(start)
                .with_base_time(start)
                .begin_log_with(&mut f, &mut serializer)?;
            writeln!(
                f,
                "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
            )?;
            files.push(f);
        }
        Ok(Writer { files, serializer })
    }

    /// Writes `h` as the interval of `second` in `log`, tagged (or not).
    pub fn write(
        &mut self,
        log: Log,
        second: u64,
        tag: Option<&str>,
        h: &Histogram<u64>,
    ) -> anyhow::Result<()> {
        let tag = match tag {
            Some(t) => Some(Tag::new(t).with_context(|| format!("{t:?} is not a log tag"))?),
            None => None,
        };
        let f = &mut self.files[log as usize];
        IntervalLogWriterBuilder::new()
            .begin_log_with(f, &mut self.serializer)?
            .write_histogram(h, Duration::from_secs(second), Duration::from_secs(1), tag)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", log.file_name()))
    }

    /// Flushes the logs to disk.
    pub fn finish(mut self) -> anyhow::Result<()> {
        for f in &mut self.files {
            f.flush()?;
        }
        Ok(())
    }
}

/// One interval read from a log, not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub second: u64,
    pub tag: String,
    pub encoded: String,
}

/// The intervals of one or more runs' logs, each log's sorted by (second, tag): lines of the
/// same second and tag (a late request's, or several shards') are added when decoded.
#[derive(Debug, Default)]
pub struct Intervals {
    pub logs: [Vec<Interval>; LOGS],
    /// The wall-clock instant of second 0, from the logs' `StartTime`.
    pub start: Option<Duration>,
}

impl Intervals {
    /// Reads the four logs of `run` and adds their intervals to these.
    pub fn read(&mut self, run: &Path) -> anyhow::Result<()> {
        for log in Log::ALL {
            let path = dir_of(run).join(log.file_name());
            if log == Log::Outcomes && !path.exists() {
                // A run written before the outcomes log: nothing befell its requests.
                continue;
            }
            let text =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            for entry in IntervalLogIterator::new(&text) {
                match entry.map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))? {
                    LogEntry::StartTime(t) => self.start = Some(t),
                    LogEntry::BaseTime(_) => {}
                    LogEntry::Interval(i) => self.logs[log as usize].push(Interval {
                        second: i.start_timestamp().as_secs(),
                        tag: i.tag().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                        encoded: i.encoded_histogram().to_owned(),
                    }),
                }
            }
        }
        for l in &mut self.logs {
            l.sort();
        }
        Ok(())
    }

    /// The last second any log holds.
    pub fn last_second(&self) -> Option<u64> {
        self.logs
            .iter()
            .filter_map(|l| l.last().map(|i| i.second))
            .max()
    }

    /// Every second that holds an interval, in order, with its histograms by log and tag, each
    /// the sum of its lines.
    pub fn seconds(&self) -> Seconds<'_> {
        Seconds {
            intervals: self,
            next: [0; LOGS],
            deserializer: Deserializer::new(),
        }
    }
}

/// One second's histograms: by log, by tag ("" where untagged).
pub type Second = [BTreeMap<String, Histogram<u64>>; LOGS];

/// The seconds of [`Intervals`], in order.
pub struct Seconds<'a> {
    intervals: &'a Intervals,
    next: [usize; LOGS],
    deserializer: Deserializer,
}

impl Iterator for Seconds<'_> {
    type Item = anyhow::Result<(u64, Second)>;

    fn next(&mut self) -> Option<Self::Item> {
        let second = (0..LOGS)
            .filter_map(|k| self.intervals.logs[k].get(self.next[k]).map(|i| i.second))
            .min()?;
        let mut out: Second = Default::default();
        for (k, sums) in out.iter_mut().enumerate() {
            let log = &self.intervals.logs[k];
            while let Some(i) = log.get(self.next[k]).filter(|i| i.second == second) {
                self.next[k] += 1;
                let h = match decode(&mut self.deserializer, &i.encoded) {
                    Ok(h) => h,
                    Err(e) => return Some(Err(e)),
                };
                let sum = sums.entry(i.tag.clone()).or_insert_with(histogram);
                if let Err(e) = sum.add(&h) {
                    return Some(Err(anyhow::anyhow!(
                        "second {second}, {}: a value out of range: {e:?}",
                        i.tag
                    )));
                }
            }
        }
        Some(Ok((second, out)))
    }
}

fn decode(d: &mut Deserializer, encoded: &str) -> anyhow::Result<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .context("an interval's histogram is not base64")?;
    d.deserialize(&mut bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("an interval's histogram does not decode: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_written_are_read_back_and_lines_of_one_second_add() {
        let dir = tempfile::tempdir().unwrap();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut w = Writer::create(dir.path(), start, "test").unwrap();
        let of = |values: &[u64]| {
            let mut h = histogram();
            for v in values {
                h.record(*v).unwrap();
            }
            h
        };
        w.write(Log::Latency, 0, Some("verify.2xx"), &of(&[100, 200]))
            .unwrap();
        w.write(Log::Latency, 1, Some("verify.2xx"), &of(&[300]))
            .unwrap();
        // A late line for second 0.
        w.write(Log::Latency, 0, Some("verify.2xx"), &of(&[5_000]))
            .unwrap();
        w.write(Log::Lateness, 1, None, &of(&[7])).unwrap();
        w.finish().unwrap();
        let text = std::fs::read_to_string(dir.path().join("histograms/latency.hlog")).unwrap();
        assert!(text.contains("#[StartTime: 1800000000.000"), "{text}");
        assert!(text.contains("Tag=verify.2xx,0.000,1.000,"), "{text}");
        let mut i = Intervals::default();
        i.read(dir.path()).unwrap();
        assert_eq!(i.start, Some(Duration::from_secs(1_800_000_000)));
        assert_eq!(i.last_second(), Some(1));
        let seconds: Vec<_> = i.seconds().map(Result::unwrap).collect();
        assert_eq!(seconds.len(), 2);
        let s0 = &seconds[0].1[Log::Latency as usize]["verify.2xx"];
        assert_eq!(s0.len(), 3);
        assert!(s0.equivalent(s0.max(), 5_000));
        assert_eq!(seconds[1].1[Log::Lateness as usize][""].len(), 1);
    }

    /// What a stock reader must make of the logs: HdrHistogram's Python port
    /// (`hdrh.log.HistogramLogReader`), the interpreter named by `DXSIM_PYTHON` (default
    /// `python3`). Skipped where the `hdrhistogram` package is missing, unless
    /// `DXSIM_REQUIRE_PYTHON=1` (as `.ci/run` sets, having installed it).
    #[test]
    fn the_python_hdrhistogram_reader_decodes_the_logs() {
        let python = std::env::var("DXSIM_PYTHON").unwrap_or_else(|_| "python3".into());
        let has = std::process::Command::new(&python)
            .args(["-c", "import hdrh.log"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !has {
            assert!(
                std::env::var("DXSIM_REQUIRE_PYTHON").as_deref() != Ok("1"),
                "{python} has no hdrh (pip install hdrhistogram) and DXSIM_REQUIRE_PYTHON=1"
            );
            eprintln!("skipped: {python} cannot import hdrh (pip install hdrhistogram)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut w = Writer::create(dir.path(), start, "python test").unwrap();
        let mut expected = BTreeMap::new();
        let mut x = 17u64;
        for second in 0..40u64 {
            for (log, tag) in [
                (Log::Latency, Some("verify.2xx")),
                (Log::Latency, Some("register.4xx")),
                (Log::Service, Some("verify")),
                (Log::Lateness, None),
            ] {
                let mut h = histogram();
                for _ in 0..(1 + second % 7) * 13 {
                    x = dx_model::rng::splitmix64(x);
                    h.record(1 + x % 250_000).unwrap();
                }
                let e = expected
                    .entry(format!("{}:{}", log.file_name(), tag.unwrap_or("")))
                    .or_insert((0u64, 0u64));
                e.0 += h.len();
                e.1 = e.1.max(h.max());
                w.write(log, second, tag, &h).unwrap();
            }
        }
        w.finish().unwrap();
        let script = r#"
import json, sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
out = {}
for path in sys.argv[1:]:
    reader = HistogramLogReader(path, HdrHistogram(1, 3600000000, 3))
    while True:
        h = reader.get_next_interval_histogram()
        if h is None:
            break
        key = path.rsplit('/', 1)[1] + ':' + (h.get_tag() or '')
        n, m = out.get(key, (0, 0))
        out[key] = (n + h.get_total_count(), max(m, h.get_max_value()))
print(json.dumps(out, sort_keys=True))
"#;
        let o = std::process::Command::new(&python)
            .arg("-c")
            .arg(script)
            .args(Log::ALL.map(|l| dir_of(dir.path()).join(l.file_name())))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got: BTreeMap<String, (u64, u64)> = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(got.len(), expected.len(), "{got:?}");
        let h = histogram();
        for (k, (n, max)) in &expected {
            let (pn, pmax) = got[k];
            assert_eq!(pn, *n, "{k}");
            assert!(h.equivalent(pmax, *max), "{k}: {pmax} vs {max}");
        }
    }
}
