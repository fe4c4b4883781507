//! The recovery: WFM healthy, the replayer library replays the DLQ (up to five runs), and what
//! it could not deliver is archived to S3.

use anyhow::Context;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wfm_relay_aws::archive::Archive;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_local::stack::depth;
use wfm_relay_local::{Reply, Script};
use wfm_relay_replayer::{Action, Request};

use crate::phases::Phase;
use crate::run::Run;

/// What the recovery did.
pub struct Recovery {
    /// Dead letters in the DLQ before the replay, by reason.
    pub parked_by_reason: BTreeMap<String, usize>,
    /// Replay POSTs answered 2xx.
    pub replayed: usize,
    /// Time the replay runs took.
    pub replay_time: Duration,
    /// The event ids of the archived dead letters, read back from the archive.
    pub archived_ids: Vec<Option<String>>,
}

/// WFM healthy; replayer `stats`, `replay` until nothing is left or nothing was delivered (at
/// most five runs), then `archive` of what is left, read back from S3.
///
/// # Errors
/// When the replayer cannot be built or a replayer run or archive read fails.
pub async fn recover(
    run: &Run,
    aws: &AwsClients,
    env: &[(String, String)],
) -> anyhow::Result<Recovery> {
    let clock = run.clock;
    run.wfm
        .set_script(Script::Sequence(vec![Reply::status(200)]));
    run.phase.send_replace(Phase::Healthy);
    println!(
        "{} WFM healthy; recovery with the replayer (library)",
        clock.stamp()
    );
    let replayer = wfm_relay_bench::replayer::from_env(aws, env)?;
    let stats = replayer
        .run(&Request::new(Action::Stats), None, &|_| {})
        .await
        .context("replayer stats")?;
    let parked_by_reason = stats.stats.map(|s| s.by_reason).unwrap_or_default();
    println!(
        "{} DLQ before replay: {} dead letters {:?}",
        clock.stamp(),
        stats.matched,
        parked_by_reason
    );
    let replay_started = Instant::now();
    let mut replayed = 0;
    for _ in 0..5 {
        let mut req = Request::new(Action::Replay);
        req.concurrency = Some(10);
        let report = replayer.run(&req, None, &|_| {}).await.context("replay")?;
        replayed += report.delivered;
        println!(
            "{} replay: matched {} delivered {} failed {} skipped {} remaining {}",
            clock.stamp(),
            report.matched,
            report.delivered,
            report.failed,
            report.skipped,
            report
                .remaining
                .map_or_else(|| "unknown".to_owned(), |n| n.to_string())
        );
        if report.remaining == Some(0) || report.delivered == 0 {
            break;
        }
    }
    let replay_time = replay_started.elapsed();
    let mut archived_ids: Vec<Option<String>> = Vec::new();
    if depth(&aws.sqs, &run.stack.dlq_url).await? > 0 {
        let report = replayer
            .run(&Request::new(Action::Archive), None, &|_| {})
            .await
            .context("archive")?;
        println!(
            "{} archived {} dead letters the replay could not deliver ({} objects)",
            clock.stamp(),
            report.archived,
            report.keys.len()
        );
        let archive = Archive::new(aws.s3.clone(), run.stack.bucket.clone());
        for key in report.keys.iter().filter(|k| k.ends_with(".jsonl.gz")) {
            for letter in archive
                .read_letters(key)
                .await
                .context("reading the archive")?
            {
                archived_ids.push(letter.event_id);
            }
        }
    }
    Ok(Recovery {
        parked_by_reason,
        replayed,
        replay_time,
        archived_ids,
    })
}
