//! `wfm-relay-bench`: the benchmark suite of PRODUCT.md §9. Prints markdown tables and never
//! asserts: the targets are shown next to the measurements. Run it with `infra/bench.sh`, which
//! makes the venv, starts moto server on a free port, builds debug and release binaries and
//! stops moto.
//!
//! Benchmarks (select with `--only`):
//! - `cold`: process spawn → first `GET /2018-06-01/runtime/invocation/next` of the floor
//!   (`wfm-relay-floor`, an echo runtime), of each Lambda binary (the forwarder also with a
//!   `builtin:` profile and with init I/O), and of any command given with
//!   `--cmd label=command args…` (the Python and Node.js peers), interleaved in one run;
//! - `overhead`: an EventBridge invocation through the forwarder process until WFM's 200,
//!   against a direct POST of the same body to the same WFM stand-in (reqwest, keep-alive);
//! - `drain`: replayer `replay` rate over seeded dead letters, next to the emulator's raw
//!   ReceiveMessage(10) + DeleteMessageBatch ceiling and a Receive(1) + DeleteMessage loop;
//! - `rss`: peak RSS (`VmHWM`) of each Lambda process over a 1,000-event run;
//! - `size`: zipped deploy package (`bootstrap`) of each Lambda binary in `--package-dir`.

// The output is the benchmark report (markdown) on stdout.
#![allow(clippy::print_stdout)]

mod cold;
mod common;
mod drain;
mod overhead;
mod rss;
mod size;

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_local::harness::moto_endpoint;

/// Benchmarks of wfm-relay on moto server (run it through `infra/bench.sh`).
#[derive(Debug, Parser)]
#[command(name = "wfm-relay-bench")]
pub struct Args {
    /// Benchmarks to run, comma-separated: cold, overhead, drain, rss, size.
    #[arg(
        long,
        default_value = "cold,overhead,drain,rss,size",
        value_delimiter = ','
    )]
    pub only: Vec<String>,
    /// Directories holding the Lambda binaries, as `label=dir` (repeatable); default: this
    /// executable's directory, labelled with its name (`debug` / `release`).
    #[arg(long = "lambdas")]
    pub lambdas: Vec<String>,
    /// Extra Lambda processes for the cold-start table, as `label=command args…` (split on
    /// whitespace; repeatable), e.g. `--cmd "python=python3 peer/handler.py"`.
    #[arg(long = "cmd")]
    pub cmds: Vec<String>,
    /// The floor of the cold-start table: a Lambda runtime that only echoes
    /// (`wfm-relay-floor`, release); default: `wfm-relay-floor` beside this executable, when
    /// it exists.
    #[arg(long)]
    pub floor: Option<PathBuf>,
    /// Cold starts measured per row (after one discarded warm-up run; rows interleaved).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Invocations measured for the forwarder overhead (after 50 warm-up pairs).
    #[arg(long = "overhead-n", default_value_t = 1000)]
    pub overhead_n: usize,
    /// Dead letters seeded for each drain measurement.
    #[arg(long = "drain-m", default_value_t = 2000)]
    pub drain_m: usize,
    /// POSTs in flight during the replay drain (the replayer's `concurrency`, 1–50).
    #[arg(long = "replay-concurrency", default_value_t = 10)]
    pub replay_concurrency: usize,
    /// Events of the peak-RSS runs.
    #[arg(long = "rss-events", default_value_t = 1000)]
    pub rss_events: usize,
    /// Directory of the release binaries to package (`size`).
    #[arg(long = "package-dir", default_value = "target/release")]
    pub package_dir: PathBuf,
    /// Directory for the Lambda processes' logs and the zips.
    #[arg(long = "work-dir", default_value = ".demo/bench")]
    pub work_dir: PathBuf,
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
pub struct BinDir {
    /// `release`, `debug`, or the label given with `--lambdas`.
    pub label: String,
    /// The directory.
    pub dir: PathBuf,
}

/// The floor binary of the cold-start table: `--floor`, else `wfm-relay-floor` beside this
/// executable when it exists.
pub fn floor_path(args: &Args) -> Option<PathBuf> {
    if let Some(p) = &args.floor {
        return Some(p.clone());
    }
    let beside = std::env::current_exe()
        .ok()?
        .parent()?
        .join("wfm-relay-floor");
    beside.exists().then_some(beside)
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
    let endpoint = moto_endpoint("the benchmarks need", "infra/bench.sh")?;
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
        common::harness_build()
    );
    println!();

    if on("cold") {
        cold::cold_starts(&args, &dirs, &aws).await?;
    }
    if on("overhead") {
        overhead::overhead(&args, &dirs, &aws).await?;
    }
    if on("drain") {
        drain::drain(&args, &aws).await?;
    }
    if on("rss") {
        rss::peak_rss(&args, &dirs, &aws).await?;
    }
    if on("size") {
        size::package_sizes(&args)?;
    }
    Ok(())
}
