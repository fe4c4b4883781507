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
//!    queues' contents) and exits non-zero when an event is missing;
//! 7. recovers with the replayer (stats, dry run, replay, archive) — or, with `--keep`, leaves
//!    the dead letters in the DLQ and the stack running for `relayctl` until Ctrl-C (`keep`).

// This binary's output is a human-readable story of the run; the Lambda under test logs JSON
// through `tracing` into its own log file.
#![allow(clippy::print_stdout)]

mod events;
mod keep;
mod ledger;
mod recovery;
mod send;
mod wfm_script;

use anyhow::{Context, bail};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_local::harness::{Clock, lock, moto_endpoint, sibling_binary};
use wfm_relay_local::stack::depth;
use wfm_relay_local::{LocalStack, RuntimeApi, ScriptedWfm, StackOptions};

use events::Special;
use ledger::{Ledger, read_queue};
use send::{Progress, send_all, tick};
use wfm_script::{Phases, flaky_script, ids_of};

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
pub(crate) const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Seconds between progress lines.
pub(crate) const TICK: Duration = Duration::from_secs(2);
/// The retry queue's visibility timeout, seconds, and the one the demo's look at a queue's
/// messages hides them for.
pub(crate) const VISIBILITY_TIMEOUT_S: u32 = 30;

/// Local end-to-end demo of wfm-relay on moto server (run it through `infra/demo.sh`).
#[derive(Debug, Parser)]
#[command(name = "wfm-relay-demo")]
pub(crate) struct Args {
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
    /// Stop after the forwarder's accounting (no replay, no archive) and keep moto, the scripted
    /// WFM, the forwarder and its retry-queue event source running for a recovery by hand with
    /// `relayctl` (an env file is written to the log directory) until Ctrl-C.
    #[arg(long)]
    keep: bool,
    /// Directory for the forwarder's log (`forwarder.log`).
    #[arg(long = "log-dir", env = "WFM_RELAY_DEMO_DIR", default_value = ".demo")]
    pub(crate) log_dir: PathBuf,
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

async fn run(args: Args) -> anyhow::Result<usize> {
    let endpoint = moto_endpoint("the demo needs", "infra/demo.sh")?;
    let forwarder_bin = sibling_binary("wfm-relay-forwarder", "infra/demo.sh")?;

    // ---------------------------------------------------------------- input
    let repo = events::repo_root();
    let samples = events::samples(&repo.join("tests/fixtures/genesys"))?;
    let generated = events::generated(args.events, SystemTime::now());
    let invalid = events::invalid_payload(&repo.join("tests/cases"))?;
    let sent = Arc::new(events::sending_order(&samples, &generated, invalid));

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
    println!(
        "{}",
        endpoint_line(
            &endpoint,
            std::env::var("MOTO_ENDPOINT_URL").ok().as_deref()
        )
    );
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
    println!(
        "{} WFM flaky: half the requests get 502, 503 or no answer (timeout after {WFM_TIMEOUT_MS} ms)",
        clock.stamp()
    );
    let (phases, phase_rx) = Phases {
        rejected: rejected.clone(),
        stuck: stuck.clone(),
        flaky_for,
        outage_end,
    }
    .spawn(&wfm, clock);
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
    let esm = stack.retry_esm(&aws.sqs);
    let budget = Duration::from_secs(args.drain_budget_s);
    let mut sending_done_at = None;
    loop {
        let report = esm
            .poll_function(&api, INVOKE_TIMEOUT)
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
    if args.keep {
        keep::keep(keep::Kept {
            stack: &stack,
            wfm: &wfm,
            api,
            function,
            env: &env,
            aws: &aws,
            rejected: &rejected,
            dir: &args.log_dir,
        })
        .await?;
        wfm.shutdown().await;
        return Ok(missing);
    }
    function.kill().await.context("stopping the forwarder")?;
    api.shutdown().await;
    let lost_after_recovery =
        recovery::recover(&args, &env, &stack, &wfm, &aws, &rejected, sent.len()).await?;
    wfm.shutdown().await;
    Ok(missing + lost_after_recovery)
}

/// The line naming where the AWS calls go: `AWS_ENDPOINT_URL` is the AWS-rules layer when
/// `infra/moto.sh` started one in front of moto (`MOTO_ENDPOINT_URL` then differs), else moto.
pub(crate) fn endpoint_line(endpoint: &str, moto: Option<&str>) -> String {
    match moto {
        Some(m) if m != endpoint => {
            format!(
                "AWS endpoint       {endpoint} (the AWS-rules layer; moto server behind it at {m})"
            )
        }
        _ => format!("moto server        {endpoint}"),
    }
}

/// `path` relative to the current directory when it is below it.
pub(crate) fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    cwd.and_then(|d| canonical.strip_prefix(d).ok().map(Path::to_owned))
        .unwrap_or(canonical)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_line_names_the_layer_and_moto() {
        assert_eq!(
            endpoint_line("http://127.0.0.1:2", Some("http://127.0.0.1:1")),
            "AWS endpoint       http://127.0.0.1:2 (the AWS-rules layer; moto server behind it \
             at http://127.0.0.1:1)"
        );
        assert_eq!(
            endpoint_line("http://127.0.0.1:1", Some("http://127.0.0.1:1")),
            "moto server        http://127.0.0.1:1"
        );
        assert_eq!(
            endpoint_line("http://127.0.0.1:1", None),
            "moto server        http://127.0.0.1:1"
        );
    }
}
