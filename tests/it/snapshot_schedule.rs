//! The scheduled snapshot function end to end (issue 12): the `wfm-relay-snapshot` binary as two
//! Lambda processes behind the local Runtime API (concurrency 2), the Lambda Invoke API stand-in
//! it reaches through `AWS_ENDPOINT_URL_LAMBDA` for its next parts, the Genesys Cloud API
//! stand-in, moto (behind the AWS-rules layer) for the queues and the lease object, and the
//! scripted WFM.

use crate::lambda_process::forwarder_binary;
use crate::support::{Stack, StackOptions, unique, wfm};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use wfm_relay_local::genesys_api::{GenesysApi, GenesysApiOptions};
use wfm_relay_local::lambda_invoke::LambdaInvokeApi;
use wfm_relay_local::runtime_api::{FunctionProcess, InvocationType, RuntimeApi};
use wfm_relay_replayer::schedule::lease::{LEASE_KEY, Lease};

/// The function's timeout in these tests: short, so a run needs several parts.
const TIMEOUT: Duration = Duration::from_secs(4);

/// The snapshot function behind a Runtime API with two processes, and the Invoke stand-in.
struct Harness {
    stack: Stack,
    api: GenesysApi,
    wfm: wfm_relay_local::wfm_server::ScriptedWfm,
    runtime: RuntimeApi,
    invoke: LambdaInvokeApi,
    logs: Vec<PathBuf>,
    _procs: Vec<FunctionProcess>,
}

impl Harness {
    /// `agents` agents; `rate` is `SNAPSHOT_RATE_PER_S`.
    async fn start(agents: usize, rate: &str) -> Harness {
        let stack = Stack::create(StackOptions::default()).await;
        let api = GenesysApi::start(GenesysApiOptions::new(agents))
            .await
            .expect("Genesys stand-in");
        let wfm = wfm(&[200]).await;
        let runtime = RuntimeApi::start().await.expect("runtime API");
        let invoke = LambdaInvokeApi::start(runtime.clone(), TIMEOUT)
            .await
            .expect("Invoke stand-in");
        let url = api.url();
        let endpoint = invoke.url();
        let env: Vec<(String, String)> = stack
            .env(
                &wfm.url(),
                &[
                    ("GENESYS_API_URL", url.as_str()),
                    ("GENESYS_LOGIN_URL", url.as_str()),
                    ("GENESYS_CLIENT_ID", "standin-client"),
                    ("GENESYS_CLIENT_SECRET", "standin-secret"),
                    ("SNAPSHOT_RATE_PER_S", rate),
                    ("FUNCTION_TIMEOUT_S", "4"),
                    ("DEADLINE_RESERVE_MS", "500"),
                    ("AWS_ENDPOINT_URL_LAMBDA", endpoint.as_str()),
                ],
            )
            .into_iter()
            .collect();
        let bin = forwarder_binary().with_file_name("wfm-relay-snapshot");
        let mut logs = Vec::new();
        let mut procs = Vec::new();
        for _ in 0..2 {
            let log = std::env::temp_dir().join(format!("{}.log", unique("snapshot-fn")));
            procs.push(
                runtime
                    .spawn_function(&bin, "wfm-relay-snapshot", &env, Some(&log))
                    .expect("spawn"),
            );
            logs.push(log);
        }
        Harness {
            stack,
            api,
            wfm,
            runtime,
            invoke,
            logs,
            _procs: procs,
        }
    }

    /// One invocation by the schedule (EventBridge's scheduled event with `id`): the response.
    async fn scheduled(&self, id: &str) -> Value {
        let event = json!({"version": "0", "id": id, "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2026-12-01T14:00:00Z",
            "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/snap"],
            "detail": {}});
        let body = self
            .runtime
            .invoke_response(
                InvocationType::Event,
                event.to_string().into_bytes(),
                TIMEOUT,
            )
            .await
            .unwrap_or_else(|e| panic!("scheduled invocation {id}: {e}"));
        serde_json::from_slice(&body).expect("JSON response")
    }

    /// The responses of every part the function invoked itself so far, once all have ended.
    async fn parts(&self) -> Vec<Value> {
        self.invoke
            .settle()
            .await
            .iter()
            .map(|p| {
                assert_eq!(p.function, "wfm-relay-snapshot", "it invokes itself");
                p.response_json()
                    .unwrap_or_else(|| panic!("a part failed: {:?}", p.outcome))
            })
            .collect()
    }

    /// The lease object, if any.
    async fn lease(&self) -> Option<Lease> {
        match self
            .stack
            .aws
            .s3
            .get_object()
            .bucket(&self.stack.bucket)
            .key(LEASE_KEY)
            .send()
            .await
        {
            Ok(o) => {
                let bytes = o.body.collect().await.expect("body").into_bytes();
                Some(serde_json::from_slice(&bytes).expect("a lease"))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
            Err(e) => panic!("GetObject lease: {e:?}"),
        }
    }

    /// Every EMF document the processes wrote, with the log text.
    fn emf(&self) -> (Vec<Value>, String) {
        let text: String = self
            .logs
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect();
        let docs = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect();
        (docs, text)
    }

    /// The (topic) of every WFM request; asserts each is a snapshot event.
    fn topics(&self) -> Vec<String> {
        self.wfm
            .requests()
            .iter()
            .map(|r| {
                assert_eq!(r.header("x-snapshot"), Some("true"));
                let body: Value = serde_json::from_slice(&r.body).expect("JSON");
                body["detail"]["topicName"]
                    .as_str()
                    .expect("topicName")
                    .to_owned()
            })
            .collect()
    }
}

fn counted(r: &Value) -> u64 {
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
    assert_eq!(
        n("events"),
        n("delivered") + n("queued") + n("parked") + n("not_sent"),
        "{r}"
    );
    n("events")
}

