//! Replay-archive: POSTs the letters of archive objects (one key or every `.jsonl.gz` under a
//! prefix, in key order) to WFM. Nothing is deleted; `next` continues after the last object read.

use crate::pacer::Pacer;
use crate::replay::{ReplayCtx, ReplayOutcome, sendable};
use crate::{ReplayError, Replayer, Report, Request, StopReason};
use futures_util::StreamExt;
use std::time::SystemTime;
use wfm_relay_aws::archive::Archive;
use wfm_relay_core::envelope::EnvelopeV1;

/// The suffix of archive objects (manifests and other keys under a prefix are skipped).
const OBJECT_SUFFIX: &str = ".jsonl.gz";

impl Replayer {
    /// Replays the letters of archive objects to WFM. Nothing is deleted.
    pub(crate) async fn replay_archive(
        &self,
        req: &Request,
        deadline: Option<SystemTime>,
        report: &mut Report,
        progress: &(dyn Fn(&Report) + Sync),
    ) -> Result<(), ReplayError> {
        let Some(archive) = &self.archive else {
            return Ok(());
        };
        let keys = object_keys(archive, req).await?;
        let pacer = Pacer::new(req.rate_per_s);
        let ctx = ReplayCtx {
            deadline,
            pacer: &pacer,
            concurrency: req.concurrency,
        };
        let limit = req.effective_limit();
        for k in keys {
            if self.out_of_time(deadline) || report.matched >= limit {
                report.stopped = Some(if report.matched >= limit {
                    StopReason::Limit
                } else {
                    StopReason::Deadline
                });
                break;
            }
            let letters = archive.read_letters(&k).await?;
            let selected: Vec<EnvelopeV1> = letters
                .into_iter()
                .filter(|e| req.filter.matches(e))
                .collect();
            report.matched += selected.len();
            let (selected, unsendable): (Vec<EnvelopeV1>, Vec<EnvelopeV1>) =
                selected.into_iter().partition(sendable);
            report.unsendable += unsendable.len();
            if !req.dry_run {
                let results: Vec<ReplayOutcome> = futures_util::stream::iter(selected)
                    .map(|mut env| {
                        let ctx = &ctx;
                        async move { self.deliver(&mut env, ctx.deadline, ctx.pacer).await }
                    })
                    .buffer_unordered(ctx.in_flight())
                    .collect()
                    .await;
                for r in results {
                    match r {
                        ReplayOutcome::Delivered => report.delivered += 1,
                        ReplayOutcome::Failed => report.failed += 1,
                        ReplayOutcome::Invalid | ReplayOutcome::Unshapeable => {
                            report.unsendable += 1
                        }
                        ReplayOutcome::InFlight => report.in_flight += 1,
                        ReplayOutcome::NotReached => report.not_reached += 1,
                    }
                }
            }
            report.keys.push(k.clone());
            let mut next = req.clone();
            next.start_after = Some(k);
            report.next = Some(next);
            progress(report);
        }
        Ok(())
    }
}

/// The archive objects a request names: its key, or every object under its prefix (after
/// `start_after`), in key order.
async fn object_keys(archive: &Archive, req: &Request) -> Result<Vec<String>, ReplayError> {
    let key = req.archive_key.clone().unwrap_or_default();
    if key.ends_with(OBJECT_SUFFIX) {
        return Ok(vec![key]);
    }
    Ok(archive
        .list(&key, req.start_after.as_deref())
        .await?
        .into_iter()
        .filter(|k| k.ends_with(OBJECT_SUFFIX))
        .collect())
}
