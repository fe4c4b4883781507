//! Snapshots end to end (issue 12): the Genesys Cloud API stand-in on loopback, the snapshot
//! runner delivering through the forwarder's real EventBridge entry against moto (behind the
//! AWS-rules layer) and the scripted WFM.

use crate::support::genesys::{genesys_client, snapshotter as snapshotter_of};
use crate::support::{Stack, StackOptions, wfm};
use std::time::Duration;
use wfm_relay_local::genesys_api::seed::queue_id;
use wfm_relay_local::genesys_api::{GenesysApi, GenesysApiOptions, RateLimit};
use wfm_relay_replayer::{SnapshotReport, SnapshotRequest, Snapshotter};

const ORG: &str = "11111111-2222-3333-4444-555555555555";

async fn snapshotter(
    stack: &Stack,
    api: &GenesysApi,
    wfm_url: &str,
    extra: &[(&str, &str)],
) -> Snapshotter {
    snapshotter_of(
        genesys_client(api, &[]).await,
        stack.forwarder(wfm_url, extra),
        None,
    )
}

/// The `detail.topicName` of a snapshot event body.
pub(crate) fn topic_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("JSON body");
    v["detail"]["topicName"]
        .as_str()
        .expect("topicName")
        .to_owned()
}

fn counted(r: &SnapshotReport) {
    assert!(r.identity_holds(), "{r:?}");
}

/// N agents → exactly 2N events, each with `X-Snapshot: true` and the state's own start as
/// `X-Event-Time`; a 6-hour-old (here: months-old) state passes `MAX_EVENT_AGE`, and the
/// snapshot source passes `ALLOWED_SOURCES` given as a bare org id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_agents_give_2n_events_with_their_state_times() {
    const N: usize = 7;
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(GenesysApiOptions::new(N))
        .await
        .expect("stand-in");
    let w = wfm(&[200]).await;
    let s = snapshotter(
        &stack,
        &api,
        &w.url(),
        &[("ALLOWED_SOURCES", ORG), ("MAX_EVENT_AGE", "*=15m")],
    )
    .await;
    let r = s.run(&SnapshotRequest::all(), None, &|_| {}).await;
    counted(&r);
    assert_eq!(
        (r.agents, r.events, r.delivered),
        (N, 2 * N, 2 * N),
        "{r:?}"
    );
    assert_eq!((r.queued, r.parked, r.not_sent), (0, 0, 0));
    // organizations/me once, one users page.
    assert_eq!(r.genesys_calls, 2);
    let c = api.counters();
    assert_eq!(c.of("GET /api/v2/organizations/me"), 1);
    assert_eq!(c.of("GET /api/v2/users"), 1);
    assert_eq!(c.tokens_issued, 1);

    let mut reqs = w.requests();
    assert_eq!(reqs.len(), 2 * N);
    // At SNAPSHOT_RATE_PER_S=0 agents are handed over several at once: order by topic (user
    // ids follow the agents' order, presence sorts before routingStatus).
    reqs.sort_by_key(|q| topic_of(&q.body));
    for (n, req) in reqs.iter().enumerate() {
        let agent = api.agent(n / 2);
        assert_eq!(req.header("x-snapshot"), Some("true"));
        assert_eq!(req.header("x-replay"), None);
        let want = if n % 2 == 0 {
            &agent.modified_date
        } else {
            &agent.routing_start
        };
        assert_eq!(req.header("x-event-time"), Some(want.as_str()), "event {n}");
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("JSON");
        assert_eq!(body["source"], format!("wfm-relay.snapshot/{ORG}"));
        assert_eq!(body["time"], body["detail"]["timestamp"]);
        let topic = if n % 2 == 0 {
            "presence"
        } else {
            "routingStatus"
        };
        assert_eq!(
            body["detail"]["topicName"],
            format!("v2.users.{}.{topic}", agent.id)
        );
    }
    assert_eq!(
        stack.depth(&stack.dlq_url).await,
        0,
        "none unknown_source / expired"
    );
    api.shutdown().await;
}

/// A queue of 100 members: one members page, presence in two bulk calls of 50; the stand-in's
/// rate limit (20 per 2 s) is never hit at the client's 300 per minute; an injected 429 and a
/// 401 (token refreshed) are survived; `ALLOWED_SOURCES` in its partner-source form admits the
/// snapshot events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_members_bulk_limit_rate_limit_429_and_401_survived() {
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(GenesysApiOptions {
        rate_limit: RateLimit {
            requests: 20,
            per: Duration::from_secs(2),
        },
        ..GenesysApiOptions::new(300)
    })
    .await
    .expect("stand-in");
    let w = wfm(&[200]).await;
    let partner = format!("aws.partner/genesys.com/cloud/{ORG}/wfm-relay");
    let s = snapshotter_of(
        genesys_client(&api, &[]).await,
        stack.forwarder(
            &w.url(),
            &[
                ("ALLOWED_SOURCES", partner.as_str()),
                ("MAX_EVENT_AGE", "*=15m"),
            ],
        ),
        Some(ORG.to_owned()),
    );
    api.fail_next(&[429, 401]);
    let req = SnapshotRequest {
        queues: vec![queue_id(0)],
        ..SnapshotRequest::all()
    };
    let r = s.run(&req, None, &|_| {}).await;
    counted(&r);
    assert_eq!((r.agents, r.events, r.delivered), (100, 200, 200), "{r:?}");
    assert_eq!(r.genesys_429, 1);
    let c = api.counters();
    assert_eq!(c.max_bulk_ids, 50);
    assert_eq!(c.bulk_calls, 2);
    assert_eq!(c.tokens_issued, 2, "the 401 refreshed the token once");
    assert_eq!(c.rate_limited, 1, "only the injected 429");
    // Members page 1 (429, 401, then 200), page 2 (empty: page 1 was full) + 2 bulk calls.
    assert_eq!(
        (
            c.of("GET /api/v2/routing/queues/{queueId}/members"),
            r.genesys_calls
        ),
        (4, 6),
        "{c:?}"
    );
    assert_eq!(r.genesys_calls, c.api_calls());
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
    assert!(
        w.requests()
            .iter()
            .all(|q| q.header("x-snapshot") == Some("true"))
    );
    api.shutdown().await;
}

/// WFM down for the whole snapshot: every event ends queued (none missing), and a dry run
/// sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wfm_outage_queues_every_event_and_dry_run_sends_nothing() {
    const N: usize = 5;
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(GenesysApiOptions::new(N))
        .await
        .expect("stand-in");
    let w = wfm(&[503]).await;
    let s = snapshotter(
        &stack,
        &api,
        &w.url(),
        &[("INLINE_ATTEMPTS", "1"), ("BREAKER_FAILURES", "0")],
    )
    .await;

    let dry = SnapshotRequest {
        dry_run: true,
        ..SnapshotRequest::all()
    };
    let r = s.run(&dry, None, &|_| {}).await;
    counted(&r);
    assert_eq!(
        (r.events, r.not_sent, r.delivered + r.queued + r.parked),
        (2 * N, 2 * N, 0)
    );
    assert_eq!(w.requests().len(), 0, "a dry run sends nothing");

    let r = s.run(&SnapshotRequest::all(), None, &|_| {}).await;
    counted(&r);
    assert_eq!((r.events, r.queued, r.not_sent), (2 * N, 2 * N, 0), "{r:?}");
    assert_eq!(
        w.requests().len(),
        2 * N,
        "one attempt each, then the retry queue"
    );
    assert_eq!(stack.depth(&stack.dlq_url).await, 0, "none parked");
    api.shutdown().await;
}
