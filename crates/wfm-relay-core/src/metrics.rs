//! Metrics as CloudWatch Embedded Metric Format (EMF) documents: one JSON object per line on a
//! Lambda's stdout, from which CloudWatch Logs extracts the metrics (PRODUCT.md §8).
//!
//! Source: "Specification: Embedded metric format", Amazon CloudWatch User Guide
//! (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
//! the root holds `_aws` = `{Timestamp (ms since the epoch), CloudWatchMetrics: [MetricDirective]}`;
//! a MetricDirective is `{Namespace, Dimensions: [[dimension keys]], Metrics: [{Name, Unit}]}`;
//! every dimension key and metric name refers to a root member (a string for a dimension, a
//! number or an array of at most 100 numbers for a metric); on Lambda, writing the JSON to
//! stdout is enough.
//!
//! What wfm-relay publishes (namespace `METRICS_NAMESPACE`, default `WfmRelay`; dimension
//! `Function` = the Lambda function name, `AWS_LAMBDA_FUNCTION_NAME`):
//!
//! | metric | unit | dimensions | meaning |
//! |---|---|---|---|
//! | `Delivered` | Count | Function | WFM answered 2xx |
//! | `Retried` | Count | Function | forwarder: queued (EventBridge entry) or listed in `batchItemFailures` (SQS entry) |
//! | `Parked` | Count | Function | forwarder: parked in the DLQ, all reasons |
//! | `Parked` | Count | Function, Reason | the same per reason token (`gone`, `expired`, …); only reasons that occurred |
//! | `Gone` | Count | Function | forwarder: `410 Gone` answers (alarm metric) |
//! | `WfmLatency` | Milliseconds | Function | one value per POST (answered or not) |
//! | `BreakerOpen` | None | Function | forwarder: 1 when the circuit breaker is open or half-open at the end of the invocation, else 0 |
//! | `Failed` | Count | Function | replayer: letters not delivered, archived or moved |
//! | `Archived` | Count | Function | replayer: letters archived to S3 |
//! | `MappingStale` | Count | Function | a due re-read of the WFM profile's agent table failed; the previous table stays in use |
//! | `AuthConfigError` | Count | Function | attempts not sent because the token endpoint refused our credentials (only written when it happened; alarm ≥ 1 in 5 min) |
//!
//! A dimension key names one value per document, so each parking reason gets its own document
//! (one line each); [`Metrics::to_emf_json`] returns all lines of an invocation.

use crate::envelope::Reason;
use serde::Serialize;
use std::collections::BTreeMap;

/// Default CloudWatch namespace (`METRICS_NAMESPACE`).
pub const DEFAULT_NAMESPACE: &str = "WfmRelay";
/// Dimension key: the Lambda function name.
pub const DIM_FUNCTION: &str = "Function";
/// Dimension key: the parking reason token (PRODUCT.md §5).
pub const DIM_REASON: &str = "Reason";
/// Count: WFM answered 2xx.
pub const DELIVERED: &str = "Delivered";
/// Count: queued or listed for a later retry.
pub const RETRIED: &str = "Retried";
/// Count: parked in the DLQ (also per `Reason`).
pub const PARKED: &str = "Parked";
/// Count: `410 Gone` answers.
pub const GONE: &str = "Gone";
/// Milliseconds: latency of each POST to WFM.
pub const WFM_LATENCY: &str = "WfmLatency";
/// None (0/1): the circuit breaker is not closed.
pub const BREAKER_OPEN: &str = "BreakerOpen";
/// Count (replayer): letters that could not be delivered, archived or moved.
pub const FAILED: &str = "Failed";
/// Count (replayer): letters archived to S3.
pub const ARCHIVED: &str = "Archived";
/// Count: a due re-read of a WFM profile's agent table failed and the previous table stayed
/// in use (`WFM_PROFILE_MAPPING_TTL_S`, issue 13).
pub const MAPPING_STALE: &str = "MappingStale";
/// Count: attempts not sent because the OAuth token endpoint refused our credentials
/// (`invalid_client`, `unauthorized_client`, `invalid_grant`, …): a configuration error.
pub const AUTH_CONFIG_ERROR: &str = "AuthConfigError";
/// Largest numeric array of one metric in one document (EMF specification, "Target members").
pub const MAX_VALUES_PER_DOCUMENT: usize = 100;

