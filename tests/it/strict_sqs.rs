//! What real SQS refuses and moto accepts, through the AWS-rules layer (infra/moto.sh): the
//! character set of message bodies (case C13) and the timer limits (case C20).

use crate::eventbridge_cases::sqs_via;
use crate::sqs_cases::drain_retry_queue;
use crate::support::*;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use wfm_relay_aws::queues::{QueueSettings, Queues};
use wfm_relay_aws::wfm::{WfmClient, WfmSettings};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::envelope::{EnvelopeV1, Reason, is_sqs_char};
use wfm_relay_core::event::parse_event;
use wfm_relay_core::timefmt::{format_rfc3339, parse_rfc3339};
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::fault_proxy::{Fault, FaultProxy};
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};
use wfm_relay_replayer::{Action, Replayer, Request};

/// The C13 event with its status message holding `ch` as raw UTF-8 (the file writes `\uffff`).
fn c13_input(ch: char) -> Vec<u8> {
    let mut event = case("C13")["event"].clone();
    event["detail"]["eventBody"]["message"] = json!(format!("Lunch {ch} back 13:30"));
    event["id"] = json!(format!("7f1c1a2e-0000-4000-8000-{:012x}", u32::from(ch)));
    let mut bytes = bytes_of(&event);
    if ch < ' ' {
        // serde_json escapes control characters: put the raw byte back (invalid JSON).
        let escaped = format!("\\u{:04x}", u32::from(ch));
        let text = String::from_utf8(bytes).expect("utf-8");
        bytes = text.replace(&escaped, &ch.to_string()).into_bytes();
    }
    let raw = ch.to_string();
    assert!(
        bytes.windows(raw.len()).any(|w| w == raw.as_bytes()),
        "the input holds the raw character"
    );
    bytes
}

/// Every message in `url`, each body checked against SQS's character set.
async fn take_checked(stack: &Stack, url: &str) -> Vec<EnvelopeV1> {
    stack
        .take_all(url)
        .await
        .into_iter()
        .map(|(body, env)| {
            assert!(body.chars().all(is_sqs_char), "body outside the SQS set");
            env
        })
        .collect()
}

fn event_bytes(env: &EnvelopeV1) -> Vec<u8> {
    env.event.clone().expect("inline event").into_bytes()
}

#[tokio::test]
async fn c13_uffff_and_ufffe_on_transient_are_queued_with_exact_bytes() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    // A first schedule step of 0 s: the queued messages are visible at once.
    let fwd = stack.forwarder(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "1"), ("RETRY_SCHEDULE", "0s,1s")],
    );
    let plain = c13_input('x');
    let inputs = [c13_input('\u{FFFF}'), c13_input('\u{FFFE}'), plain.clone()];
    for input in &inputs {
        let out = fwd.handle(input, deadline()).await.expect("handler Ok");
        // first_SendMessage_accepted: the layer refuses a raw U+FFFF, which would park it.
        assert_eq!(out, json!({"outcome": "queued"}));
    }
    let mut got: Vec<Vec<u8>> = take_checked(&stack, &stack.retry_url)
        .await
        .iter()
        .map(event_bytes)
        .collect();
    let mut want = inputs.to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want, "decoded_envelope_event_equals_the_input_bytes");
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
}

#[tokio::test]
async fn c13_uffff_on_permanent_is_parked_with_exact_bytes() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[400]).await;
    let fwd = stack.forwarder(&wfm.url(), &[]);
    let input = c13_input('\u{FFFF}');
    let out = fwd.handle(&input, deadline()).await.expect("handler Ok");
    assert_eq!(out["outcome"], json!("rejected"));
    let parked = take_checked(&stack, &stack.dlq_url).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].reason, Some(Reason::Rejected));
    assert_eq!(event_bytes(&parked[0]), input);
}

#[tokio::test]
async fn c13_raw_u0001_is_invalid_event_parked_with_exact_bytes() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(&wfm.url(), &[]);
    let input = c13_input('\u{1}');
    let out = fwd.handle(&input, deadline()).await.expect("handler Ok");
    assert_eq!(out, json!({"outcome": "invalid_event"}));
    assert!(wfm.requests().is_empty());
    let parked = take_checked(&stack, &stack.dlq_url).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].reason, Some(Reason::InvalidEvent));
    assert_eq!(event_bytes(&parked[0]), input);
}

