//! `wfm-relay-bench`: the benchmark suite of PRODUCT.md §9. Prints markdown tables and never
//! asserts: the targets are shown next to the measurements. Run it with `infra/bench.sh`, which
//! makes the venv, starts moto server on a free port, builds debug and release binaries and
//! stops moto.
//!
//! Benchmarks (select with `--only`):
//! - `cold`: process spawn → first `GET /2018-06-01/runtime/invocation/next` of each Lambda
//!   binary (configuration and SDK clients are built before the first poll), or of any command
//!   given with `--cmd label=command args…` (e.g. a Python or Node.js peer);
//! - `overhead`: an EventBridge invocation through the forwarder process until WFM's 200,
//!   against a direct POST of the same body to the same WFM stand-in (reqwest, keep-alive);
//! - `drain`: replayer `replay` rate over seeded dead letters, next to the emulator's raw
//!   ReceiveMessage(10) + DeleteMessageBatch ceiling and a Receive(1) + DeleteMessage loop;
//! - `rss`: peak RSS (`VmHWM`) of each Lambda process over a 1,000-event run;
//! - `size`: zipped deploy package (`bootstrap`) of each Lambda binary in `--package-dir`.

// The output is the benchmark report (markdown) on stdout.
#![allow(clippy::print_stdout)]

use anyhow::{Context, bail};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_aws::queues::{QueueSettings, Queues};
use wfm_relay_aws::wfm::{WfmClient, WfmSettings};
use wfm_relay_bench::events::EventFamily;
use wfm_relay_bench::first_poll::FirstPollApi;
use wfm_relay_bench::measure::{peak_rss_kib, summarize};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_core::event::parse_event;
use wfm_relay_local::stack::depth;
use wfm_relay_local::{
    InvokeOutcome, LocalStack, Reply, RuntimeApi, Script, ScriptedWfm, SqsEventSourceMapping,
    StackOptions,
};
use wfm_relay_replayer::{Action, Replayer, Request};

/// The Lambda binaries measured.
const LAMBDAS: [&str; 2] = ["wfm-relay-forwarder", "wfm-relay-replayer"];
/// Invocation timeout given to the Runtime API.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Benchmarks of wfm-relay on moto server (run it through `infra/bench.sh`).
#[derive(Debug, Parser)]
#[command(name = "wfm-relay-bench")]
struct Args {
    /// Benchmarks to run, comma-separated: cold, overhead, drain, rss, size.
    #[arg(
        long,
        default_value = "cold,overhead,drain,rss,size",
        value_delimiter = ','
    )]
    only: Vec<String>,
    /// Directories holding the Lambda binaries, as `label=dir` (repeatable); default: this
    /// executable's directory, labelled with its name (`debug` / `release`).
    #[arg(long = "lambdas")]
    lambdas: Vec<String>,
    /// Extra Lambda processes for the cold-start table, as `label=command args…` (split on
    /// whitespace; repeatable), e.g. `--cmd "python=python3 peer/handler.py"`.
    #[arg(long = "cmd")]
    cmds: Vec<String>,
    /// Cold starts measured per binary (after one discarded warm-up run).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Invocations measured for the forwarder overhead (after 50 warm-up pairs).
    #[arg(long = "overhead-n", default_value_t = 1000)]
    overhead_n: usize,
    /// Dead letters seeded for each drain measurement.
    #[arg(long = "drain-m", default_value_t = 2000)]
    drain_m: usize,
    /// POSTs in flight during the replay drain (the replayer's `concurrency`, 1–50).
    #[arg(long = "replay-concurrency", default_value_t = 10)]
    replay_concurrency: usize,
    /// Events of the peak-RSS runs.
    #[arg(long = "rss-events", default_value_t = 1000)]
    rss_events: usize,
    /// Directory of the release binaries to package (`size`).
    #[arg(long = "package-dir", default_value = "target/release")]
    package_dir: PathBuf,
    /// Directory for the Lambda processes' logs and the zips.
    #[arg(long = "work-dir", default_value = ".demo/bench")]
    work_dir: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wfm-relay-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A directory of Lambda binaries and its label.
#[derive(Debug, Clone)]
struct BinDir {
    label: String,
    dir: PathBuf,
}