/// Largest namespace: 255 characters (EMF specification JSON schema, `Namespace.maxLength`).
pub const MAX_NAMESPACE_CHARS: usize = 255;

/// A CloudWatch metric unit (the EMF `Unit` member; CloudWatch API Reference, `MetricDatum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    /// A count of events.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// No unit (used for the 0/1 breaker gauge).
    None,
}

/// Checks a `METRICS_NAMESPACE` value: 1 to 255 characters, none of them control characters,
/// and not starting with `AWS/` (reserved for AWS services; CloudWatch API Reference,
/// `PutMetricData`, `Namespace`).
///
/// # Errors
/// A sentence saying what is wrong.
pub fn validate_namespace(ns: &str) -> Result<(), String> {
    if ns.is_empty() || ns.chars().count() > MAX_NAMESPACE_CHARS {
        return Err(format!("must be 1 to {MAX_NAMESPACE_CHARS} characters"));
    }
    if ns.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if ns.starts_with("AWS/") {
        return Err("names starting with `AWS/` are reserved for AWS services".into());
    }
    Ok(())
}

/// The metrics of one invocation (or one replayer action), turned into EMF lines at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    namespace: String,
    function: String,
    counts: Vec<(&'static str, u64)>,
    parked: BTreeMap<&'static str, u64>,
    latencies_ms: Vec<u64>,
    breaker_open: Option<bool>,
    properties: BTreeMap<&'static str, String>,
}

impl Metrics {
    /// An empty set with no metric declared.
    pub fn new(namespace: impl Into<String>, function: impl Into<String>) -> Self {
        Metrics {
            namespace: namespace.into(),
            function: function.into(),
            counts: Vec::new(),
            parked: BTreeMap::new(),
            latencies_ms: Vec::new(),
            breaker_open: None,
            properties: BTreeMap::new(),
        }
    }

    /// The forwarder's set: `Delivered`, `Retried`, `Parked`, `Gone` declared at 0 (so an alarm
    /// sees zeros rather than missing data), `BreakerOpen` at 0.
    pub fn forwarder(namespace: impl Into<String>, function: impl Into<String>) -> Self {
        let mut m = Metrics::new(namespace, function);
        for name in [DELIVERED, RETRIED, PARKED, GONE] {
            m.add(name, 0);
        }
        m.breaker_open = Some(false);
        m
    }

    /// The replayer's set: `Delivered`, `Failed`, `Archived` declared at 0.
    pub fn replayer(namespace: impl Into<String>, function: impl Into<String>) -> Self {
        let mut m = Metrics::new(namespace, function);
        for name in [DELIVERED, FAILED, ARCHIVED] {
            m.add(name, 0);
        }
        m
    }

