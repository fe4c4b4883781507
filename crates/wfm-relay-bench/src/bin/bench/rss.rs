//! `rss`: peak RSS (`VmHWM`) of each Lambda process over a 1,000-event run.

use anyhow::Context;
use std::path::Path;
use std::time::{Duration, Instant};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_bench::events::EventFamily;
use wfm_relay_bench::measure::peak_rss_kib;
use wfm_relay_local::harness::invoke_raw;
use wfm_relay_local::stack::depth;
use wfm_relay_local::{InvocationType, Reply, RuntimeApi, Script, ScriptedWfm};

use crate::common::{INVOKE_TIMEOUT, fresh_stack, seed_dead_letters};
use crate::{Args, BinDir};

/// Forwarder: `events` EventBridge invocations with 20 % of WFM answers 503 and one inline
/// attempt (about a fifth go through the retry queue), then the retry queue drained through the
/// same process. Returns the process's peak RSS in KiB and what it did.
async fn forwarder_rss(
    bin: &Path,
    events: usize,
    aws: &AwsClients,
    log: &Path,
) -> anyhow::Result<(u64, String)> {
    let stack = fresh_stack(aws, "bench-rss-f").await?;
    let wfm = ScriptedWfm::start(Script::Random {
        p_fail: 0.2,
        faults: vec![Reply::status(503)],
        ok: Reply::status(200),
        seed: 7,
    })
    .await?;
    let env = stack.lambda_env(
        &wfm.url(),
        &[("INLINE_ATTEMPTS", "1"), ("RETRY_SCHEDULE", "1s,1s,1s,1s")],
    );
    let api = RuntimeApi::start().await?;
    let mut f = api.spawn_function(bin, "wfm-relay-forwarder", &env, Some(log))?;
    let pid = f.id().context("no pid")?;
    let fam = EventFamily::random();
    let mut running: tokio::task::JoinSet<Result<Vec<u8>, String>> = tokio::task::JoinSet::new();
    let mut queued = 0;
    for i in 0..events {
        if running.len() >= 4
            && let Some(r) = running.join_next().await
        {
            queued += usize::from(
                r?.map_err(anyhow::Error::msg)?
                    .windows(6)
                    .any(|w| w == b"queued"),
            );
        }
        let api = api.clone();
        let body = fam.event(i);
        running.spawn(async move {
            invoke_raw(&api, InvocationType::Event, body, INVOKE_TIMEOUT).await
        });
    }
    while let Some(r) = running.join_next().await {
        queued += usize::from(
            r?.map_err(anyhow::Error::msg)?
                .windows(6)
                .any(|w| w == b"queued"),
        );
    }
    let esm = stack.retry_esm(&aws.sqs);
    let until = Instant::now() + Duration::from_secs(120);
    let mut batches = 0;
    while Instant::now() < until && depth(&aws.sqs, &stack.retry_url).await? > 0 {
        let report = esm.poll_function(&api, INVOKE_TIMEOUT).await?;
        batches += usize::from(report.received > 0);
    }
    let kib = peak_rss_kib(pid).context("cannot read VmHWM")?;
    let _ = f.kill().await;
    wfm.shutdown().await;
    Ok((
        kib,
        format!(
            "{events} EventBridge invocations ({queued} queued), then {batches} retry-queue batches"
        ),
    ))
}

/// Replayer: `events` dead letters replayed (WFM 200) by one invocation of the process.
async fn replayer_rss(
    bin: &Path,
    events: usize,
    aws: &AwsClients,
    log: &Path,
) -> anyhow::Result<(u64, String)> {
    let stack = fresh_stack(aws, "bench-rss-r").await?;
    seed_dead_letters(&aws.sqs, &stack.dlq_url, events).await?;
    let wfm = ScriptedWfm::start(Script::Sequence(vec![Reply::status(200)])).await?;
    let env = stack.lambda_env(&wfm.url(), &[("FUNCTION_TIMEOUT_S", "900")]);
    let api = RuntimeApi::start().await?;
    let mut f = api.spawn_function(bin, "wfm-relay-replayer", &env, Some(log))?;
    let pid = f.id().context("no pid")?;
    let mut delivered = 0;
    for _ in 0..5 {
        let raw = invoke_raw(
            &api,
            InvocationType::RequestResponse,
            br#"{"action":"replay","concurrency":10}"#.to_vec(),
            INVOKE_TIMEOUT,
        )
        .await
        .map_err(anyhow::Error::msg)?;
        let report: serde_json::Value = serde_json::from_slice(&raw)?;
        delivered += report["delivered"].as_u64().unwrap_or(0);
        if report["remaining"].as_u64() == Some(0) {
            break;
        }
    }
    let kib = peak_rss_kib(pid).context("cannot read VmHWM")?;
    let _ = f.kill().await;
    wfm.shutdown().await;
    Ok((
        kib,
        format!("`replay` of {events} dead letters ({delivered} delivered)"),
    ))
}

/// Runs the benchmark and prints its table.
pub async fn peak_rss(args: &Args, dirs: &[BinDir], aws: &AwsClients) -> anyhow::Result<()> {
    println!("## Peak RSS per Lambda process");
    println!();
    println!(
        "`VmHWM` of /proc/<pid>/status at the end of the run (proc(5)). Target: ≤ 32 MB \
         (a 128 MB function)."
    );
    println!();
    println!("| process | build | run | peak RSS MiB |");
    println!("|---|---|---|---|");
    for d in dirs {
        let f = d.dir.join("wfm-relay-forwarder");
        if f.exists() {
            let log = args.work_dir.join(format!("rss-forwarder-{}.log", d.label));
            let (kib, what) = forwarder_rss(&f, args.rss_events, aws, &log).await?;
            println!(
                "| wfm-relay-forwarder | {} | {what} | {:.1} |",
                d.label,
                kib as f64 / 1024.0
            );
        }
        let r = d.dir.join("wfm-relay-replayer");
        if r.exists() {
            let log = args.work_dir.join(format!("rss-replayer-{}.log", d.label));
            let (kib, what) = replayer_rss(&r, args.rss_events, aws, &log).await?;
            println!(
                "| wfm-relay-replayer | {} | {what} | {:.1} |",
                d.label,
                kib as f64 / 1024.0
            );
        }
    }
    println!();
    Ok(())
}
