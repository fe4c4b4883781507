//! The EventBridge entry of the forwarder against moto and a scripted WFM server: cases C01,
//! C02, C07, C09, C10, C12, C14, C15, C19 (tests/cases/*.json, copied from the field reports).

use crate::support::*;
use serde_json::json;
use std::time::Duration;
use wfm_relay_core::envelope::Reason;
use wfm_relay_core::event::parse_event;
use wfm_relay_local::fault_proxy::{Fault, FaultProxy};
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};

#[tokio::test]
async fn c01_detail_only_payload_is_parked_as_invalid_event() {
    let case = case("C01");
    let input = bytes_of(&case["event"]);
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(&wfm.url(), &[]);
    let out = fwd
        .handle(&input, deadline())
        .await
        .expect("handler returns Ok");
    assert_eq!(out, json!({"outcome": "invalid_event"}));
    assert_eq!(
        wfm.requests().len(),
        case["expect"]["wfm_post_count"].as_u64().expect("n") as usize
    );
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 1, "preserved_copy_count");
    let env = &parked[0].1;
    assert_eq!(
        env.event.as_deref().map(str::as_bytes),
        Some(input.as_slice())
    );
    assert_eq!(env.reason, Some(Reason::InvalidEvent));
    let err = env.last_error.clone().expect("last_error");
    for field in case["expect"]["preserved_copy_last_error_names_every_missing_field"]
        .as_array()
        .expect("fields")
    {
        let f = field.as_str().expect("field");
        assert!(
            err.contains(&format!("`{f}`")),
            "last_error {err:?} does not name {f}"
        );
    }
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
}

#[tokio::test]
async fn c02_detail_object_is_posted_and_detail_string_is_parked() {
    let case = case("C02");
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(&wfm.url(), &[("WFM_BODY", "eventBody")]);

    let object = bytes_of(&case["events"]["detail_object"]);
    assert_eq!(
        fwd.handle(&object, deadline()).await.expect("ok"),
        json!({"outcome": "delivered"})
    );
    let posts = wfm.requests();
    assert_eq!(posts.len(), 1);
    let posted: serde_json::Value = serde_json::from_slice(&posts[0].body).expect("JSON body");
    assert!(posted.is_object(), "posted eventBody is a JSON object");
    assert_eq!(posted["presenceDefinition"]["systemPresence"], "AVAILABLE");

    let string = bytes_of(&case["events"]["detail_string"]);
    assert_eq!(
        fwd.handle(&string, deadline()).await.expect("ok"),
        json!({"outcome": "invalid_event"})
    );
    assert_eq!(wfm.requests().len(), 1, "no POST for the string detail");
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].1.reason, Some(Reason::InvalidEvent));
    assert!(
        parked[0]
            .1
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("`detail`")
    );
    assert_eq!(
        parked[0].1.event.as_deref().map(str::as_bytes),
        Some(string.as_slice())
    );
}

#[tokio::test]
async fn c07_stale_pooled_connection_is_retried_at_once_on_a_fresh_one() {
    let case = case("C07");
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    // Product defaults for the pool (WFM_POOL_IDLE_MS = 15 s): the test does not dodge it.
    let fwd = stack.forwarder(&wfm.url(), &[]);
    let a = bytes_of(&case["events"][0]);
    let b = bytes_of(&case["events"][1]);
    assert_eq!(
        fwd.handle(&a, deadline()).await.expect("ok"),
        json!({"outcome": "delivered"})
    );
    wfm.set_stale_reuse(true);
    assert_eq!(
        fwd.handle(&b, deadline()).await.expect("ok"),
        json!({"outcome": "delivered"})
    );
    let b_id = case["events"][1]["id"].as_str().expect("id");
    let b_posts: Vec<_> = wfm
        .requests()
        .into_iter()
        .filter(|r| r.header("x-event-id") == Some(b_id))
        .collect();
    let ok: Vec<_> = b_posts.iter().filter(|r| r.answered == Some(200)).collect();
    assert_eq!(ok.len(), 1, "event_B_successful_posts");
    assert_eq!(ok[0].header("x-attempt"), Some("1"));
    assert_eq!(wfm.connections_opened(), 2);
    assert_eq!(
        stack.depth(&stack.retry_url).await,
        0,
        "event B not sent to the retry queue"
    );
}

