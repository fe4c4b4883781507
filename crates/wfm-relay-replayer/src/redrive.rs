//! Redrive: moves dead letters back to the retry queue (the forwarder's schedule runs again);
//! a letter leaves the DLQ only after the retry queue accepted its copy. The copies go in
//! SendMessageBatch calls cut at 10 entries and 1 MiB in total, each fitted to the retry
//! queue's own `MaximumMessageSize` (an event too large for it goes to the claim check; case
//! C23).

use crate::{Letter, Replayer, Report};
use wfm_relay_aws::queues::{EnvelopeEntry, Received};
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_core::replay::Shape;

/// The retry-queue entry for a letter: its reason cleared, its schedule `steps` back to 0, its
/// `not_before` kept (the forwarder waits for it; case C20), no delay; its history (attempts,
/// first attempt, key) kept, so `X-Attempt` continues after SQS restarts the receive count at 1
/// for the new message (PRODUCT.md §4, §5; case C21). `max_receive_count` is the retry queue's
/// `maxReceiveCount`.
fn redrive_entry(id: usize, l: &Letter, max_receive_count: u32) -> EnvelopeEntry {
    EnvelopeEntry {
        id: id.to_string(),
        env: redriven(l, max_receive_count),
        delay_s: 0,
    }
}

/// The envelope a letter is redriven with. A letter SQS moved itself after `maxReceiveCount`
/// receives (our envelope, no `reason`) made receives its body does not count: its attempts are
/// raised by `max_receive_count`, a lower bound that `last_error` states.
fn redriven(l: &Letter, max_receive_count: u32) -> EnvelopeV1 {
    let mut env = l.dead.env.clone();
    if l.dead.shape == Shape::Envelope && env.reason.is_none() {
        let before = env.attempts;
        env.attempts = before.saturating_add(max_receive_count);
        env.last_error = Some(format!(
            "moved to the DLQ by SQS after maxReceiveCount {max_receive_count}: attempts \
             {} is a lower bound ({before} recorded + {max_receive_count} receives)",
            env.attempts
        ));
    }
    env.reason = None;
    // The schedule runs again from its first step (PRODUCT.md §4); `not_before` stays.
    env.steps = 0;
    env
}

impl Replayer {
    /// The retry queue's `maxReceiveCount`, as configured: the schedule's steps + 5 (PRODUCT.md
    /// §4; the stack sets the RedrivePolicy from the same schedule).
    fn max_receive_count(&self) -> u32 {
        u32::try_from(self.cfg.schedule.max_receive_count()).unwrap_or(u32::MAX)
    }

    /// Moves letters to the retry queue; returns the messages to release (not moved).
    pub(crate) async fn redrive_page(
        &self,
        page: Vec<Letter>,
        report: &mut Report,
    ) -> Vec<Received> {
        let entries = page
            .iter()
            .enumerate()
            .map(|(i, l)| redrive_entry(i, l, self.max_receive_count()))
            .collect();
        let out = self.queues.retry().send_envelopes(entries).await;
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
        // Not released: it stays hidden until the hold ends.
        report.delivered_not_deleted += kept.len();
        release
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfm_relay_core::envelope::Reason;
    use wfm_relay_core::event::parse_event;
    use wfm_relay_core::replay::decode_dead_letter;

    const PRESENCE: &str = include_str!("../../../tests/fixtures/genesys/presence-break.json");

    fn letter(env: &EnvelopeV1) -> Letter {
        Letter {
            msg: Received {
                message_id: "m".into(),
                receipt_handle: "h".into(),
                body: env.to_json(),
                sent_at: None,
            },
            dead: decode_dead_letter(&env.to_json()),
        }
    }

    #[test]
    fn c21_redrive_keeps_the_history_and_counts_receives_sqs_made() {
        let mut env = EnvelopeV1::new(
            PRESENCE.as_bytes(),
            parse_event(PRESENCE.as_bytes()).ok().as_ref(),
        );
        env.attempts = 12;
        env.reason = Some(Reason::TransientExhausted);
        env.first_attempt_at = Some("2026-03-02T09:40:00.100Z".into());
        env.not_before = Some("2026-03-02T10:00:00Z".into());
        env.steps = 7;
        let ours = redriven(&letter(&env), 14);
        assert_eq!(ours.attempts, 12, "attempts continue, never restart");
        assert_eq!(ours.first_attempt_at, env.first_attempt_at);
        assert_eq!(
            (ours.key.clone(), ours.event.clone()),
            (env.key.clone(), env.event.clone())
        );
        assert_eq!(ours.reason, None);
        assert_eq!(
            ours.not_before, env.not_before,
            "not_before kept (case C20)"
        );
        assert_eq!(ours.steps, 0, "the schedule starts again");

        env.reason = None;
        env.attempts = 3;
        let by_sqs = redriven(&letter(&env), 14);
        assert_eq!(by_sqs.attempts, 17, "3 recorded + maxReceiveCount 14");
        assert!(
            by_sqs
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("lower bound")),
            "{:?}",
            by_sqs.last_error
        );
    }
}
