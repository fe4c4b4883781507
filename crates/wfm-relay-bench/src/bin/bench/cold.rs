//! `cold`: process spawn → first `GET /2018-06-01/runtime/invocation/next` (PRODUCT.md §9),
//! for the floor (`wfm-relay-floor`, a Lambda runtime that only echoes), each Lambda binary
//! (the forwarder also with `WFM_PROFILE=builtin:agent-state`, and once with its secret in
//! Secrets Manager and its profile and agent table in S3: the `init I/O` row), and any command
//! given with `--cmd label=command args…` (the Python and Node.js peers). All rows are measured
//! in one run, interleaved (one sample of each row per round), so a change of machine load
//! moves every row alike and the ratios hold.

use anyhow::{Context, bail};
use std::process::Stdio;
use std::time::{Duration, Instant};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_bench::first_poll::FirstPollApi;
use wfm_relay_bench::measure::percentile;
use wfm_relay_local::LocalStack;
use wfm_relay_local::runtime_api::lambda_env;

use crate::common::{LAMBDAS, fresh_stack, ms};
use crate::{Args, BinDir};

/// The profile of the `builtin:` rows (jq body, state codes: the costliest builtin to load).
const BUILTIN_PROFILE: &str = "builtin:agent-state";
/// The profile the `init I/O` row reads from S3 (it needs an agent table, read from S3 too).
const S3_PROFILE: &str = include_str!("../../../../wfm-relay-profile/profiles/assembled.json");

/// What a row is, for the ratios under the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The minimal echo runtime.
    Floor,
    /// One of our Lambda binaries, configured from the environment only.
    Ours,
    /// Our forwarder with init I/O (a secret and the profile and its table from AWS).
    InitIo,
    /// A peer in another language (`--cmd`).
    Peer,
}

/// One row of the table.
#[derive(Debug)]
struct Row {
    name: String,
    build: String,
    /// `none`, the `builtin:` profile, or what the init I/O row reads.
    config: String,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    kind: Kind,
    samples: Vec<Duration>,
}

impl Row {
    fn p(&self, q: f64) -> Duration {
        let mut s = self.samples.clone();
        s.sort_unstable();
        percentile(&s, q).unwrap_or_default()
    }
}

/// Spawn → first poll of one process.
async fn cold_start(argv: &[String], env: &[(String, String)]) -> anyhow::Result<Duration> {
    let (program, rest) = argv.split_first().context("empty command")?;
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
        Ok(t) => Ok(t.saturating_duration_since(t0)),
        Err(e) => bail!("{program} never polled for work: {e}"),
    }
}

/// The environment of the `init I/O` row: the bearer token in Secrets Manager, the profile and
/// its agent table in S3 (moto).
async fn init_io_env(
    aws: &AwsClients,
    stack: &LocalStack,
    base: &[(String, String)],
) -> anyhow::Result<Vec<(String, String)>> {
    let conf = wfm_relay_aws::aws::load_sdk_config().await;
    let secret = aws_sdk_secretsmanager::Client::new(&conf)
        .create_secret()
        .name(format!("bench-cold-{}", uuid::Uuid::new_v4().simple()))
        .secret_string("bench-token")
        .send()
        .await
        .context("CreateSecret")?
        .arn
        .context("CreateSecret returned no ARN")?;
    let put = |key: &'static str, body: Vec<u8>| async move {
        aws.s3
            .put_object()
            .bucket(&stack.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .with_context(|| format!("PutObject {key}"))?;
        anyhow::Ok(format!("s3://{}/{key}", stack.bucket))
    };
    let profile = put("profiles/assembled.json", S3_PROFILE.as_bytes().to_vec()).await?;
    let mapping = put(
        "profiles/agents.csv",
        b"user_id,wfm_id\n00000000-0000-4000-8000-000000000001,agent-1\n".to_vec(),
    )
    .await?;
    let mut env = base.to_vec();
    env.extend([
        ("WFM_AUTH_TOKEN_ARN".to_owned(), secret),
        ("WFM_PROFILE".to_owned(), profile),
        ("WFM_PROFILE_MAPPING".to_owned(), mapping),
    ]);
    Ok(env)
}

