//! Division selections end to end (issue 12 items 1/4): the Genesys Cloud API stand-in on
//! loopback (every user with its `division`), the snapshot runner delivering through the
//! forwarder's real EventBridge entry against moto (behind the AWS-rules layer) and the
//! scripted WFM. A division selection reads the users pages of an all-users snapshot and keeps
//! the division's agents: no extra Genesys call.

use crate::support::genesys::{genesys_client, snapshotter as snapshotter_of};
use crate::support::{Stack, StackOptions, wfm};
use std::collections::BTreeSet;
use wfm_relay_local::genesys_api::seed::division_id;
use wfm_relay_local::genesys_api::{GenesysApi, GenesysApiOptions};
use wfm_relay_local::wfm_server::ScriptedWfm;
use wfm_relay_replayer::{SnapshotRequest, Snapshotter};

async fn snapshotter(stack: &Stack, api: &GenesysApi, wfm_url: &str) -> Snapshotter {
    snapshotter_of(
        genesys_client(api, &[]).await,
        stack.forwarder(wfm_url, &[("MAX_EVENT_AGE", "*=15m")]),
        None,
    )
}

/// The user ids of `topic` events WFM received, in order.
fn user_ids(w: &ScriptedWfm, topic: &str) -> Vec<String> {
    w.requests()
        .iter()
        .filter_map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
            let t = body["detail"]["topicName"].as_str()?.to_owned();
            let id = t.strip_prefix("v2.users.")?.strip_suffix(topic)?;
            Some(id.to_owned())
        })
        .collect()
}

/// 11 agents over 3 divisions: division 1 holds agents 1, 4, 7 and 10. Exactly those get their
/// 2 events each (presence and routing status), the org and one users page are the only two
/// Genesys calls; a continuation (`resume` with `skip` 2, as a deadline would leave it) sends
/// the division's remaining two agents and nobody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_division_snapshot_sends_exactly_its_agents() {
    let mut opts = GenesysApiOptions::new(11);
    opts.directory.divisions = 3;
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(opts).await.expect("stand-in");
    let w = wfm(&[200]).await;
    let s = snapshotter(&stack, &api, &w.url()).await;
    let req = SnapshotRequest {
        divisions: vec![division_id(1)],
        ..SnapshotRequest::all()
    };
    let r = s.run(&req, None, &|_| {}).await;
    assert!(r.identity_holds(), "{r:?}");
    assert_eq!(
        (r.agents, r.events, r.delivered, r.unreadable),
        (4, 8, 8, 0),
        "{r:?}"
    );
    assert_eq!((r.stopped, r.next), (None, None));
    assert_eq!(r.genesys_calls, 2, "organizations/me and one users page");
    let c = api.counters();
    assert_eq!(c.of("GET /api/v2/organizations/me"), 1);
    assert_eq!(c.of("GET /api/v2/users"), 1);
    assert_eq!(c.api_calls(), 2, "{c:?}");
    // Up to 8 agents are delivered at once (SNAPSHOT_RATE_PER_S=0), so compare as sets.
    let mut want: Vec<String> = [1, 4, 7, 10].iter().map(|i| api.agent(*i).id).collect();
    want.sort();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(user_ids(&w, ".presence")), want);
    assert_eq!(sorted(user_ids(&w, ".routingStatus")), want);
    let agents: Vec<_> = [1, 4, 7, 10].iter().map(|i| api.agent(*i)).collect();
    for (n, req) in w.requests().iter().enumerate() {
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("JSON");
        let topic = body["detail"]["topicName"].as_str().expect("topicName");
        let agent = agents
            .iter()
            .find(|a| topic.starts_with(&format!("v2.users.{}.", a.id)))
            .unwrap_or_else(|| panic!("event {n}: {topic} is not one of the division's agents"));
        assert_eq!(agent.division_id, division_id(1));
        let at = if topic.ends_with(".presence") {
            &agent.modified_date
        } else {
            &agent.routing_start
        };
        assert_eq!(req.header("x-snapshot"), Some("true"));
        assert_eq!(req.header("x-event-time"), Some(at.as_str()), "event {n}");
    }

    // The continuation of a part that stopped after two of the division's agents.
    // As a report's `next` carries it (the Lambda payload of the next invocation).
    let next: SnapshotRequest = serde_json::from_value(serde_json::json!({
        "v": 1, "action": "snapshot", "divisions": [division_id(1)],
        "resume": {"part": 0, "page": 1, "skip": 2}, "run_id": r.run_id,
    }))
    .expect("a continuation request");
    let r2 = s.run(&next, None, &|_| {}).await;
    assert_eq!((r2.agents, r2.events, r2.delivered), (2, 4, 4), "{r2:?}");
    assert_eq!(r2.run_id, r.run_id);
    let resent = sorted(user_ids(&w, ".presence")[4..].to_vec());
    assert_eq!(resent, want[2..], "agents 7 and 10 only");
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
    api.shutdown().await;
}

/// 1,001 agents (three users pages of 500) over 3 divisions, two of them selected: one pass
/// over the pages serves both — 1 + 3 Genesys calls, the same as every active user — and the
/// dry run counts exactly the 667 agents of divisions 0 and 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_divisions_cost_one_pass_over_the_users_pages() {
    const N: usize = 1001;
    let mut opts = GenesysApiOptions::new(N);
    opts.directory.divisions = 3;
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(opts).await.expect("stand-in");
    let w = wfm(&[200]).await;
    let s = snapshotter(&stack, &api, &w.url()).await;
    let req = SnapshotRequest {
        divisions: vec![division_id(0), division_id(2)],
        dry_run: true,
        ..SnapshotRequest::all()
    };
    let r = s.run(&req, None, &|_| {}).await;
    let want = (0..N).filter(|i| i % 3 != 1).count();
    assert_eq!(want, 667);
    assert_eq!(
        (r.agents, r.events, r.not_sent, r.delivered),
        (want, 2 * want, 2 * want, 0),
        "{r:?}"
    );
    assert_eq!(r.genesys_calls, 4, "organizations/me and three users pages");
    let c = api.counters();
    assert_eq!(c.of("GET /api/v2/users"), 3);
    assert_eq!(c.bulk_calls, 0, "expand gave every presence");
    assert_eq!(c.of("GET /api/v2/users/{userId}/routingstatus"), 0);
    assert!(w.requests().is_empty(), "a dry run sends nothing");
    let divisions: BTreeSet<String> = (0..N)
        .filter(|i| i % 3 != 1)
        .map(|i| api.agent(i).division_id)
        .collect();
    assert_eq!(divisions, BTreeSet::from([division_id(0), division_id(2)]));
    api.shutdown().await;
}
