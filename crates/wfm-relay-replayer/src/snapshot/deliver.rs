//! Handing one page's agents to the forwarder, paced at `SNAPSHOT_RATE_PER_S`, while the
//! caller reads the next page from Genesys (ARCHITECTURE.md, "Snapshots": the Genesys reads are
//! paced at 300 per minute, so a page's delivery overlaps the wait for the next page's call).

use super::{Handed, Snapshotter};
use crate::snapshot_request::{SnapshotReport, SnapshotRequest, SnapshotTopic};
use std::time::{Duration, Instant, SystemTime};
use wfm_relay_aws::genesys::Page;
use wfm_relay_core::snapshot::{SnapshotContext, agent_events};

/// The `SNAPSHOT_RATE_PER_S` pacer: one event every `1 / rate` seconds (none at rate 0).
pub(super) struct Pacer {
    step: Option<Duration>,
    next_slot: Instant,
}

impl Pacer {
    /// A pacer of `rate_per_s` events per second (0 = no limit).
    pub(super) fn new(rate_per_s: f64) -> Self {
        Pacer {
            step: (rate_per_s > 0.0).then(|| Duration::from_secs_f64(1.0 / rate_per_s)),
            next_slot: Instant::now(),
        }
    }

    /// Waits for the next event's slot and takes it.
    async fn wait(&mut self) {
        if let Some(step) = self.step {
            let now = Instant::now();
            if self.next_slot > now {
                tokio::time::sleep(self.next_slot - now).await;
            }
            self.next_slot = self.next_slot.max(now) + step;
        }
    }
}

/// What stays the same for every page of one run: the request, the events' context, the
/// Lambda deadline (`None` from the CLI).
pub(super) struct RunParts<'a> {
    pub(super) req: &'a SnapshotRequest,
    pub(super) ctx: &'a SnapshotContext,
    pub(super) deadline: Option<SystemTime>,
}

impl Snapshotter {
    /// Hands the agents of `page` from index `skip` on to the forwarder, in order, and counts
    /// them in `report`. `Some(i)` when the deadline stopped it before agent `i` (the agents
    /// before `i` are all handed); `None` when the page is done.
    pub(super) async fn deliver_page(
        &self,
        run: &RunParts<'_>,
        page: &Page,
        skip: usize,
        report: &mut SnapshotReport,
        pacer: &mut Pacer,
    ) -> Option<usize> {
        let (req, deadline) = (run.req, run.deadline);
        for (i, agent) in page.agents.iter().enumerate().skip(skip) {
            if self.left(deadline).is_zero() {
                return Some(i);
            }
            report.agents += 1;
            for ev in agent_events(run.ctx, agent, page.read_at) {
                let topic = if ev.topic.ends_with(".presence") {
                    SnapshotTopic::Presence
                } else {
                    SnapshotTopic::RoutingStatus
                };
                if !req.sends(topic) {
                    continue;
                }
                report.events += 1;
                if req.dry_run {
                    report.not_sent += 1;
                    continue;
                }
                pacer.wait().await;
                match self.hand(&ev.bytes, deadline).await {
                    Handed::Delivered => report.delivered += 1,
                    Handed::Queued => report.queued += 1,
                    Handed::Parked => report.parked += 1,
                    Handed::NotSent => report.not_sent += 1,
                }
            }
        }
        None
    }
}
