//! The flow through the ports, with in-memory fakes (`memory.rs`): the paths moto cannot
//! produce (a queue that refuses, a failed visibility change, a claim check unreadable for now,
//! an unreadable batch) and the timing decisions, with a clock that only moves when slept on.

use crate::memory::Fakes;
use crate::{EventOutcome, Forwarder, HandlerError};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::envelope::{EnvelopeV1, Reason, S3Pointer};
use wfm_relay_core::event::parse_event;
use wfm_relay_core::timefmt::{format_rfc3339, parse_rfc3339};

const PRESENCE: &str = include_str!("../../../../tests/fixtures/genesys/presence-break.json");

/// One second after the fixture's `time`: young enough for every age guard.
fn start() -> SystemTime {
    parse_rfc3339("2025-03-04T09:15:03Z").expect("time")
}

fn forwarder(fakes: &Fakes, extra: &[(&str, &str)]) -> Forwarder {
    let mut env: HashMap<String, String> = [
        ("WFM_URL", "https://wfm.example.com/api/status/update"),
        (
            "RETRY_QUEUE_URL",
            "https://sqs.eu-west-1.amazonaws.com/1/retry",
        ),
        ("DLQ_URL", "https://sqs.eu-west-1.amazonaws.com/1/dlq"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let cfg = ForwarderConfig::from_lookup(|k| env.get(k).cloned()).expect("valid config");
    Forwarder::with_ports(cfg, fakes.ports())
}

fn deadline() -> SystemTime {
    start() + Duration::from_secs(60)
}

fn batch(records: &[(&str, &str)]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(id, body)| {
            serde_json::json!({
                "messageId": id, "receiptHandle": format!("rh-{id}"), "body": body,
                "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs",
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).expect("json")
}

fn envelope() -> EnvelopeV1 {
    let info = parse_event(PRESENCE.as_bytes()).expect("valid");
    EnvelopeV1::new(PRESENCE.as_bytes(), Some(&info))
}

fn listed(v: &serde_json::Value) -> Vec<String> {
    v["batchItemFailures"]
        .as_array()
        .expect("partial batch response")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn inline_retries_sleep_by_the_jitter_draw_then_a_refused_enqueue_parks() {
    let fakes = Fakes::at(start());
    for _ in 0..3 {
        fakes.wfm.answer(503, None);
    }
    fakes.retry.refuse_enqueue.store(true, Ordering::SeqCst);
    let fwd = forwarder(&fakes, &[]);
    let out = fwd
        .handle(PRESENCE.as_bytes(), deadline())
        .await
        .expect("parked");
    assert_eq!(out, serde_json::json!({"outcome": "transient_exhausted"}));
    // Full jitter with a draw of 0.5: half of 100 ms, then half of 200 ms; no sleep after the
    // last attempt.
    let slept = fakes.clock.slept.lock().expect("lock").clone();
    assert_eq!(
        slept,
        [Duration::from_millis(50), Duration::from_millis(100)]
    );
    let posts = fakes.wfm.posts();
    assert_eq!(
        posts.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let parked = fakes.parked();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].reason, Some(Reason::TransientExhausted));
    assert_eq!((parked[0].attempts, parked[0].last_status), (3, Some(503)));
    let why = parked[0].last_error.as_deref().expect("last_error");
    assert!(
        why.starts_with("HTTP 503; the retry queue refused it: SendMessage to retry failed"),
        "{why}"
    );
    assert!(fakes.enqueued().is_empty());
}

#[tokio::test]
async fn an_event_neither_queue_takes_fails_the_invocation() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(503, None);
    fakes.retry.refuse_enqueue.store(true, Ordering::SeqCst);
    fakes.dlq.refuse.store(true, Ordering::SeqCst);
    let fwd = forwarder(&fakes, &[("INLINE_ATTEMPTS", "1")]);
    let err = fwd
        .handle(PRESENCE.as_bytes(), deadline())
        .await
        .expect_err("in no queue");
    assert!(
        matches!(err, HandlerError::CannotPark { ref event_id, .. } if event_id == "7f0c1e52-0000-4000-8000-000000000101"),
        "{err}"
    );
}

#[tokio::test]
async fn a_retry_after_past_900_s_is_kept_as_not_before() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(503, Some("3600"));
    let fwd = forwarder(&fakes, &[]);
    let out = fwd
        .handle(PRESENCE.as_bytes(), deadline())
        .await
        .expect("queued");
    assert_eq!(out, serde_json::json!({"outcome": "queued"}));
    // The hint is longer than INLINE_MAX_WAIT_MS: no inline retry, no sleep.
    assert_eq!(fakes.wfm.posts().len(), 1);
    assert!(fakes.clock.slept.lock().expect("lock").is_empty());
    let q = fakes.enqueued();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].1, 900);
    let want = format_rfc3339(start() + Duration::from_secs(3600));
    assert_eq!(q[0].0.not_before.as_deref(), Some(want.as_str()));
    assert_eq!(q[0].0.reason, None);
    assert_eq!(EventOutcome::Queued.as_str(), "queued");
}