#[tokio::test]
async fn c09_only_2xx_is_delivered_and_4xx_is_parked_at_once() {
    let case = case("C09");
    let event = bytes_of(&case["event"]);
    // (sequence, delivered, posts, retry-queue messages, DLQ messages, parked status)
    let table = [
        ("A", true, 3, 0, 0, None),
        ("B", false, 1, 0, 1, Some(400)),
        ("C", true, 2, 0, 0, None),
        ("D", false, 3, 1, 0, None),
        ("E", true, 1, 0, 0, None),
        ("F", true, 2, 0, 0, None),
    ];
    for (name, delivered, posts, queued, parked, status) in table {
        let stack = Stack::create(StackOptions::default()).await;
        let wfm = ScriptedWfm::start(Script::Sequence(replies(&case["sequences"][name])))
            .await
            .expect("wfm");
        let fwd = stack.forwarder(&wfm.url(), &[("INLINE_ATTEMPTS", "3")]);
        let out = fwd.handle(&event, deadline()).await.expect("ok");
        assert_eq!(
            out["outcome"] == "delivered",
            delivered,
            "sequence {name}: {out}"
        );
        assert_eq!(wfm.requests().len(), posts, "sequence {name}: attempts");
        assert_eq!(
            stack.depth(&stack.retry_url).await,
            queued,
            "sequence {name}: retry queue"
        );
        let dead = stack.take_all(&stack.dlq_url).await;
        assert_eq!(dead.len(), parked, "sequence {name}: DLQ");
        if let Some(s) = status {
            assert_eq!(dead[0].1.last_status, Some(s));
            assert_eq!(dead[0].1.reason, Some(Reason::Rejected));
            assert!(
                dead[0]
                    .1
                    .excerpt
                    .as_deref()
                    .unwrap_or("")
                    .contains("unknown agent")
            );
        }
        let attempts: Vec<_> = wfm
            .requests()
            .iter()
            .map(|r| r.header("x-attempt").unwrap_or("").to_owned())
            .collect();
        let want: Vec<_> = (1..=posts).map(|n| n.to_string()).collect();
        assert_eq!(attempts, want, "sequence {name}: X-Attempt");
    }
}

#[tokio::test]
async fn c10_retry_after_seconds_is_honoured_inline() {
    let case = case("C10");
    let e2e = &case["end_to_end"];
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = ScriptedWfm::start(Script::Sequence(replies(&e2e["sequence"])))
        .await
        .expect("wfm");
    let fwd = stack.forwarder(&wfm.url(), &[]);
    let out = fwd
        .handle(&bytes_of(&e2e["event"]), deadline())
        .await
        .expect("ok");
    assert_eq!(out, json!({"outcome": "delivered"}));
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at.duration_since(reqs[0].at).expect("ordered");
    assert!(
        gap >= Duration::from_secs(2),
        "second attempt after {gap:?}, Retry-After asked 2 s"
    );
}

#[tokio::test]
async fn c10_long_retry_after_goes_to_the_queue_with_900s_delay() {
    let case = case("C10");
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = ScriptedWfm::start(Script::Sequence(replies(&case["long_wait"]["sequence"])))
        .await
        .expect("wfm");
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    let sqs = sqs_via(&proxy.url()).await;
    let fwd = stack.forwarder_with_sqs(&wfm.url(), &[], sqs);
    let remaining = Duration::from_secs(
        case["long_wait"]["remaining_lambda_time_s"]
            .as_u64()
            .expect("s"),
    );
    let started = std::time::SystemTime::now();
    let out = fwd
        .handle(&bytes_of(&case["end_to_end"]["event"]), started + remaining)
        .await
        .expect("ok");
    assert_eq!(out, json!({"outcome": "queued"}));
    assert_eq!(
        wfm.requests().len(),
        1,
        "no second attempt: the hint is longer than INLINE_MAX_WAIT_MS"
    );
    let sends = proxy.bodies("AmazonSQS.SendMessage");
    assert_eq!(sends.len(), 1, "sqs_send_count");
    let send: serde_json::Value = serde_json::from_slice(&sends[0]).expect("request JSON");
    assert_eq!(send["DelaySeconds"], 900);
    let env: wfm_relay_core::envelope::EnvelopeV1 =
        serde_json::from_str(send["MessageBody"].as_str().expect("body")).expect("envelope");
    let nb = wfm_relay_core::timefmt::parse_rfc3339(env.not_before.as_deref().expect("not_before"))
        .expect("time");
    let wait = nb.duration_since(started).expect("future");
    assert!(
        wait >= Duration::from_secs(3600),
        "not_before keeps the whole hint: {wait:?}"
    );
    assert_eq!(env.attempts, 1);
    assert_eq!(env.last_status, Some(429));
}

