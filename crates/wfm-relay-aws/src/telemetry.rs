//! What both Lambdas log and measure the same way: the JSON log subscriber, the CloudWatch
//! Embedded Metric Format writer, and one-line error chains.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};
use wfm_relay_core::metrics::Metrics;

/// Installs the JSON log subscriber: one JSON object per line on stdout, level from `RUST_LOG`
/// (default `info`), without span lists or targets. Lambda forwards stdout to CloudWatch Logs.
/// A second call does nothing.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .try_init();
}

/// Writes `metrics` to stdout as CloudWatch Embedded Metric Format lines, timestamped now (Lambda
/// sends stdout to CloudWatch Logs, which extracts the metrics). A failed write is ignored:
/// metrics never fail an invocation.
pub fn emit_metrics(metrics: &Metrics) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", metrics.to_emf_json(now_ms));
    let _ = out.flush();
}

/// `head` and the sources of `source` on one line: `head: cause: cause…`.
pub fn error_chain(head: String, source: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut s = head;
    let mut src = source;
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn chains_read_on_one_line() {
        let e = Outer(Inner);
        assert_eq!(
            error_chain(e.to_string(), std::error::Error::source(&e)),
            "outer: inner"
        );
        assert_eq!(error_chain("alone".into(), None), "alone");
    }
}
