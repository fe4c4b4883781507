//! Case C23: the 1 MiB era. Events of 250,000, 900,000 and 1,000,000 bytes (the template's
//! `eventBody.message` padded) meet WFM 503 until their schedule runs out and are parked, are
//! redriven and parked again, replayed (200 for the two smaller ones, 400 for the largest), and
//! the rest archived. Each POST carries the original bytes; a message goes through the S3 claim
//! check exactly when its envelope exceeds the `MaximumMessageSize` read from its queue (the
//! default 1,048,576, or 262,144 in a variant); redrive cuts its SendMessageBatch calls at 1 MiB
//! in total (the AWS-rules layer refuses a longer batch with `BatchRequestTooLong`, as SQS does);
//! the archive holds the original bytes. Through the AWS-rules layer (`infra/test.sh`).

use crate::support::*;
use aws_sdk_sqs::types::QueueAttributeName;
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_core::event::parse_event;
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};
use wfm_relay_replayer::{Action, Request};

/// SQS's default (and largest) `MaximumMessageSize`, and the old default of the variant.
const MIB: usize = 1_048_576;
const OLD_DEFAULT: usize = 262_144;

/// One event of the case: the template with its id ending in `n` and its message padded until
/// the whole event (compact JSON) is `size` bytes.
fn sized_event(case: &Value, n: usize, size: usize) -> Vec<u8> {
    let mut ev = case["event_template"].clone();
    ev["id"] = Value::String(format!("7f1c1a2e-0000-4000-8000-00000000020{n}"));
    ev["detail"]["eventBody"]["message"] = Value::String(String::new());
    let bare = bytes_of(&ev).len();
    ev["detail"]["eventBody"]["message"] = Value::String("é".repeat((size - bare) / 2));
    if (size - bare) % 2 == 1 {
        let m = ev["detail"]["eventBody"]["message"].as_str().expect("m");
        ev["detail"]["eventBody"]["message"] = Value::String(format!("{m}x"));
    }
    let bytes = bytes_of(&ev);
    assert_eq!(bytes.len(), size, "padded to the case's size");
    bytes
}

/// The case's three events with their ids.
fn events(case: &Value) -> Vec<(String, Vec<u8>)> {
    case["sizes_bytes"]
        .as_array()
        .expect("sizes")
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let bytes = sized_event(case, n, s.as_u64().expect("size") as usize);
            let id = parse_event(&bytes).expect("valid event").id;
            (id, bytes)
        })
        .collect()
}

/// The envelope of `event` as first written (no history yet): its size decides the claim check,
/// and the case's sizes keep it well away from either limit.
fn envelope_bytes(event: &[u8]) -> usize {
    let info = parse_event(event).ok();
    let n = EnvelopeV1::new(event, info.as_ref()).to_json().len();
    for limit in [OLD_DEFAULT, MIB] {
        assert!(n.abs_diff(limit) > 10_000, "{n} is too close to {limit}");
    }
    n
}

/// Where each event's bytes are: in the message (inline) or behind a claim check, and how many
/// claim checks the queues made so far, following the rule the product must apply.
struct Expected {
    inline: Vec<bool>,
    claim_checks: usize,
}

impl Expected {
    /// Every event written once more to a queue whose limit is `limit`.
    fn write_to(&mut self, limit: usize, events: &[(String, Vec<u8>)]) {
        for (inline, (_, e)) in self.inline.iter_mut().zip(events) {
            if *inline && envelope_bytes(e) > limit {
                *inline = false;
                self.claim_checks += 1;
            }
        }
    }
}

async fn set_max(stack: &Stack, url: &str, bytes: usize) {
    stack
        .aws
        .sqs
        .set_queue_attributes()
        .queue_url(url)
        .attributes(QueueAttributeName::MaximumMessageSize, bytes.to_string())
        .send()
        .await
        .expect("set MaximumMessageSize");
}

