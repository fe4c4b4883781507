//! The queue checks, from the attributes `GetQueueAttributes` returns (Amazon SQS API
//! reference, "GetQueueAttributes": `RedrivePolicy` is JSON with `deadLetterTargetArn` and
//! `maxReceiveCount`; `VisibilityTimeout` and `MessageRetentionPeriod` are seconds). Pure.

use super::{Finding, Status};
use serde_json::Value;
use std::collections::HashMap;
use wfm_relay_core::policy::RetrySchedule;

/// Check id: the retry queue's redrive policy.
pub const REDRIVE: &str = "retry-queue.redrive";
/// Check id: the retry queue's visibility timeout.
pub const VISIBILITY: &str = "retry-queue.visibility";
/// Check id: the retention periods.
pub const RETENTION: &str = "queues.retention";

/// A queue's attributes by name (`RedrivePolicy`, `VisibilityTimeout`, …).
pub type Attributes = HashMap<String, String>;

fn seconds(attrs: &Attributes, name: &str) -> Option<u64> {
    attrs.get(name).and_then(|v| v.trim().parse().ok())
}

/// The redrive policy: `maxReceiveCount` must be the schedule's steps + 5 (PRODUCT.md §4) and
/// `deadLetterTargetArn` the DLQ's ARN. `schedule` is where the schedule came from and the
/// schedule itself.
pub fn redrive(retry: &Attributes, dlq_arn: &str, schedule: (&str, &RetrySchedule)) -> Finding {
    let (source, schedule) = schedule;
    let want = schedule.max_receive_count();
    let Some(policy) = retry.get("RedrivePolicy") else {
        return Finding::bad(
            REDRIVE,
            Status::Fail,
            "the retry queue has no redrive policy: a letter that keeps failing is received forever",
            format!(
                "set RedrivePolicy {{\"deadLetterTargetArn\":\"{dlq_arn}\",\"maxReceiveCount\":{want}}}"
            ),
        );
    };
    let parsed: Option<Value> = serde_json::from_str(policy).ok();
    let count = parsed
        .as_ref()
        .and_then(|p| p.get("maxReceiveCount"))
        .and_then(|c| {
            c.as_u64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        });
    let target = parsed
        .as_ref()
        .and_then(|p| p.get("deadLetterTargetArn"))
        .and_then(Value::as_str);
    let steps = schedule.len();
    match (count, target) {
        (Some(c), Some(t)) if c == want as u64 && t == dlq_arn => Finding::pass(
            REDRIVE,
            format!(
                "maxReceiveCount {c} = {steps} schedule steps ({source}) + 5; target is the DLQ"
            ),
        ),
        (Some(c), Some(t)) if t == dlq_arn => Finding::bad(
            REDRIVE,
            Status::Fail,
            format!("maxReceiveCount {c}, but {steps} schedule steps ({source}) + 5 = {want}"),
            format!(
                "set maxReceiveCount to {want} (redeploy with the same RetrySchedule), or fix \
                 RETRY_SCHEDULE"
            ),
        ),
        (_, Some(t)) if t != dlq_arn => Finding::bad(
            REDRIVE,
            Status::Fail,
            format!("redrive target is {t}, not the DLQ {dlq_arn}"),
            "point the retry queue's RedrivePolicy deadLetterTargetArn at the DLQ (DLQ_URL)",
        ),
        _ => Finding::bad(
            REDRIVE,
            Status::Fail,
            format!("the redrive policy is not readable: {policy}"),
            format!(
                "set RedrivePolicy {{\"deadLetterTargetArn\":\"{dlq_arn}\",\"maxReceiveCount\":{want}}}"
            ),
        ),
    }
}

/// The visibility timeout must be ≥ 6 × the function timeout + the batching window (AWS Lambda
/// developer guide, "Using Lambda with Amazon SQS": otherwise a message in flight reappears and
/// is processed twice, or counts receives towards the DLQ). `timeout` and `window` are (where
/// the value came from, seconds).
pub fn visibility(retry: &Attributes, timeout: (&str, u64), window: (&str, u64)) -> Finding {
    let ((t_source, function_timeout_s), (w_source, batching_window_s)) = (timeout, window);
    let want = 6 * function_timeout_s + batching_window_s;
    let sources = format!("timeout: {t_source}; window: {w_source}");
    match seconds(retry, "VisibilityTimeout") {
        Some(v) if v >= want => Finding::pass(
            VISIBILITY,
            format!(
                "VisibilityTimeout {v} s >= 6 x {function_timeout_s} s + {batching_window_s} s \
                 ({sources})"
            ),
        ),
        Some(v) => Finding::bad(
            VISIBILITY,
            Status::Fail,
            format!(
                "VisibilityTimeout {v} s < 6 x {function_timeout_s} s (function timeout) + \
                 {batching_window_s} s (batching window) = {want} s ({sources})"
            ),
            format!("set the retry queue's VisibilityTimeout to at least {want}"),
        ),
        None => Finding::bad(
            VISIBILITY,
            Status::Fail,
            "the retry queue reports no VisibilityTimeout",
            format!("set the retry queue's VisibilityTimeout to at least {want}"),
        ),
    }
}

