//! Faults in the AWS calls, injected by the `FaultProxy` in front of moto: SQS throttling while
//! enqueueing, S3 failing during an archive, the DLQ delete failing after a replay delivered, the
//! Lambda deadline reached in the middle of a batch, and ChangeMessageVisibility failing.
//! (SQS unreachable on the EventBridge path is case C19 A, in `eventbridge_cases`.)

use crate::eventbridge_cases::sqs_via;
use crate::support::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, SystemTime};
use wfm_relay_aws::queues::{QueueSettings, Queues};
use wfm_relay_aws::wfm::{WfmClient, WfmSettings};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::envelope::Reason;
use wfm_relay_local::fault_proxy::{Fault, FaultProxy};
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};
use wfm_relay_replayer::{Action, Replayer, Request};

/// An S3 client whose endpoint is `url` (the proxy), path style so the proxy sees the bucket.
async fn s3_via(url: &str) -> aws_sdk_s3::Client {
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3_conf = aws_sdk_s3::config::Builder::from(&conf)
        .endpoint_url(url)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(s3_conf)
}

/// A replayer over the given SQS and S3 clients.
fn replayer_with(
    stack: &Stack,
    wfm_url: &str,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
) -> Replayer {
    let env = stack.env(wfm_url, &[]);
    let cfg = ForwarderConfig::from_lookup(|k| env.get(k).cloned()).expect("valid config");
    let wfm = WfmClient::new(&WfmSettings::from(&cfg)).expect("client");
    let queues = Queues::new(sqs, s3, QueueSettings::from(&cfg));
    Replayer::new(cfg, wfm, queues)
}

fn sqs_json_error(status: u16, code: &str, message: &str) -> Fault {
    // AWS JSON 1.0 error shape (`__type` with the `com.amazonaws.sqs#` namespace, `message`), as
    // SQS and moto answer it; the SDK reads the code after the `#`.
    Fault::Respond {
        status,
        body: json!({"__type": format!("com.amazonaws.sqs#{code}"), "message": message})
            .to_string(),
        content_type: "application/x-amz-json-1.0".to_owned(),
    }
}

#[tokio::test]
async fn sqs_throttling_on_every_send_fails_the_invocation_and_acknowledges_nothing() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    // `RequestThrottled` is the SQS error for request throttling (SQS API Reference, common
    // errors of SendMessage; HTTP 400); the SDK classifies it as a throttling error and retries.
    proxy.set_fault(
        "AmazonSQS.SendMessage",
        Some(sqs_json_error(400, "RequestThrottled", "Rate exceeded")),
    );
    let fwd = stack.forwarder_with_sqs(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "1")],
        sqs_via(&proxy.url()).await,
    );
    let event = presence_event(
        "faults-throttle-1",
        "aaaaaaaa-0000-4000-8000-0000000000f1",
        "2026-03-02T09:00:00.000Z",
    );
    let err = fwd
        .handle(&event, deadline())
        .await
        .expect_err("the invocation fails: nothing acknowledged");
    let text = err.to_string();
    assert!(text.contains("could not queue or park"), "{text}");
    assert!(text.contains("RequestThrottled"), "{text}");
    let sends: Vec<Value> = proxy
        .bodies("AmazonSQS.SendMessage")
        .iter()
        .map(|b| serde_json::from_slice(b).expect("SendMessage JSON"))
        .collect();
    let queues: HashSet<&str> = sends
        .iter()
        .map(|s| s["QueueUrl"].as_str().expect("QueueUrl"))
        .collect();
    assert_eq!(
        queues,
        HashSet::from([stack.retry_url.as_str(), stack.dlq_url.as_str()]),
        "tried the retry queue, then the DLQ"
    );
    assert_eq!(wfm.requests().len(), 1);
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
}

#[tokio::test]
async fn s3_put_failing_during_archive_leaves_every_dead_letter_in_the_dlq() {
    let stack = Stack::create(StackOptions::default()).await;
    for i in 0..3 {
        let e = presence_event(
            &format!("faults-archive-{i}"),
            "aaaaaaaa-0000-4000-8000-0000000000f2",
            &format!("2026-03-02T09:00:0{i}.000Z"),
        );
        stack.park(&e, Reason::TransientExhausted, 12).await;
    }
    let wfm = wfm(&[200]).await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    // S3 REST error body (S3 API Reference, "Error responses"): XML with Code and Message.
    proxy.set_fault(
        "S3:PUT",
        Some(Fault::Respond {
            status: 500,
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code>\
                   <Message>We encountered an internal error. Please try again.</Message></Error>"
                .to_owned(),
            content_type: "application/xml".to_owned(),
        }),
    );
    let r = replayer_with(
        &stack,
        &wfm.url(),
        stack.aws.sqs.clone(),
        s3_via(&proxy.url()).await,
    );
    let rep = run_request(&r, &Request::new(Action::Archive))
        .await
        .expect("the action reports")
        .checked();
    assert_eq!(rep.matched, 3);
    assert_eq!(rep.archived, 0);
    assert_eq!(rep.failed, 3, "{rep:?}");
    assert!(rep.keys.is_empty(), "{rep:?}");
    assert_eq!(rep.remaining, Some(3));
    assert!(proxy.count("S3:PUT") >= 1);
    assert_eq!(stack.visible_now(&stack.dlq_url).await, 3, "visible again");
    assert!(stack.object_keys().await.is_empty(), "nothing was archived");
    assert!(wfm.requests().is_empty());
}

