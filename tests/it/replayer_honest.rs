//! The replayer's honest deletes (case C18) through the AWS-rules layer: a dead letter whose
//! delete fails after its 2xx is counted `delivered_not_deleted`, never `delivered`; a failed
//! batch entry is retried; the run goes on and every report satisfies PRODUCT.md §6's identity.
//! Time is compressed as the case allows: DLQ visibility 3 s, WFM 0.8 s per POST, so a receive
//! with the queue's default visibility would see its handles expire within the page.

use crate::eventbridge_cases::sqs_via;
use crate::support::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wfm_relay_aws::queues::{QueueSettings, Queues};
use wfm_relay_aws::wfm::{WfmClient, WfmSettings};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_local::fault_proxy::{Fault, FaultProxy};
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};
use wfm_relay_replayer::{Action, Mode, Replayer, Request};

/// The event ids of C18's ten dead letters, in order (`…300` to `…309`).
fn c18_ids() -> Vec<String> {
    (0..10)
        .map(|i| format!("7f1c1a2e-0000-4000-8000-{:012}", 300 + i))
        .collect()
}

/// C18's ten raw EventBridge events: the sample's pattern, each with its own id and state time.
fn c18_events(case: &Value) -> Vec<String> {
    let sample: Value = serde_json::from_str(
        case["dlq_state_sample"][0]["body"]
            .as_str()
            .expect("sample body"),
    )
    .expect("sample event");
    c18_ids()
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let mut e = sample.clone();
            let t = format!("2026-03-02T09:3{i}:00.000Z");
            e["id"] = json!(id);
            e["time"] = json!(format!("2026-03-02T09:3{i}:00Z"));
            e["detail"]["eventBody"]["modifiedDate"] = json!(t);
            e["detail"]["timestamp"] = json!(t);
            e.to_string()
        })
        .collect()
}

/// A stack whose DLQ holds C18's ten events, its visibility scaled down to 3 s.
async fn c18_stack(case: &Value) -> Stack {
    let stack = Stack::create(StackOptions::default()).await;
    stack
        .aws
        .sqs
        .set_queue_attributes()
        .queue_url(&stack.dlq_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "3",
        )
        .send()
        .await
        .expect("DLQ visibility");
    assert_eq!(case["env"]["dlq_VisibilityTimeout_s"], 30, "scaled 10:1");
    for body in c18_events(case) {
        stack
            .aws
            .sqs
            .send_message()
            .queue_url(&stack.dlq_url)
            .message_body(body)
            .send()
            .await
            .expect("dead letter");
    }
    stack
}

/// WFM: 0.8 s per POST, 200, except the 4th message which gets 503 on every POST.
async fn c18_wfm() -> ScriptedWfm {
    let slow = |s| Reply::status(s).delay(Duration::from_millis(800));
    let by_event_id = HashMap::from([(c18_ids()[3].clone(), vec![slow(503)])]);
    ScriptedWfm::start(Script::PerEvent {
        by_event_id,
        default: vec![slow(200)],
    })
    .await
    .expect("WFM server")
}

/// A replayer whose SQS calls go through `proxy` (in front of the AWS-rules layer).
async fn replayer_via(stack: &Stack, wfm_url: &str, proxy: &FaultProxy) -> Replayer {
    let env = stack.env(wfm_url, &[]);
    let cfg = ForwarderConfig::from_lookup(|k| env.get(k).cloned()).expect("valid config");
    let wfm = WfmClient::new(&WfmSettings::from(&cfg)).expect("client");
    let queues = Queues::new(
        sqs_via(&proxy.url()).await,
        stack.aws.s3.clone(),
        QueueSettings::from(&cfg),
    );
    Replayer::new(cfg, wfm, queues)
}

/// The bodies left in the DLQ (received with a short visibility, then released).
async fn dlq_bodies(stack: &Stack) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let r = stack
            .aws
            .sqs
            .receive_message()
            .queue_url(&stack.dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .send()
            .await
            .expect("receive");
        let msgs = r.messages.unwrap_or_default();
        if msgs.is_empty() {
            break;
        }
        bodies.extend(msgs.into_iter().filter_map(|m| m.body));
    }
    bodies
}

/// Which of C18's event ids a body carries (raw event or envelope).
fn ids_in(bodies: &[String]) -> HashSet<String> {
    c18_ids()
        .into_iter()
        .filter(|id| bodies.iter().any(|b| b.contains(id.as_str())))
        .collect()
}

