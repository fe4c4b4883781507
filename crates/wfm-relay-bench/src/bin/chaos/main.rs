//! `wfm-relay-chaos`: many events through the real forwarder Lambda processes while the WFM
//! stand-in misbehaves, then a recovery with the replayer, and an accounting from outside
//! evidence that fails the run when any event is lost. Run it with `infra/chaos.sh`, which makes
//! the venv, starts moto server on a free port, builds the binaries and stops moto.
//!
//! What it does:
//! 1. creates the retry queue (RedrivePolicy, `maxReceiveCount` = schedule steps + 5), the DLQ
//!    and the archive bucket in moto, and the watching proxy every SQS call of the run goes
//!    through, which keeps a ledger of the retry queue's messages ([`ledger`]);
//! 2. starts a scripted WFM server: random faults at `--fault-rate` (502, 503, 504, no answer
//!    past `WFM_TIMEOUT_MS`, connection reset, slow 200 within and past the timeout), a full
//!    outage (503) of `--outage-s` once half the events are sent, then random faults again
//!    ([`phases`]); with the hostile mix (unless `--no-hostile`), WFM answers 2 % of the events
//!    with a `Retry-After` of 1 h to 24 h, and 1 % carry U+FFFF / U+FFFE in a status message,
//!    1 % are 900 KB (`wfm_relay_bench::hostile`);
//! 3. runs `--forwarders` forwarder processes, each behind its own local Lambda Runtime API
//!    ([`lanes`]), and spreads the EventBridge invocations over them; a failed invocation is
//!    retried twice and then written to the DLQ as Lambda's on-failure record, as Lambda's async
//!    invocation does ([`send`]);
//! 4. plays Lambda's SQS event source mapping against the retry queue with `--consumers` more
//!    forwarder processes until the queue holds nothing but messages waiting for a
//!    `Retry-After` ([`consume`]);
//! 5. recovery: WFM healthy, the replayer library replays the DLQ, what is left is archived
//!    ([`recovery`]);
//! 6. checks at checkpoints that delivered (distinct `X-Event-Id` answered 2xx by WFM) + retry
//!    queue depth + DLQ depth ≥ completed invocations, and at the end that every sent id is
//!    delivered, queued (waiting for a `Retry-After`, from the ledger, or not), dead-lettered or
//!    archived, that the ledger claims no more messages than the retry queue holds, that every repeated POST of an event carried
//!    the same `Idempotency-Key`, and that no Lambda process exited or panicked ([`evidence`],
//!    [`report`]).
//!
//! `--inject-loss N` deletes N undelivered messages from the retry queue during the outage (a
//! simulated bug, [`inject`]): the run must then fail.

// The output is a human-readable report; the Lambdas under test log JSON to their own files.
#![allow(clippy::print_stdout)]

mod args;
mod consume;
mod evidence;
mod inject;
mod lanes;
mod ledger;
mod phases;
mod recovery;
mod report;
mod run;
mod send;

use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use wfm_relay_aws::aws::{AwsClients, load_sdk_config};
use wfm_relay_bench::events::EventFamily;
use wfm_relay_bench::measure::peak_rss_kib;
use wfm_relay_local::harness::{Clock, moto_endpoint, sibling_binary};
use wfm_relay_local::{LocalStack, Reply, Script, ScriptedWfm, StackOptions};

use args::{Args, RETRY_AFTER_CAP_S, RETRY_VISIBILITY_TIMEOUT_S};
use evidence::Evidence;
use lanes::Lanes;
use ledger::Ledger;
use phases::{Phase, fault_script};
use report::{Processes, Summary, Timings};
use run::{Counters, Outcome, Run};