#[tokio::test]
async fn dlq_delete_failing_after_a_replay_keeps_the_letter_and_the_next_replay_repeats_the_key() {
    let stack = Stack::create(StackOptions::default()).await;
    let event = presence_event(
        "faults-delete-1",
        "aaaaaaaa-0000-4000-8000-0000000000f3",
        "2026-03-02T09:00:00.000Z",
    );
    stack.park(&event, Reason::TransientExhausted, 12).await;
    let wfm = wfm(&[200]).await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    proxy.set_fault(
        "AmazonSQS.DeleteMessageBatch",
        Some(sqs_json_error(500, "InternalError", "injected")),
    );
    let r = replayer_with(
        &stack,
        &wfm.url(),
        sqs_via(&proxy.url()).await,
        stack.aws.s3.clone(),
    );
    let first = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("the action reports")
        .checked();
    assert_eq!(
        (first.matched, first.delivered, first.delivered_not_deleted),
        (1, 0, 1),
        "a 2xx whose delete failed is not counted delivered: {first:?}"
    );
    assert_eq!(first.remaining, Some(1), "the letter is still in the DLQ");
    assert_eq!(stack.depth(&stack.dlq_url).await, 1);
    assert!(proxy.count("AmazonSQS.DeleteMessageBatch") >= 1);

    // The letter stays hidden until the replayer's hold ends; end it now with the receipt handle
    // the failed delete carried, as the passing of time would.
    let delete: Value = serde_json::from_slice(
        proxy
            .bodies("AmazonSQS.DeleteMessageBatch")
            .first()
            .expect("a delete was tried"),
    )
    .expect("JSON");
    let handle = delete["Entries"][0]["ReceiptHandle"]
        .as_str()
        .expect("receipt handle");
    stack
        .aws
        .sqs
        .change_message_visibility()
        .queue_url(&stack.dlq_url)
        .receipt_handle(handle)
        .visibility_timeout(0)
        .send()
        .await
        .expect("visible again");

    proxy.set_fault("AmazonSQS.DeleteMessageBatch", None);
    let second = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("the action reports")
        .checked();
    assert_eq!((second.matched, second.delivered), (1, 1), "{second:?}");
    assert_eq!(second.remaining, Some(0));
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
    let posts = wfm.requests();
    assert_eq!(posts.len(), 2, "a duplicate, never a loss");
    let keys: Vec<&str> = posts
        .iter()
        .map(|p| p.header("idempotency-key").expect("Idempotency-Key"))
        .collect();
    assert_eq!(keys[0], keys[1], "the same Idempotency-Key both times");
    assert!(posts.iter().all(|p| p.body == event));
    assert!(posts.iter().all(|p| p.header("x-replay") == Some("true")));
}

#[tokio::test]
async fn dlq_depth_failing_reports_remaining_unknown_and_keeps_next() {
    let stack = Stack::create(StackOptions::default()).await;
    for i in 0..2 {
        let e = presence_event(
            &format!("faults-depth-{i}"),
            "aaaaaaaa-0000-4000-8000-0000000000f6",
            &format!("2026-03-02T09:00:0{i}.000Z"),
        );
        stack.park(&e, Reason::TransientExhausted, 12).await;
    }
    let wfm = wfm(&[200]).await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    proxy.set_fault(
        "AmazonSQS.GetQueueAttributes",
        Some(sqs_json_error(400, "InvalidAttributeName", "injected")),
    );
    let r = replayer_with(
        &stack,
        &wfm.url(),
        sqs_via(&proxy.url()).await,
        stack.aws.s3.clone(),
    );
    let req = Request {
        limit: Some(1),
        ..Request::new(Action::Replay)
    };
    let rep = run_request(&r, &req).await.expect("the action reports");
    assert_eq!((rep.matched, rep.delivered), (1, 1), "{rep:?}");
    assert!(proxy.count("AmazonSQS.GetQueueAttributes") >= 1);
    assert_eq!(rep.remaining, None, "unknown, not 0: {rep:?}");
    assert_eq!(rep.next, Some(req), "the request to continue is kept");
    let json = serde_json::to_value(&rep).expect("report JSON");
    assert!(json["remaining"].is_null(), "{json}");
    assert_eq!(stack.depth(&stack.dlq_url).await, 1, "one letter is left");
}