    /// Adds `n` to the count `name` (declared on first use; unit Count).
    pub fn add(&mut self, name: &'static str, n: u64) {
        match self.counts.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = v.saturating_add(n),
            None => self.counts.push((name, n)),
        }
    }

    /// One event parked with `reason`: `Parked` + 1, and + 1 for that reason.
    pub fn parked(&mut self, reason: Reason) {
        self.add(PARKED, 1);
        *self.parked.entry(reason.as_str()).or_default() += 1;
    }

    /// One POST's latency, ms.
    pub fn latency(&mut self, ms: u64) {
        self.latencies_ms.push(ms);
    }

    /// Sets the `BreakerOpen` gauge.
    pub fn set_breaker_open(&mut self, open: bool) {
        self.breaker_open = Some(open);
    }

    /// A root member that is not a metric (e.g. the replayer's `Action`), for Logs Insights.
    pub fn property(&mut self, key: &'static str, value: impl Into<String>) {
        self.properties.insert(key, value.into());
    }

    /// The count `name` (0 when never added).
    pub fn count(&self, name: &str) -> u64 {
        self.counts
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(0, |(_, v)| *v)
    }

    /// The count of events parked with `reason`.
    pub fn parked_count(&self, reason: Reason) -> u64 {
        self.parked.get(reason.as_str()).copied().unwrap_or(0)
    }

    /// The latencies recorded so far, ms.
    pub fn latencies_ms(&self) -> &[u64] {
        &self.latencies_ms
    }

    /// The EMF documents, one JSON object per line (`\n`-separated, no trailing newline):
    /// first the `Function` document with every count, up to 100 latencies, the breaker gauge
    /// and the properties; then one `Function, Reason` document per parking reason that
    /// occurred; then one document per further 100 latencies. `timestamp_ms` is the metrics'
    /// time in ms since the Unix epoch.
    pub fn to_emf_json(&self, timestamp_ms: u64) -> String {
        let mut lines = Vec::new();
        let mut chunks = self.latencies_ms.chunks(MAX_VALUES_PER_DOCUMENT);

        let mut defs: Vec<MetricDefinition> = Vec::new();
        let mut members: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
        for (name, v) in &self.counts {
            defs.push(MetricDefinition::new(name, Unit::Count));
            members.insert(name, (*v).into());
        }
        if let Some(first) = chunks.next() {
            defs.push(MetricDefinition::new(WFM_LATENCY, Unit::Milliseconds));
            members.insert(WFM_LATENCY, first.to_vec().into());
        }
        if let Some(open) = self.breaker_open {
            defs.push(MetricDefinition::new(BREAKER_OPEN, Unit::None));
            members.insert(BREAKER_OPEN, u64::from(open).into());
        }
        for (k, v) in &self.properties {
            members.insert(k, v.as_str().into());
        }
        lines.push(self.document(timestamp_ms, &[DIM_FUNCTION], defs, members));

        for (reason, n) in &self.parked {
            let mut members: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
            members.insert(DIM_REASON, (*reason).into());
            members.insert(PARKED, (*n).into());
            lines.push(self.document(
                timestamp_ms,
                &[DIM_FUNCTION, DIM_REASON],
                vec![MetricDefinition::new(PARKED, Unit::Count)],
                members,
            ));
        }
        for chunk in chunks {
            let mut members: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
            members.insert(WFM_LATENCY, chunk.to_vec().into());
            lines.push(self.document(
                timestamp_ms,
                &[DIM_FUNCTION],
                vec![MetricDefinition::new(WFM_LATENCY, Unit::Milliseconds)],
                members,
            ));
        }
        lines.join("\n")
    }

    fn document(
        &self,
        timestamp_ms: u64,
        dimensions: &[&str],
        metrics: Vec<MetricDefinition<'_>>,
        mut members: BTreeMap<&str, serde_json::Value>,
    ) -> String {
        members.insert(DIM_FUNCTION, self.function.as_str().into());
        let doc = Document {
            aws: Aws {
                timestamp: timestamp_ms,
                cloud_watch_metrics: [MetricDirective {
                    namespace: &self.namespace,
                    dimensions: [dimensions],
                    metrics,
                }],
            },
            members,
        };
        serde_json::to_string(&doc).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "_aws")]
    aws: Aws<'a>,
    #[serde(flatten)]
    members: BTreeMap<&'a str, serde_json::Value>,
}

#[derive(Serialize)]
struct Aws<'a> {
    #[serde(rename = "Timestamp")]
    timestamp: u64,
    #[serde(rename = "CloudWatchMetrics")]
    cloud_watch_metrics: [MetricDirective<'a>; 1],
}

#[derive(Serialize)]
struct MetricDirective<'a> {
    #[serde(rename = "Namespace")]
    namespace: &'a str,
    #[serde(rename = "Dimensions")]
    dimensions: [&'a [&'a str]; 1],
    #[serde(rename = "Metrics")]
    metrics: Vec<MetricDefinition<'a>>,
}

#[derive(Serialize)]
struct MetricDefinition<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Unit")]
    unit: Unit,
}