/// The rows: the floor, our binaries in each directory, the peers.
async fn rows(
    args: &Args,
    dirs: &[BinDir],
    aws: &AwsClients,
    stack: &LocalStack,
) -> anyhow::Result<Vec<Row>> {
    let env = stack.lambda_env("http://127.0.0.1:9/api/status/update", &[]);
    let mut with_profile = env.clone();
    with_profile.push(("WFM_PROFILE".to_owned(), BUILTIN_PROFILE.to_owned()));
    let row = |name: &str, build: &str, config: &str, argv, env, kind| Row {
        name: name.to_owned(),
        build: build.to_owned(),
        config: config.to_owned(),
        argv,
        env,
        kind,
        samples: Vec::new(),
    };
    let mut rows = Vec::new();
    if let Some(floor) = crate::floor_path(args) {
        let argv = vec![floor.to_string_lossy().into_owned()];
        rows.push(row(
            "wfm-relay-floor",
            "release",
            "-",
            argv,
            env.clone(),
            Kind::Floor,
        ));
    }
    let io_env = init_io_env(aws, stack, &env).await?;
    for d in dirs {
        for name in LAMBDAS {
            let path = d.dir.join(name);
            if !path.exists() {
                continue;
            }
            let argv = vec![path.to_string_lossy().into_owned()];
            rows.push(row(
                name,
                &d.label,
                "none",
                argv.clone(),
                env.clone(),
                Kind::Ours,
            ));
            if name == "wfm-relay-forwarder" {
                let p = with_profile.clone();
                rows.push(row(
                    name,
                    &d.label,
                    BUILTIN_PROFILE,
                    argv.clone(),
                    p,
                    Kind::Ours,
                ));
                if d.label != "debug" {
                    let io = "secret (SM) + profile + table (S3)";
                    rows.push(row(name, &d.label, io, argv, io_env.clone(), Kind::InitIo));
                }
            }
        }
    }
    for c in &args.cmds {
        let (label, command) = c
            .split_once('=')
            .with_context(|| format!("--cmd {c:?}: expected label=command"))?;
        let argv = command.split_whitespace().map(str::to_owned).collect();
        rows.push(row(label, "-", "-", argv, env.clone(), Kind::Peer));
    }
    Ok(rows)
}

pub async fn cold_starts(args: &Args, dirs: &[BinDir], aws: &AwsClients) -> anyhow::Result<()> {
    let stack = fresh_stack(aws, "bench-cold").await?;
    let mut rows = rows(args, dirs, aws, &stack).await?;
    // One discarded warm-up of each row (page cache, moto's first answers), then `runs` rounds.
    for r in &rows {
        cold_start(&r.argv, &r.env)
            .await
            .with_context(|| format!("{} ({})", r.name, r.config))?;
    }
    for _ in 0..args.runs {
        for r in &mut rows {
            let d = cold_start(&r.argv, &r.env)
                .await
                .with_context(|| format!("{} ({})", r.name, r.config))?;
            r.samples.push(d);
        }
    }
    print_table(args, &rows);
    Ok(())
}

fn print_table(args: &Args, rows: &[Row]) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("## Cold start: process spawn → first Runtime API poll");
    println!();
    println!(
        "Configuration read and validated before the first \
         `GET /2018-06-01/runtime/invocation/next`; {} rounds after one discarded warm-up, each \
         round one start of every row (interleaved). Load average at the end: {}. Targets \
         (PRODUCT.md §9): without init I/O ≤ 2× the floor and ≤ 1/15 of each peer; a `builtin:` \
         profile within 2 ms of none.",
        args.runs,
        load.join(" ")
    );
    println!();
    println!("| process | build | profile / init I/O | runs | p50 ms | p90 ms | min ms | max ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let mut s = r.samples.clone();
        s.sort_unstable();
        let (Some(min), Some(max)) = (s.first(), s.last()) else {
            continue;
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.build,
            r.config,
            s.len(),
            ms(r.p(50.0)),
            ms(r.p(90.0)),
            ms(*min),
            ms(*max)
        );
    }
    println!();
    print_ratios(rows);
}

/// Under the table: each of our rows against the floor and the peers (p50), the `builtin:`
/// profile's cost, and `init I/O`.
fn print_ratios(rows: &[Row]) {
    let floor = rows
        .iter()
        .find(|r| r.kind == Kind::Floor)
        .map(|r| r.p(50.0));
    let peers: Vec<&Row> = rows.iter().filter(|r| r.kind == Kind::Peer).collect();
    for r in rows.iter().filter(|r| r.kind == Kind::Ours) {
        let p50 = r.p(50.0).as_secs_f64();
        let mut parts = Vec::new();
        if let Some(f) = floor {
            parts.push(format!("{:.2}× the floor", p50 / f.as_secs_f64()));
        }
        for p in &peers {
            parts.push(format!(
                "1/{:.1} of {}",
                p.p(50.0).as_secs_f64() / p50,
                p.name
            ));
        }
        println!(
            "- {} {} ({}): p50 {}",
            r.name,
            r.build,
            r.config,
            parts.join(", ")
        );
    }
    for r in rows.iter().filter(|r| r.config != "none") {
        let Some(base) = rows.iter().find(|b| {
            b.name == r.name && b.build == r.build && b.config == "none" && b.kind == Kind::Ours
        }) else {
            continue;
        };
        let delta = |q| r.p(q).as_secs_f64() * 1e3 - base.p(q).as_secs_f64() * 1e3;
        let what = if r.kind == Kind::InitIo {
            "init I/O"
        } else {
            "profile cost"
        };
        println!(
            "- {} {} {what} ({}): p50 {:+.1} ms, p90 {:+.1} ms over no profile",
            r.name,
            r.build,
            r.config,
            delta(50.0),
            delta(90.0)
        );
    }
    println!();
}