#[tokio::test]
async fn deadline_mid_batch_lists_the_records_not_started_without_a_post() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = ScriptedWfm::start(Script::Sequence(vec![
        Reply::status(200).delay(Duration::from_millis(800)),
    ]))
    .await
    .expect("WFM");
    let fwd = stack.forwarder(
        &wfm.url(),
        &[("DEADLINE_RESERVE_MS", "1000"), ("BATCH_CONCURRENCY", "1")],
    );
    let ids: Vec<String> = (0..10).map(|i| format!("faults-deadline-{i}")).collect();
    let records: Vec<Value> = ids
        .iter()
        .map(|id| {
            let body = String::from_utf8(presence_event(
                id,
                "aaaaaaaa-0000-4000-8000-0000000000f4",
                "2026-03-02T09:00:00.000Z",
            ))
            .expect("utf-8");
            json!({
                "messageId": format!("msg-{id}"),
                "receiptHandle": format!("rh-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:wfm-relay-retry",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    let payload = serde_json::to_vec(&json!({ "Records": records })).expect("json");
    // 3.6 s before the reserve, 10 records of 0.8 s each, one at a time.
    let deadline = SystemTime::now() + Duration::from_millis(4600);
    let resp = fwd
        .handle(&payload, deadline)
        .await
        .expect("a batch answer");
    let listed: HashSet<String> = resp["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|f| {
            f["itemIdentifier"]
                .as_str()
                .expect("itemIdentifier")
                .trim_start_matches("msg-")
                .to_owned()
        })
        .collect();
    let requests = wfm.requests();
    let posted: HashSet<String> = requests
        .iter()
        .filter_map(|r| r.header("x-event-id").map(str::to_owned))
        .collect();
    // Delivered = not listed (WFM answers 200 to every POST it completes).
    let delivered: HashSet<String> = ids
        .iter()
        .filter(|id| !listed.contains(*id))
        .cloned()
        .collect();
    assert!(!listed.is_empty(), "the deadline cut the batch: {resp}");
    assert_eq!(delivered.len() + listed.len(), 10);
    assert!(
        delivered.is_subset(&posted),
        "every unlisted record was POSTed"
    );
    assert!(delivered.is_disjoint(&listed));
    // With one record at a time, at most one POST is cut short by the deadline (it is listed);
    // every other listed record was never started: listed without a POST.
    assert!(
        requests.len() <= delivered.len() + 1,
        "{} POSTs for {} delivered",
        requests.len(),
        delivered.len()
    );
    let not_started = listed.iter().filter(|id| !posted.contains(*id)).count();
    assert!(not_started >= listed.len() - 1);
    assert!(not_started >= 1, "some records were listed without a POST");
    assert_eq!(stack.depth(&stack.dlq_url).await, 0, "nothing parked");
}

#[tokio::test]
async fn change_message_visibility_failing_still_lists_the_record() {
    for fault in [
        Fault::Reset,
        sqs_json_error(500, "InternalError", "injected"),
    ] {
        let stack = Stack::create(StackOptions::default()).await;
        let wfm = wfm(&[503]).await;
        let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
        proxy.set_fault("AmazonSQS.ChangeMessageVisibility", Some(fault.clone()));
        let fwd = stack.forwarder_with_sqs(
            &wfm.url(),
            &[("RETRY_SCHEDULE", "30s,2m")],
            sqs_via(&proxy.url()).await,
        );
        let event = presence_event(
            "faults-visibility-1",
            "aaaaaaaa-0000-4000-8000-0000000000f5",
            "2026-03-02T09:00:00.000Z",
        );
        let message_id = stack
            .send_raw(&stack.retry_url, &String::from_utf8(event).expect("utf-8"))
            .await;
        let esm = stack.retry_esm().await;
        let report = poll_with(&esm, &fwd).await;
        assert_eq!(report.received, 1, "{fault:?}");
        assert_eq!(
            report.failed_ids,
            vec![message_id],
            "{fault:?}: still listed"
        );
        assert_eq!(report.deleted, 0);
        assert!(report.invoke_error.is_none() && report.invalid_response.is_none());
        assert!(
            proxy.count("AmazonSQS.ChangeMessageVisibility") >= 1,
            "{fault:?}"
        );
        assert_eq!(wfm.requests().len(), 1);
        assert_eq!(
            stack.depth(&stack.retry_url).await,
            1,
            "{fault:?}: not lost"
        );
        assert_eq!(stack.depth(&stack.dlq_url).await, 0);
    }
}
