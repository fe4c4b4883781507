//! Handing one page's agents to the forwarder while the caller reads the next page from Genesys
//! (ARCHITECTURE.md, "Snapshots"). Paced at `SNAPSHOT_RATE_PER_S`, one agent at a time, in the
//! page's order; at `SNAPSHOT_RATE_PER_S=0` (no limit) up to [`UNPACED_AGENTS_IN_FLIGHT`] agents
//! are handed over at once (each agent's two events in order), so that delivery keeps up with
//! the Genesys reads (one page of 500 agents every 200 ms at 300 calls per minute).

use super::{Handed, Snapshotter};
use crate::snapshot_request::{SnapshotReport, SnapshotRequest, SnapshotTopic};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};
use wfm_relay_aws::genesys::Page;
use wfm_relay_core::snapshot::{SnapshotContext, agent_events};

/// Agents handed over at once when `SNAPSHOT_RATE_PER_S=0`: 8 (the forwarder's inline
/// attempts, breaker and queues are shared and safe for concurrent events, as in an SQS batch).
pub(crate) const UNPACED_AGENTS_IN_FLIGHT: usize = 8;

/// The `SNAPSHOT_RATE_PER_S` pacer: one event every `1 / rate` seconds (none at rate 0).
pub(super) struct Pacer {
    step: Option<Duration>,
    next_slot: Mutex<Instant>,
}

impl Pacer {
    /// A pacer of `rate_per_s` events per second (0 = no limit).
    pub(super) fn new(rate_per_s: f64) -> Self {
        Pacer {
            step: (rate_per_s > 0.0).then(|| Duration::from_secs_f64(1.0 / rate_per_s)),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next event's slot, taken at once.
    async fn wait(&self) {
        let Some(step) = self.step else { return };
        let now = Instant::now();
        let slot = {
            let mut next = self
                .next_slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let slot = (*next).max(now);
            *next = slot + step;
            slot
        };
        if slot > now {
            tokio::time::sleep(slot - now).await;
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

fn count(report: &mut SnapshotReport, handed: Handed) {
    match handed {
        Handed::Delivered => report.delivered += 1,
        Handed::Queued => report.queued += 1,
        Handed::Parked => report.parked += 1,
        Handed::NotSent => report.not_sent += 1,
    }
}

impl Snapshotter {
    /// Hands one agent's events over, in order, each in its pacing slot.
    async fn hand_agent(
        &self,
        events: Vec<Vec<u8>>,
        deadline: Option<SystemTime>,
        pacer: &Pacer,
    ) -> Vec<Handed> {
        let mut out = Vec::with_capacity(events.len());
        for bytes in events {
            pacer.wait().await;
            out.push(self.hand(&bytes, deadline).await);
        }
        out
    }

    /// Hands the agents of `page` from index `skip` on to the forwarder and counts them in
    /// `report`. `Some(i)` when the deadline stopped it before agent `i` (agents are started
    /// in order and every started one is finished, so the agents before `i` are all handed);
    /// `None` when the page is done.
    pub(super) async fn deliver_page(
        &self,
        run: &RunParts<'_>,
        page: &Page,
        skip: usize,
        report: &mut SnapshotReport,
        pacer: &Pacer,
    ) -> Option<usize> {
        let limit = if pacer.step.is_some() {
            1
        } else {
            UNPACED_AGENTS_IN_FLIGHT
        };
        let mut agents = page.agents.iter().enumerate().skip(skip);
        let mut in_flight = FuturesUnordered::new();
        let mut stopped = None;
        loop {
            while stopped.is_none() && in_flight.len() < limit {
                let Some((i, agent)) = agents.next() else {
                    break;
                };
                if self.left(run.deadline).is_zero() {
                    stopped = Some(i);
                    break;
                }
                report.agents += 1;
                let events: Vec<Vec<u8>> = agent_events(run.ctx, agent, page.read_at)
                    .into_iter()
                    .filter(|ev| {
                        run.req.sends(if ev.topic.ends_with(".presence") {
                            SnapshotTopic::Presence
                        } else {
                            SnapshotTopic::RoutingStatus
                        })
                    })
                    .map(|ev| ev.bytes)
                    .collect();
                report.events += events.len();
                if run.req.dry_run {
                    report.not_sent += events.len();
                    continue;
                }
                in_flight.push(self.hand_agent(events, run.deadline, pacer));
            }
            match in_flight.next().await {
                Some(handed) => handed.into_iter().for_each(|h| count(report, h)),
                None => return stopped,
            }
        }
    }
}
