//! Redrive: moves dead letters back to the retry queue (the forwarder's schedule runs again);
//! a letter leaves the DLQ only after the retry queue accepted its copy.

use crate::{Letter, Replayer, Report};
use wfm_relay_aws::queues::{BatchEntry, Received};

/// The retry-queue entry for a letter: its reason cleared, its schedule `steps` back to 0, its
/// `not_before` kept (the forwarder waits for it), no delay.
fn redrive_entry(id: usize, l: &Letter) -> BatchEntry {
    let mut env = l.dead.env.clone();
    env.reason = None;
    env.steps = 0;
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
        report.redriven += self.delete_moved(&moved).await;
        release
    }

    /// Deletes the moved letters from the DLQ; returns how many went.
    async fn delete_moved(&self, moved: &[Received]) -> usize {
        let refs: Vec<&Received> = moved.iter().collect();
        self.queues.dlq().delete_batch(&refs).await.len()
    }
}