#[tokio::test]
async fn the_open_breaker_queues_without_a_post() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(503, None);
    fakes.wfm.answer(503, None);
    let fwd = forwarder(
        &fakes,
        &[("INLINE_ATTEMPTS", "1"), ("BREAKER_FAILURES", "2")],
    );
    for _ in 0..3 {
        let out = fwd
            .handle(PRESENCE.as_bytes(), deadline())
            .await
            .expect("queued");
        assert_eq!(out, serde_json::json!({"outcome": "queued"}));
    }
    assert_eq!(
        fakes.wfm.posts().len(),
        2,
        "the third event must not be POSTed"
    );
    let q = fakes.enqueued();
    assert_eq!(q[2].0.attempts, 0);
    assert_eq!(
        q[2].0.last_error.as_deref(),
        Some("not attempted: circuit breaker open (WFM failed 2 requests in a row)")
    );
    let (_, m) = fwd.handle_measured(PRESENCE.as_bytes(), deadline()).await;
    assert!(
        m.to_emf_json(0).contains("\"BreakerOpen\":1"),
        "{}",
        m.to_emf_json(0)
    );
}

#[tokio::test]
async fn a_failed_visibility_change_still_lists_the_record() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(503, None);
    fakes.retry.refuse_visibility.store(true, Ordering::SeqCst);
    let fwd = forwarder(&fakes, &[]);
    let body = envelope().to_json();
    let out = fwd
        .handle(&batch(&[("m-1", &body)]), deadline())
        .await
        .expect("batch");
    assert_eq!(listed(&out), ["m-1"]);
    assert!(fakes.parked().is_empty());
    assert_eq!(fakes.wfm.posts().len(), 1);
}

#[tokio::test]
async fn a_transient_answer_lists_the_record_with_the_next_step() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(503, None);
    let fwd = forwarder(&fakes, &[("RETRY_SCHEDULE", "30s,2m")]);
    let body = envelope().to_json();
    let out = fwd
        .handle(&batch(&[("m-1", &body)]), deadline())
        .await
        .expect("batch");
    assert_eq!(listed(&out), ["m-1"]);
    assert_eq!(fakes.visibility(), [("rh-m-1".to_owned(), 120)]);
}