#[tokio::test]
async fn c12_oversize_event_is_claim_checked_to_s3() {
    let case = case("C12");
    let input = bytes_of(&case["event"]);
    let limit = case["env"]["retry_queue_MaximumMessageSize"]
        .as_u64()
        .expect("limit") as usize;
    assert!(input.len() > limit, "event_json_bytes_gt_limit");
    let stack = Stack::create(StackOptions {
        retry_max_bytes: Some(limit as u32),
        ..Default::default()
    })
    .await;
    let wfm = wfm(&[503]).await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    let fwd = stack.forwarder_with_sqs(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "1"), ("RETRY_SCHEDULE", "1s")],
        sqs_via(&proxy.url()).await,
    );
    assert_eq!(
        fwd.handle(&input, deadline()).await.expect("ok"),
        json!({"outcome": "queued"})
    );
    for body in proxy.bodies("AmazonSQS.SendMessage") {
        let req: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert!(
            req["MessageBody"].as_str().expect("body").len() <= limit,
            "no SendMessage over the limit"
        );
    }
    assert_eq!(proxy.count("AmazonSQS.SendMessage"), 1);
    let keys = stack.object_keys().await;
    assert_eq!(keys.len(), 1, "s3_put_count");
    let stored = stack.object(&keys[0]).await;
    assert_eq!(
        stored.as_slice(),
        input.as_slice(),
        "s3_object_equals_event_bytes"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let queued = stack.take_all(&stack.retry_url).await;
    assert_eq!(queued.len(), 1);
    assert!(queued[0].0.len() <= limit);
    let ptr = queued[0].1.event_s3.clone().expect("claim check pointer");
    assert_eq!(
        (ptr.bucket.as_str(), ptr.key.as_str()),
        (stack.bucket.as_str(), keys[0].as_str())
    );
    assert!(queued[0].1.event.is_none());
}

#[tokio::test]
async fn c14_lone_surrogate_is_posted_unchanged() {
    let input = case_raw_member("C14", "event");
    assert!(String::from_utf8_lossy(&input).contains("\\ud83d"));
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(&wfm.url(), &[]);
    assert_eq!(
        fwd.handle(&input, deadline()).await.expect("ok"),
        json!({"outcome": "delivered"})
    );
    let posts = wfm.requests();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body, input, "the original bytes, escape included");
    assert!(String::from_utf8_lossy(&posts[0].body).contains("\\ud83d"));
}

#[tokio::test]
async fn c15_duplicates_carry_one_content_derived_idempotency_key() {
    let case = case("C15");
    let event = bytes_of(&case["event"]);
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(&wfm.url(), &[]);
    for _ in 0..2 {
        assert_eq!(
            fwd.handle(&event, deadline()).await.expect("ok"),
            json!({"outcome": "delivered"})
        );
    }
    let posts = wfm.requests();
    assert_eq!(posts.len(), 2);
    let key = posts[0].header("idempotency-key").expect("key").to_owned();
    assert_eq!(posts[1].header("idempotency-key"), Some(key.as_str()));
    // An EventBridge archive replay re-publishes the event with a new id and `replay-name`.
    let mut republished = case["event"].clone();
    republished["id"] = json!("11111111-0000-4000-8000-999999999999");
    republished["replay-name"] = json!("wfm-outage");
    assert_eq!(
        parse_event(&bytes_of(&republished))
            .expect("valid")
            .key
            .as_str(),
        key
    );
}

