//! The forwarder's Lambda wiring, from what `ListEventSourceMappings` and
//! `GetFunctionEventInvokeConfig` return (AWS Lambda API Reference: `State` is one of
//! `Creating`, `Enabling`, `Enabled`, `Disabling`, `Disabled`, `Updating`, `Deleting`;
//! `FunctionResponseTypes`, `ScalingConfig.MaximumConcurrency`, `MaximumBatchingWindowInSeconds`;
//! `DestinationConfig.OnFailure.Destination`, `MaximumEventAgeInSeconds` 60–21600, default
//! 21600). Pure: the gathering is in [`super::gather_fn`].

use super::{Finding, Status};

/// Check id: the retry queue's event source mapping exists and is enabled.
pub const EVENT_SOURCE: &str = "forwarder.event-source";
/// Check id: the mapping reports batch item failures.
pub const BATCH_FAILURES: &str = "forwarder.batch-failures";
/// Check id: the mapping's `ScalingConfig.MaximumConcurrency`.
pub const CONCURRENCY: &str = "forwarder.concurrency";
/// Check id: the async invoke config's on-failure destination.
pub const ON_FAILURE: &str = "forwarder.on-failure";
/// Check id: the async invoke config's maximum event age.
pub const EVENT_AGE: &str = "forwarder.event-age";

/// The template's `ScalingConfig.MaximumConcurrency` of the retry queue's event source.
pub const TEMPLATE_MAX_CONCURRENCY: i32 = 5;
/// The template's (and Lambda's default and maximum) `MaximumEventAgeInSeconds`: 6 h.
pub const TEMPLATE_MAX_EVENT_AGE_S: i32 = 21_600;

/// The retry queue's event source mapping, as `ListEventSourceMappings` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// Its UUID.
    pub uuid: String,
    /// `State` (empty when absent).
    pub state: String,
    /// `FunctionResponseTypes`.
    pub response_types: Vec<String>,
    /// `ScalingConfig.MaximumConcurrency`.
    pub max_concurrency: Option<i32>,
    /// `MaximumBatchingWindowInSeconds` (absent means 0 for SQS).
    pub batching_window_s: Option<i32>,
}

/// The forwarder's async invoke config (`GetFunctionEventInvokeConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeConfig {
    /// `DestinationConfig.OnFailure.Destination`.
    pub on_failure: Option<String>,
    /// `MaximumEventAgeInSeconds` (absent means Lambda's default, 21600).
    pub max_event_age_s: Option<i32>,
    /// `MaximumRetryAttempts` (absent means Lambda's default, 2).
    pub max_retry_attempts: Option<i32>,
}

/// The mapping's three checks: enabled, `ReportBatchItemFailures`, `MaximumConcurrency`.
pub fn mapping_checks(m: &Mapping) -> Vec<Finding> {
    let state = match m.state.as_str() {
        "Enabled" => Finding::pass(
            EVENT_SOURCE,
            format!(
                "the retry queue's event source mapping {} is Enabled",
                m.uuid
            ),
        ),
        "Creating" | "Enabling" | "Updating" => Finding::bad(
            EVENT_SOURCE,
            Status::Warn,
            format!("the event source mapping {} is {}", m.uuid, m.state),
            "run doctor again in a minute: the mapping is changing",
        ),
        other => Finding::bad(
            EVENT_SOURCE,
            Status::Fail,
            format!(
                "the event source mapping {} is {}: the retry queue is not consumed, retries \
                 wait until they expire",
                m.uuid,
                if other.is_empty() {
                    "in no state"
                } else {
                    other
                }
            ),
            format!(
                "enable it: aws lambda update-event-source-mapping --uuid {} --enabled",
                m.uuid
            ),
        ),
    };
    let failures = if m
        .response_types
        .iter()
        .any(|t| t == "ReportBatchItemFailures")
    {
        Finding::pass(
            BATCH_FAILURES,
            "FunctionResponseTypes has ReportBatchItemFailures",
        )
    } else {
        Finding::bad(
            BATCH_FAILURES,
            Status::Fail,
            "FunctionResponseTypes lacks ReportBatchItemFailures: Lambda ignores the \
             batchItemFailures the forwarder returns and deletes the failed retries",
            format!(
                "set FunctionResponseTypes [ReportBatchItemFailures] on mapping {} (template: \
                 the RetryQueue event)",
                m.uuid
            ),
        )
    };
    let concurrency = match m.max_concurrency {
        Some(n) => Finding::pass(
            CONCURRENCY,
            format!("ScalingConfig MaximumConcurrency {n} (template: {TEMPLATE_MAX_CONCURRENCY})"),
        ),
        None => Finding::bad(
            CONCURRENCY,
            Status::Fail,
            "no ScalingConfig MaximumConcurrency: after an outage the pollers scale up to the \
             account's concurrency, throttled receives count towards maxReceiveCount and \
             retries reach the DLQ early",
            format!(
                "set ScalingConfig MaximumConcurrency on mapping {} (template: \
                 {TEMPLATE_MAX_CONCURRENCY}; 2-1000)",
                m.uuid
            ),
        ),
    };
    vec![state, failures, concurrency]
}

