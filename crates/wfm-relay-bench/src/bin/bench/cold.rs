//! `cold`: process spawn → first `GET /2018-06-01/runtime/invocation/next` of each Lambda binary
//! (configuration and SDK clients are built before the first poll), or of any command given with
//! `--cmd label=command args…`.

use anyhow::{Context, bail};
use std::process::Stdio;
use std::time::{Duration, Instant};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_bench::first_poll::FirstPollApi;
use wfm_relay_bench::measure::summarize;
use wfm_relay_local::runtime_api::lambda_env;

use crate::common::{LAMBDAS, fresh_stack, ms};
use crate::{Args, BinDir};

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
            .envs(lambda_env("bench", &api.address()))
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

pub async fn cold_starts(args: &Args, dirs: &[BinDir], aws: &AwsClients) -> anyhow::Result<()> {
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