#[tokio::main]
async fn main() -> ExitCode {
    match chaos(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("wfm-relay-chaos: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The whole run; `Ok(false)` when the accounting fails.
async fn chaos(args: Args) -> anyhow::Result<bool> {
    let endpoint = moto_endpoint("the chaos run needs", "infra/chaos.sh")?;
    args.validate()?;
    let forwarder_bin = sibling_binary("wfm-relay-forwarder", "infra/chaos.sh")?;
    let n = args.events;
    let fam = EventFamily::random();
    let run_id = fam.run_hex();
    let clock = Clock::start();

    // ------------------------------------------------------------ AWS resources in moto
    // Every SQS call of the run (this harness's and the Lambda processes') goes through the
    // ledger's watching proxy, in front of the AWS-rules layer (`AWS_ENDPOINT_URL`).
    let conf = load_sdk_config().await;
    let direct = AwsClients::from_sdk_config(&conf);
    let stack = LocalStack::create(
        &direct,
        "wfm-relay-chaos",
        &run_id,
        StackOptions {
            max_receive_count: args.max_receive_count(),
            retry_visibility_timeout_s: RETRY_VISIBILITY_TIMEOUT_S,
        },
    )
    .await?;
    let ledger = Arc::new(Ledger::new(&stack.retry_url));
    let watch_proxy = ledger::start(endpoint.clone(), &ledger)
        .await
        .context("cannot start the retry queue's watching proxy")?;
    // The SDK prefers `AWS_ENDPOINT_URL` from the environment to an `SdkConfig`'s endpoint: the
    // SQS client gets the proxy on its own configuration (S3 calls need not pass it).
    let aws = AwsClients {
        sqs: aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&conf)
                .endpoint_url(watch_proxy.url())
                .build(),
        ),
        ..direct
    };

    // ------------------------------------------------------------ WFM, Lambda processes
    let wfm = ScriptedWfm::start(Script::Sequence(vec![Reply::status(503)]))
        .await
        .context("cannot start the scripted WFM server")?;
    let timeout_ms = args.wfm_timeout_ms.to_string();
    let breaker_ms = args.breaker_open_ms.to_string();
    let proxy_url = watch_proxy.url();
    let env = stack.lambda_env(
        &wfm.url(),
        &[
            ("RETRY_SCHEDULE", args.retry_schedule.as_str()),
            ("WFM_TIMEOUT_MS", timeout_ms.as_str()),
            ("WFM_CONNECT_TIMEOUT_MS", "200"),
            ("INLINE_ATTEMPTS", "3"),
            ("BACKOFF_BASE_MS", "20"),
            ("BACKOFF_CAP_MS", "200"),
            ("FUNCTION_TIMEOUT_S", "30"),
            ("BREAKER_OPEN_MS", breaker_ms.as_str()),
            ("RETRY_AFTER_CAP_S", RETRY_AFTER_CAP_S),
            ("AWS_ENDPOINT_URL", proxy_url.as_str()),
            ("RUST_LOG", "info"),
        ],
    );
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create {}", args.log_dir.display()))?;
    let mut lanes = Lanes::start(
        &forwarder_bin,
        &env,
        &args.log_dir,
        args.forwarders,
        args.consumers,
    )
    .await?;
    print_plan(&args, &endpoint, &run_id, &stack, &wfm);

    // ------------------------------------------------------------ the run
    let run = Arc::new(Run {
        clock,
        fam,
        sqs: aws.sqs.clone(),
        stack,
        ledger,
        wfm,
        counters: Counters::default(),
        phase: watch::Sender::new(Phase::Faults),
        evidence: Mutex::new(Evidence::new(n)),
        outcomes: Mutex::new(vec![Outcome::NotAnswered; n]),
        check_failures: AtomicUsize::new(0),
        stop_consumers: AtomicBool::new(false),
        args,
    });
    run.wfm.set_script(fault_script(&run, run.args.seed));
    let forwarder_apis = lanes.forwarders.iter().map(|l| l.api.clone()).collect();
    let sender = tokio::spawn(send::send_all(Arc::clone(&run), forwarder_apis));
    let phases = tokio::spawn(phases::run_phases(Arc::clone(&run)));
    let consumers = consume::start(
        &run,
        lanes.consumers.iter().map(|l| l.api.clone()).collect(),
    );
    let injector =
        (run.args.inject_loss > 0).then(|| tokio::spawn(inject::inject_loss(Arc::clone(&run))));
    let checkpoints = tokio::spawn(evidence::checkpoint_loop(Arc::clone(&run)));

    sender.await.context("sender task")??;
    let sent_at = clock.elapsed();
    println!("{} all {n} EventBridge invocations answered", clock.stamp());
    consume::drain(&run, consumers).await?;
    let drained_at = clock.elapsed();
    println!(
        "{} retry queue drained (but for messages waiting for Retry-After); event source mapping stopped",
        clock.stamp()
    );
    let injected = match injector {
        Some(task) => task.await.context("loss injector task")??,
        None => Vec::new(),
    };
    phases.abort();
    checkpoints.abort();

    // ------------------------------------------------------------ quiescent checkpoint
    evidence::check_once(&run, "after drain").await?;

    // ------------------------------------------------------------ recovery and accounting
    let recovery = recovery::recover(&run, &aws, &env).await?;
    let accounting = evidence::account(&run, &recovery.archived_ids).await?;
    let processes = Processes {
        count: lanes.all().count(),
        problems: lanes.problems()?,
        peak_rss: lanes.peak_rss(),
        harness_rss_kib: {
            lanes.kill().await;
            peak_rss_kib(std::process::id()).unwrap_or(0)
        },
    };
    let timings = Timings {
        sent_at,
        drained_at,
        wall: clock.elapsed(),
    };
    let ok = Summary {
        run: &run,
        accounting: &accounting,
        recovery: &recovery,
        injected: &injected,
        processes: &processes,
        timings: &timings,
    }
    .print();
    run.wfm.clone().shutdown().await;
    watch_proxy.shutdown().await;
    Ok(ok)
}

/// The run's header: where everything is and what the run will do.
fn print_plan(args: &Args, endpoint: &str, run_id: &str, stack: &LocalStack, wfm: &ScriptedWfm) {
    println!("wfm-relay chaos run {run_id}");
    println!("moto server          {endpoint}");
    println!(
        "retry queue          {} (maxReceiveCount {})",
        stack.retry_url,
        args.max_receive_count()
    );
    println!("dead-letter queue    {}", stack.dlq_url);
    println!("scripted WFM         {}", wfm.url());
    println!(
        "Lambda processes     {} forwarders for EventBridge ({} invocations queued each), {} for the retry queue; logs in {}",
        args.forwarders,
        args.per_forwarder,
        args.consumers,
        args.log_dir.display()
    );
    println!(
        "forwarder config     RETRY_SCHEDULE={} WFM_TIMEOUT_MS={} BREAKER_OPEN_MS={} INLINE_ATTEMPTS=3 BACKOFF_BASE_MS=20 BACKOFF_CAP_MS=200",
        args.retry_schedule, args.wfm_timeout_ms, args.breaker_open_ms
    );
    println!(
        "plan                 {} events; WFM faults {:.0} % (502/503/504, no answer, reset, slow 200), full outage {} s from the {}th event on, then faults again; recovery: WFM healthy, replay the DLQ{}",
        args.events,
        args.fault_rate * 100.0,
        args.outage_s,
        args.events / 2,
        if args.inject_loss > 0 {
            format!(
                "; INJECTED LOSS: {} retry-queue messages deleted during the outage",
                args.inject_loss
            )
        } else {
            String::new()
        }
    );
    println!();
}
