//! `wfm-relay-demo`: the local end-to-end demo. Run it with `infra/demo.sh`, which makes the venv,
//! starts moto server on a free port (`AWS_ENDPOINT_URL`), builds the binaries and stops moto.
//!
//! What it does, with real components where it matters:
//! 1. creates a dead-letter queue, a retry queue (RedrivePolicy, `maxReceiveCount` = schedule
//!    steps + 5) and an S3 bucket in moto with the AWS SDK;
//! 2. starts a scripted WFM server that is flaky (random 502 / 503 / no answer), then down
//!    (503), then healthy; one sample is always rejected (400) and the last generated events are
//!    always answered 503;
//! 3. runs the forwarder binary as a real Lambda process behind a local Lambda Runtime API;
//! 4. sends the Genesys samples, generated events and one payload without the EventBridge
//!    envelope as EventBridge invocations;
//! 5. plays Lambda's SQS event source mapping against the retry queue (partial batch responses)
//!    until it is empty;
//! 6. accounts for every event from outside evidence (the WFM server's recorded requests, the
//!    queues' contents) and exits non-zero when an event is missing.

// This binary's output is a human-readable story of the run; the Lambda under test logs JSON
// through `tracing` into its own log file.
#![allow(clippy::print_stdout)]

// A binary's root resolves `mod x;` beside itself; the demo's modules live in `bin/demo/`.
#[path = "demo/events.rs"]
mod events;
#[path = "demo/ledger.rs"]
mod ledger;

use anyhow::{Context, bail};
use clap::Parser;
use std::collections::HashSet;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_local::harness::{Clock, invoke_raw, lock, sibling_binary};
use wfm_relay_local::stack::{depth, peek_bodies};
use wfm_relay_local::{
    LocalStack, Reply, RuntimeApi, Script, ScriptedWfm, SqsEventSourceMapping, StackOptions,
};

use events::{DemoEvent, Special};
use ledger::{Ledger, QueuedMessage};

/// The compressed retry schedule (production default: 30s,2m,10m,30m,1h,2h,4h,8h,8h).
const RETRY_SCHEDULE: &str = "1s,2s,3s";
/// Attempts inside the EventBridge invocation.
const INLINE_ATTEMPTS: &str = "2";
/// Per-attempt timeout towards WFM, ms: a request WFM never answers costs this long.
const WFM_TIMEOUT_MS: &str = "1000";
/// The circuit breaker's open period, compressed like the schedule (the product default is 30 s).
const BREAKER_OPEN_MS: &str = "2000";
/// Time given to each invocation (the Runtime API's deadline counts from the moment it is
/// queued).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Seconds between progress lines.
const TICK: Duration = Duration::from_secs(2);
/// The retry queue's visibility timeout, seconds, and the one the demo's look at a queue's
/// messages hides them for.
const VISIBILITY_TIMEOUT_S: u32 = 30;

/// Local end-to-end demo of wfm-relay on moto server (run it through `infra/demo.sh`).
#[derive(Debug, Parser)]
#[command(name = "wfm-relay-demo")]
struct Args {
    /// Generated presence / routing status events, sent after the Genesys samples.
    #[arg(long, default_value_t = 200)]
    events: usize,
    /// Seconds from the start of sending until WFM is healthy again: the first third flaky
    /// (random 502 / 503 / no answer), the rest a full outage (503).
    #[arg(long = "outage-s", default_value_t = 6)]
    outage_s: u64,
    /// Seconds, from the start of sending, to wait for the retry queue to drain.
    #[arg(long = "drain-budget-s", default_value_t = 60)]
    drain_budget_s: u64,
    /// EventBridge invocations queued at the Runtime API at once (the single Lambda process
    /// serves them in order).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Directory for the forwarder's log (`forwarder.log`).
    #[arg(long = "log-dir", env = "WFM_RELAY_DEMO_DIR", default_value = ".demo")]
    log_dir: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("wfm-relay-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The WFM server's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Flaky,
    Outage,
    Healthy,
}

/// Counters shared by the sender, the retry-queue poller and the progress ticker.
#[derive(Debug, Default)]
struct Progress {
    sent: usize,
    outcomes: BTreeMap<String, usize>,
    batches: usize,
    batch_records: usize,
    batch_listed: usize,
}

async fn run(args: Args) -> anyhow::Result<usize> {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(v) if !v.is_empty() => v,
        _ => bail!(
            "AWS_ENDPOINT_URL is not set: the demo needs moto server. Run infra/demo.sh, which \
             starts moto on a free port, sets the variable and builds the binaries."
        ),
    };
    let forwarder_bin = sibling_binary("wfm-relay-forwarder", "infra/demo.sh")?;