impl<'a> MetricDefinition<'a> {
    fn new(name: &'a str, unit: Unit) -> Self {
        MetricDefinition { name, unit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarder_invocation_as_exact_emf() {
        let mut m = Metrics::forwarder("WfmRelay", "wfm-relay-forwarder");
        m.add(DELIVERED, 2);
        m.add(RETRIED, 1);
        m.parked(Reason::Gone);
        m.add(GONE, 1);
        m.parked(Reason::Expired);
        m.parked(Reason::Expired);
        m.latency(12);
        m.latency(7);
        m.set_breaker_open(true);
        let want = concat!(
            r#"{"_aws":{"Timestamp":1772442000000,"CloudWatchMetrics":[{"Namespace":"WfmRelay","Dimensions":[["Function"]],"Metrics":["#,
            r#"{"Name":"Delivered","Unit":"Count"},{"Name":"Retried","Unit":"Count"},{"Name":"Parked","Unit":"Count"},{"Name":"Gone","Unit":"Count"},"#,
            r#"{"Name":"WfmLatency","Unit":"Milliseconds"},{"Name":"BreakerOpen","Unit":"None"}]}]},"#,
            r#""BreakerOpen":1,"Delivered":2,"Function":"wfm-relay-forwarder","Gone":1,"Parked":3,"Retried":1,"WfmLatency":[12,7]}"#,
            "\n",
            r#"{"_aws":{"Timestamp":1772442000000,"CloudWatchMetrics":[{"Namespace":"WfmRelay","Dimensions":[["Function","Reason"]],"Metrics":[{"Name":"Parked","Unit":"Count"}]}]},"#,
            r#""Function":"wfm-relay-forwarder","Parked":2,"Reason":"expired"}"#,
            "\n",
            r#"{"_aws":{"Timestamp":1772442000000,"CloudWatchMetrics":[{"Namespace":"WfmRelay","Dimensions":[["Function","Reason"]],"Metrics":[{"Name":"Parked","Unit":"Count"}]}]},"#,
            r#""Function":"wfm-relay-forwarder","Parked":1,"Reason":"gone"}"#,
        );
        assert_eq!(m.to_emf_json(1_772_442_000_000), want);
        assert_eq!(m.count(PARKED), 3);
        assert_eq!(m.parked_count(Reason::Expired), 2);
    }

    #[test]
    fn quiet_invocation_still_reports_zeros() {
        let m = Metrics::forwarder("Ns", "f");
        assert_eq!(
            m.to_emf_json(5),
            concat!(
                r#"{"_aws":{"Timestamp":5,"CloudWatchMetrics":[{"Namespace":"Ns","Dimensions":[["Function"]],"Metrics":["#,
                r#"{"Name":"Delivered","Unit":"Count"},{"Name":"Retried","Unit":"Count"},{"Name":"Parked","Unit":"Count"},{"Name":"Gone","Unit":"Count"},"#,
                r#"{"Name":"BreakerOpen","Unit":"None"}]}]},"#,
                r#""BreakerOpen":0,"Delivered":0,"Function":"f","Gone":0,"Parked":0,"Retried":0}"#,
            )
        );
    }

    #[test]
    fn replayer_action_with_a_property() {
        let mut m = Metrics::replayer("WfmRelay", "replayer");
        m.add(DELIVERED, 5);
        m.add(FAILED, 1);
        m.property("Action", "replay");
        assert_eq!(
            m.to_emf_json(1),
            concat!(
                r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"WfmRelay","Dimensions":[["Function"]],"Metrics":["#,
                r#"{"Name":"Delivered","Unit":"Count"},{"Name":"Failed","Unit":"Count"},{"Name":"Archived","Unit":"Count"}]}]},"#,
                r#""Action":"replay","Archived":0,"Delivered":5,"Failed":1,"Function":"replayer"}"#,
            )
        );
    }

    #[test]
    fn latencies_are_split_at_100_values_per_document() {
        let mut m = Metrics::new("Ns", "f");
        for i in 0..250 {
            m.latency(i);
        }
        let lines: Vec<serde_json::Value> = m
            .to_emf_json(1)
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON document"))
            .collect();
        let sizes: Vec<usize> = lines
            .iter()
            .map(|d| d[WFM_LATENCY].as_array().expect("array").len())
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        for d in &lines {
            assert_eq!(
                d["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                serde_json::json!([["Function"]])
            );
            assert_eq!(d["Function"], "f");
        }
    }

    #[test]
    fn namespaces() {
        assert!(validate_namespace("WfmRelay").is_ok());
        assert!(validate_namespace("Team/WfmRelay-prod").is_ok());
        assert!(validate_namespace("").is_err());
        assert!(validate_namespace("AWS/Lambda").is_err());
        assert!(validate_namespace(&"x".repeat(256)).is_err());
        assert!(validate_namespace("a\nb").is_err());
    }
}
