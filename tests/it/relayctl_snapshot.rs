//! `relayctl snapshot` end to end (issue 12, item 4): the relayctl binary, configured only
//! through its environment (the Lambda's variables), against the Genesys Cloud API stand-in on
//! loopback, moto (behind the AWS-rules layer) and the scripted WFM.

use crate::lambda_process::forwarder_binary;
use crate::log_scan::run_in_pty;
use crate::support::genesys::genesys_vars;
use crate::support::relayctl::{Relayctl, Run};
use crate::support::{Stack, StackOptions, wfm};
use serde_json::Value;
use wfm_relay_local::genesys_api::{GenesysApi, GenesysApiOptions};

/// The replayer Lambda's environment for `wfm_url`, plus the Genesys stand-in's URLs and client.
pub(crate) fn env(
    stack: &Stack,
    api: &GenesysApi,
    wfm_url: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let genesys = genesys_vars(api);
    let mut all: Vec<(&str, &str)> = genesys.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("SNAPSHOT_RATE_PER_S", "0"));
    all.extend_from_slice(extra);
    stack.env(wfm_url, &all).into_iter().collect()
}

/// relayctl with `args` and this process's environment plus `env`, stdin not a terminal, off the
/// runtime's threads (the stand-ins run on them).
pub(crate) async fn relayctl(env: Vec<(String, String)>, args: &[&str]) -> Run {
    Relayctl::inheriting(args, env).run_off_runtime().await
}

pub(crate) fn counts(r: &Value) -> [u64; 6] {
    [
        "agents",
        "events",
        "delivered",
        "queued",
        "parked",
        "not_sent",
    ]
    .map(|k| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}")))
}

/// N agents → 2N events delivered, exit 0; without a terminal and without --yes it refuses
/// (exit 2) before it reads Genesys; a dry run sends nothing (exit 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayctl_snapshot_delivers_2n_and_a_dry_run_sends_nothing() {
    const N: u64 = 6;
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(GenesysApiOptions::new(6))
        .await
        .expect("stand-in");
    let w = wfm(&[200]).await;
    let vars = env(&stack, &api, &w.url(), &[]);

    let refused = relayctl(vars.clone(), &["snapshot"]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(api.counters().tokens_issued, 0, "refused before Genesys");

    let dry = relayctl(vars.clone(), &["--json", "snapshot", "--dry-run"]).await;
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    let r = dry.report();
    assert_eq!(counts(&r), [N, 2 * N, 0, 0, 0, 2 * N], "{r}");
    assert_eq!(r["dry_run"], true);
    assert_eq!(w.requests().len(), 0, "a dry run sends nothing");

    let sent = relayctl(vars.clone(), &["--json", "--yes", "snapshot"]).await;
    assert_eq!(sent.code, Some(0), "{}", sent.stderr);
    let r = sent.report();
    assert_eq!(counts(&r), [N, 2 * N, 2 * N, 0, 0, 0], "{r}");
    assert!(r.get("next").is_none() && r.get("stopped").is_none(), "{r}");
    let reqs = w.requests();
    assert_eq!(u64::try_from(reqs.len()).ok(), Some(2 * N));
    assert!(reqs.iter().all(|q| q.header("x-snapshot") == Some("true")));

    // Human output, filtered: two users, presence only.
    let (a, b) = (api.agent(0).id, api.agent(1).id);
    let text = relayctl(
        vars,
        &[
            "snapshot",
            "--yes",
            "--user-id",
            &a,
            "--user-id",
            &b,
            "--topic",
            "presence",
        ],
    )
    .await;
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    assert!(
        text.stdout.starts_with("snapshot snapshot-"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("events            2\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("  delivered       2\n"),
        "{}",
        text.stdout
    );
    let reqs = w.requests();
    assert_eq!(u64::try_from(reqs.len()).ok(), Some(2 * N + 2));
    for q in &reqs[reqs.len() - 2..] {
        let body: Value = serde_json::from_slice(&q.body).expect("JSON");
        let topic = body["detail"]["topicName"].as_str().unwrap_or_default();
        assert!(topic.ends_with(".presence"), "{topic}");
        assert!(topic.contains(&a) || topic.contains(&b), "{topic}");
    }
    api.shutdown().await;
}

/// A WFM that refuses every event (400): each one is parked in the DLQ with its reason, and
/// relayctl exits 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayctl_snapshot_exits_3_when_wfm_parks() {
    const N: u64 = 3;
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(GenesysApiOptions::new(3))
        .await
        .expect("stand-in");
    let w = wfm(&[400]).await;
    let run = relayctl(
        env(&stack, &api, &w.url(), &[]),
        &["--json", "--yes", "snapshot"],
    )
    .await;
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let r = run.report();
    assert_eq!(counts(&r), [N, 2 * N, 0, 0, 2 * N, 0], "{r}");
    assert_eq!(
        u64::try_from(stack.depth(&stack.dlq_url).await).ok(),
        Some(2 * N),
        "every refused event is in the DLQ"
    );
    api.shutdown().await;
}

/// On a terminal without --yes: the dry run's counts and the WFM URL (query redacted, C27) in
/// the prompt; "n" sends nothing (exit 2), "y" sends the 2N events (exit 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayctl_snapshot_asks_on_a_terminal() {
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(GenesysApiOptions::new(2))
        .await
        .expect("stand-in");
    let w = wfm(&[200]).await;
    let url = format!("{}?code=s3cr3t", w.url());
    let vars = env(&stack, &api, &url, &[]);
    let bin = forwarder_binary().with_file_name("relayctl");
    let ask = |answer: &'static str| {
        let (bin, vars) = (bin.clone(), vars.clone());
        tokio::task::spawn_blocking(move || run_in_pty(&bin, &["snapshot"], &vars, answer))
    };

    let no = ask("n\n").await.expect("joined");
    assert!(
        no.text.contains("This sends 4 snapshot events (2 agents"),
        "{}",
        no.text
    );
    assert!(no.text.contains("Proceed? [y/N]"), "{}", no.text);
    assert!(!no.text.contains("s3cr3t"), "C27: {}", no.text);
    assert_eq!(no.code, Some(2), "{}", no.text);
    assert_eq!(w.requests().len(), 0, "declined: nothing sent");

    let yes = ask("y\n").await.expect("joined");
    assert_eq!(yes.code, Some(0), "{}", yes.text);
    assert!(yes.text.contains("  delivered       4"), "{}", yes.text);
    assert_eq!(w.requests().len(), 4);
    api.shutdown().await;
}
