//! The waiting stage of the SQS entry: a record kept for a later try waits either under a
//! longer visibility timeout, or — when the wait is longer than SQS still allows for this
//! receive (43,200 s in total since the ReceiveMessage) — as a copy in the retry queue with
//! `not_before`, its history and the schedule `steps` used so far (PRODUCT.md §4). The choice
//! is the core's [`hold`]; this file carries it out through the ports.

use crate::sqs::{Keep, Record};
use crate::{Forwarder, Invocation};
use std::time::{Duration, SystemTime};
use tracing::{error, info};
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_core::policy::{Hold, estimated_receive, hold};
use wfm_relay_core::timefmt::format_rfc3339;

/// SQS's `ApproximateFirstReceiveTimestamp` attribute (epoch milliseconds), when readable.
pub(crate) fn first_receive(
    attributes: &std::collections::HashMap<String, String>,
) -> Option<SystemTime> {
    attributes
        .get("ApproximateFirstReceiveTimestamp")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
}

impl Forwarder {
    /// Makes the record wait `wait` before its next try. `env` is the history to carry in a
    /// copy: its `attempts` already count this receive. A copy gets `steps` = the envelope's
    /// steps + this receive count, so the schedule still runs out.
    ///
    /// Returns [`Keep::Yes`] (listed) after a visibility change, whether or not SQS took it (a
    /// refused change leaves the queue's default visibility: logged, never parked for it), and
    /// [`Keep::No`] once a copy is in the retry queue. A copy the queue refuses leaves the
    /// record listed under the longest visibility still allowed.
    pub(crate) async fn hold_record(
        &self,
        env: &EnvelopeV1,
        rec: Record<'_>,
        wait: Duration,
        inv: Invocation<'_>,
    ) -> Keep {
        let now = self.ports.clock.now();
        let received = estimated_receive(
            rec.receive_count,
            rec.first_receive,
            inv.started,
            self.cfg.batching_window,
        );
        let since_receive = now.duration_since(received).unwrap_or(Duration::ZERO);
        match hold(wait, since_receive, now) {
            Hold::Visibility { secs } => {
                self.set_visibility(rec.receipt, secs, &rec.info.id).await;
                Keep::Yes
            }
            Hold::Copy {
                delay_s,
                not_before,
            } => {
                let mut copy = env.clone();
                copy.reason = None;
                copy.not_before = Some(format_rfc3339(not_before));
                copy.steps = env.steps.saturating_add(rec.receive_count);
                match self.ports.retry.enqueue(&copy, delay_s).await {
                    Ok(sent) => {
                        info!(event_id = %rec.info.id, key = %rec.info.key, outcome = "requeued", wait_s = wait.as_secs(),
                            since_receive_s = since_receive.as_secs(), delay_s, steps = copy.steps, message_id = %sent.message_id,
                            not_before = copy.not_before.as_deref().unwrap_or(""),
                            "wait longer than SQS allows for this receive; sent a copy with not_before");
                        Keep::No
                    }
                    Err(e) => {
                        let secs = wfm_relay_core::policy::visibility_allowed(since_receive);
                        error!(event_id = %rec.info.id, error = %e, wanted_s = wait.as_secs(), visibility_s = secs,
                            "could not send the waiting copy; the record stays listed and may come back before the wanted time");
                        self.set_visibility(rec.receipt, secs, &rec.info.id).await;
                        Keep::Yes
                    }
                }
            }
        }
    }
}
