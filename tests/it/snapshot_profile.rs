//! Snapshots under the same policy as live events (issue 12, item 3): a WFM profile applied to
//! snapshot events by the start-up path the replayer Lambda and relayctl share
//! (`Snapshotter::from_env`), and a Genesys token whose lifetime is shorter than the run.

use crate::relayctl_snapshot::{counts, env, relayctl};
use crate::support::genesys::{genesys_client, snapshotter};
use crate::support::{Stack, StackOptions, wfm};
use std::time::Duration;
use wfm_relay_core::envelope::Reason;
use wfm_relay_local::genesys_api::{Agent, GenesysApi, GenesysApiOptions};
use wfm_relay_replayer::SnapshotRequest;

/// The `agent-state` state of a system presence (the profile's table, README "WFM profiles").
fn presence_state(system: &str) -> &'static str {
    match system {
        "Available" => "AVAILABLE",
        "On Queue" => "ON_QUEUE",
        "Break" => "BREAK",
        "Meal" => "MEAL",
        "Away" => "AWAY",
        "Training" => "TRAINING",
        other => panic!("no agent-state code for {other}"),
    }
}

/// The two `agent-state` bodies of agent `a` mapped to `wfm_id`: presence, then routing status.
fn agent_state_bodies(a: &Agent, wfm_id: &str) -> [serde_json::Value; 2] {
    [
        serde_json::json!({
            "agent_id": wfm_id,
            "state": presence_state(&a.system_presence),
            "reason": a.presence_id,
            "timestamp": a.modified_date,
            "source": "genesys",
        }),
        serde_json::json!({
            "agent_id": wfm_id,
            "state": a.routing_status,
            "reason": null,
            "timestamp": a.routing_start,
            "source": "genesys",
        }),
    ]
}

/// `relayctl snapshot` (`Snapshotter::from_env`, the replayer Lambda's start-up too) with
/// `WFM_PROFILE=builtin:agent-state` and a mapping table in S3: the mapped agents' events arrive
/// as agent-state bodies with the WFM agent id, the state code, the state time as `timestamp`
/// and `X-Snapshot: true`; the agent missing from the table is parked `unmapped_agent`, both
/// its events, and the report counts them as parked (exit 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_events_go_through_the_wfm_profile_and_unmapped_agents_are_parked() {
    const N: usize = 4;
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(GenesysApiOptions::new(N))
        .await
        .expect("stand-in");
    let agents: Vec<Agent> = (0..N).map(|i| api.agent(i)).collect();
    let mut table = "user_id,wfm_id\n".to_owned();
    for (i, a) in agents.iter().take(N - 1).enumerate() {
        table.push_str(&format!("{},wfm-{}\n", a.id, i + 1));
    }
    stack
        .aws
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key("profiles/snapshot-agents.csv")
        .body(table.into_bytes().into())
        .send()
        .await
        .expect("put");
    let mapping = format!("s3://{}/profiles/snapshot-agents.csv", stack.bucket);
    let w = wfm(&[200]).await;
    let vars = env(
        &stack,
        &api,
        &w.url(),
        &[
            ("WFM_PROFILE", "builtin:agent-state"),
            ("WFM_PROFILE_MAPPING", mapping.as_str()),
        ],
    );
    let run = relayctl(vars, &["--json", "--yes", "snapshot"]).await;
    assert_eq!(run.code, Some(3), "parked events exit 3: {}", run.stderr);
    let r = run.report();
    let n = N as u64;
    // agents, events, delivered, queued, parked, not sent
    assert_eq!(counts(&r), [n, 2 * n, 2 * (n - 1), 0, 2, 0], "{r}");

    let reqs = w.requests();
    assert!(reqs.iter().all(|q| q.header("x-snapshot") == Some("true")));
    // Agents are handed over several at once at SNAPSHOT_RATE_PER_S=0: compare in one order.
    let sorted = |mut v: Vec<serde_json::Value>| {
        v.sort_by_key(serde_json::Value::to_string);
        v
    };
    let got: Vec<serde_json::Value> = reqs
        .iter()
        .map(|q| serde_json::from_slice(&q.body).expect("JSON body"))
        .collect();
    let want: Vec<serde_json::Value> = agents
        .iter()
        .take(N - 1)
        .enumerate()
        .flat_map(|(i, a)| agent_state_bodies(a, &format!("wfm-{}", i + 1)))
        .collect();
    assert_eq!(sorted(got), sorted(want));

    let mut parked = stack.take_all(&stack.dlq_url).await;
    parked.sort_by_key(|(_, e)| e.topic.clone());
    let unmapped = &agents[N - 1];
    let got: Vec<_> = parked
        .iter()
        .map(|(_, e)| (e.reason, e.user_id.clone(), e.topic.clone(), e.attempts))
        .collect();
    let want: Vec<_> = ["presence", "routingStatus"]
        .iter()
        .map(|t| {
            (
                Some(Reason::UnmappedAgent),
                Some(unmapped.id.clone()),
                Some(format!("v2.users.{}.{t}", unmapped.id)),
                0,
            )
        })
        .collect();
    assert_eq!(got, want);
    api.shutdown().await;
}

/// Genesys tokens of 2 s and 30 calls per minute (one every 2 s): every token has expired by
/// the next page, mid-run. The client takes its token after each pacing wait and refreshes it
/// before expiry (half its lifetime left), so each of the 4 calls (organizations/me, 3 users
/// pages of 500) gets a new token and none is sent expired (the stand-in answers 0 × 401); the
/// snapshot completes with 2N events, and `genesys_calls` matches the stand-in's count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expiring_between_pages_are_refreshed_before_use() {
    const N: usize = 1_001;
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(GenesysApiOptions {
        token_ttl: Duration::from_secs(2),
        ..GenesysApiOptions::new(N)
    })
    .await
    .expect("stand-in");
    let genesys = genesys_client(&api, &[("GENESYS_RATE_PER_MINUTE", "30")]).await;
    let w = wfm(&[200]).await;
    let s = snapshotter(genesys, stack.forwarder(&w.url(), &[]), None);
    let r = s.run(&SnapshotRequest::all(), None, &|_| {}).await;
    assert!(r.identity_holds(), "{r:?}");
    assert_eq!(r.stopped, None, "{r:?}");
    assert_eq!(
        (r.agents, r.events, r.delivered),
        (N, 2 * N, 2 * N),
        "{r:?}"
    );
    let c = api.counters();
    assert_eq!(c.of("GET /api/v2/organizations/me"), 1);
    assert_eq!(c.of("GET /api/v2/users"), 3, "{c:?}");
    assert_eq!((r.genesys_calls, c.api_calls()), (4, 4));
    assert_eq!(
        c.tokens_issued, 4,
        "one new token per call: each had expired"
    );
    assert_eq!(c.unauthorized, 0, "no request with an expired token");
    assert_eq!((r.genesys_429, c.rate_limited), (0, 0));
    assert_eq!(w.requests().len(), 2 * N);
    api.shutdown().await;
}
