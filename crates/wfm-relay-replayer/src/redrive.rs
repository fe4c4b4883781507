//! Redrive: moves dead letters back to the retry queue (the forwarder's schedule runs again);
//! a letter leaves the DLQ only after the retry queue accepted its copy.

use crate::{Letter, Replayer, Report};
use wfm_relay_aws::queues::{BatchEntry, Received};

/// The retry-queue entry for a letter: its reason and `not_before` cleared, no delay.
fn redrive_entry(id: usize, l: &Letter) -> BatchEntry {
    let mut env = l.dead.env.clone();
    env.reason = None;
    env.not_before = None;
    BatchEntry {
        id: id.to_string(),
        body: env.to_json(),
        delay_s: 0,
    }
}

impl Replayer {
    /// Moves letters to the retry queue; returns the messages to release (not moved).
    pub(crate) async fn redrive_page(
        &self,
        page: Vec<Letter>,
        report: &mut Report,
    ) -> Vec<Received> {
        let entries = page
            .iter()
            .enumerate()
            .map(|(i, l)| redrive_entry(i, l))
            .collect();
        let out = self.queues.retry().send_batch(entries).await;
        let mut moved = Vec::new();
        let mut release = Vec::new();
        for (i, l) in page.into_iter().enumerate() {
            if out.sent.contains(&i.to_string()) {
                moved.push(l.msg);
            } else {
                report.failed += 1;
                release.push(l.msg);
            }
        }
        let (deleted, kept) = self.delete_confirmed(moved).await;
        report.redriven += deleted;
        // In the retry queue and still in the DLQ: a duplicate, never a loss.
        report.delivered_not_deleted += kept.len();
        release.extend(kept);
        release
    }
}
