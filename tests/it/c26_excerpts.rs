//! Case C26: the response excerpt stored with a dead letter is valid UTF-8 of at most 1,024
//! bytes, cut on a character boundary after decoding — on the forwarder's EventBridge entry,
//! its SQS entry and the replayer, with WFM answering 400 with the case's bodies.

use crate::support::*;
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};
use wfm_relay_replayer::{Action, Request};

/// The case's body: 1,023 `a`, the euro sign (E2 82 AC), 2,000 `b`.
fn euro_body() -> Vec<u8> {
    let mut b = vec![b'a'; 1023];
    b.extend_from_slice("€".as_bytes());
    b.extend(std::iter::repeat_n(b'b', 2000));
    b
}

/// The variant: 3,000 bytes of invalid UTF-8 (C3 28 repeated).
fn invalid_body() -> Vec<u8> {
    [0xC3, 0x28].repeat(1500)
}

/// A WFM server answering every POST with 400 and `body`.
async fn refusing(body: Vec<u8>) -> ScriptedWfm {
    ScriptedWfm::start(Script::Sequence(vec![Reply::status(400).body(body)]))
        .await
        .expect("WFM server")
}

/// The one dead letter in the DLQ, checked against the case's expect values; its excerpt.
async fn parked_excerpt(stack: &Stack) -> String {
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 1, "dlq_message_accepted_by_SQS");
    let env: &EnvelopeV1 = &parked[0].1;
    assert_eq!(env.reason, Some(Reason::Rejected), "parked_reason");
    assert_eq!(env.last_status, Some(400), "last_status");
    let excerpt = env.excerpt.clone().expect("an excerpt");
    assert!(excerpt.len() <= 1024, "{} bytes", excerpt.len());
    excerpt
}

/// Checks the two bodies' excerpts: the euro dropped whole; the invalid bytes decoded lossily.
fn check(body: &[u8], excerpt: &str) {
    if body == euro_body().as_slice() {
        assert_eq!(
            excerpt,
            "a".repeat(1023),
            "euro_variant_excerpt_is_exactly_the_1023_a"
        );
    } else {
        assert_eq!(excerpt, "\u{FFFD}(".repeat(256), "invalid_utf8_variant");
    }
}

fn c26_event() -> Vec<u8> {
    bytes_of(&case("C26")["event"])
}

#[tokio::test]
async fn c26_eventbridge_entry_parks_an_excerpt_within_1_kib() {
    for body in [euro_body(), invalid_body()] {
        let stack = Stack::create(StackOptions::default()).await;
        let wfm = refusing(body.clone()).await;
        let fwd = stack.forwarder(&wfm.url(), &[]);
        let out = fwd
            .handle(&c26_event(), deadline())
            .await
            .expect("no_panic");
        assert_eq!(out["outcome"], "rejected", "{out}");
        check(&body, &parked_excerpt(&stack).await);
    }
}

#[tokio::test]
async fn c26_sqs_entry_parks_an_excerpt_within_1_kib() {
    for body in [euro_body(), invalid_body()] {
        let stack = Stack::create(StackOptions::default()).await;
        let wfm = refusing(body.clone()).await;
        let fwd = stack.forwarder(&wfm.url(), &[]);
        let raw = String::from_utf8(c26_event()).expect("UTF-8 event");
        stack.send_raw(&stack.retry_url, &raw).await;
        let esm = stack.retry_esm().await;
        let mut received = 0;
        for _ in 0..10 {
            received += poll_with(&esm, &fwd).await.received;
            if received > 0 {
                break;
            }
        }
        assert_eq!(
            received, 1,
            "the retry queue's message reached the SQS entry"
        );
        assert_eq!(wfm.requests().len(), 1);
        check(&body, &parked_excerpt(&stack).await);
    }
}

#[tokio::test]
async fn c26_replayer_rewrites_the_letter_with_an_excerpt_within_1_kib() {
    for body in [euro_body(), invalid_body()] {
        let stack = Stack::create(StackOptions::default()).await;
        let wfm = refusing(body.clone()).await;
        stack
            .park(&c26_event(), Reason::TransientExhausted, 3)
            .await;
        let r = stack.replayer(&wfm.url(), &[]);
        let rep = run_request(&r, &Request::new(Action::Replay))
            .await
            .expect("replay");
        assert_eq!((rep.delivered, rep.failed), (0, 1));
        assert_eq!(wfm.requests().len(), 1);
        check(&body, &parked_excerpt(&stack).await);
    }
}