/// The queue's `MaximumMessageSize` as SQS answers it.
async fn read_max(stack: &Stack, url: &str) -> usize {
    let out = stack
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::MaximumMessageSize)
        .send()
        .await
        .expect("GetQueueAttributes");
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::MaximumMessageSize))
        .and_then(|v| v.parse().ok())
        .expect("MaximumMessageSize")
}

async fn claim_checks(stack: &Stack) -> usize {
    let keys = stack.object_keys().await;
    keys.iter().filter(|k| k.contains("/claim-checks/")).count()
}

/// Polls the retry queue with the forwarder until the DLQ holds `n` letters and the retry queue
/// none (90 s at most).
async fn drain_to_dlq(stack: &Stack, fwd: &Forwarder, n: usize) {
    let esm = stack.retry_esm().await;
    let until = Instant::now() + Duration::from_secs(90);
    loop {
        let (dlq, retry) = (
            stack.depth(&stack.dlq_url).await,
            stack.depth(&stack.retry_url).await,
        );
        if dlq == n && retry == 0 {
            return;
        }
        assert!(
            Instant::now() < until,
            "DLQ {dlq}, retry queue {retry} after 90 s"
        );
        poll_with(&esm, fwd).await;
    }
}

/// Every request WFM recorded carries one of the events byte for byte, under its own id.
fn assert_bodies_exact(wfm: &ScriptedWfm, events: &[(String, Vec<u8>)]) -> usize {
    let reqs = wfm.requests();
    for r in &reqs {
        let id = r.header("x-event-id").expect("X-Event-Id");
        let (_, want) = events.iter().find(|(e, _)| e == id).expect("one of ours");
        assert!(
            r.body == *want,
            "the body of {id} is the event byte for byte"
        );
    }
    reqs.len()
}

/// The envelopes of the archive objects the report names.
async fn archived(stack: &Stack, keys: &[String]) -> Vec<EnvelopeV1> {
    let mut out = Vec::new();
    for key in keys {
        let mut text = String::new();
        MultiGzDecoder::new(&stack.object(key).await[..])
            .read_to_string(&mut text)
            .expect("gzip JSON Lines");
        for line in text.lines() {
            out.push(serde_json::from_str(line).expect("envelope line"));
        }
    }
    out
}