/// The DLQ must keep a letter longer than the retry queue (else a redriven letter can expire in
/// the DLQ before the retry queue's own copy would have: SQS keeps the original enqueue time).
pub fn retention(retry: &Attributes, dlq: &Attributes) -> Finding {
    let r = seconds(retry, "MessageRetentionPeriod");
    let d = seconds(dlq, "MessageRetentionPeriod");
    match (r, d) {
        (Some(r), Some(d)) if d > r => {
            Finding::pass(RETENTION, format!("DLQ keeps {d} s > retry queue {r} s"))
        }
        (Some(r), Some(d)) => Finding::bad(
            RETENTION,
            Status::Fail,
            format!("DLQ keeps {d} s, not more than the retry queue's {r} s"),
            "set the DLQ's MessageRetentionPeriod above the retry queue's (template: 1209600, 14 days)",
        ),
        _ => Finding::bad(
            RETENTION,
            Status::Fail,
            "a queue reports no MessageRetentionPeriod",
            "set MessageRetentionPeriod on both queues (DLQ longer than the retry queue)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DLQ: &str = "arn:aws:sqs:us-east-1:123456789012:dlq";

    fn attrs(v: &[(&str, &str)]) -> Attributes {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn schedule(s: &str) -> RetrySchedule {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn redrive_needs_steps_plus_five_and_the_dlq() {
        let s = schedule("30s,2m,10m");
        let ok = attrs(&[(
            "RedrivePolicy",
            &format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":8}}"#),
        )]);
        assert_eq!(redrive(&ok, DLQ, ("local", &s)).status, Status::Pass);
        let as_string = attrs(&[(
            "RedrivePolicy",
            &format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":"8"}}"#),
        )]);
        assert_eq!(redrive(&as_string, DLQ, ("local", &s)).status, Status::Pass);
        let off_by_one = attrs(&[(
            "RedrivePolicy",
            &format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":7}}"#),
        )]);
        let f = redrive(&off_by_one, DLQ, ("local", &s));
        assert_eq!(f.status, Status::Fail);
        assert!(f.detail.contains("= 8"), "{}", f.detail);
        let elsewhere = attrs(&[(
            "RedrivePolicy",
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:other","maxReceiveCount":8}"#,
        )]);
        let f = redrive(&elsewhere, DLQ, ("local", &s));
        assert_eq!(f.status, Status::Fail);
        assert!(f.detail.contains("other"), "{}", f.detail);
        assert_eq!(
            redrive(&attrs(&[]), DLQ, ("local", &s)).status,
            Status::Fail
        );
        let junk = attrs(&[("RedrivePolicy", "{")]);
        assert_eq!(redrive(&junk, DLQ, ("local", &s)).status, Status::Fail);
    }

    #[test]
    fn visibility_covers_six_timeouts_and_the_window() {
        let v = |s: &str| attrs(&[("VisibilityTimeout", s)]);
        let t = ("deployed Timeout", 60);
        assert_eq!(visibility(&v("360"), t, ("w", 0)).status, Status::Pass);
        assert_eq!(visibility(&v("365"), t, ("w", 5)).status, Status::Pass);
        let f = visibility(&v("364"), t, ("the mapping's", 5));
        assert_eq!(f.status, Status::Fail);
        assert!(f.fix.as_deref().unwrap_or("").contains("365"));
        assert!(
            f.detail
                .contains("(timeout: deployed Timeout; window: the mapping's)"),
            "{}",
            f.detail
        );
        assert_eq!(visibility(&attrs(&[]), t, ("w", 0)).status, Status::Fail);
    }

    #[test]
    fn the_dlq_keeps_letters_longer() {
        let r = |s: &str| attrs(&[("MessageRetentionPeriod", s)]);
        assert_eq!(retention(&r("345600"), &r("1209600")).status, Status::Pass);
        assert_eq!(retention(&r("345600"), &r("345600")).status, Status::Fail);
        assert_eq!(retention(&r("1209600"), &r("345600")).status, Status::Fail);
        assert_eq!(retention(&attrs(&[]), &r("1")).status, Status::Fail);
    }
}