/// A scheduled run of N agents with a 4 s timeout at 5 events/s continues over ≥ 2 invocations
/// and yields exactly 2N events, none lost; a second scheduled invocation while it goes is
/// skipped (`SnapshotSkipped` = 1, nothing sent); after the run the lease is gone and the next
/// scheduled run proceeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_continues_by_itself_skips_an_overlap_and_releases_its_lease() {
    const N: usize = 15;
    let h = Harness::start(N, "5").await;

    let first = h.scheduled("run-1").await;
    assert_eq!(first["run_id"], "snapshot-run-1", "{first}");
    assert_eq!(
        first["continued"], true,
        "30 events at 5/s do not fit in 4 s: {first}"
    );
    assert_eq!(first["stopped"], "deadline");
    let held = h.lease().await.expect("the run holds the lease");
    assert_eq!(held.run_id, "snapshot-run-1");

    // The run goes on in the other process: this start finds its lease.
    let second = h.scheduled("run-2").await;
    assert_eq!(
        (
            second["skipped"].clone(),
            second["run_id"].clone(),
            second["running"]["run_id"].clone()
        ),
        (
            json!(true),
            json!("snapshot-run-2"),
            json!("snapshot-run-1")
        ),
        "{second}"
    );
    assert_eq!(second["running"]["since"], json!(held.since));

    let parts = h.parts().await;
    assert!(!parts.is_empty(), "at least one more part");
    let (last, middle) = parts.split_last().expect("a last part");
    assert!(middle.iter().all(|p| p["continued"] == true), "{parts:?}");
    assert_eq!(last["continued"], false, "{last}");
    assert!(last.get("stopped").is_none(), "{last}");
    assert!(parts.iter().all(|p| p["run_id"] == "snapshot-run-1"));
    let events: u64 = counted(&first) + parts.iter().map(counted).sum::<u64>();
    let delivered: u64 = first["delivered"].as_u64().expect("delivered")
        + parts
            .iter()
            .map(|p| p["delivered"].as_u64().expect("delivered"))
            .sum::<u64>();
    assert_eq!((events, delivered), (2 * N as u64, 2 * N as u64));

    // Exactly 2N events at WFM, each agent's two topics once: none lost, none twice, and the
    // skipped start sent nothing.
    let topics = h.topics();
    assert_eq!(topics.len(), 2 * N);
    let distinct: BTreeSet<&String> = topics.iter().collect();
    assert_eq!(distinct.len(), 2 * N, "{topics:?}");
    for i in 0..N {
        let id = &h.api.agent(i).id;
        assert!(distinct.contains(&format!("v2.users.{id}.presence")));
        assert!(distinct.contains(&format!("v2.users.{id}.routingStatus")));
    }
    assert_eq!(h.stack.depth(&h.stack.retry_url).await, 0);
    assert_eq!(h.stack.depth(&h.stack.dlq_url).await, 0);
    assert_eq!(h.lease().await, None, "the last part deleted the lease");

    // One EMF document per invocation; SnapshotSkipped = 1 only in the skipped one.
    let (docs, text) = h.emf();
    assert_eq!(docs.len(), 2 + parts.len(), "{text}");
    let skipped: Vec<&Value> = docs.iter().filter(|d| d["SnapshotSkipped"] == 1).collect();
    assert_eq!(skipped.len(), 1, "{text}");
    assert_eq!(skipped[0]["RunId"], "snapshot-run-2");
    assert!(docs.iter().all(|d| d["SnapshotSkipped"].is_u64()), "{text}");
    let line: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("snapshot run skipped"))
        .collect();
    assert_eq!(line.len(), 1, "{text}");
    assert!(
        line[0].contains("snapshot-run-1") && line[0].contains(&held.since),
        "{}",
        line[0]
    );

    // The next scheduled run proceeds.
    let third = h.scheduled("run-3").await;
    assert_eq!(third["run_id"], "snapshot-run-3", "{third}");
    assert!(third.get("skipped").is_none(), "{third}");
    let more = h.parts().await;
    assert!(more.len() > parts.len(), "run-3 continued as well");
    assert_eq!(h.wfm.requests().len(), 4 * N);
    assert_eq!(h.lease().await, None);
    h.api.shutdown().await;
}

/// A lease left by a crashed run (expired) is taken over with a log line naming it; the run
/// completes and deletes the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_of_a_crashed_run_is_taken_over() {
    const N: usize = 3;
    let h = Harness::start(N, "0").await;
    let crashed = Lease::new(
        "snapshot-crashed",
        SystemTime::now() - Duration::from_secs(3600),
        Duration::from_secs(600),
    );
    h.stack
        .aws
        .s3
        .put_object()
        .bucket(&h.stack.bucket)
        .key(LEASE_KEY)
        .body(serde_json::to_vec(&crashed).expect("json").into())
        .send()
        .await
        .expect("put the crashed run's lease");

    let r = h.scheduled("run-after-crash").await;
    assert_eq!(r["run_id"], "snapshot-run-after-crash", "{r}");
    assert_eq!(
        (r["continued"].clone(), r["delivered"].clone()),
        (json!(false), json!(2 * N)),
        "{r}"
    );
    assert!(h.parts().await.is_empty(), "one part was enough");
    assert_eq!(h.topics().len(), 2 * N);
    assert_eq!(h.lease().await, None);
    let (docs, text) = h.emf();
    assert!(docs.iter().all(|d| d["SnapshotSkipped"] == 0), "{text}");
    let took: Vec<&str> = text.lines().filter(|l| l.contains("taken over")).collect();
    assert_eq!(took.len(), 1, "{text}");
    assert!(took[0].contains("snapshot-crashed"), "{}", took[0]);
    h.api.shutdown().await;
}
