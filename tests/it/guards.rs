//! Agent-state guards (issue 4): events from a source outside `ALLOWED_SOURCES` are parked as
//! `unknown_source`, and events older than their `MAX_EVENT_AGE` rule are parked as `expired`,
//! in both entries of the forwarder and never POSTed; the replayer ignores the age limit. The
//! Genesys publish time travels as `X-Genesys-Timestamp`.

use crate::sqs_cases::drain_retry_queue;
use crate::support::*;
use serde_json::json;
use std::time::{Duration, SystemTime};
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_core::event::parse_event;
use wfm_relay_core::timefmt::format_rfc3339;
use wfm_relay_replayer::{Action, Report, Request};

/// The org id in [`presence_event`]'s source.
const ORG: &str = "0f0f0f0f-0000-4000-8000-000000000001";

fn ago(secs: u64) -> String {
    format_rfc3339(SystemTime::now() - Duration::from_secs(secs))
}

fn event(n: usize, state_time: &str) -> Vec<u8> {
    presence_event(
        &format!("9a4d0000-0000-4000-8000-{n:012}"),
        "9a4d0000-0000-4000-8000-00000000aaaa",
        state_time,
    )
}

/// Puts `raw` in the retry queue wrapped in our envelope, as a first enqueue would.
async fn enqueue(stack: &Stack, raw: &[u8]) {
    let info = parse_event(raw).expect("valid event");
    let mut env = EnvelopeV1::new(raw, Some(&info));
    env.attempts = 1;
    env.last_status = Some(503);
    stack.send_raw(&stack.retry_url, &env.to_json()).await;
}

#[tokio::test]
async fn unknown_source_is_parked_without_a_post_in_both_entries() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(
        &wfm.url(),
        &[(
            "ALLOWED_SOURCES",
            "aaaaaaaa-0000-4000-8000-000000000009,my.app",
        )],
    );
    let from_eventbridge = event(1, &ago(1));
    assert_eq!(
        fwd.handle(&from_eventbridge, deadline()).await.expect("ok"),
        json!({"outcome": "unknown_source"})
    );
    let from_queue = event(2, &ago(1));
    enqueue(&stack, &from_queue).await;
    drain_retry_queue(&stack, &fwd, 1).await;
    assert!(wfm.requests().is_empty(), "no POST for an unknown source");
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 2);
    let mut bodies = Vec::new();
    for (_, env) in &parked {
        assert_eq!(env.reason, Some(Reason::UnknownSource));
        assert!(
            env.last_error
                .as_deref()
                .is_some_and(|e| e.contains("ALLOWED_SOURCES")),
            "{:?}",
            env.last_error
        );
        bodies.push(env.event.clone().unwrap_or_default().into_bytes());
    }
    bodies.sort();
    let mut want = vec![from_eventbridge, from_queue];
    want.sort();
    assert_eq!(bodies, want, "preserved copies equal the input");

    // The Genesys org id of the source, or the exact source, lets it through.
    let source = format!("aws.partner/genesys.com/cloud/{ORG}/wfm-relay-test");
    for allowed in [ORG, source.as_str()] {
        let fwd = stack.forwarder(&wfm.url(), &[("ALLOWED_SOURCES", allowed)]);
        assert_eq!(
            fwd.handle(&event(3, &ago(1)), deadline())
                .await
                .expect("ok"),
            json!({"outcome": "delivered"}),
            "ALLOWED_SOURCES={allowed}"
        );
    }
}

#[tokio::test]
async fn expired_event_is_parked_and_a_fresh_one_carries_both_times() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(
        &wfm.url(),
        &[("MAX_EVENT_AGE", "v2.users.*.presence=15m,*=1h")],
    );
    // A "Not Ready" from 20 minutes ago, delivered late: it must not overwrite a newer state.
    let stale = event(1, &ago(20 * 60));
    assert_eq!(
        fwd.handle(&stale, deadline()).await.expect("ok"),
        json!({"outcome": "expired"})
    );
    assert!(wfm.requests().is_empty(), "an expired event is not sent");
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].1.reason, Some(Reason::Expired));
    assert_eq!(
        parked[0].1.event.as_deref().map(str::as_bytes),
        Some(stale.as_slice())
    );
    assert!(
        parked[0]
            .1
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("v2.users.*.presence")),
        "{:?}",
        parked[0].1.last_error
    );

    // A fresh event: delivered, with the state time and Genesys's publish time as headers.
    let state = ago(60);
    let published = ago(59);
    let mut fresh: serde_json::Value =
        serde_json::from_slice(&event(2, &state)).expect("event JSON");
    fresh["detail"]["timestamp"] = json!(published);
    assert_eq!(
        fwd.handle(&bytes_of(&fresh), deadline()).await.expect("ok"),
        json!({"outcome": "delivered"})
    );
    let posts = wfm.requests();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header("x-event-time"), Some(state.as_str()));
    assert_eq!(
        posts[0].header("x-genesys-timestamp"),
        Some(published.as_str())
    );
}

#[tokio::test]
async fn an_event_that_ages_in_the_retry_queue_expires_there() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    let fwd = stack.forwarder(
        &wfm.url(),
        &[
            ("MAX_EVENT_AGE", "*=3s"),
            ("INLINE_ATTEMPTS", "1"),
            ("RETRY_SCHEDULE", "1s,1s"),
        ],
    );
    let raw = event(1, &format_rfc3339(SystemTime::now()));
    assert_eq!(
        fwd.handle(&raw, deadline()).await.expect("ok"),
        json!({"outcome": "queued"})
    );
    assert_eq!(wfm.requests().len(), 1);
    // Older than 3 s by the time the retry queue hands it back.
    tokio::time::sleep(Duration::from_secs(4)).await;
    drain_retry_queue(&stack, &fwd, 1).await;
    assert_eq!(wfm.requests().len(), 1, "the queued retry made no POST");
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].1.reason, Some(Reason::Expired));
    assert_eq!(parked[0].1.last_status, Some(503), "history kept");
}

#[tokio::test]
async fn the_replayer_ignores_the_age_limit() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let old = event(1, "2026-01-01T00:00:00.000Z");
    stack.park(&old, Reason::Expired, 0).await;
    let replayer = stack.replayer(&wfm.url(), &[("MAX_EVENT_AGE", "*=1m")]);
    let report = replayer
        .run(
            &Request::new(Action::Replay),
            Some(deadline()),
            &|_: &Report| {},
        )
        .await
        .expect("replay")
        .checked();
    assert_eq!(report.delivered, 1, "a replay is deliberate");
    let posts = wfm.requests();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body, old);
    assert_eq!(posts[0].header("x-replay"), Some("true"));
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
}
