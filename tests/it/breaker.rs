//! The circuit breaker in front of WFM (issue 4) and the forwarder's metrics: a long outage
//! costs WFM at most `BREAKER_FAILURES` requests while every event is queued (never dropped,
//! never reported delivered: case C17); after the open period one probe decides; the SQS entry
//! lists records without a POST while the breaker is open. The forwarder binary writes its
//! metrics as CloudWatch Embedded Metric Format lines.

use crate::lambda_process::forwarder_binary;
use crate::support::*;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use wfm_relay_core::envelope::Reason;
use wfm_relay_core::metrics;
use wfm_relay_core::timefmt::format_rfc3339;
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::runtime_api::RuntimeApi;
use wfm_relay_local::wfm_server::ScriptedWfm;

/// A presence event with a unique id and a state time of now.
fn event(n: usize) -> Vec<u8> {
    presence_event(
        &format!("b7ea7e00-0000-4000-8000-{n:012}"),
        &format!("b7ea7e00-0000-4000-8000-{:012}", 1000 + n),
        &format_rfc3339(SystemTime::now()),
    )
}

/// A test's stack, a WFM answering `statuses` in sequence (the last repeats) and a forwarder
/// with one inline attempt whose breaker opens after `failures` failures for `open_ms` ms;
/// `extra` variables come after.
async fn breaker_rig(
    statuses: &[u16],
    failures: &str,
    open_ms: &str,
    extra: &[(&str, &str)],
) -> (Stack, ScriptedWfm, Forwarder) {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(statuses).await;
    let mut vars = vec![
        ("BREAKER_FAILURES", failures),
        ("BREAKER_OPEN_MS", open_ms),
        ("INLINE_ATTEMPTS", "1"),
    ];
    vars.extend_from_slice(extra);
    let fwd = stack.forwarder(&wfm.url(), &vars);
    (stack, wfm, fwd)
}