#[tokio::test]
async fn c15_b_one_queue_message_and_the_key_survives_the_queue() {
    let case = case("C15");
    let event = bytes_of(&case["event"]);
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    let fwd = stack.forwarder(&wfm.url(), &[("RETRY_SCHEDULE", "1s,1s")]);
    assert_eq!(
        fwd.handle(&event, deadline())
            .await
            .expect("handler_result Ok"),
        json!({"outcome": "queued"})
    );
    assert_eq!(stack.depth(&stack.retry_url).await, 1, "sqs_message_count");
    let key = wfm.requests()[0]
        .header("idempotency-key")
        .expect("key")
        .to_owned();
    // WFM recovers; the SQS entry delivers the queued message with the same key.
    wfm.set_script(Script::Sequence(vec![Reply::status(200)]));
    let report = crate::sqs_cases::drain_retry_queue(&stack, &fwd, 1).await;
    assert_eq!(report.delivered_posts, 1);
    let last = wfm.requests().last().cloned().expect("post");
    assert_eq!(last.answered, Some(200));
    assert_eq!(last.header("idempotency-key"), Some(key.as_str()));
    assert_eq!(
        last.header("x-attempt"),
        Some("4"),
        "3 inline attempts + receive 1"
    );
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
}

#[tokio::test]
async fn c19_a_sqs_unreachable_fails_the_invocation() {
    let case = case("C19");
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    proxy.set_fault("AmazonSQS.SendMessage", Some(Fault::Reset));
    let fwd = stack.forwarder_with_sqs(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "1")],
        sqs_via(&proxy.url()).await,
    );
    let err = fwd
        .handle(&bytes_of(&case["event"]), deadline())
        .await
        .expect_err("handler_result Err");
    assert!(err.to_string().contains("could not queue or park"), "{err}");
    assert!(
        proxy.count("AmazonSQS.SendMessage") >= 2,
        "tried the retry queue and the DLQ"
    );
    assert_eq!(
        stack.depth(&stack.retry_url).await + stack.depth(&stack.dlq_url).await,
        0
    );
}

#[tokio::test]
async fn c19_b_send_message_batch_partial_failure_is_not_counted() {
    use std::sync::Arc;
    use wfm_relay_aws::queues::{BatchEntry, QueueSettings, Queues};
    let case = case("C19");
    let stack = Stack::create(StackOptions::default()).await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    let fake = case["B"]["send_message_batch_response"].to_string();
    proxy.set_fault(
        "AmazonSQS.SendMessageBatch",
        Some(Fault::Rewrite(Arc::new(move |_| fake.clone().into_bytes()))),
    );
    let queues = Queues::new(
        sqs_via(&proxy.url()).await,
        stack.aws.s3.clone(),
        QueueSettings {
            retry_url: stack.retry_url.clone(),
            dlq_url: stack.dlq_url.clone(),
            claim_bucket: None,
            claim_prefix: "dead-letters".into(),
        },
    );
    let entries = (0..3)
        .map(|i| BatchEntry {
            id: i.to_string(),
            body: format!("{{\"n\":{i}}}"),
            delay_s: 0,
        })
        .collect();
    let out = queues.retry().send_batch(entries).await;
    assert_eq!(
        out.sent.len(),
        case["expect"]["B"]["reported_enqueued_count"]
            .as_u64()
            .expect("n") as usize
    );
    assert_eq!(
        out.failed
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["1"]
    );
    assert_eq!(
        proxy.count("AmazonSQS.SendMessageBatch"),
        2,
        "entry 1 (SenderFault false) was resent once"
    );
}

/// An SQS client whose endpoint is `url` (the fault-injecting proxy in front of moto).
pub async fn sqs_via(url: &str) -> aws_sdk_sqs::Client {
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs_conf = aws_sdk_sqs::config::Builder::from(&conf)
        .endpoint_url(url)
        .build();
    aws_sdk_sqs::Client::from_conf(sqs_conf)
}