/// The on-failure destination must be the DLQ (`dlq_arn`): else an EventBridge event whose
/// invocations all failed is dropped (no destination) or parked where the replayer does not look.
/// `config` is `None` when the function has no async invoke config.
pub fn on_failure(config: Option<&InvokeConfig>, dlq_arn: &str) -> Finding {
    let fix = format!(
        "set the forwarder's EventInvokeConfig DestinationConfig OnFailure to the DLQ {dlq_arn} \
         (template: EventInvokeConfig)"
    );
    match config.map(|c| c.on_failure.as_deref()) {
        None => Finding::bad(
            ON_FAILURE,
            Status::Fail,
            "the forwarder has no async invoke config: an event whose invocations all fail is \
             dropped",
            fix,
        ),
        Some(None) => Finding::bad(
            ON_FAILURE,
            Status::Fail,
            "the async invoke config has no on-failure destination: an event whose invocations \
             all fail is dropped",
            fix,
        ),
        Some(Some(d)) if d == dlq_arn => {
            Finding::pass(ON_FAILURE, "on-failure destination is the DLQ")
        }
        Some(Some(d)) => Finding::bad(
            ON_FAILURE,
            Status::Fail,
            format!(
                "on-failure destination is {d}, not the DLQ {dlq_arn}: the replayer does not read it"
            ),
            fix,
        ),
    }
}

