//! `drain`: the replayer's `replay` rate over seeded dead letters, next to the emulator's raw
//! ReceiveMessage(10) + DeleteMessageBatch ceiling and a Receive(1) + DeleteMessage loop.

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use std::time::{Duration, Instant};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_local::{Reply, Script, ScriptedWfm};
use wfm_relay_replayer::{Action, Request};

use crate::Args;
use crate::common::{fresh_stack, harness_build, seed_dead_letters};

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

pub async fn drain(args: &Args, aws: &AwsClients) -> anyhow::Result<()> {
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
    seed_dead_letters(&aws.sqs, &stack.dlq_url, m).await?;
    let r = wfm_relay_bench::replayer::from_env(aws, &stack.lambda_env(&wfm.url(), &[]))?;
    let mut req = Request::new(Action::Replay);
    req.concurrency = Some(args.replay_concurrency);
    // Stop at the seeded count: the end-of-queue long poll is not part of the drain rate.
    req.limit = Some(m);
    let t = Instant::now();
    let mut delivered = 0;
    loop {
        let report = r.run(&req, None, &|_| {}).await?;
        delivered += report.delivered;
        if report.remaining == Some(0) || report.delivered == 0 {
            break;
        }
    }
    let replay = (delivered, t.elapsed());

    let raw_q = fresh_stack(aws, "bench-raw").await?;
    seed_dead_letters(&aws.sqs, &raw_q.dlq_url, m).await?;
    let raw = raw_drain(&aws.sqs, &raw_q.dlq_url, 10, m).await?;
    let one_q = fresh_stack(aws, "bench-one").await?;
    seed_dead_letters(&aws.sqs, &one_q.dlq_url, m).await?;
    let one = raw_drain(&aws.sqs, &one_q.dlq_url, 1, m).await?;
    wfm.shutdown().await;

    let rate = |(n, d): (usize, Duration)| n as f64 / d.as_secs_f64().max(1e-9);
    let (r_replay, r_raw, r_one) = (rate(replay), rate(raw), rate(one));
    println!(
        "| loop | build | messages | seconds | messages/s | vs raw batch | vs one-at-a-time |"
    );
    println!("|---|---|---|---|---|---|---|");
    let build = harness_build();
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
