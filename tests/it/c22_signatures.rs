//! Case C22: a Standard Webhooks signature per attempt. Every POST — the inline one of the
//! EventBridge entry, the one from the retry queue (SQS entry), the replayer's, and each of them
//! for a claim-checked event — carries a `webhook-timestamp` taken at that send and a signature
//! over exactly the bytes sent (`WFM_BODY=detail`: the raw `detail` member of the input, its
//! escapes and spacing kept). The reference verifier (`standardwebhooks`, default 5-minute
//! tolerance) checks every recorded request; attempts 1 and 2 are 10 s apart (the compressed
//! schedule's first step), so a timestamp taken once before the retries would be 10 s off at
//! attempt 2, and the test asserts each is within 5 s of its own send. Through the AWS-rules
//! layer (`infra/test.sh`).

use crate::signing::reference_verify;
use crate::support::*;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, Instant, UNIX_EPOCH};
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::wfm_server::{Recorded, ScriptedWfm};
use wfm_relay_replayer::{Action, Request};

/// The case's event, as the bytes of the file (escapes, key order and spacing kept).
fn event() -> Vec<u8> {
    case_raw_member("C22", "event")
}

/// The raw bytes of the `detail` member of `event`.
fn raw_detail(event: &[u8]) -> Vec<u8> {
    let map: HashMap<String, Box<RawValue>> = serde_json::from_slice(event).expect("event object");
    map["detail"].get().as_bytes().to_vec()
}

/// The case's event with its status message padded by `pad` bytes (ASCII), everything else kept.
fn padded_event(pad: usize) -> Vec<u8> {
    let text = String::from_utf8(event()).expect("UTF-8");
    let message = r#""Pausa café ☕ \u00e9""#;
    assert!(text.contains(message), "the case's message");
    let longer = format!(r#""Pausa café ☕ \u00e9 {}""#, "pad.".repeat(pad / 4));
    text.replacen(message, &longer, 1).into_bytes()
}

/// The case's environment: `WFM_BODY=detail`, its secret, one inline attempt and `schedule`.
fn env(case: &serde_json::Value, schedule: &'static str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = case["env"]
        .as_object()
        .expect("env")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("text").to_owned()))
        .collect();
    env.push(("INLINE_ATTEMPTS".into(), "1".into()));
    env.push(("RETRY_SCHEDULE".into(), schedule.into()));
    env
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Polls the retry queue with the forwarder until WFM has recorded `n` requests (60 s at most).
async fn poll_until(stack: &Stack, fwd: &Forwarder, wfm: &ScriptedWfm, n: usize) {
    let esm = stack.retry_esm().await;
    let until = Instant::now() + Duration::from_secs(60);
    while wfm.requests().len() < n {
        assert!(
            Instant::now() < until,
            "WFM saw {} of {n} requests within 60 s",
            wfm.requests().len()
        );
        poll_with(&esm, fwd).await;
    }
}

/// The checks of C22's `expect` on one request, `body` being what the input's `detail` holds.
fn assert_signed_send(secret: &str, req: &Recorded, detail: &[u8]) {
    let sent_at = req
        .at
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let ts: u64 = req
        .header("webhook-timestamp")
        .expect("webhook-timestamp")
        .parse()
        .expect("integer seconds");
    assert!(
        ts.abs_diff(sent_at) <= 5,
        "webhook_timestamp_within_5_s_of_each_send: {ts} vs {sent_at}"
    );
    assert_eq!(
        req.header("webhook-id"),
        req.header("idempotency-key"),
        "webhook_id_equals_Idempotency_Key_on_every_attempt"
    );
    assert!(req.header("webhook-id").is_some_and(|id| id.len() == 64));
    assert_eq!(
        Sha256::digest(&req.body),
        Sha256::digest(detail),
        "sha256_of_body_sent_equals_sha256_of_the_raw_detail_member_of_the_input"
    );
    reference_verify(secret, req, &req.body)
        .expect("reference_verifier_accepts_every_attempt_with_default_tolerance");
}

/// Attempt numbers, timestamps and checks of every request WFM recorded.
fn assert_every_attempt(secret: &str, reqs: &[Recorded], detail: &[u8]) -> Vec<u64> {
    let mut stamps = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.header("x-attempt"), Some((i + 1).to_string().as_str()));
        assert_signed_send(secret, r, detail);
        stamps.push(
            r.header("webhook-timestamp")
                .and_then(|t| t.parse().ok())
                .expect("timestamp"),
        );
    }
    stamps
}

/// Sets `MaximumMessageSize` of the stack's DLQ (the retry queue's is a [`StackOptions`] field).
async fn set_dlq_max(stack: &Stack, bytes: u32) {
    stack
        .aws
        .sqs
        .set_queue_attributes()
        .queue_url(&stack.dlq_url)
        .attributes(QueueAttributeName::MaximumMessageSize, bytes.to_string())
        .send()
        .await
        .expect("set MaximumMessageSize");
}