/// A DeleteMessageBatch request without the entries `drop` selects, and the rewrite of its
/// answer that lists them in `Failed` with `code` (SQS's per-entry failure inside an HTTP 200).
fn fail_entries(
    request: &[u8],
    drop: impl Fn(&Value) -> bool,
    code: &'static str,
) -> Option<Fault> {
    let mut req: Value = serde_json::from_slice(request).ok()?;
    let entries = req["Entries"].as_array()?.clone();
    let (failed, kept): (Vec<Value>, Vec<Value>) = entries.into_iter().partition(|e| drop(e));
    if failed.is_empty() {
        return None;
    }
    let ids: Vec<String> = failed
        .iter()
        .filter_map(|e| e["Id"].as_str().map(str::to_owned))
        .collect();
    req["Entries"] = json!(kept);
    let answer = move |body: &[u8]| {
        let mut out: Value = serde_json::from_slice(body).unwrap_or_else(|_| json!({}));
        if out.get("Successful").is_none() {
            out["Successful"] = json!([]);
        }
        let failed: Vec<Value> = ids
            .iter()
            .map(|id| {
                json!({"Id": id, "SenderFault": code == "ReceiptHandleIsInvalid", "Code": code,
                    "Message": "injected"})
            })
            .collect();
        out["Failed"] = json!(failed);
        out.to_string().into_bytes()
    };
    if kept.is_empty() {
        // SQS refuses an empty batch; answer the failures without calling it.
        return Some(Fault::Respond {
            status: 200,
            body: String::from_utf8_lossy(&answer(b"{}")).into_owned(),
            content_type: "application/x-amz-json-1.0".into(),
        });
    }
    Some(Fault::Forward {
        body: serde_json::to_vec(&req).ok()?,
        rewrite: Some(Arc::new(answer)),
    })
}

fn c18_request() -> Request {
    Request {
        mode: Mode::History,
        concurrency: Some(1),
        ..Request::new(Action::Replay)
    }
}

#[tokio::test]
async fn c18_a_expired_handle_on_one_delete_is_delivered_not_deleted_and_the_run_goes_on() {
    let case = case("C18");
    assert_eq!(case["replay_invocation"]["concurrency"], 1);
    let stack = c18_stack(&case).await;
    let wfm = c18_wfm().await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    // The 6th message's receipt handle, learnt from the ReceiveMessage answers; every delete
    // with it is refused as expired (an expired handle never becomes valid again).
    let sixth = c18_ids()[5].clone();
    let handle6: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = handle6.clone();
    proxy.set_fault(
        "AmazonSQS.ReceiveMessage",
        Some(Fault::Rewrite(Arc::new(move |body: &[u8]| {
            if let Ok(v) = serde_json::from_slice::<Value>(body) {
                for m in v["Messages"].as_array().into_iter().flatten() {
                    if m["Body"]
                        .as_str()
                        .is_some_and(|b| b.contains(sixth.as_str()))
                    {
                        *seen.lock().expect("lock") =
                            m["ReceiptHandle"].as_str().map(str::to_owned);
                    }
                }
            }
            body.to_vec()
        }))),
    );
    let expired = handle6.clone();
    proxy.set_fault(
        "AmazonSQS.DeleteMessageBatch",
        Some(Fault::Decide(Arc::new(move |req: &[u8]| {
            let h = expired.lock().expect("lock").clone()?;
            fail_entries(
                req,
                |e| e["ReceiptHandle"] == h.as_str(),
                "ReceiptHandleIsInvalid",
            )
        }))),
    );
    let r = replayer_via(&stack, &wfm.url(), &proxy).await;
    let rep = run_request(&r, &c18_request())
        .await
        .expect("the action reports");
    assert_eq!(rep.matched, 10, "{rep:?}");
    assert_eq!(
        (rep.delivered, rep.delivered_not_deleted, rep.failed),
        (8, 1, 1),
        "ReceiptHandleIsInvalid_on_delete: delivered, not deleted (may replay again): {rep:?}"
    );
    assert!(
        handle6.lock().expect("lock").is_some(),
        "the 6th was received"
    );
    let deletes_of_6 = proxy
        .bodies("AmazonSQS.DeleteMessageBatch")
        .iter()
        .filter(|b| {
            let h = handle6.lock().expect("lock").clone().unwrap_or_default();
            String::from_utf8_lossy(b).contains(&h)
        })
        .count();
    assert_eq!(deletes_of_6, 2, "the failed delete is retried once");
    // The run went on: every letter was POSTed once.
    let posted: Vec<String> = wfm
        .requests()
        .iter()
        .filter_map(|p| p.header("x-event-id").map(str::to_owned))
        .collect();
    assert_eq!(posted.len(), 10, "{posted:?}");
    assert_eq!(posted.iter().collect::<HashSet<_>>().len(), 10);
    assert_eq!(rep.remaining, Some(2), "message 4 and message 6");
    assert_eq!(
        stack.depth(&stack.dlq_url).await,
        2,
        "no message deleted unless its POST returned 2xx"
    );
    // Message 6 stays hidden until the replayer's hold ends; message 4 is visible again.
    assert_eq!(
        ids_in(&dlq_bodies(&stack).await),
        HashSet::from([c18_ids()[3].clone()]),
        "message_4_still_in_dlq"
    );
}

