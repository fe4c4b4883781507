//! The SQS entry of the forwarder (the retry queue's consumer, partial batch response): cases
//! C04 and C05, the retry schedule run to exhaustion, and the `not_before` wait.

use crate::support::*;
use serde_json::json;
use std::time::Duration;
use wfm_relay_core::envelope::Reason;
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};

/// What [`drain_retry_queue`] saw.
#[derive(Debug, Default)]
pub struct DrainReport {
    pub batches: usize,
    pub delivered_posts: usize,
    pub listed: usize,
}

/// Plays Lambda's SQS event source mapping against the retry queue until it has been empty for
/// 3 s or `min_batches` batches ran and it is empty.
pub async fn drain_retry_queue(stack: &Stack, fwd: &Forwarder, min_batches: usize) -> DrainReport {
    let esm = stack.retry_esm().await;
    let mut report = DrainReport::default();
    let mut idle = 0;
    for _ in 0..120 {
        let r = poll_with(&esm, fwd).await;
        if r.received == 0 {
            idle += 1;
            if stack.depth(&stack.retry_url).await == 0 && report.batches >= min_batches {
                break;
            }
            if idle >= 30 {
                break;
            }
            continue;
        }
        idle = 0;
        report.batches += 1;
        report.delivered_posts += r.deleted;
        report.listed += r.failed_ids.len();
    }
    report
}

fn sqs_event(case: &serde_json::Value) -> Vec<u8> {
    bytes_of(&case["event"])
}

#[tokio::test]
async fn c04_one_bad_body_does_not_poison_the_batch() {
    let case = case("C04");
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(&wfm.url(), &[]);
    let resp = fwd
        .handle(&sqs_event(&case), deadline())
        .await
        .expect("handler_returns_err false");
    assert_eq!(resp, case["expect"]["response"]);
    let posted: Vec<String> = wfm
        .requests()
        .iter()
        .map(|r| r.header("x-event-id").unwrap_or("").to_owned())
        .collect();
    let mut want: Vec<String> = case["expect"]["posted_event_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    let mut got = posted.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "wfm posts");
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 1);
    let bad = case["event"]["Records"][1]["body"].as_str().expect("body");
    assert_eq!(
        parked[0].1.event.as_deref(),
        Some(bad),
        "preserved_copy_body_equals_input"
    );
    assert_eq!(parked[0].1.reason, Some(Reason::InvalidEvent));
}

#[tokio::test]
async fn c05_partial_batch_response_lists_exactly_the_failed_message_id() {
    let case = case("C05");
    let stack = Stack::create(StackOptions::default()).await;
    let mut by_event_id = std::collections::HashMap::new();
    for (id, list) in case["wfm_responses_by_event_id"].as_object().expect("map") {
        by_event_id.insert(id.clone(), replies(list));
    }
    let wfm = ScriptedWfm::start(Script::PerEvent {
        by_event_id,
        default: vec![Reply::status(500)],
    })
    .await
    .expect("wfm");
    let fwd = stack.forwarder(&wfm.url(), &[]);
    let resp = fwd
        .handle(&sqs_event(&case), deadline())
        .await
        .expect("Ok, not Err");
    // Exact JSON, camelCase keys, the SQS messageId (not receipt handle, not the event id).
    assert_eq!(
        resp.to_string(),
        case["expect"]["response_json_exact"].to_string()
    );
    assert_eq!(wfm.requests().len(), 2);
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);

    // All records succeed -> exactly {"batchItemFailures": []}.
    wfm.set_script(Script::Sequence(vec![Reply::status(200)]));
    let resp = fwd.handle(&sqs_event(&case), deadline()).await.expect("ok");
    assert_eq!(resp.to_string(), r#"{"batchItemFailures":[]}"#);
}

#[tokio::test]
async fn retry_schedule_runs_out_into_the_dlq_with_history() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    let fwd = stack.forwarder(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "2"), ("RETRY_SCHEDULE", "1s,1s,1s")],
    );
    let event = fixture("presence-break.json");
    assert_eq!(
        fwd.handle(&event, deadline()).await.expect("ok"),
        json!({"outcome": "queued"})
    );
    let report = drain_retry_queue(&stack, &fwd, 3).await;
    assert_eq!(
        report.listed, 2,
        "receives 1 and 2 are listed, receive 3 exhausts the schedule"
    );
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 1);
    let env = &parked[0].1;
    assert_eq!(env.reason, Some(Reason::TransientExhausted));
    assert_eq!(env.last_status, Some(503));
    assert_eq!(env.attempts, 5, "2 inline + 3 queued");
    assert_eq!(
        env.event.as_deref().map(str::as_bytes),
        Some(event.as_slice())
    );
    let attempts: Vec<_> = wfm
        .requests()
        .iter()
        .map(|r| r.header("x-attempt").unwrap_or("").to_owned())
        .collect();
    assert_eq!(attempts, ["1", "2", "3", "4", "5"]);
    assert!(env.first_attempt_at.is_some() && env.last_attempt_at.is_some());
}

#[tokio::test]
async fn raw_eventbridge_event_in_the_retry_queue_is_attempt_zero() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(&wfm.url(), &[]);
    let event = String::from_utf8(fixture("activity.json")).expect("utf8");
    stack.send_raw(&stack.retry_url, &event).await;
    let report = drain_retry_queue(&stack, &fwd, 1).await;
    assert_eq!(report.delivered_posts, 1);
    let posts = wfm.requests();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header("x-attempt"), Some("1"));
    assert_eq!(posts[0].body, event.as_bytes());
    assert_eq!(
        posts[0].header("x-event-time"),
        Some("2025-03-04T09:45:11.300Z")
    );
}

#[tokio::test]
async fn not_before_waits_without_a_post() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[429]).await;
    let fwd = stack.forwarder(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "1"), ("RETRY_SCHEDULE", "1s")],
    );
    let event = fixture("routing-status-idle.json");
    // Retry-After of 1 h: the message is sent with the longest delay SQS allows (900 s) and a
    // not_before; here it is put back visible at once to play a receive before that time.
    let info = wfm_relay_core::event::parse_event(&event).expect("valid");
    let mut env = wfm_relay_core::envelope::EnvelopeV1::new(&event, Some(&info));
    env.attempts = 1;
    env.not_before = Some(wfm_relay_core::timefmt::format_rfc3339(
        std::time::SystemTime::now() + Duration::from_secs(3600),
    ));
    stack.send_raw(&stack.retry_url, &env.to_json()).await;
    let esm = stack.retry_esm().await;
    let r = poll_with(&esm, &fwd).await;
    assert_eq!(r.received, 1);
    assert_eq!(r.failed_ids.len(), 1, "listed, to come back later");
    assert!(wfm.requests().is_empty(), "no POST before not_before");
    // Its visibility timeout now runs to not_before: it is not received again now.
    assert!(stack.nothing_visible(&stack.retry_url).await);
    assert_eq!(stack.depth(&stack.retry_url).await, 1);
}