/// `MaximumEventAgeInSeconds` as the template sets it (21600, also Lambda's default when there
/// is no config); a shorter age is a warn: Lambda sends events older than it to the on-failure
/// destination sooner, so a throttle or outage of the function parks more dead letters.
pub fn event_age(config: Option<&InvokeConfig>) -> Finding {
    let retries = config
        .and_then(|c| c.max_retry_attempts)
        .map_or("default 2".to_owned(), |n| n.to_string());
    match config.and_then(|c| c.max_event_age_s) {
        None => Finding::pass(
            EVENT_AGE,
            format!(
                "MaximumEventAgeInSeconds not set: Lambda's default {TEMPLATE_MAX_EVENT_AGE_S} s \
                 (6 h) = the template's; retries {retries}"
            ),
        ),
        Some(age) if age >= TEMPLATE_MAX_EVENT_AGE_S => Finding::pass(
            EVENT_AGE,
            format!("MaximumEventAgeInSeconds {age} s (6 h, the template's); retries {retries}"),
        ),
        Some(age) => Finding::bad(
            EVENT_AGE,
            Status::Warn,
            format!(
                "MaximumEventAgeInSeconds {age} s < the template's {TEMPLATE_MAX_EVENT_AGE_S} s: \
                 an event still queued in Lambda after {age} s (throttling, failing \
                 invocations) goes to the DLQ instead of being delivered"
            ),
            format!(
                "set MaximumEventAgeInSeconds to {TEMPLATE_MAX_EVENT_AGE_S} (template), or \
                 expect to replay more dead letters after an incident"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wired() -> Mapping {
        Mapping {
            uuid: "u-1".into(),
            state: "Enabled".into(),
            response_types: vec!["ReportBatchItemFailures".into()],
            max_concurrency: Some(5),
            batching_window_s: Some(0),
        }
    }

    fn statuses(f: &[Finding]) -> Vec<(&str, Status)> {
        f.iter().map(|f| (f.check, f.status)).collect()
    }

    #[test]
    fn the_wired_mapping_passes_and_each_break_fails_its_check() {
        let all = mapping_checks(&wired());
        assert_eq!(
            statuses(&all),
            [
                (EVENT_SOURCE, Status::Pass),
                (BATCH_FAILURES, Status::Pass),
                (CONCURRENCY, Status::Pass)
            ]
        );
        assert!(all[2].detail.contains("MaximumConcurrency 5 (template: 5)"));
        let disabled = mapping_checks(&Mapping {
            state: "Disabled".into(),
            ..wired()
        });
        assert_eq!(disabled[0].status, Status::Fail);
        assert!(
            disabled[0].detail.contains("not consumed"),
            "{}",
            disabled[0].detail
        );
        assert!(
            disabled[0]
                .fix
                .as_deref()
                .unwrap_or("")
                .contains("--uuid u-1 --enabled")
        );
        let updating = mapping_checks(&Mapping {
            state: "Updating".into(),
            ..wired()
        });
        assert_eq!(updating[0].status, Status::Warn);
        let no_report = mapping_checks(&Mapping {
            response_types: vec![],
            ..wired()
        });
        assert_eq!(no_report[1].status, Status::Fail);
        let unbounded = mapping_checks(&Mapping {
            max_concurrency: None,
            ..wired()
        });
        assert_eq!(
            statuses(&unbounded),
            [
                (EVENT_SOURCE, Status::Pass),
                (BATCH_FAILURES, Status::Pass),
                (CONCURRENCY, Status::Fail)
            ]
        );
        let other = mapping_checks(&Mapping {
            max_concurrency: Some(20),
            ..wired()
        });
        assert_eq!(other[2].status, Status::Pass);
        assert!(other[2].detail.contains("20 (template: 5)"));
    }

    #[test]
    fn the_on_failure_destination_is_the_dlq() {
        let dlq = "arn:aws:sqs:us-east-1:1:dlq";
        let to = |d: Option<&str>| InvokeConfig {
            on_failure: d.map(str::to_owned),
            ..InvokeConfig::default()
        };
        assert_eq!(on_failure(Some(&to(Some(dlq))), dlq).status, Status::Pass);
        let other = on_failure(Some(&to(Some("arn:aws:sqs:us-east-1:1:x"))), dlq);
        assert_eq!(other.status, Status::Fail);
        assert!(other.detail.contains(":x, not the DLQ"), "{}", other.detail);
        let none = on_failure(Some(&to(None)), dlq);
        assert_eq!(none.status, Status::Fail);
        assert!(none.detail.contains("no on-failure destination"));
        let missing = on_failure(None, dlq);
        assert_eq!(missing.status, Status::Fail);
        assert!(missing.detail.contains("no async invoke config"));
        assert!(missing.fix.as_deref().unwrap_or("").contains(dlq));
    }

    #[test]
    fn the_event_age_is_six_hours() {
        let age = |a: Option<i32>| InvokeConfig {
            max_event_age_s: a,
            max_retry_attempts: Some(2),
            ..InvokeConfig::default()
        };
        let ok = event_age(Some(&age(Some(21600))));
        assert_eq!(ok.status, Status::Pass);
        assert!(ok.detail.contains("retries 2"), "{}", ok.detail);
        assert_eq!(event_age(Some(&age(None))).status, Status::Pass);
        assert_eq!(event_age(None).status, Status::Pass);
        let short = event_age(Some(&age(Some(3600))));
        assert_eq!(short.status, Status::Warn);
        assert!(short.detail.contains("3600 s < the template's 21600 s"));
    }
}