    // ---------------------------------------------------------------- input
    let repo = events::repo_root();
    let samples = events::samples(&repo.join("tests/fixtures/genesys"))?;
    let generated = events::generated(args.events, SystemTime::now());
    let invalid = events::invalid_payload(&repo.join("tests/cases"))?;
    // Events the WFM treats specially are sent last, once the random warm-up is over, so their
    // fate does not depend on a coin toss.
    let (special, normal): (Vec<DemoEvent>, Vec<DemoEvent>) = samples
        .iter()
        .chain(&generated)
        .cloned()
        .partition(|e| e.special != Special::No);
    let mut sent: Vec<DemoEvent> = normal;
    sent.extend(special);
    sent.push(invalid);
    let sent = Arc::new(sent);

    // ---------------------------------------------------------------- AWS resources in moto
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let steps = RETRY_SCHEDULE.split(',').count();
    let max_receive = steps + 5;
    let aws = AwsClients::from_env().await;
    let stack = LocalStack::create(
        &aws,
        "wfm-relay-demo",
        &run_id,
        StackOptions {
            max_receive_count: max_receive,
            retry_visibility_timeout_s: VISIBILITY_TIMEOUT_S,
        },
    )
    .await?;
    println!("wfm-relay local demo, run {run_id}");
    println!("moto server        {endpoint}");
    println!(
        "retry queue        {} (RedrivePolicy maxReceiveCount {max_receive} = {steps} schedule steps + 5)",
        stack.retry_url
    );
    println!("dead-letter queue  {}", stack.dlq_url);
    println!("archive bucket     {}", stack.bucket);

