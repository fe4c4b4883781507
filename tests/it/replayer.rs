//! The replayer against moto and a scripted WFM server: case C17 end to end, `latest` mode,
//! archive and replay-archive, filters, dry runs, failed replays keeping their history, redrive.

use crate::sqs_cases::drain_retry_queue;
use crate::support::*;
use serde_json::json;
use std::collections::HashSet;
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_core::replay::Filter;
use wfm_relay_local::wfm_server::{Reply, Script};
use wfm_relay_replayer::{Action, Mode, Report, Request};

/// Runs `req` (following `next`) until it reports no further request; returns every report.
async fn run_all(r: &wfm_relay_replayer::Replayer, req: Request) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut req = Some(req);
    for _ in 0..20 {
        let Some(q) = req.take() else { break };
        let rep = run_request(r, &q).await.expect("action runs");
        req = rep.next.clone();
        reports.push(rep);
    }
    reports
}

fn distinct_delivered(wfm: &wfm_relay_local::ScriptedWfm) -> HashSet<String> {
    wfm.requests()
        .iter()
        .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
        .filter_map(|r| r.header("x-event-id").map(str::to_owned))
        .collect()
}

async fn archived(stack: &Stack) -> usize {
    let mut n = 0;
    for key in stack.object_keys().await {
        if key.ends_with(".jsonl.gz") {
            n += read_archive(stack, &key).await.len();
        }
    }
    n
}

async fn read_archive(stack: &Stack, key: &str) -> Vec<EnvelopeV1> {
    let bytes = stack.object(key).await;
    wfm_relay_aws::archive::decode_jsonl_gz(&bytes).expect("gzip JSON Lines")
}

#[tokio::test]
async fn c17_outage_longer_than_the_schedule_then_replay_loses_nothing() {
    let case = case("C17");
    let n = case["event_count"].as_u64().expect("count") as usize;
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    let fwd = stack.forwarder(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "1"), ("RETRY_SCHEDULE", "1s,1s")],
    );
    let mut events = Vec::new();
    for i in 0..n {
        let mut e = case["event_template"].clone();
        e["id"] = json!(format!("7f1c1a2e-0000-4000-8000-{:012}", 200 + i));
        e["detail"]["eventBody"]["message"] = json!(format!("event {i}"));
        events.push(bytes_of(&e));
    }
    let invariant = |step: &'static str| {
        let stack = stack.clone();
        let wfm = wfm.clone();
        async move {
            // SQS's message counts are approximate (moto counts visible, in-flight and delayed
            // messages one attribute after the other, so a message whose delay ends between two
            // of them can be missed once): read them again until they add up or 15 s pass.
            let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
            loop {
                let total = distinct_delivered(&wfm).len()
                    + stack.depth(&stack.retry_url).await
                    + stack.depth(&stack.dlq_url).await
                    + archived(&stack).await;
                if total == n || std::time::Instant::now() >= until {
                    assert_eq!(
                        total, n,
                        "delivered + retry queue + DLQ + archive at step {step}"
                    );
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
    };
    for e in &events {
        assert_eq!(
            fwd.handle(e, deadline()).await.expect("ok"),
            json!({"outcome": "queued"})
        );
    }
    invariant("after the EventBridge invocations").await;
    drain_retry_queue(&stack, &fwd, 2).await;
    invariant("after the retry schedule").await;

    // after_outage: all 50 in the DLQ, transient_exhausted, original bodies.
    let dlq = stack.replayer(&wfm.url(), &[]);
    let peek = run_request(
        &dlq,
        &Request {
            limit: Some(100),
            ..Request::new(Action::Peek)
        },
    )
    .await
    .expect("peek");
    assert_eq!(peek.letters.len(), n, "dlq_message_count");
    let originals: HashSet<Vec<u8>> = events.iter().cloned().collect();
    for l in &peek.letters {
        assert_eq!(l.letter.reason, Some(Reason::TransientExhausted));
        assert!(
            originals.contains(l.letter.event.as_deref().unwrap_or("").as_bytes()),
            "decoded_events_equal_original_events"
        );
    }
    assert_eq!(
        stack.visible_now(&stack.dlq_url).await,
        n,
        "peek leaves them in place"
    );

    // recovered: replay until the DLQ is empty.
    wfm.set_script(Script::Sequence(vec![Reply::status(200)]));
    let reports = run_all(&dlq, Request::new(Action::Replay)).await;
    let delivered: usize = reports.iter().map(|r| r.delivered).sum();
    assert_eq!(delivered, n);
    invariant("after the replay").await;
    assert_eq!(stack.depth(&stack.dlq_url).await, 0, "DLQ empty");
    let replays: Vec<_> = wfm
        .requests()
        .into_iter()
        .filter(|r| r.header("x-replay") == Some("true"))
        .collect();
    let keys: HashSet<_> = replays
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), n, "50 distinct idempotency keys");
    assert_eq!(distinct_delivered(&wfm).len(), n, "wfm_distinct_event_ids");
}