/// The case's whole run with the retry queue's and the DLQ's limits; `raw_letters` puts the
/// events in the DLQ as raw EventBridge events (as an EventBridge target DLQ writes them)
/// instead of sending them through the forwarder's two entries first.
async fn run(retry_max: Option<usize>, dlq_max: Option<usize>, raw_letters: bool) {
    let case = case("C23");
    let stack = Stack::create(StackOptions::default()).await;
    if let Some(m) = retry_max {
        set_max(&stack, &stack.retry_url, m).await;
    }
    if let Some(m) = dlq_max {
        set_max(&stack, &stack.dlq_url, m).await;
    }
    // The limits the product must read (nothing set: SQS's default, 1 MiB).
    let (retry_limit, dlq_limit) = (
        read_max(&stack, &stack.retry_url).await,
        read_max(&stack, &stack.dlq_url).await,
    );
    assert_eq!(retry_limit, retry_max.unwrap_or(MIB));
    assert_eq!(dlq_limit, dlq_max.unwrap_or(MIB));
    let events = events(&case);
    let wfm = wfm(&[503]).await;
    // The breaker off: every event meets WFM's 503 itself until its schedule runs out.
    let env = [
        ("INLINE_ATTEMPTS", "1"),
        ("RETRY_SCHEDULE", "1s"),
        ("BREAKER_FAILURES", "0"),
    ];
    let fwd = stack.forwarder(&wfm.url(), &env);
    let mut expected = Expected {
        inline: vec![true; events.len()],
        claim_checks: 0,
    };

    if raw_letters {
        for (_, e) in &events {
            stack
                .send_raw(&stack.dlq_url, std::str::from_utf8(e).expect("UTF-8"))
                .await;
        }
    } else {
        // The EventBridge entry: 503, then to the retry queue; the SQS entry: 503, schedule
        // used up, parked.
        for (_, e) in &events {
            let out = fwd.handle(e, deadline()).await.expect("handled");
            assert_eq!(out, serde_json::json!({"outcome": "queued"}));
        }
        expected.write_to(retry_limit, &events);
        assert_eq!(claim_checks(&stack).await, expected.claim_checks);
        drain_to_dlq(&stack, &fwd, events.len()).await;
        expected.write_to(dlq_limit, &events);
        assert_eq!(claim_checks(&stack).await, expected.claim_checks);
        assert_eq!(assert_bodies_exact(&wfm, &events), 2 * events.len());
    }

    // Redrive: all three letters in as few SendMessageBatch calls as fit 1 MiB each, each
    // fitted to the retry queue's limit; then 503 again until parked.
    let r = stack.replayer(&wfm.url(), &env);
    let rep = run_request(&r, &Request::new(Action::Redrive))
        .await
        .expect("redrive");
    assert_eq!(
        (rep.matched, rep.redriven, rep.failed),
        (3, 3, 0),
        "{rep:?}"
    );
    expected.write_to(retry_limit, &events);
    assert_eq!(claim_checks(&stack).await, expected.claim_checks);
    drain_to_dlq(&stack, &fwd, events.len()).await;
    expected.write_to(dlq_limit, &events);
    assert_eq!(claim_checks(&stack).await, expected.claim_checks);
    let before_replay = assert_bodies_exact(&wfm, &events);
    // Inline, from the queue, from the queue after the redrive (raw letters: only the last).
    let posts = if raw_letters { 1 } else { 3 };
    assert_eq!(before_replay, posts * events.len());

    // Replay: 200 for the 250 KB and 900 KB events, 400 for the 1,000,000-byte one.
    let largest = events[2].0.clone();
    let by_event_id: HashMap<String, Vec<Reply>> = events
        .iter()
        .map(|(id, _)| {
            let status = if *id == largest { 400 } else { 200 };
            (id.clone(), vec![Reply::status(status)])
        })
        .collect();
    wfm.set_script(Script::PerEvent {
        by_event_id,
        default: vec![Reply::status(503)],
    });
    let rep = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("replay");
    assert_eq!(
        (rep.matched, rep.delivered, rep.failed),
        (3, 2, 1),
        "{rep:?}"
    );
    let reqs = wfm.requests();
    assert_eq!(assert_bodies_exact(&wfm, &events), before_replay + 3);
    let replayed: Vec<_> = reqs[before_replay..]
        .iter()
        .filter(|q| q.answered == Some(200))
        .map(|q| q.header("x-event-id").expect("id").to_owned())
        .collect();
    assert_eq!(replayed.len(), 2);
    assert!(!replayed.contains(&largest));

    // Archive: what is left (the 1,000,000-byte event, rejected) with its original bytes.
    let rep = run_request(&r, &Request::new(Action::Archive))
        .await
        .expect("archive");
    assert_eq!((rep.matched, rep.archived), (1, 1), "{rep:?}");
    let lines = archived(&stack, &rep.keys).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].event_id.as_deref(), Some(largest.as_str()));
    assert!(
        lines[0].event.as_deref().map(str::as_bytes) == Some(&events[2].1[..]),
        "replay_and_archive_return_the_original_bytes"
    );
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
    assert!(
        case["expect"]["every_event_delivered_byte_for_byte_or_queued_or_parked"]
            .as_bool()
            .expect("flag")
    );
}

#[tokio::test]
async fn c23_default_queues_of_1_mib_carry_every_size_inline() {
    run(None, None, false).await;
}

#[tokio::test]
async fn c23_queues_of_256_kib_claim_check_the_larger_events() {
    run(Some(OLD_DEFAULT), Some(OLD_DEFAULT), false).await;
}

#[tokio::test]
async fn c23_raw_letters_redriven_into_a_256_kib_retry_queue_are_claim_checked() {
    run(Some(OLD_DEFAULT), None, true).await;
}
