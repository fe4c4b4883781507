//! Case C20 through the ports: waits longer than a receive's visibility allows become a copy
//! with `not_before` (`hold.rs`), within SQS's timer limits.

use super::*;

/// One record of the retry queue received `receive_count` times, first `first_receive_ago`
/// before [`start`].
fn received(body: &str, receive_count: u32, first_receive_ago: Duration) -> Vec<u8> {
    let first = start() - first_receive_ago;
    let ms = first
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after epoch")
        .as_millis();
    serde_json::to_vec(&serde_json::json!({ "Records": [{
        "messageId": "m-1", "receiptHandle": "rh-m-1", "body": body, "eventSource": "aws:sqs",
        "attributes": {
            "ApproximateReceiveCount": receive_count.to_string(),
            "ApproximateFirstReceiveTimestamp": ms.to_string(),
        },
    }]}))
    .expect("json")
}

#[tokio::test]
async fn c20_a_retry_after_past_the_receive_limit_sends_a_copy_and_reports_done() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(503, Some("86400"));
    let fwd = forwarder(&fakes, &[]);
    let body = envelope().to_json();
    let out = fwd
        .handle(&received(&body, 1, Duration::from_secs(4)), deadline())
        .await
        .expect("batch");
    assert!(listed(&out).is_empty(), "reported done");
    assert!(fakes.visibility().is_empty(), "no visibility change");
    let copies = fakes.enqueued();
    assert_eq!(copies.len(), 1);
    let (copy, delay_s) = &copies[0];
    assert_eq!(*delay_s, 900);
    // Retry-After 86400 capped by RETRY_AFTER_CAP_S = 43200.
    let not_before = start() + Duration::from_secs(43_200);
    assert_eq!(copy.not_before, Some(format_rfc3339(not_before)));
    assert_eq!((copy.steps, copy.attempts), (1, 1));
    assert_eq!((copy.last_status, copy.reason), (Some(503), None));
    assert_eq!(copy.event.as_deref(), Some(PRESENCE));
    assert!(fakes.parked().is_empty());
}

#[tokio::test]
async fn c20_a_retry_after_within_the_limit_sets_the_visibility() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(503, Some("43186"));
    let fwd = forwarder(&fakes, &[]);
    let body = envelope().to_json();
    let out = fwd
        .handle(&received(&body, 1, Duration::from_secs(4)), deadline())
        .await
        .expect("batch");
    assert_eq!(listed(&out), ["m-1"]);
    assert_eq!(fakes.visibility(), [("rh-m-1".to_owned(), 43_186)]);
    assert!(fakes.enqueued().is_empty());
}

#[tokio::test]
async fn c20_b_not_before_13_h_away_is_copied_without_a_post() {
    let fakes = Fakes::at(start());
    let fwd = forwarder(&fakes, &[]);
    let mut env = envelope();
    env.attempts = 2;
    env.steps = 3;
    let nb = format_rfc3339(start() + Duration::from_secs(13 * 3600));
    env.not_before = Some(nb.clone());
    // Received a second time: the estimate is the invocation start (batching window 0).
    let out = fwd
        .handle(
            &received(&env.to_json(), 2, Duration::from_secs(900)),
            deadline(),
        )
        .await
        .expect("batch");
    assert!(listed(&out).is_empty());
    assert!(
        fakes.wfm.posts().is_empty(),
        "never POSTed before not_before"
    );
    let copies = fakes.enqueued();
    assert_eq!(copies.len(), 1);
    let (copy, delay_s) = &copies[0];
    assert_eq!(*delay_s, 900);
    assert_eq!(copy.not_before.as_deref(), Some(nb.as_str()));
    assert_eq!((copy.steps, copy.attempts), (5, 4));
}

#[tokio::test]
async fn c20_the_schedule_position_counts_the_copied_steps() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(503, Some("86400"));
    let fwd = forwarder(&fakes, &[("RETRY_SCHEDULE", "30s,2m,10m")]);
    let mut env = envelope();
    env.steps = 2;
    env.attempts = 4;
    let out = fwd
        .handle(
            &received(&env.to_json(), 1, Duration::from_secs(4)),
            deadline(),
        )
        .await
        .expect("batch");
    assert!(listed(&out).is_empty());
    assert!(fakes.enqueued().is_empty(), "not copied for ever");
    let parked = fakes.parked();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].reason, Some(Reason::TransientExhausted));
    assert_eq!(parked[0].attempts, 5);
}

#[tokio::test]
async fn c20_a_refused_copy_leaves_the_record_listed_within_the_limit() {
    let fakes = Fakes::at(start());
    fakes.wfm.answer(503, Some("86400"));
    fakes.retry.refuse_enqueue.store(true, Ordering::SeqCst);
    let fwd = forwarder(&fakes, &[]);
    let body = envelope().to_json();
    let out = fwd
        .handle(&received(&body, 1, Duration::from_secs(4)), deadline())
        .await
        .expect("batch");
    assert_eq!(listed(&out), ["m-1"]);
    assert_eq!(fakes.visibility(), [("rh-m-1".to_owned(), 43_186)]);
    assert!(fakes.parked().is_empty());
}
