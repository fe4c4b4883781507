//! `snapshot-bench`: the 20,000-agent snapshot of issue 12 (a benchmark, never CI). It starts the
//! Genesys Cloud API stand-in with `--agents` agents and the real limit (300 requests per minute
//! per token) and a WFM answering 200 at once, both in a child process ([`serve`]); creates the
//! retry queue, DLQ and bucket in moto (`AWS_ENDPOINT_URL`); builds the snapshot runner in this
//! process the way the replayer Lambda does (the forwarder's start-up path, `SNAPSHOT_RATE_PER_S=0`)
//! and snapshots every agent. It prints, per run: the Genesys calls needed (one
//! `organizations/me` and one users page of 500 per 500 agents), the floor those calls allow at
//! 300 per minute, the measured duration (the run's start, followed at once by the token request
//! and the first Genesys call, → the last event's delivery answered), their ratio, the calls per
//! agent, and this process's peak RSS (`VmHWM`). Targets: ≤ 1.1× the floor, ≤ 64 MB.
//!
//! ```text
//! eval "$(infra/moto.sh start .demo/snapbench)"
//! cargo run --release --locked -p wfm-relay-bench --bin snapshot-bench -- --agents 20000
//! infra/moto.sh stop .demo/snapbench
//! ```

// The output is the benchmark report (markdown) on stdout.
#![allow(clippy::print_stdout)]

mod serve;

use anyhow::Context;
use clap::Parser;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wfm_relay_aws::aws::{AwsClients, load_sdk_config};
use wfm_relay_aws::genesys::{
    GENESYS_RATE_PER_MINUTE, GenesysClient, GenesysSettings, USERS_PAGE_SIZE,
};
use wfm_relay_aws::relay::RelayParts;
use wfm_relay_bench::measure::peak_rss_kib;
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::harness::moto_endpoint;
use wfm_relay_local::stack::{LocalStack, StackOptions};
use wfm_relay_replayer::snapshot::account_of_queue_url;
use wfm_relay_replayer::{SnapshotRequest, Snapshotter};

/// The 20,000-agent snapshot benchmark (needs moto at `AWS_ENDPOINT_URL`).
#[derive(Debug, Parser)]
#[command(name = "snapshot-bench")]
struct Args {
    /// Agents in the Genesys stand-in (all snapshotted).
    #[arg(long, default_value_t = 20_000)]
    agents: usize,
    /// Snapshots run one after the other (each with a new Genesys client, so a new token and
    /// a fresh rate-limit window).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Internal: run the stand-ins (the child process).
    #[arg(long, hide = true)]
    serve: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.serve {
        return serve::serve(args.agents).await;
    }
    bench(&args).await
}

/// The stand-ins' counts.
async fn stats(http: &reqwest::Client, url: &str) -> anyhow::Result<serde_json::Value> {
    let body = http.get(url).send().await?.bytes().await?;
    Ok(serde_json::from_slice(&body)?)
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// The URLs the child printed.
#[derive(serde::Deserialize)]
struct Urls {
    genesys: String,
    wfm: String,
}

async fn bench(args: &Args) -> anyhow::Result<()> {
    moto_endpoint("the snapshot benchmark needs", "infra/moto.sh start")?;
    let aws = AwsClients::from_env().await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let options = StackOptions {
        max_receive_count: 5,
        retry_visibility_timeout_s: 30,
    };
    let stack = LocalStack::create(&aws, "snapbench", &run[..8], options).await?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--serve", "--agents", &args.agents.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("the stand-ins' process")?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().context("child stdout")?).read_line(&mut line)?;
    let urls: Urls = serde_json::from_str(&line).with_context(|| format!("child said {line:?}"))?;
    let env = stack.lambda_env(
        &urls.wfm,
        &[
            ("GENESYS_API_URL", urls.genesys.as_str()),
            ("GENESYS_LOGIN_URL", urls.genesys.as_str()),
            ("GENESYS_CLIENT_ID", "standin-client"),
            ("GENESYS_CLIENT_SECRET", "standin-secret"),
            ("SNAPSHOT_RATE_PER_S", "0"),
        ],
    );
    let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let calls_needed = 1 + args.agents.div_ceil(USERS_PAGE_SIZE);
    let floor = Duration::from_secs(60) * u32::try_from(calls_needed)? / GENESYS_RATE_PER_MINUTE;
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("# snapshot benchmark: {} agents", args.agents);
    println!();
    println!(
        "{cores} cores, load average at the start {}, `SNAPSHOT_RATE_PER_S=0`, Genesys limit {GENESYS_RATE_PER_MINUTE}/min per token, WFM answers 200 at once",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!();
    println!(
        "| run | events delivered | Genesys calls (needed) | floor s | measured s | ratio | calls per agent | 429 | tokens | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let http = reqwest::Client::new();
    let stats_url = format!("{}{}", urls.wfm.trim_end_matches("/wfm"), serve::STATS_PATH);
    for n in 1..=args.runs {
        let parts = RelayParts::from_lookup(lookup, &load_sdk_config().await).await?;
        let account = account_of_queue_url(&parts.cfg.retry_queue_url);
        let forwarder = Forwarder::new(parts.cfg, parts.wfm, parts.queues);
        let settings = GenesysSettings::from_lookup(lookup)?;
        let genesys = GenesysClient::connect(&settings, None).await?;
        let snap = Snapshotter::new(
            genesys,
            forwarder,
            None,
            account,
            "us-east-1".to_owned(),
            0.0,
        );
        let before = stats(&http, &stats_url).await?;
        let started = SystemTime::now();
        let r = snap.run(&SnapshotRequest::all(), None, &|_| {}).await;
        let after = stats(&http, &stats_url).await?;
        let rss_kib = peak_rss_kib(std::process::id()).unwrap_or(0);
        let diff = |k: &str| after[k].as_u64().unwrap_or(0) - before[k].as_u64().unwrap_or(0);
        let measured = Duration::from_millis(r.duration_ms);
        let to_last_post = after["wfm_last_ms"]
            .as_u64()
            .map(|ms| Duration::from_millis(ms).saturating_sub(since_epoch(started)));
        println!(
            "| {n} | {} of {} ({} queued, {} parked, {} not sent; WFM saw {}) | {} ({calls_needed}; stand-in counted {}) | {:.2} | {:.2} (last POST at {}) | {:.3} | {:.4} | {} | {} | {:.1} |",
            r.delivered,
            r.events,
            r.queued,
            r.parked,
            r.not_sent,
            diff("wfm_requests"),
            r.genesys_calls,
            diff("genesys_api_calls"),
            floor.as_secs_f64(),
            measured.as_secs_f64(),
            to_last_post.map_or("?".to_owned(), |d| format!("{:.2} s", d.as_secs_f64())),
            measured.as_secs_f64() / floor.as_secs_f64(),
            r.genesys_calls as f64 / r.agents.max(1) as f64,
            diff("genesys_429"),
            diff("genesys_tokens"),
            rss_kib as f64 / 1024.0,
        );
        if let Some(why) = &r.stopped {
            println!("\nrun {n} stopped: {why}\n");
        }
    }
    drop(child.stdin.take());
    child.wait()?;
    Ok(())
}
