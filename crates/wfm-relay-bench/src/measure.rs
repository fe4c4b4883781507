//! Measurement helpers: percentiles of samples and the peak resident set size of a process.

use std::time::Duration;

/// Summary of a set of duration samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest sample.
    pub min: Duration,
    /// Median (nearest-rank).
    pub p50: Duration,
    /// 99th percentile (nearest-rank).
    pub p99: Duration,
    /// Largest sample.
    pub max: Duration,
}

/// Nearest-rank percentile `p` (0–100) of sorted `samples`: the smallest sample such that at
/// least `p` % of the samples are ≤ it. `None` when there are no samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Min, p50, p99 and max of `samples`; `None` when empty.
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    let mut s = samples.to_vec();
    s.sort_unstable();
    Some(Summary {
        n: s.len(),
        min: *s.first()?,
        p50: percentile(&s, 50.0)?,
        p99: percentile(&s, 99.0)?,
        max: *s.last()?,
    })
}

/// The peak resident set size of process `pid` in KiB: `VmHWM` of `/proc/<pid>/status`
/// (Linux, proc(5)). `None` when the process is gone or the field is missing.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmHWM:")
}

/// The current resident set size of process `pid` in KiB (`VmRSS`, proc(5)).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmRSS:")
}

fn status_field_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let s = summarize(&ms(&[5, 1, 4, 2, 3])).expect("samples");
        assert_eq!(
            (s.n, s.min, s.p50, s.p99, s.max),
            (
                5,
                Duration::from_millis(1),
                Duration::from_millis(3),
                Duration::from_millis(5),
                Duration::from_millis(5)
            )
        );
        let hundred: Vec<u64> = (1..=100).collect();
        let s = summarize(&ms(&hundred)).expect("samples");
        assert_eq!(
            (s.p50, s.p99),
            (Duration::from_millis(50), Duration::from_millis(99))
        );
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn reads_its_own_peak_rss() {
        // RSS first: other tests of this process allocate in parallel, and the high-water mark
        // read afterwards is never below an RSS read before it (it is monotonic).
        let rss = rss_kib(std::process::id()).expect("VmRSS");
        let kib = peak_rss_kib(std::process::id()).expect("VmHWM");
        assert!(rss > 0);
        assert!(rss <= kib, "VmRSS {rss} KiB > VmHWM {kib} KiB");
    }
}