#[tokio::test]
async fn latest_mode_sends_the_newest_state_per_user_and_archives_the_rest() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let a1 = presence_event("e-a1", "user-a", "2026-03-02T09:00:00.000Z");
    let a2 = presence_event("e-a2", "user-a", "2026-03-02T09:05:00.000Z");
    let a3 = presence_event("e-a3", "user-a", "2026-03-02T09:10:00.000Z");
    let b1 = presence_event("e-b1", "user-b", "2026-03-02T09:01:00.000Z");
    for e in [&a2, &a3, &b1, &a1] {
        stack.park(e, Reason::TransientExhausted, 3).await;
    }
    let r = stack.replayer(&wfm.url(), &[]);
    let dry = run_request(
        &r,
        &Request {
            mode: Mode::Latest,
            dry_run: true,
            ..Request::new(Action::Replay)
        },
    )
    .await
    .expect("dry run");
    assert_eq!((dry.matched, dry.superseded, dry.delivered), (4, 2, 0));
    assert!(wfm.requests().is_empty());
    assert_eq!(stack.visible_now(&stack.dlq_url).await, 4);

    let rep = run_request(
        &r,
        &Request {
            mode: Mode::Latest,
            ..Request::new(Action::Replay)
        },
    )
    .await
    .expect("replay");
    assert_eq!((rep.delivered, rep.superseded), (2, 2));
    let mut sent: Vec<_> = wfm
        .requests()
        .iter()
        .filter_map(|r| r.header("x-event-id").map(str::to_owned))
        .collect();
    sent.sort();
    assert_eq!(sent, ["e-a3", "e-b1"]);
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
    assert_eq!(rep.keys.len(), 1);
    let lines = read_archive(&stack, &rep.keys[0]).await;
    let mut ids: Vec<_> = lines
        .iter()
        .map(|l| l.event_id.clone().unwrap_or_default())
        .collect();
    ids.sort();
    assert_eq!(ids, ["e-a1", "e-a2"]);
    assert!(lines.iter().all(|l| l.reason == Some(Reason::Superseded)));
}

#[tokio::test]
async fn archive_then_replay_archive_keeps_bytes_and_keys() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let names = [
        "presence-break.json",
        "routing-status-idle.json",
        "activity.json",
        "user-end-detail-event.json",
    ];
    let events: Vec<Vec<u8>> = names.iter().map(|n| fixture(n)).collect();
    for e in &events {
        stack.park(e, Reason::TransientExhausted, 9).await;
    }
    let r = stack.replayer(&wfm.url(), &[]);
    let rep = run_request(&r, &Request::new(Action::Archive))
        .await
        .expect("archive")
        .checked();
    assert_eq!(rep.archived, 4);
    assert_eq!(
        rep.keys.len(),
        1,
        "one object per chunk, not one per message"
    );
    assert!(rep.keys[0].starts_with("dead-letters/") && rep.keys[0].ends_with(".jsonl.gz"));
    assert_eq!(
        stack.depth(&stack.dlq_url).await,
        0,
        "DLQ empty after the PUT"
    );
    let lines = read_archive(&stack, &rep.keys[0]).await;
    let stored: HashSet<Vec<u8>> = lines
        .iter()
        .map(|l| l.event.clone().unwrap_or_default().into_bytes())
        .collect();
    assert_eq!(
        stored,
        events.iter().cloned().collect::<HashSet<_>>(),
        "byte for byte"
    );
    let manifest_key = rep.keys[0].replace("-1.jsonl.gz", "-manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&stack.object(&manifest_key).await).expect("json");
    assert_eq!(manifest["archived"], 4);

    let prefix = "dead-letters/".to_string();
    let rep = run_request(
        &r,
        &Request {
            archive_key: Some(prefix),
            ..Request::new(Action::ReplayArchive)
        },
    )
    .await
    .expect("replay-archive");
    assert_eq!((rep.matched, rep.delivered, rep.failed), (4, 4, 0));
    let posts = wfm.requests();
    assert_eq!(posts.len(), 4);
    for p in &posts {
        assert_eq!(p.header("x-replay"), Some("true"));
        assert_eq!(
            p.header("x-attempt"),
            Some("10"),
            "9 earlier attempts + this one"
        );
        let info = wfm_relay_core::event::parse_event(&p.body).expect("original event");
        assert_eq!(
            p.header("idempotency-key"),
            Some(info.key.as_str()),
            "same key as the forwarder sends"
        );
        assert!(events.contains(&p.body));
    }
}