    // ---------------------------------------------------------------- WFM, Runtime API, Lambda
    let rejected: Vec<String> = ids_of(&sent, Special::Rejected);
    let stuck: Vec<String> = ids_of(&sent, Special::Stuck);
    let wfm = ScriptedWfm::start(flaky_script())
        .await
        .context("cannot start the scripted WFM server")?;
    let api = RuntimeApi::start()
        .await
        .context("cannot start the local Lambda Runtime API")?;
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create {}", args.log_dir.display()))?;
    let log_path = args.log_dir.join("forwarder.log");
    let _ = std::fs::remove_file(&log_path);
    let env = stack.lambda_env(
        &wfm.url(),
        &[
            ("RETRY_SCHEDULE", RETRY_SCHEDULE),
            ("WFM_TIMEOUT_MS", WFM_TIMEOUT_MS),
            ("INLINE_ATTEMPTS", INLINE_ATTEMPTS),
            ("BREAKER_OPEN_MS", BREAKER_OPEN_MS),
            ("FUNCTION_TIMEOUT_S", "60"),
            ("RUST_LOG", "info"),
        ],
    );
    let mut function = api
        .spawn_function(&forwarder_bin, "wfm-relay-forwarder", &env, Some(&log_path))
        .with_context(|| format!("cannot start {}", forwarder_bin.display()))?;
    println!("scripted WFM       {}", wfm.url());
    println!(
        "forwarder          {} as a Lambda process (pid {}), Runtime API {}",
        display_path(&forwarder_bin),
        function.id().unwrap_or(0),
        api.address()
    );
    println!(
        "forwarder log      {} (JSON, one line per WFM attempt)",
        display_path(&log_path)
    );
    println!(
        "forwarder config   RETRY_SCHEDULE={RETRY_SCHEDULE} INLINE_ATTEMPTS={INLINE_ATTEMPTS} WFM_TIMEOUT_MS={WFM_TIMEOUT_MS} BREAKER_OPEN_MS={BREAKER_OPEN_MS} FUNCTION_TIMEOUT_S=60"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Some(status) = function.try_wait()? {
        bail!(
            "the forwarder exited at start-up ({status}); init error: {}; see {}",
            api.init_error().unwrap_or_else(|| "none posted".into()),
            log_path.display()
        );
    }
    let flaky_for = Duration::from_secs(args.outage_s) / 3;
    let outage_end = Duration::from_secs(args.outage_s);
    println!(
        "plan               {} events: {} Genesys samples, {} generated, 1 invalid payload (C01 shape)",
        sent.len(),
        samples.len(),
        generated.len()
    );
    println!(
        "                   WFM flaky for {:.0} s, down until {} s, then healthy; {} always answered 400; the last {} generated events always 503",
        flaky_for.as_secs_f64(),
        args.outage_s,
        samples
            .iter()
            .find(|e| e.special == Special::Rejected)
            .map_or("no sample", |e| e.label.as_str()),
        stuck.len()
    );
    println!();

    // ---------------------------------------------------------------- the run
    let clock = Clock::start();
    let progress = Arc::new(Mutex::new(Progress::default()));
    let (phase_tx, phase_rx) = watch::channel(Phase::Flaky);
    println!(
        "{} WFM flaky: half the requests get 502, 503 or no answer (timeout after {WFM_TIMEOUT_MS} ms)",
        clock.stamp()
    );
    let phases = tokio::spawn({
        let wfm = wfm.clone();
        let (rejected, stuck) = (rejected.clone(), stuck.clone());
        async move {
            tokio::time::sleep(flaky_for).await;
            wfm.set_script(special_script(&rejected, &stuck, 503));
            let _ = phase_tx.send(Phase::Outage);
            println!("{} WFM down: every request gets 503", clock.stamp());
            tokio::time::sleep(outage_end.saturating_sub(flaky_for)).await;
            wfm.set_script(special_script(&rejected, &stuck, 200));
            let _ = phase_tx.send(Phase::Healthy);
            println!("{} WFM healthy again: 200", clock.stamp());
        }
    });
    let sender = tokio::spawn(send_all(
        api.clone(),
        Arc::clone(&sent),
        phase_rx,
        args.concurrency,
        Arc::clone(&progress),
    ));
    let ticker = tokio::spawn(tick(
        clock,
        aws.sqs.clone(),
        stack.clone(),
        wfm.clone(),
        Arc::clone(&progress),
        sent.len(),
    ));

    // Lambda's SQS event source mapping, played against the retry queue.
    let esm = SqsEventSourceMapping {
        sqs: aws.sqs.clone(),
        queue_url: stack.retry_url.clone(),
        queue_arn: stack.retry_arn.clone(),
        region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        batch_size: 10,
        wait_time_s: 1,
    };
    let budget = Duration::from_secs(args.drain_budget_s);
    let mut sending_done_at = None;
    loop {
        let report = esm
            .poll_once(|payload| {
                let api = api.clone();
                async move { invoke_raw(&api, payload, INVOKE_TIMEOUT).await }
            })
            .await
            .context("polling the retry queue")?;
        if report.received > 0 {
            let mut p = lock(&progress);
            p.batches += 1;
            p.batch_records += report.received;
            p.batch_listed += report.failed_ids.len();
        }
        if let Some(e) = report
            .invoke_error
            .as_deref()
            .or(report.invalid_response.as_deref())
        {
            println!("{} retry-queue batch failed as a whole: {e}", clock.stamp());
        }
        if sender.is_finished() {
            if sending_done_at.is_none() {
                sending_done_at = Some(clock.elapsed());
                println!("{} all {} events sent", clock.stamp(), sent.len());
            }
            if report.received == 0 && depth(&aws.sqs, &stack.retry_url).await? == 0 {
                println!("{} retry queue empty", clock.stamp());
                break;
            }
        }
        if clock.elapsed() >= budget {
            println!(
                "{} time budget of {} s is over; stopping the retry-queue poller",
                clock.stamp(),
                budget.as_secs()
            );
            break;
        }
    }
    let outcomes = sender.await.context("sender task")??;
    ticker.abort();
    phases.abort();
    let elapsed = clock.elapsed();

    // ---------------------------------------------------------------- what is left where
    let retry_depth = depth(&aws.sqs, &stack.retry_url).await?;
    let retry_left = read_queue(&aws.sqs, &stack.retry_url, retry_depth, TICK * 3).await?;
    let dlq_depth = depth(&aws.sqs, &stack.dlq_url).await?;
    let dlq = read_queue(&aws.sqs, &stack.dlq_url, dlq_depth, TICK * 2).await?;
    let requests = wfm.requests();

    function.kill().await.context("stopping the forwarder")?;
    api.shutdown().await;

    let missing = Ledger {
        sent: &sent,
        outcomes: &outcomes,
        requests: &requests,
        retry_left: &retry_left,
        retry_depth,
        dlq: &dlq,
    }
    .print();
    println!(
        "run time {:.1} s (sending took {:.1} s); forwarder log: {}",
        elapsed.as_secs_f64(),
        sending_done_at.unwrap_or(elapsed).as_secs_f64(),
        display_path(&log_path)
    );
    let lost_after_recovery =
        recover(&args, &env, &stack, &wfm, &aws, &rejected, sent.len()).await?;
    wfm.shutdown().await;
    Ok(missing + lost_after_recovery)
}

/// The on-call part: the replayer Lambda, invoked by hand with JSON requests, after WFM is
/// healthy again: stats, a dry run, the replay, and an archive of what is left. Returns how many
/// events are in none of delivered / retry queue / DLQ / archive afterwards.
async fn recover(
    args: &Args,
    forwarder_env: &[(String, String)],
    stack: &LocalStack,
    wfm: &ScriptedWfm,
    aws: &AwsClients,
    rejected: &[String],
    sent: usize,
) -> anyhow::Result<usize> {
    println!();
    println!("== recovery: the replayer as a Lambda process, invoked by hand");
    let replayer_bin = sibling_binary("wfm-relay-replayer", "infra/demo.sh")?;
    // WFM is healthy for every event now, except the one it rejects for good (HTTP 400).
    wfm.set_script(special_script(rejected, &[], 200));
    let api = RuntimeApi::start()
        .await
        .context("cannot start a second Runtime API")?;
    let log_path = args.log_dir.join("replayer.log");
    let _ = std::fs::remove_file(&log_path);
    let mut env = forwarder_env.to_vec();
    env.retain(|(k, _)| k != "FUNCTION_TIMEOUT_S");
    env.push(("FUNCTION_TIMEOUT_S".into(), "900".into()));
    let mut function = api
        .spawn_function(&replayer_bin, "wfm-relay-replayer", &env, Some(&log_path))
        .with_context(|| format!("cannot start {}", replayer_bin.display()))?;
    let requests = [
        r#"{"action":"stats"}"#,
        r#"{"action":"replay","dry_run":true}"#,
        r#"{"action":"replay"}"#,
        r#"{"action":"archive"}"#,
    ];
    let mut archived = 0u64;
    for req in requests {
        println!(
            "$ aws lambda invoke --function-name wfm-relay-replayer --cli-binary-format raw-in-base64-out --payload '{req}' report.json"
        );
        let raw = invoke_raw(&api, req.as_bytes().to_vec(), INVOKE_TIMEOUT)
            .await
            .map_err(|e| anyhow::anyhow!("replayer invocation failed: {e}"))?;
        let report: serde_json::Value =
            serde_json::from_slice(&raw).context("the replayer answered non-JSON")?;
        let n = |k: &str| report[k].as_u64().unwrap_or(0);
        println!(
            "  matched {} delivered {} failed {} unsendable {} archived {} remaining {}",
            n("matched"),
            n("delivered"),
            n("failed"),
            n("unsendable"),
            n("archived"),
            n("remaining")
        );
        if let Some(stats) = report.get("stats") {
            println!("  by reason {}", stats["by_reason"]);
            println!("  by status {}", stats["by_status"]);
        }
        if let Some(keys) = report["keys"].as_array().filter(|k| !k.is_empty()) {
            for k in keys {
                println!("  wrote s3://{}/{}", stack.bucket, k.as_str().unwrap_or(""));
            }
        }
        if report["action"] == "archive" {
            archived = n("archived");
        }
    }
    function.kill().await.context("stopping the replayer")?;
    api.shutdown().await;

    let delivered: HashSet<String> = wfm
        .requests()
        .iter()
        .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
        .filter_map(|r| r.header("x-event-id").map(str::to_owned))
        .collect();
    let retry = depth(&aws.sqs, &stack.retry_url).await?;
    let dlq = depth(&aws.sqs, &stack.dlq_url).await?;
    let total = delivered.len() + retry + dlq + usize::try_from(archived).unwrap_or(0);
    println!();
    println!(
        "after recovery: delivered {} + retry queue {retry} + DLQ {dlq} + archived {archived} = {total} of {sent} events (missing: {})",
        delivered.len(),
        sent.saturating_sub(total)
    );
    println!("replayer log: {}", display_path(&log_path));
    Ok(sent.saturating_sub(total))
}

/// The messages of `url` (up to `expected`, waiting at most `patience` for in-flight and delayed
/// ones to become visible), left in the queue: the demo only looks.
async fn read_queue(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    expected: usize,
    patience: Duration,
) -> anyhow::Result<Vec<QueuedMessage>> {
    let bodies = peek_bodies(sqs, url, expected, patience, VISIBILITY_TIMEOUT_S).await?;
    Ok(bodies
        .into_iter()
        .map(|body| QueuedMessage {
            envelope: serde_json::from_str::<EnvelopeV1>(&body).ok(),
            body,
        })
        .collect())
}

/// Sends every event as an EventBridge invocation, `concurrency` queued at a time; returns the
/// invocation result per event (`delivered`, `queued`, a reason token, or `error: …`).
async fn send_all(
    api: RuntimeApi,
    events: Arc<Vec<DemoEvent>>,
    mut phase: watch::Receiver<Phase>,
    concurrency: usize,
    progress: Arc<Mutex<Progress>>,
) -> anyhow::Result<Vec<String>> {
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut running = JoinSet::new();
    for (i, ev) in events.iter().enumerate() {
        if matches!(ev.special, Special::Rejected | Special::Stuck) {
            phase
                .wait_for(|p| *p != Phase::Flaky)
                .await
                .context("phase channel closed")?;
        }
        let slot = Arc::clone(&slots).acquire_owned().await?;
        let api = api.clone();
        let payload = ev.bytes.clone();
        let progress = Arc::clone(&progress);
        running.spawn(async move {
            let outcome = invoke_event(&api, payload).await;
            drop(slot);
            let mut p = lock(&progress);
            p.sent += 1;
            let key = if outcome.starts_with("error") {
                "error".to_owned()
            } else {
                outcome.clone()
            };
            *p.outcomes.entry(key).or_default() += 1;
            (i, outcome)
        });
    }
    let mut outcomes = vec![String::new(); events.len()];
    while let Some(done) = running.join_next().await {
        let (i, outcome) = done.context("invocation task")?;
        outcomes[i] = outcome;
    }
    Ok(outcomes)
}

/// One EventBridge invocation; its `outcome`, or `error: …`.
async fn invoke_event(api: &RuntimeApi, payload: Vec<u8>) -> String {
    match invoke_raw(api, payload, INVOKE_TIMEOUT).await {
        Ok(body) => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["outcome"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                format!(
                    "error: unexpected response {}",
                    String::from_utf8_lossy(&body)
                )
            }),
        Err(e) => format!("error: {e}"),
    }
}