fn bin_dirs(args: &Args) -> anyhow::Result<Vec<BinDir>> {
    if args.lambdas.is_empty() {
        let dir = std::env::current_exe()?
            .parent()
            .context("this executable has no directory")?
            .to_owned();
        let label = dir
            .file_name()
            .map_or("?".into(), |n| n.to_string_lossy().into_owned());
        return Ok(vec![BinDir { label, dir }]);
    }
    args.lambdas
        .iter()
        .map(|s| {
            let (label, dir) = s
                .split_once('=')
                .with_context(|| format!("--lambdas {s:?}: expected label=dir"))?;
            Ok(BinDir {
                label: label.to_owned(),
                dir: PathBuf::from(dir),
            })
        })
        .collect()
}

async fn run(args: Args) -> anyhow::Result<()> {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(v) if !v.is_empty() => v,
        _ => bail!(
            "AWS_ENDPOINT_URL is not set: the benchmarks need moto server. Run infra/bench.sh."
        ),
    };
    let dirs = bin_dirs(&args)?;
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("cannot create {}", args.work_dir.display()))?;
    let on = |name: &str| args.only.iter().any(|o| o == name);
    let aws = AwsClients::from_env().await;
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!("# wfm-relay benchmarks");
    println!();
    println!(
        "Machine: {cores} cores, Linux; AWS stand-in: moto server at {endpoint}; WFM stand-in: \
         wfm-relay-local ScriptedWfm on loopback. Harness build: {}.",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!();

    if on("cold") {
        cold_starts(&args, &dirs, &aws).await?;
    }
    if on("overhead") {
        overhead(&args, &dirs, &aws).await?;
    }
    if on("drain") {
        drain(&args, &aws).await?;
    }
    if on("rss") {
        peak_rss(&args, &dirs, &aws).await?;
    }
    if on("size") {
        package_sizes(&args)?;
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn signed_us(a: Duration, b: Duration) -> String {
    format!("{:.0}", (a.as_secs_f64() - b.as_secs_f64()) * 1e6)
}

/// A stack in moto with a fresh run id.
async fn fresh_stack(aws: &AwsClients, prefix: &str) -> anyhow::Result<LocalStack> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let options = StackOptions {
        max_receive_count: 5,
        retry_visibility_timeout_s: 60,
    };
    Ok(LocalStack::create(aws, prefix, &run[..8], options).await?)
}

/// The variables the Lambda runtime library reads at start-up (as `RuntimeApi::spawn_function`
/// sets them; AWS Lambda Developer Guide, "Defined runtime environment variables").
fn lambda_runtime_env(name: &str, api: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "local/[$LATEST]bench".to_owned(),
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

// ---------------------------------------------------------------------------------- cold start

/// Spawn → first poll, `runs` times after one discarded warm-up run.
async fn cold_start_samples(
    argv: &[String],
    env: &[(String, String)],
    runs: usize,
) -> anyhow::Result<Vec<Duration>> {
    let (program, rest) = argv.split_first().context("empty command")?;
    let mut samples = Vec::with_capacity(runs);
    for r in 0..=runs {
        let api = FirstPollApi::start().await?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(rest)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(lambda_runtime_env("bench", &api.address()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let t0 = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let first = api.wait(Duration::from_secs(30)).await;
        let _ = child.kill().await;
        match first {
            Ok(t) if r > 0 => samples.push(t.saturating_duration_since(t0)),
            Ok(_) => {}
            Err(e) => bail!("{program} never polled for work: {e}"),
        }
    }
    Ok(samples)
}

async fn cold_starts(args: &Args, dirs: &[BinDir], aws: &AwsClients) -> anyhow::Result<()> {
    let stack = fresh_stack(aws, "bench-cold").await?;
    let env = stack.lambda_env("http://127.0.0.1:9/api/status/update", &[]);
    println!("## Cold start: process spawn → first Runtime API poll");
    println!();
    println!(
        "Configuration read and validated, HTTP and AWS SDK clients built before the first \
         `GET /2018-06-01/runtime/invocation/next`; {} runs each after one discarded warm-up. \
         Target (PRODUCT.md §9): tens of ms, a tenth of a Python / Node.js peer.",
        args.runs
    );
    println!();
    println!("| process | build | runs | min ms | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    let mut targets: Vec<(String, String, Vec<String>)> = Vec::new();
    for d in dirs {
        for name in LAMBDAS {
            let path = d.dir.join(name);
            if path.exists() {
                targets.push((
                    name.to_owned(),
                    d.label.clone(),
                    vec![path.to_string_lossy().into_owned()],
                ));
            }
        }
    }
    for c in &args.cmds {
        let (label, command) = c
            .split_once('=')
            .with_context(|| format!("--cmd {c:?}: expected label=command"))?;
        targets.push((
            label.to_owned(),
            "-".to_owned(),
            command.split_whitespace().map(str::to_owned).collect(),
        ));
    }
    for (name, build, argv) in targets {
        let samples = cold_start_samples(&argv, &env, args.runs).await?;
        if let Some(s) = summarize(&samples) {
            println!(
                "| {name} | {build} | {} | {} | {} | {} | {} |",
                s.n,
                ms(s.min),
                ms(s.p50),
                ms(s.p99),
                ms(s.max)
            );
        }
    }
    println!();
    Ok(())
}

// ---------------------------------------------------------------------------------- overhead

async fn overhead(args: &Args, dirs: &[BinDir], aws: &AwsClients) -> anyhow::Result<()> {
    const WARM_UP: usize = 50;
    println!("## Forwarder overhead over a direct POST");
    println!();
    println!(
        "Per pair: a direct POST of the event bytes to the WFM stand-in (reqwest, keep-alive, \
         from this harness), then the same event as an EventBridge invocation through the local \
         Runtime API to the forwarder process until its response after WFM's 200 (the Runtime \
         API hop on loopback included). N = {} pairs after {WARM_UP} warm-up pairs; overhead = \
         percentile(through forwarder) − percentile(direct). Target: p99 ≤ 1 ms.",
        args.overhead_n
    );
    println!();
    println!(
        "| forwarder build | N | direct p50 µs | direct p99 µs | through forwarder p50 µs | through forwarder p99 µs | overhead p50 µs | overhead p99 µs |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for d in dirs {
        let bin = d.dir.join("wfm-relay-forwarder");
        if !bin.exists() {
            continue;
        }
        let stack = fresh_stack(aws, "bench-ovh").await?;
        let wfm = ScriptedWfm::start(Script::Sequence(vec![Reply::status(200)])).await?;
        let env = stack.lambda_env(&wfm.url(), &[]);
        let api = RuntimeApi::start().await?;
        let log = args.work_dir.join(format!("overhead-{}.log", d.label));
        let mut f = api.spawn_function(&bin, "wfm-relay-forwarder", &env, Some(&log))?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()?;
        let fam = EventFamily::random();
        let (mut direct, mut through) = (Vec::new(), Vec::new());
        for i in 0..WARM_UP + args.overhead_n {
            let body = fam.event(i);
            let t = Instant::now();
            let resp = client
                .post(wfm.url())
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await?;
            let status = resp.status().as_u16();
            resp.bytes().await?;
            let d_direct = t.elapsed();
            if status != 200 {
                bail!("direct POST answered {status}");
            }
            let t = Instant::now();
            let out = api.invoke(body, INVOKE_TIMEOUT).await?;
            let d_through = t.elapsed();
            match out {
                InvokeOutcome::Response(b) if b.windows(9).any(|w| w == b"delivered") => {}
                other => bail!("forwarder did not deliver: {other:?}"),
            }
            if i >= WARM_UP {
                direct.push(d_direct);
                through.push(d_through);
            }
        }
        let _ = f.kill().await;
        let (Some(a), Some(b)) = (summarize(&direct), summarize(&through)) else {
            continue;
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            d.label,
            a.n,
            us(a.p50),
            us(a.p99),
            us(b.p50),
            us(b.p99),
            signed_us(b.p50, a.p50),
            signed_us(b.p99, a.p99)
        );
        api.shutdown().await;
        wfm.shutdown().await;
    }
    println!();
    Ok(())
}

// ---------------------------------------------------------------------------------- drain

/// Puts `m` dead letters (our envelope, reason `transient_exhausted`) into `url`.
async fn seed(sqs: &aws_sdk_sqs::Client, url: &str, m: usize) -> anyhow::Result<()> {
    let fam = EventFamily::random();
    let mut i = 0;
    while i < m {
        let mut entries = Vec::new();
        for j in i..(i + 10).min(m) {
            let bytes = fam.event(j);
            let info = parse_event(&bytes).ok();
            let mut env = EnvelopeV1::new(&bytes, info.as_ref());
            env.reason = Some(Reason::TransientExhausted);
            env.attempts = 9;
            env.last_status = Some(503);
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{j}"))
                    .message_body(env.to_json())
                    .build()?,
            );
        }
        let out = sqs
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .context("SendMessageBatch (seeding)")?;
        if !out.failed().is_empty() {
            bail!("seeding: {} entries failed", out.failed().len());
        }
        i += 10;
    }
    Ok(())
}

/// The replayer library over `stack` and `wfm_url`.
fn replayer(aws: &AwsClients, stack: &LocalStack, wfm_url: &str) -> anyhow::Result<Replayer> {
    let env = stack.lambda_env(wfm_url, &[]);
    let cfg = ForwarderConfig::from_lookup(|k| {
        env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    })?;
    let wfm = WfmClient::new(&WfmSettings::from(&cfg))?;
    let queues = Queues::new(aws.sqs.clone(), aws.s3.clone(), QueueSettings::from(&cfg));
    Ok(Replayer::new(cfg, wfm, queues))
}

/// Receive(`batch`) + delete until `expected` messages are deleted (or two receives come back
/// empty); the count and the time taken.
async fn raw_drain(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    batch: i32,
    expected: usize,
) -> anyhow::Result<(usize, Duration)> {
    let t = Instant::now();
    let (mut n, mut empty) = (0, 0);
    while empty < 2 && n < expected {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(batch)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .send()
            .await?;
        let msgs = got.messages();
        if msgs.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        if batch == 1 {
            for m in msgs {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await?;
                n += 1;
            }
        } else {
            let entries = msgs
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("d{i}"))
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = sqs
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await?;
            n += out.successful().len();
        }
    }
    Ok((n, t.elapsed()))
}

async fn drain(args: &Args, aws: &AwsClients) -> anyhow::Result<()> {
    let m = args.drain_m;
    println!("## DLQ drain rate");
    println!();
    println!(
        "{m} dead letters seeded in a fresh queue for each row, same moto server, same run. \
         Replay: the replayer library (`replay`, mode history, concurrency {}, `limit` {m} so \
         that the empty end-of-queue poll is not timed, WFM stand-in answering 200: receive, \
         POST, delete after the 2xx). Targets: replay ≥ 80 % of the raw \
         ReceiveMessage(10) + DeleteMessageBatch rate and ≥ 10× the one-at-a-time loop.",
        args.replay_concurrency
    );
    println!();
    let wfm = ScriptedWfm::start(Script::Sequence(vec![Reply::status(200)])).await?;

    let stack = fresh_stack(aws, "bench-drain").await?;
    seed(&aws.sqs, &stack.dlq_url, m).await?;
    let r = replayer(aws, &stack, &wfm.url())?;
    let mut req = Request::new(Action::Replay);
    req.concurrency = Some(args.replay_concurrency);
    // Stop at the seeded count: the end-of-queue long poll is not part of the drain rate.
    req.limit = Some(m);
    let t = Instant::now();
    let mut delivered = 0;
    loop {
        let report = r.run(&req, None, &|_| {}).await?;
        delivered += report.delivered;
        if report.remaining == 0 || report.delivered == 0 {
            break;
        }
    }
    let replay = (delivered, t.elapsed());

    let raw_q = fresh_stack(aws, "bench-raw").await?;
    seed(&aws.sqs, &raw_q.dlq_url, m).await?;
    let raw = raw_drain(&aws.sqs, &raw_q.dlq_url, 10, m).await?;
    let one_q = fresh_stack(aws, "bench-one").await?;
    seed(&aws.sqs, &one_q.dlq_url, m).await?;
    let one = raw_drain(&aws.sqs, &one_q.dlq_url, 1, m).await?;
    wfm.shutdown().await;

    let rate = |(n, d): (usize, Duration)| n as f64 / d.as_secs_f64().max(1e-9);
    let (r_replay, r_raw, r_one) = (rate(replay), rate(raw), rate(one));
    println!(
        "| loop | build | messages | seconds | messages/s | vs raw batch | vs one-at-a-time |"
    );
    println!("|---|---|---|---|---|---|---|");
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    for (label, (n, d), r) in [
        ("replayer `replay` (POST to WFM + delete)", replay, r_replay),
        (
            "raw ReceiveMessage(10) + DeleteMessageBatch, no work",
            raw,
            r_raw,
        ),
        ("raw ReceiveMessage(1) + DeleteMessage, no work", one, r_one),
    ] {
        println!(
            "| {label} | {build} | {n} | {:.1} | {r:.0} | {:.0} % | {:.1}× |",
            d.as_secs_f64(),
            100.0 * r / r_raw.max(1e-9),
            r / r_one.max(1e-9)
        );
    }
    println!();
    Ok(())
}

// ---------------------------------------------------------------------------------- peak RSS

async fn invoke_ok(api: &RuntimeApi, payload: Vec<u8>) -> Result<Vec<u8>, String> {
    api.invoke_response(payload, INVOKE_TIMEOUT)
        .await
        .map_err(|e| e.to_string())
}

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
        running.spawn(async move { invoke_ok(&api, body).await });
    }
    while let Some(r) = running.join_next().await {
        queued += usize::from(
            r?.map_err(anyhow::Error::msg)?
                .windows(6)
                .any(|w| w == b"queued"),
        );
    }
    let esm = SqsEventSourceMapping {
        sqs: aws.sqs.clone(),
        queue_url: stack.retry_url.clone(),
        queue_arn: stack.retry_arn.clone(),
        region: "us-east-1".into(),
        batch_size: 10,
        wait_time_s: 1,
    };
    let until = Instant::now() + Duration::from_secs(120);
    let mut batches = 0;
    while Instant::now() < until && depth(&aws.sqs, &stack.retry_url).await? > 0 {
        let report = esm
            .poll_once(|payload| {
                let api = api.clone();
                async move { invoke_ok(&api, payload).await }
            })
            .await?;
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
    seed(&aws.sqs, &stack.dlq_url, events).await?;
    let wfm = ScriptedWfm::start(Script::Sequence(vec![Reply::status(200)])).await?;
    let env = stack.lambda_env(&wfm.url(), &[("FUNCTION_TIMEOUT_S", "900")]);
    let api = RuntimeApi::start().await?;
    let mut f = api.spawn_function(bin, "wfm-relay-replayer", &env, Some(log))?;
    let pid = f.id().context("no pid")?;
    let mut delivered = 0;
    for _ in 0..5 {
        let raw = invoke_ok(&api, br#"{"action":"replay","concurrency":10}"#.to_vec())
            .await
            .map_err(anyhow::Error::msg)?;
        let report: serde_json::Value = serde_json::from_slice(&raw)?;
        delivered += report["delivered"].as_u64().unwrap_or(0);
        if report["remaining"].as_u64().unwrap_or(0) == 0 {
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

async fn peak_rss(args: &Args, dirs: &[BinDir], aws: &AwsClients) -> anyhow::Result<()> {
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

// ---------------------------------------------------------------------------------- size

fn package_sizes(args: &Args) -> anyhow::Result<()> {
    println!("## Deploy package size");
    println!();
    println!(
        "Each release binary zipped alone as `bootstrap` (deflate, Python zipfile), the \
         `provided.al2023` layout; built for x86_64 as a stand-in for arm64 (PRODUCT.md §7). \
         Target: ≤ 8 MB per function."
    );
    println!();
    println!("| function | build | binary bytes | zip bytes | zip MiB |");
    println!("|---|---|---|---|---|");
    for name in LAMBDAS {
        let bin = args.package_dir.join(name);
        if !bin.exists() {
            println!("| {name} | - | not built ({}) | | |", bin.display());
            continue;
        }
        let zip = args.work_dir.join(format!("{name}.zip"));
        let _ = std::fs::remove_file(&zip);
        let status = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile\n\
                 with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n\
                 \x20   z.write(sys.argv[1], 'bootstrap')",
            ])
            .arg(&bin)
            .arg(&zip)
            .status()
            .context("cannot run python3 to zip")?;
        if !status.success() {
            bail!("zipping {} failed", bin.display());
        }
        let bin_bytes = std::fs::metadata(&bin)?.len();
        let zip_bytes = std::fs::metadata(&zip)?.len();
        let build = args
            .package_dir
            .file_name()
            .map_or("?".into(), |n| n.to_string_lossy().into_owned());
        println!(
            "| {name} | {build} | {bin_bytes} | {zip_bytes} | {:.2} |",
            zip_bytes as f64 / 1_048_576.0
        );
    }
    println!();
    Ok(())
}