#[tokio::test]
async fn c18_b_a_failed_entry_of_a_delete_batch_is_retried_not_counted_removed() {
    let case = case("C18");
    assert_eq!(
        case["delete_batch_variant_response"]["Failed"][0]["Id"],
        "1"
    );
    let stack = c18_stack(&case).await;
    let wfm = c18_wfm().await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    // The first DeleteMessageBatch with 2 or more entries: its second entry (Id 1) fails.
    let done = Arc::new(Mutex::new(false));
    let failed_handle: Arc<Mutex<Option<String>>> = Arc::default();
    let (once, noted) = (done.clone(), failed_handle.clone());
    proxy.set_fault(
        "AmazonSQS.DeleteMessageBatch",
        Some(Fault::Decide(Arc::new(move |req: &[u8]| {
            let v: Value = serde_json::from_slice(req).ok()?;
            let mut first = once.lock().expect("lock");
            if *first || v["Entries"].as_array().is_none_or(|e| e.len() < 2) {
                return None;
            }
            *first = true;
            *noted.lock().expect("lock") =
                v["Entries"][1]["ReceiptHandle"].as_str().map(str::to_owned);
            fail_entries(req, |e| e["Id"] == "1", "InternalError")
        }))),
    );
    let r = replayer_via(&stack, &wfm.url(), &proxy).await;
    let rep = run_request(&r, &c18_request())
        .await
        .expect("the action reports");
    assert!(
        *done.lock().expect("lock"),
        "a batch of 2 or more was faulted"
    );
    assert_eq!(
        (
            rep.matched,
            rep.delivered,
            rep.delivered_not_deleted,
            rep.failed
        ),
        (10, 9, 0, 1),
        "entry Id 1 is retried and deleted then: {rep:?}"
    );
    let h = failed_handle.lock().expect("lock").clone().expect("noted");
    let tries = proxy
        .bodies("AmazonSQS.DeleteMessageBatch")
        .iter()
        .filter(|b| String::from_utf8_lossy(b).contains(&h))
        .count();
    assert_eq!(tries, 2, "the failed entry is sent again");
    assert_eq!(rep.remaining, Some(1));
    assert_eq!(
        ids_in(&dlq_bodies(&stack).await),
        HashSet::from([c18_ids()[3].clone()]),
        "only message 4 stays (with its history)"
    );
}

#[tokio::test]
async fn c21_redrive_keeps_history_x_attempt_continues_from_the_dead_letter() {
    let case = case("C21");
    let event = bytes_of(&case["event"]);
    let history = &case["dead_letter_history"];
    let info = wfm_relay_core::event::parse_event(&event).expect("event");
    let mut env = wfm_relay_core::envelope::EnvelopeV1::new(&event, Some(&info));
    env.attempts = history["attempts"].as_u64().expect("attempts") as u32;
    env.reason = Some(wfm_relay_core::envelope::Reason::TransientExhausted);
    env.last_status = Some(history["last_status"].as_u64().expect("status") as u16);
    env.first_attempt_at = history["first_attempt_at"].as_str().map(str::to_owned);
    let stack = Stack::create(StackOptions::default()).await;
    stack
        .aws
        .sqs
        .send_message()
        .queue_url(&stack.dlq_url)
        .message_body(env.to_json())
        .send()
        .await
        .expect("park");
    let wfm = ScriptedWfm::start(Script::Sequence(replies(
        &case["wfm_responses_after_redrive"],
    )))
    .await
    .expect("WFM server");
    let r = stack.replayer(&wfm.url(), &[]);
    // stats_and_peek_change_no_attempts
    for action in [Action::Stats, Action::Peek] {
        run_request(&r, &Request::new(action)).await.expect("reads");
    }
    let peek = run_request(&r, &Request::new(Action::Peek))
        .await
        .expect("peek");
    assert_eq!(peek.letters[0].letter.attempts, 12);
    let rep = run_request(&r, &Request::new(Action::Redrive))
        .await
        .expect("redrive");
    assert_eq!((rep.matched, rep.redriven), (1, 1), "{rep:?}");
    let fwd = stack.forwarder(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "1"), ("RETRY_SCHEDULE", "1s,1s,1s")],
    );
    crate::sqs_cases::drain_retry_queue(&stack, &fwd, 2).await;
    let posts = wfm.requests();
    let attempts: Vec<u64> = posts
        .iter()
        .filter_map(|p| p.header("x-attempt").and_then(|a| a.parse().ok()))
        .collect();
    let want: Vec<u64> = case["expect"]["X_Attempt_after_redrive"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(
        attempts, want,
        "X-Attempt continues from the dead letter's history"
    );
    let keys: HashSet<&str> = posts
        .iter()
        .filter_map(|p| p.header("idempotency-key"))
        .collect();
    assert_eq!(
        keys,
        HashSet::from([env.key.as_deref().expect("key")]),
        "Idempotency_Key_unchanged"
    );
    assert_eq!(posts.last().and_then(|p| p.answered), Some(200));
    assert_eq!(stack.depth(&stack.dlq_url).await, 0, "not parked again");
}