#[tokio::test]
async fn c13_retry_queue_batch_with_schedule_exhausted_parks_both_exactly() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    // One schedule step: the first queued receive is the last.
    let fwd = stack.forwarder(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "1"), ("RETRY_SCHEDULE", "1s")],
    );
    let inputs = [c13_input('\u{FFFF}'), c13_input('y')];
    for input in &inputs {
        let out = fwd.handle(input, deadline()).await.expect("handler Ok");
        assert_eq!(out, json!({"outcome": "queued"}));
    }
    let report = drain_retry_queue(&stack, &fwd, 1).await;
    assert_eq!(report.listed, 0, "no failures listed");
    let parked = take_checked(&stack, &stack.dlq_url).await;
    assert_eq!(parked.len(), 2);
    let mut got: Vec<Vec<u8>> = parked.iter().map(event_bytes).collect();
    let mut want = inputs.to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want, "each decoded event equal to its input bytes");
    assert!(
        parked
            .iter()
            .all(|e| e.reason == Some(Reason::TransientExhausted))
    );
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
}

/// A forwarder whose SQS calls go through a recording [`FaultProxy`] in front of the layer.
async fn recorded(stack: &Stack, wfm_url: &str) -> (FaultProxy, Forwarder) {
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    let fwd = stack.forwarder_with_sqs(wfm_url, &[], sqs_via(&proxy.url()).await);
    (proxy, fwd)
}

/// The JSON bodies the proxy saw for `target`.
fn requests(proxy: &FaultProxy, target: &str) -> Vec<Value> {
    proxy
        .bodies(target)
        .iter()
        .map(|b| serde_json::from_slice(b).expect("JSON request"))
        .collect()
}

/// Every `DelaySeconds` sent through the proxy (SendMessage and each SendMessageBatch entry).
fn delays(proxy: &FaultProxy) -> Vec<i64> {
    let single = requests(proxy, "AmazonSQS.SendMessage")
        .into_iter()
        .map(|r| r["DelaySeconds"].as_i64().unwrap_or(0));
    let batch = requests(proxy, "AmazonSQS.SendMessageBatch")
        .into_iter()
        .flat_map(|r| r["Entries"].as_array().cloned().unwrap_or_default())
        .map(|e| e["DelaySeconds"].as_i64().unwrap_or(0));
    single.chain(batch).collect()
}

/// Sends `env` to the retry queue directly (as the forwarder's first enqueue would have).
async fn queue(stack: &Stack, env: &EnvelopeV1) -> String {
    stack
        .aws
        .sqs
        .send_message()
        .queue_url(&stack.retry_url)
        .message_body(env.to_json())
        .send()
        .await
        .expect("send")
        .message_id
        .expect("id")
}

fn c20_envelope() -> EnvelopeV1 {
    let raw = bytes_of(&case("C20")["event"]);
    let info = parse_event(&raw).expect("valid");
    EnvelopeV1::new(&raw, Some(&info))
}

fn at(s: &str) -> SystemTime {
    parse_rfc3339(s).expect("RFC 3339")
}

#[tokio::test]
async fn c20_a_retry_after_86400_on_a_queued_record_is_copied_with_not_before() {
    let case = case("C20");
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = ScriptedWfm::start(Script::Sequence(replies(&case["wfm_responses"])))
        .await
        .expect("wfm");
    let (proxy, fwd) = recorded(&stack, &wfm.url()).await;
    let original = c20_envelope();
    let id = queue(&stack, &original).await;
    let esm = stack.retry_esm().await;
    let before = SystemTime::now();
    let r = poll_with(&esm, &fwd).await;
    assert_eq!((r.received, r.deleted), (1, 1), "reported done");
    assert!(r.failed_ids.is_empty(), "{id} not listed");
    assert_eq!(wfm.requests().len(), 1);
    // no_ChangeMessageVisibility_beyond_the_limit: none was needed.
    assert!(requests(&proxy, "AmazonSQS.ChangeMessageVisibility").is_empty());
    // every_SendMessage_entry_DelaySeconds_between_0_and_900
    let d = delays(&proxy);
    assert_eq!(d, [900], "one copy, DelaySeconds <= 900");
    assert_eq!(stack.depth(&stack.retry_url).await, 1, "the copy, delayed");
    let sent = requests(&proxy, "AmazonSQS.SendMessage");
    let copy: EnvelopeV1 =
        serde_json::from_str(sent[0]["MessageBody"].as_str().expect("body")).expect("envelope");
    let nb = at(copy.not_before.as_deref().expect("not_before"));
    // Retry-After 86400 capped by RETRY_AFTER_CAP_S = 43200: never POSTed before that.
    assert!(
        nb >= before + Duration::from_secs(43_200),
        "not before WFM asked"
    );
    assert!(nb <= SystemTime::now() + Duration::from_secs(43_201));
    assert_eq!((copy.steps, copy.attempts), (1, 1), "history kept");
    assert_eq!((copy.last_status, copy.reason), (Some(503), None));
    assert_eq!(copy.event, original.event);
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
}