#[tokio::test]
async fn filtered_replay_leaves_other_letters_in_place_and_visible() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    stack
        .park(
            &fixture("presence-break.json"),
            Reason::TransientExhausted,
            3,
        )
        .await;
    stack
        .park(&fixture("presence-available.json"), Reason::Rejected, 1)
        .await;
    stack
        .park(
            &fixture("routing-status-idle.json"),
            Reason::TransientExhausted,
            3,
        )
        .await;
    let r = stack.replayer(&wfm.url(), &[]);
    let req = Request {
        filter: Filter {
            topic: Some("v2.users.*.routingStatus".into()),
            ..Default::default()
        },
        ..Request::new(Action::Replay)
    };
    let rep = run_request(&r, &req).await.expect("replay");
    assert_eq!((rep.matched, rep.delivered, rep.skipped), (1, 1, 2));
    assert_eq!(rep.remaining, Some(2));
    assert_eq!(
        stack.visible_now(&stack.dlq_url).await,
        2,
        "non-matching letters visible again at once"
    );
    let by_reason = Request {
        filter: Filter {
            reason: Some(Reason::Rejected),
            ..Default::default()
        },
        ..Request::new(Action::Stats)
    };
    let stats = run_request(&r, &by_reason)
        .await
        .expect("stats")
        .checked()
        .stats
        .expect("stats");
    assert_eq!(stats.by_reason.get("rejected"), Some(&1));
    assert_eq!(stats.by_reason.len(), 1);
    assert_eq!(stats.depth, 2);
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    for n in [
        "presence-break.json",
        "activity.json",
        "routing-status-not-responding.json",
    ] {
        stack.park(&fixture(n), Reason::TransientExhausted, 3).await;
    }
    let r = stack.replayer(&wfm.url(), &[]);
    for action in [Action::Replay, Action::Redrive, Action::Archive] {
        let rep = run_request(
            &r,
            &Request {
                dry_run: true,
                ..Request::new(action)
            },
        )
        .await
        .expect("dry run");
        assert_eq!(
            (rep.matched, rep.delivered, rep.archived, rep.redriven),
            (3, 0, 0, 0),
            "{action:?}"
        );
        assert!(rep.keys.is_empty());
    }
    assert!(wfm.requests().is_empty());
    assert_eq!(stack.visible_now(&stack.dlq_url).await, 3);
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
    assert_eq!(archived(&stack).await, 0);
}

#[tokio::test]
async fn failed_replay_keeps_the_letter_with_its_history() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[502]).await;
    let event = fixture("presence-break.json");
    stack.park(&event, Reason::TransientExhausted, 4).await;
    let r = stack.replayer(&wfm.url(), &[]);
    let rep = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("replay")
        .checked();
    assert_eq!((rep.delivered, rep.failed, rep.remaining), (0, 1, Some(1)));
    let left = stack.take_all(&stack.dlq_url).await;
    assert_eq!(left.len(), 1);
    let env = &left[0].1;
    assert_eq!(env.attempts, 5);
    assert_eq!(env.last_status, Some(502));
    assert_eq!(env.reason, Some(Reason::TransientExhausted));
    assert_eq!(
        env.event.as_deref().map(str::as_bytes),
        Some(event.as_slice())
    );
}