fn claim_checks(keys: &[String]) -> usize {
    keys.iter().filter(|k| k.contains("/claim-checks/")).count()
}

/// Variant A: 503 inline at T0, 200 from the retry queue one (compressed) step later.
#[tokio::test]
async fn c22_a_inline_and_retry_queue_attempts_are_signed_at_each_send() {
    let case = case("C22");
    let secret = case["env"]["WFM_SIGNING_SECRETS"].as_str().expect("secret");
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503, 200]).await;
    let env = env(&case, "10s,10s");
    let fwd = stack.forwarder(&wfm.url(), &pairs(&env));
    let event = event();
    let out = fwd.handle(&event, deadline()).await.expect("handled");
    assert_eq!(out, serde_json::json!({"outcome": "queued"}));
    poll_until(&stack, &fwd, &wfm, 2).await;

    let reqs = wfm.requests();
    assert_eq!(
        reqs.len(),
        2,
        "one inline attempt, one from the retry queue"
    );
    assert_eq!(reqs[1].answered, Some(200));
    let stamps = assert_every_attempt(secret, &reqs, &raw_detail(&event));
    assert!(
        stamps[1] >= stamps[0] + 9,
        "attempt 2 is signed at its own send, a step later: {stamps:?}"
    );
    assert_eq!(stack.depth(&stack.retry_url).await, 0, "delivered");
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
}

/// Variant B: the schedule runs out (503 inline and from the queue), the event is parked, and a
/// replay later gets 200.
#[tokio::test]
async fn c22_b_replay_after_the_schedule_ran_out_is_signed_at_its_send() {
    let case = case("C22");
    let secret = case["env"]["WFM_SIGNING_SECRETS"].as_str().expect("secret");
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503, 503, 200]).await;
    let env = env(&case, "10s");
    let fwd = stack.forwarder(&wfm.url(), &pairs(&env));
    let event = event();
    fwd.handle(&event, deadline()).await.expect("handled");
    poll_until(&stack, &fwd, &wfm, 2).await;
    assert_eq!(stack.depth(&stack.dlq_url).await, 1, "parked");

    let r = stack.replayer(&wfm.url(), &pairs(&env));
    let rep = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("replay");
    assert_eq!((rep.matched, rep.delivered), (1, 1), "{rep:?}");
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].header("x-replay"), Some("true"));
    let stamps = assert_every_attempt(secret, &reqs, &raw_detail(&event));
    assert!(stamps[1] >= stamps[0] + 9, "{stamps:?}");
    assert!(stamps[2] >= stamps[1], "{stamps:?}");
    assert_eq!(stack.depth(&stack.dlq_url).await, 0, "replayed");
}

/// Variant C: the same event padded above both queues' `MaximumMessageSize` (1,024 bytes here):
/// queued and parked through the claim check, and every attempt — inline, from the queue,
/// replayed — passes the same checks.
#[tokio::test]
async fn c22_c_claim_checked_event_passes_the_same_checks() {
    let case = case("C22");
    let secret = case["env"]["WFM_SIGNING_SECRETS"].as_str().expect("secret");
    let stack = Stack::create(StackOptions {
        retry_max_bytes: Some(1024),
        ..StackOptions::default()
    })
    .await;
    set_dlq_max(&stack, 1024).await;
    let wfm = wfm(&[503, 503, 200]).await;
    let env = env(&case, "10s");
    let fwd = stack.forwarder(&wfm.url(), &pairs(&env));
    let event = padded_event(4000);
    assert!(event.len() > 4000);
    let out = fwd.handle(&event, deadline()).await.expect("handled");
    assert_eq!(out, serde_json::json!({"outcome": "queued"}));
    assert_eq!(claim_checks(&stack.object_keys().await), 1, "queued via S3");
    poll_until(&stack, &fwd, &wfm, 2).await;
    assert_eq!(stack.depth(&stack.dlq_url).await, 1, "parked");
    // The letter keeps the retry-queue message's pointer: the same object, no second copy.
    assert_eq!(claim_checks(&stack.object_keys().await), 1);
    let r = stack.replayer(&wfm.url(), &pairs(&env));
    let peek = run_request(&r, &Request::new(Action::Peek))
        .await
        .expect("peek");
    assert_eq!(peek.letters.len(), 1);
    let parked = &peek.letters[0].letter;
    assert!(
        parked.event.is_none() && parked.event_s3.is_some(),
        "parked via S3"
    );

    let rep = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("replay");
    assert_eq!((rep.matched, rep.delivered), (1, 1), "{rep:?}");
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 3);
    let detail = raw_detail(&event);
    let stamps = assert_every_attempt(secret, &reqs, &detail);
    assert!(stamps[1] >= stamps[0] + 9, "{stamps:?}");
    assert!(
        case["expect"]["claim_check_variant_passes_the_same_checks"]
            .as_bool()
            .expect("flag")
    );
}