#[tokio::test]
async fn long_outage_probes_at_most_configured_and_queues_every_event() {
    let (stack, wfm, fwd) = breaker_rig(&[503], "3", "60000", &[("RETRY_SCHEDULE", "1s")]).await;
    for n in 0..20 {
        let (out, m) = fwd.handle_measured(&event(n), deadline()).await;
        assert_eq!(
            out.expect("never an invocation error"),
            json!({"outcome": "queued"})
        );
        assert_eq!(m.count(metrics::RETRIED), 1);
        assert_eq!(m.count(metrics::DELIVERED), 0);
        let open = n >= 2;
        assert_eq!(
            m.to_emf_json(0).contains(r#""BreakerOpen":1"#),
            open,
            "BreakerOpen after event {n}"
        );
    }
    assert_eq!(
        wfm.requests().len(),
        3,
        "the breaker opened after 3 failures"
    );
    assert_eq!(
        stack.depth(&stack.retry_url).await,
        20,
        "every event is queued"
    );
    assert_eq!(stack.depth(&stack.dlq_url).await, 0, "none parked");

    // A queued event that the breaker kept from WFM says so, and counts no attempt. (They were
    // sent with the 1 s delay of the first schedule step.)
    tokio::time::sleep(Duration::from_secs(2)).await;
    let queued = stack.take_all(&stack.retry_url).await;
    assert_eq!(queued.len(), 20);
    let skipped: Vec<_> = queued.iter().filter(|(_, e)| e.attempts == 0).collect();
    assert_eq!(skipped.len(), 17);
    for (_, env) in skipped {
        assert_eq!(env.reason, None);
        assert!(
            env.last_error
                .as_deref()
                .is_some_and(|e| e.contains("circuit breaker open")),
            "{:?}",
            env.last_error
        );
    }
}

#[tokio::test]
async fn after_the_open_period_one_probe_succeeds_and_closes_the_breaker() {
    let (stack, wfm, fwd) = breaker_rig(&[503, 503, 503, 200], "3", "500", &[]).await;
    for n in 0..4 {
        assert_eq!(
            fwd.handle(&event(n), deadline()).await.expect("ok"),
            json!({"outcome": "queued"})
        );
    }
    assert_eq!(wfm.requests().len(), 3, "the 4th event made no request");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (out, m) = fwd.handle_measured(&event(4), deadline()).await;
    assert_eq!(out.expect("ok"), json!({"outcome": "delivered"}));
    assert_eq!(m.count(metrics::DELIVERED), 1);
    assert!(
        m.to_emf_json(0).contains(r#""BreakerOpen":0"#),
        "closed by the probe"
    );
    assert_eq!(
        fwd.handle(&event(5), deadline()).await.expect("ok"),
        json!({"outcome": "delivered"}),
        "closed: the next event goes through"
    );
    assert_eq!(wfm.requests().len(), 5);
    assert_eq!(stack.depth(&stack.retry_url).await, 4);
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
}

#[tokio::test]
async fn a_failed_probe_opens_the_breaker_again() {
    let (stack, wfm, fwd) = breaker_rig(&[503], "2", "500", &[]).await;
    for n in 0..3 {
        fwd.handle(&event(n), deadline()).await.expect("queued");
    }
    assert_eq!(wfm.requests().len(), 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    fwd.handle(&event(3), deadline()).await.expect("queued");
    assert_eq!(wfm.requests().len(), 3, "one probe");
    fwd.handle(&event(4), deadline()).await.expect("queued");
    assert_eq!(wfm.requests().len(), 3, "open again after the failed probe");
    assert_eq!(stack.depth(&stack.retry_url).await, 5);
}

#[tokio::test]
async fn sqs_entry_lists_records_without_a_post_while_the_breaker_is_open() {
    let (stack, wfm, fwd) =
        breaker_rig(&[503], "1", "60000", &[("RETRY_SCHEDULE", "1s,1s,1s")]).await;
    for n in 0..3 {
        fwd.handle(&event(n), deadline()).await.expect("queued");
    }
    assert_eq!(wfm.requests().len(), 1, "the first failure opened it");
    let esm = stack.retry_esm().await;
    let mut listed = 0;
    for _ in 0..10 {
        let r = poll_with(&esm, &fwd).await;
        assert_eq!(r.deleted, 0, "never deleted while the breaker is open");
        listed += r.failed_ids.len();
        if listed == 3 {
            break;
        }
    }
    assert_eq!(listed, 3, "every record listed in batchItemFailures");
    assert_eq!(wfm.requests().len(), 1, "no POST while open");
    // Their visibility now runs to the end of the open period (longer than the 1 s step): they
    // are not received again at once.
    assert!(stack.nothing_visible(&stack.retry_url).await);
    assert_eq!(stack.depth(&stack.retry_url).await, 3);
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
}

#[tokio::test]
async fn schedule_running_out_while_the_breaker_is_open_parks_the_event() {
    let (stack, wfm, fwd) = breaker_rig(&[503], "1", "60000", &[("RETRY_SCHEDULE", "1s")]).await;
    let first = event(0);
    let second = event(1);
    fwd.handle(&first, deadline()).await.expect("queued");
    fwd.handle(&second, deadline()).await.expect("queued");
    crate::sqs_cases::drain_retry_queue(&stack, &fwd, 1).await;
    assert_eq!(wfm.requests().len(), 1);
    assert_eq!(stack.depth(&stack.retry_url).await, 0);
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 2, "parked, not dropped");
    for (_, env) in &parked {
        assert_eq!(env.reason, Some(Reason::TransientExhausted));
        assert!(
            env.last_error
                .as_deref()
                .is_some_and(|e| e.contains("circuit breaker was open")
                    || e.contains("circuit breaker open")),
            "{:?}",
            env.last_error
        );
    }
    let mut bodies: Vec<&[u8]> = parked
        .iter()
        .map(|(_, e)| e.event.as_deref().unwrap_or("").as_bytes())
        .collect();
    bodies.sort();
    let mut want = vec![first.as_slice(), second.as_slice()];
    want.sort();
    assert_eq!(bodies, want);
}

/// The EMF documents (lines with an `_aws` member) of a function log.
fn emf_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

fn sum(docs: &[Value], name: &str) -> u64 {
    docs.iter().filter_map(|d| d[name].as_u64()).sum()
}

#[tokio::test]
async fn forwarder_binary_writes_emf_metrics_per_invocation() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200, 200, 410, 503]).await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let env: Vec<(String, String)> = stack
        .env(
            &wfm.url(),
            &[("INLINE_ATTEMPTS", "1"), ("BREAKER_FAILURES", "2")],
        )
        .into_iter()
        .collect();
    let log = std::env::temp_dir().join(format!("{}.log", unique("forwarder-metrics")));
    let _proc = api
        .spawn_function(&forwarder_binary(), "wfm-relay-forwarder", &env, Some(&log))
        .expect("spawn");
    let mut outcomes = Vec::new();
    for n in 0..6 {
        let v = invoke_json(&api, event(n)).await;
        outcomes.push(v["outcome"].as_str().unwrap_or("").to_owned());
    }
    // 200, 200, 410 (parked gone), 503 and 503 (queued; the breaker opens), then no POST.
    assert_eq!(
        outcomes,
        [
            "delivered",
            "delivered",
            "gone",
            "queued",
            "queued",
            "queued"
        ]
    );
    let delivered_by_wfm = wfm
        .requests()
        .iter()
        .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
        .count() as u64;
    assert_eq!(delivered_by_wfm, 2);
    assert_eq!(wfm.requests().len(), 5);

    let logs = std::fs::read_to_string(&log).expect("function log");
    let docs = emf_lines(&logs);
    let main: Vec<Value> = docs
        .iter()
        .filter(|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == json!([["Function"]]))
        .cloned()
        .collect();
    assert_eq!(
        main.len(),
        6,
        "one Function document per invocation:\n{logs}"
    );
    assert_eq!(sum(&main, "Delivered"), delivered_by_wfm);
    assert_eq!(sum(&main, "Retried"), 3);
    assert_eq!(sum(&main, "Parked"), 1);
    assert_eq!(sum(&main, "Gone"), 1);
    for d in &docs {
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "WfmRelay");
        assert_eq!(d["Function"], "wfm-relay-forwarder");
        assert!(d["_aws"]["Timestamp"].as_u64().is_some());
    }
    let latencies: usize = main
        .iter()
        .filter_map(|d| d["WfmLatency"].as_array())
        .map(Vec::len)
        .sum();
    assert_eq!(latencies, 5, "one latency value per POST");
    let breaker: Vec<u64> = main
        .iter()
        .map(|d| d["BreakerOpen"].as_u64().expect("gauge"))
        .collect();
    assert_eq!(breaker, [0, 0, 0, 0, 1, 1]);
    let by_reason: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == json!([["Function", "Reason"]])
        })
        .collect();
    assert_eq!(by_reason.len(), 1);
    assert_eq!(by_reason[0]["Reason"], "gone");
    assert_eq!(by_reason[0]["Parked"], 1);
}