#[tokio::test]
async fn c20_b_not_before_13_h_away_is_copied_without_a_post() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let (proxy, fwd) = recorded(&stack, &wfm.url()).await;
    let mut original = c20_envelope();
    original.attempts = 3;
    let nb = format_rfc3339(SystemTime::now() + Duration::from_secs(13 * 3600));
    original.not_before = Some(nb.clone());
    queue(&stack, &original).await;
    let esm = stack.retry_esm().await;
    let r = poll_with(&esm, &fwd).await;
    assert_eq!((r.received, r.deleted), (1, 1));
    assert!(wfm.requests().is_empty(), "never POSTed before not_before");
    assert!(requests(&proxy, "AmazonSQS.ChangeMessageVisibility").is_empty());
    assert_eq!(delays(&proxy), [900]);
    let sent = requests(&proxy, "AmazonSQS.SendMessage");
    let copy: EnvelopeV1 =
        serde_json::from_str(sent[0]["MessageBody"].as_str().expect("body")).expect("envelope");
    assert_eq!(copy.not_before.as_deref(), Some(nb.as_str()));
    assert_eq!((copy.steps, copy.attempts), (1, 4));
    assert_eq!(stack.depth(&stack.retry_url).await, 1);
}

#[tokio::test]
async fn c20_a_short_wait_sets_a_visibility_within_the_limit() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = ScriptedWfm::start(Script::Sequence(vec![
        Reply::status(503).header("Retry-After", "600"),
    ]))
    .await
    .expect("wfm");
    let (proxy, fwd) = recorded(&stack, &wfm.url()).await;
    let id = queue(&stack, &c20_envelope()).await;
    let esm = stack.retry_esm().await;
    let r = poll_with(&esm, &fwd).await;
    assert_eq!(r.failed_ids, [id], "listed for its retry");
    let changes = requests(&proxy, "AmazonSQS.ChangeMessageVisibility");
    assert_eq!(changes.len(), 1);
    let v = changes[0]["VisibilityTimeout"].as_i64().expect("seconds");
    assert_eq!(v, 600);
    assert!(v <= 43_186);
    assert!(delays(&proxy).is_empty());
}

#[tokio::test]
async fn c20_c_redrive_keeps_not_before_and_delays_at_most_900() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    let mut letter = c20_envelope();
    letter.reason = Some(Reason::TransientExhausted);
    letter.attempts = 7;
    letter.steps = 4;
    let nb = format_rfc3339(SystemTime::now() + Duration::from_secs(30 * 60));
    letter.not_before = Some(nb.clone());
    stack
        .aws
        .sqs
        .send_message()
        .queue_url(&stack.dlq_url)
        .message_body(letter.to_json())
        .send()
        .await
        .expect("park");
    let env = stack.env(&wfm.url(), &[]);
    let cfg = ForwarderConfig::from_lookup(|k| env.get(k).cloned()).expect("config");
    let client = WfmClient::new(&WfmSettings::from(&cfg)).expect("client");
    let queues = Queues::new(
        sqs_via(&proxy.url()).await,
        stack.aws.s3.clone(),
        QueueSettings::from(&cfg),
    );
    let replayer = Replayer::new(cfg, client, queues);
    let rep = replayer
        .run(&Request::new(Action::Redrive), Some(deadline()), &|_| {})
        .await
        .expect("redrive");
    assert_eq!((rep.matched, rep.redriven), (1, 1));
    let d = delays(&proxy);
    assert!(
        !d.is_empty() && d.iter().all(|s| (0..=900).contains(s)),
        "{d:?}"
    );
    let moved = stack.take_all(&stack.retry_url).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].1.not_before.as_deref(), Some(nb.as_str()), "kept");
    assert_eq!((moved[0].1.steps, moved[0].1.reason), (0, None));
    assert_eq!(moved[0].1.attempts, 7);
    assert!(wfm.requests().is_empty());
}

#[tokio::test]
async fn c20_d_a_refused_visibility_change_leaves_the_record_listed() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    let (proxy, fwd) = recorded(&stack, &wfm.url()).await;
    proxy.set_fault(
        "AmazonSQS.ChangeMessageVisibility",
        Some(Fault::Respond {
            status: 400,
            body: json!({"__type": "com.amazonaws.sqs#InvalidParameterValue",
                "message": "Value 43200 for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]."})
            .to_string(),
            content_type: "application/x-amz-json-1.0".to_owned(),
        }),
    );
    let id = queue(&stack, &c20_envelope()).await;
    let esm = stack.retry_esm().await;
    let r = poll_with(&esm, &fwd).await;
    proxy.set_fault("AmazonSQS.ChangeMessageVisibility", None);
    assert_eq!(r.failed_ids, [id], "listed in batchItemFailures");
    assert_eq!(r.deleted, 0, "not lost");
    // D_exactly_the_one_injected_refusal
    assert_eq!(proxy.count("AmazonSQS.ChangeMessageVisibility"), 1);
    assert_eq!(stack.depth(&stack.dlq_url).await, 0, "not parked for that");
    assert_eq!(stack.depth(&stack.retry_url).await, 1, "still queued");
}