#[tokio::test]
async fn redrive_moves_letters_back_to_the_retry_queue() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    stack
        .park(
            &fixture("presence-break.json"),
            Reason::TransientExhausted,
            12,
        )
        .await;
    stack
        .park(&fixture("activity.json"), Reason::Rejected, 1)
        .await;
    let r = stack.replayer(&wfm.url(), &[]);
    let req = Request {
        filter: Filter {
            reason: Some(Reason::TransientExhausted),
            ..Default::default()
        },
        ..Request::new(Action::Redrive)
    };
    let rep = run_request(&r, &req).await.expect("redrive");
    assert_eq!((rep.matched, rep.redriven), (1, 1));
    assert_eq!(stack.depth(&stack.dlq_url).await, 1);
    let moved = stack.take_all(&stack.retry_url).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].1.reason, None, "back on the normal schedule");
    assert_eq!(moved[0].1.attempts, 12, "history kept");
    assert!(wfm.requests().is_empty());
}

#[tokio::test]
async fn lambda_failure_records_and_raw_events_are_replayed_too() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let event: serde_json::Value =
        serde_json::from_slice(&fixture("presence-break.json")).expect("json");
    let record = json!({
        "version": "1.0", "timestamp": "2026-03-02T09:00:00.000Z",
        "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:fwd:$LATEST",
            "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "CannotPark", "errorMessage": "could not queue or park it"}
    });
    stack.send_raw(&stack.dlq_url, &record.to_string()).await;
    let raw = String::from_utf8(fixture("routing-status-idle.json")).expect("utf8");
    stack.send_raw(&stack.dlq_url, &raw).await;
    let r = stack.replayer(&wfm.url(), &[]);
    let rep = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("replay")
        .checked();
    assert_eq!(rep.delivered, 2);
    let posts = wfm.requests();
    let raw_post = posts
        .iter()
        .find(|p| p.header("x-genesys-topic") == Some("v2.users.{id}.routingStatus"))
        .expect("raw");
    assert_eq!(raw_post.body, raw.as_bytes());
    let record_post = posts
        .iter()
        .find(|p| p.header("x-genesys-topic") == Some("v2.users.{id}.presence"))
        .expect("record");
    assert_eq!(record_post.header("x-attempt"), Some("4"));
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
}

#[tokio::test]
async fn a_replayed_answer_updates_the_letter_through_the_core_verdict() {
    // Issue 8, decided: a transient answer sets `transient_exhausted` (the letter keeps a
    // reason), a Retry-After becomes `not_before` (no sleep; the letter counts failed), and a
    // permanent answer sets `rejected`.
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm_relay_local::wfm_server::ScriptedWfm::start(Script::Sequence(vec![
        Reply::status(429)
            .header("Retry-After", "120")
            .body("slow down"),
        Reply::status(400).body("bad request"),
    ]))
    .await
    .expect("WFM server");
    stack
        .park(&fixture("presence-break.json"), Reason::Expired, 2)
        .await;
    let r = stack.replayer(&wfm.url(), &[]);
    let req = Request::new(Action::Replay);
    let replay = || run_request(&r, &req);
    let rep = replay().await.expect("replay");
    assert_eq!((rep.delivered, rep.failed, rep.remaining), (0, 1, Some(1)));
    let left = stack.take_all(&stack.dlq_url).await;
    assert_eq!(left.len(), 1);
    let env = &left[0].1;
    assert_eq!(env.reason, Some(Reason::TransientExhausted));
    assert_eq!((env.attempts, env.last_status), (3, Some(429)));
    assert_eq!(env.last_error.as_deref(), Some("HTTP 429"));
    assert_eq!(env.excerpt.as_deref(), Some("slow down"));
    let at = |t: &Option<String>| {
        wfm_relay_core::timefmt::parse_rfc3339(t.as_deref().expect("time")).expect("RFC 3339")
    };
    assert_eq!(
        at(&env.not_before)
            .duration_since(at(&env.last_attempt_at))
            .expect("later"),
        std::time::Duration::from_secs(120)
    );
    // A second letter, which WFM now refuses for good (the first one, held invisible by
    // `take_all`, still counts in `remaining`).
    stack
        .park(&fixture("activity.json"), Reason::Expired, 2)
        .await;
    let rep = replay().await.expect("replay").checked();
    assert_eq!((rep.delivered, rep.failed, rep.remaining), (0, 1, Some(2)));
    let left = stack.take_all(&stack.dlq_url).await;
    assert_eq!(left.len(), 1);
    let env = &left[0].1;
    assert_eq!(env.reason, Some(Reason::Rejected));
    assert_eq!((env.attempts, env.last_status), (3, Some(400)));
    assert_eq!(
        env.last_error.as_deref(),
        Some("HTTP 400: permanent failure")
    );
    assert_eq!(env.not_before, None);
    assert_eq!(wfm.requests().len(), 2);
}