/// Prints a progress line every [`TICK`].
async fn tick(
    clock: Clock,
    sqs: aws_sdk_sqs::Client,
    stack: LocalStack,
    wfm: ScriptedWfm,
    progress: Arc<Mutex<Progress>>,
    total: usize,
) {
    loop {
        tokio::time::sleep(TICK).await;
        let retry = depth(&sqs, &stack.retry_url).await.unwrap_or(0);
        let dlq = depth(&sqs, &stack.dlq_url).await.unwrap_or(0);
        let requests = wfm.requests().len();
        let p = lock(&progress);
        let outcomes: Vec<String> = p.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{} sent {}/{total} ({}) | retry queue {retry}, {} batches ({} records, {} listed for retry) | DLQ {dlq} | WFM requests {requests}",
            clock.stamp(),
            p.sent,
            if outcomes.is_empty() {
                "-".to_owned()
            } else {
                outcomes.join(", ")
            },
            p.batches,
            p.batch_records,
            p.batch_listed
        );
    }
}

/// The ids of the events with this special treatment.
fn ids_of(events: &[DemoEvent], special: Special) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.special == special)
        .filter_map(|e| e.id.clone())
        .collect()
}

/// Warm-up: each request independently, half of them fail (502, 503, or no answer at all).
fn flaky_script() -> Script {
    Script::Random {
        p_fail: 0.5,
        faults: vec![Reply::status(502), Reply::status(503), Reply::hang()],
        ok: Reply::status(200),
        seed: 2026,
    }
}

/// Outage (`status` 503) or healthy (`status` 200), with the rejected event always answered 400
/// and the stuck events always 503.
fn special_script(rejected: &[String], stuck: &[String], status: u16) -> Script {
    let mut by_event_id = HashMap::new();
    for id in rejected {
        by_event_id.insert(
            id.clone(),
            vec![
                Reply::status(400)
                    .header("Content-Type", "application/json")
                    .body(r#"{"error":"unsupported topic: detail events are not accepted"}"#),
            ],
        );
    }
    for id in stuck {
        by_event_id.insert(id.clone(), vec![Reply::status(503)]);
    }
    Script::PerEvent {
        by_event_id,
        default: vec![Reply::status(status)],
    }
}

/// `path` relative to the current directory when it is below it.
fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    cwd.and_then(|d| canonical.strip_prefix(d).ok().map(Path::to_owned))
        .unwrap_or(canonical)
        .display()
        .to_string()
}
