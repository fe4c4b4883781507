//! The parking stage: a letter whose reason and history are written goes to the dead-letter
//! queue; and the one retry-queue call the SQS entry makes on a record it keeps (its
//! visibility timeout).

use crate::{Forwarder, HandlerError, Invocation, note};
use tracing::{error, warn};
use wfm_relay_core::envelope::EnvelopeV1;

impl Forwarder {
    /// Sends `env` to the DLQ, logged and counted by reason. The letter's `event_id` names it in
    /// the logs (`-` for input that had none).
    ///
    /// # Errors
    /// [`HandlerError::CannotPark`] when the DLQ did not take it (the caller keeps the event:
    /// the EventBridge entry fails the invocation, the SQS entry lists the record).
    pub(crate) async fn park(
        &self,
        env: &EnvelopeV1,
        inv: Invocation<'_>,
    ) -> Result<(), HandlerError> {
        let event_id = env.event_id.as_deref().unwrap_or("-");
        match self.ports.dead_letters.park(env).await {
            Ok(sent) => {
                warn!(event_id, key = env.key.as_deref().unwrap_or(""), user_id = env.user_id.as_deref().unwrap_or(""),
                    topic = env.topic.as_deref().unwrap_or(""), attempt = env.attempts, status = env.last_status,
                    outcome = "parked", reason = env.effective_reason().as_str(), message_id = %sent.message_id,
                    "parked in the dead-letter queue");
                note(inv.tally, |m| m.parked(env.effective_reason()));
                Ok(())
            }
            Err(source) => {
                error!(event_id, error = %source, "cannot park in the dead-letter queue");
                Err(HandlerError::CannotPark {
                    event_id: event_id.to_owned(),
                    source,
                })
            }
        }
    }

    /// Sets a retry-queue record's visibility timeout. Best effort: if it fails, the queue's
    /// default visibility timeout applies (logged).
    pub(crate) async fn set_visibility(&self, receipt: &str, secs: u32, event_id: &str) {
        if let Err(e) = self.ports.retry.set_visibility(receipt, secs).await {
            warn!(event_id, error = %e, wanted_s = secs, "could not set the visibility timeout; the queue default applies");
        }
    }
}
