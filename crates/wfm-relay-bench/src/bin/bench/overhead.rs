//! `overhead`: an EventBridge invocation through the forwarder process until WFM's 200, against
//! a direct POST of the same body to the same WFM stand-in (reqwest, keep-alive).

use anyhow::bail;
use std::time::{Duration, Instant};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_bench::events::EventFamily;
use wfm_relay_bench::measure::summarize;
use wfm_relay_local::{InvocationType, InvokeOutcome, Reply, RuntimeApi, Script, ScriptedWfm};

use crate::common::{INVOKE_TIMEOUT, fresh_stack, signed_us, us};
use crate::{Args, BinDir};

/// Runs the benchmark and prints its table.
pub async fn overhead(args: &Args, dirs: &[BinDir], aws: &AwsClients) -> anyhow::Result<()> {
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
            let out = api
                .invoke_as(InvocationType::Event, body, INVOKE_TIMEOUT)
                .await?;
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