#[tokio::test]
async fn a_claim_check_unreadable_for_now_is_listed_without_a_post() {
    let fakes = Fakes::at(start());
    fakes
        .retry
        .claim_check_unavailable
        .store(true, Ordering::SeqCst);
    let fwd = forwarder(&fakes, &[]);
    let mut env = envelope();
    env.event = None;
    env.event_s3 = Some(S3Pointer {
        bucket: "b".into(),
        key: "k.json".into(),
    });
    let body = env.to_json();
    let out = fwd
        .handle(&batch(&[("m-1", &body)]), deadline())
        .await
        .expect("batch");
    assert_eq!(listed(&out), ["m-1"]);
    assert!(fakes.wfm.posts().is_empty());
    assert!(fakes.parked().is_empty());
    // Gone for good: parked with its pointer, not listed.
    fakes
        .retry
        .claim_check_unavailable
        .store(false, Ordering::SeqCst);
    let out = fwd
        .handle(&batch(&[("m-1", &body)]), deadline())
        .await
        .expect("batch");
    assert!(listed(&out).is_empty());
    let parked = fakes.parked();
    assert_eq!(parked[0].reason, Some(Reason::InvalidEvent));
    assert_eq!(parked[0].event_s3, env.event_s3);
}

#[tokio::test]
async fn a_record_the_dlq_refuses_stays_listed() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(400, None);
    fakes.dlq.refuse.store(true, Ordering::SeqCst);
    let fwd = forwarder(&fakes, &[]);
    let body = envelope().to_json();
    let out = fwd
        .handle(&batch(&[("m-1", &body), ("m-2", "not json")]), deadline())
        .await
        .expect("batch");
    let mut ids = listed(&out);
    ids.sort();
    assert_eq!(ids, ["m-1", "m-2"]);
}

#[tokio::test]
async fn an_envelope_without_event_is_parked_as_invalid() {
    let fakes = Fakes::at(start());
    let fwd = forwarder(&fakes, &[]);
    let out = fwd
        .handle(&batch(&[("m-1", r#"{"v":1,"attempts":2}"#)]), deadline())
        .await
        .expect("batch");
    assert!(listed(&out).is_empty());
    assert!(fakes.wfm.posts().is_empty());
    let parked = fakes.parked();
    assert_eq!(parked[0].reason, Some(Reason::InvalidEvent));
    assert_eq!(
        parked[0].last_error.as_deref(),
        Some("envelope has neither `event` nor `event_s3`")
    );
}

#[tokio::test]
async fn an_unreadable_batch_fails_the_invocation() {
    let fakes = Fakes::at(start());
    let fwd = forwarder(&fakes, &[]);
    // `Records` twice: read as an SQS batch, but not readable as one. "No failures" would let
    // the event source mapping delete every record.
    let record = r#"{"messageId":"m-1","body":"{}","eventSource":"aws:sqs"}"#;
    let payload = format!(r#"{{"Records":[{record}],"Records":[{record}]}}"#);
    let err = fwd
        .handle(payload.as_bytes(), deadline())
        .await
        .expect_err("unreadable");
    assert!(matches!(err, HandlerError::UnreadableBatch { .. }), "{err}");
    assert!(fakes.parked().is_empty() && fakes.wfm.posts().is_empty());
}

#[test]
fn a_response_that_cannot_be_written_is_an_error() {
    struct Unwritable;
    impl serde::Serialize for Unwritable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no"))
        }
    }
    let err = crate::sqs::response_json(&Unwritable).expect_err("unwritable");
    assert!(
        matches!(err, HandlerError::Response { ref message } if message == "no"),
        "{err}"
    );
    let ok = crate::sqs::response_json(&aws_lambda_events::sqs::SqsBatchResponse::default());
    assert_eq!(
        ok.expect("ok"),
        serde_json::json!({"batchItemFailures": []})
    );
}

#[test]
fn raw_value_survives_the_runtime_deserializer() {
    // lambda_runtime deserialises payloads through serde_path_to_error; a Box<RawValue>
    // must come out byte for byte, lone surrogate escapes included (case C14).
    let src = br#"{"a": "On a break \ud83d", "b": [1, 2]}"#;
    let jd = &mut serde_json::Deserializer::from_slice(src);
    let raw: Box<serde_json::value::RawValue> = serde_path_to_error::deserialize(jd).expect("raw");
    assert_eq!(raw.get().as_bytes(), src);
}

mod hold;
