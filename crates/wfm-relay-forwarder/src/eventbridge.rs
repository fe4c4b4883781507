//! The EventBridge entry: a Genesys Cloud event from the partner event bus.
//!
//! Stages: parse → [inline attempts: guard → deadline → breaker → attempt → verdict → backoff]
//! → hand to the retry queue (or, if it refuses, park). See the crate documentation.

use crate::attempt::Attempt;
use crate::{EventOutcome, Forwarder, HandlerError, Invocation, millis, note};
use std::time::Duration;
use tracing::{error, info, warn};
use wfm_relay_aws::queues::QueueError;
use wfm_relay_core::attempt::Verdict;
use wfm_relay_core::breaker::Admit;
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_core::event::{EventInfo, parse_event};
use wfm_relay_core::metrics;
use wfm_relay_core::policy::{
    InlineNext, InlineState, after_inline_transient, enqueue_delay, full_jitter,
};
use wfm_relay_core::timefmt::format_rfc3339;

/// How the inline attempts ended.
enum Inline {
    /// Delivered or parked: nothing more to do.
    Done(EventOutcome),
    /// Still undelivered: to the retry queue, with WFM's last `Retry-After`.
    Enqueue {
        /// The last transient verdict's `Retry-After`.
        retry_after: Option<Duration>,
        /// Attempts made in this invocation.
        attempts: u32,
    },
}

impl Forwarder {
    /// The EventBridge entry.
    ///
    /// # Errors
    /// [`HandlerError::CannotPark`] when neither queue accepted an undeliverable event.
    pub(crate) async fn event_entry(
        &self,
        raw: &[u8],
        inv: Invocation<'_>,
    ) -> Result<EventOutcome, HandlerError> {
        let info = match parse_event(raw) {
            Ok(info) => info,
            Err(invalid) => {
                let env = EnvelopeV1::invalid(raw, invalid.to_string());
                warn!(outcome = "invalid_event", error = %invalid, bytes = raw.len(), "not an EventBridge event; parking it");
                self.park(&env, inv).await?;
                return Ok(EventOutcome::Parked(Reason::InvalidEvent));
            }
        };
        let mut env = EnvelopeV1::new(raw, Some(&info));
        match self.inline_attempts(raw, &info, &mut env, inv).await? {
            Inline::Done(outcome) => Ok(outcome),
            Inline::Enqueue {
                retry_after,
                attempts,
            } => {
                self.hand_to_retry_queue(&info, env, retry_after, attempts, inv)
                    .await
            }
        }
    }

    /// Up to `INLINE_ATTEMPTS` POSTs with full-jitter backoff, each behind the guards, the
    /// deadline and the breaker.
    async fn inline_attempts(
        &self,
        raw: &[u8],
        info: &EventInfo,
        env: &mut EnvelopeV1,
        inv: Invocation<'_>,
    ) -> Result<Inline, HandlerError> {
        let mut retry_after = None;
        let mut attempts = 0u32;
        // The profile shapes the request once (a refused source or an expired event is parked
        // for that reason by the first turn of the loop, before any shaping matters).
        let shaped = match self.refuse(info) {
            Some(_) => None,
            None => match self.shape(info, raw) {
                Ok(s) => s,
                Err(refusal) => {
                    self.park_unshapeable(env, info, &refusal, inv).await?;
                    return Ok(Inline::Done(EventOutcome::Parked(refusal.reason)));
                }
            },
        };
        loop {
            // Checked before every attempt: an event may age past its limit during retries.
            if let Some(refusal) = self.refuse(info) {
                warn!(event_id = %info.id, key = %info.key, topic = info.topic(), source = %info.source,
                    outcome = refusal.reason.as_str(), error = %refusal.message, "not delivered live; parking it");
                env.record_refusal(&refusal);
                self.park(env, inv).await?;
                return Ok(Inline::Done(EventOutcome::Parked(refusal.reason)));
            }
            let left = self.left(inv.deadline);
            if left.is_zero() {
                break;
            }
            let admitted = self.breaker().admit(self.ports.clock.instant());
            if let Admit::Skip { wait } = admitted {
                info!(event_id = %info.id, key = %info.key, outcome = "breaker_open", attempt = attempts,
                    wait_ms = millis(wait), "circuit breaker open: no POST; handing the event to the retry queue");
                if env.last_error.is_none() {
                    env.last_error = Some(self.breaker_note());
                }
                break;
            }
            attempts += 1;
            env.attempts = attempts;
            env.record_attempt(self.ports.clock.now());
            let attempt = Attempt {
                raw,
                info,
                number: attempts,
                timeout: self.cfg.timeout.min(left),
                admitted,
                shaped: shaped.as_ref(),
            };
            let v = self.attempt(attempt, inv).await;
            env.record_verdict(&v);
            match v {
                Verdict::Delivered { .. } => return Ok(Inline::Done(EventOutcome::Delivered)),
                Verdict::Park { reason, .. } => {
                    self.park(env, inv).await?;
                    return Ok(Inline::Done(EventOutcome::Parked(reason)));
                }
                Verdict::Transient {
                    retry_after: hint, ..
                } => {
                    retry_after = hint;
                    let next = after_inline_transient(InlineState {
                        attempts,
                        max_attempts: self.cfg.inline_attempts,
                        backoff: full_jitter(
                            attempts,
                            self.cfg.backoff_base,
                            self.cfg.backoff_cap,
                            self.ports.jitter.unit(),
                        ),
                        retry_after: hint,
                        max_wait: self.cfg.inline_max_wait,
                        time_left: Some(self.left(inv.deadline)),
                    });
                    match next {
                        InlineNext::RetryAfter(wait) => self.ports.clock.sleep(wait).await,
                        InlineNext::Enqueue => break,
                    }
                }
            }
        }
        Ok(Inline::Enqueue {
            retry_after,
            attempts,
        })
    }

    /// Sends the event to the retry queue with the first schedule step (or the longer
    /// `Retry-After`, capped at 900 s, the rest kept as `not_before`); if the queue refuses it,
    /// parks it (`oversize`, or `transient_exhausted`).
    async fn hand_to_retry_queue(
        &self,
        info: &EventInfo,
        mut env: EnvelopeV1,
        retry_after: Option<Duration>,
        attempts: u32,
        inv: Invocation<'_>,
    ) -> Result<EventOutcome, HandlerError> {
        let delay = enqueue_delay(&self.cfg.schedule, retry_after, self.ports.clock.now());
        env.not_before = delay.not_before.map(format_rfc3339);
        match self.ports.retry.enqueue(&env, delay.delay_s).await {
            Ok(sent) => {
                info!(event_id = %info.id, key = %info.key, outcome = "queued", attempt = attempts, delay_s = delay.delay_s,
                    not_before = env.not_before.as_deref().unwrap_or(""), message_id = %sent.message_id,
                    claim_check = sent.claim_check.is_some(), "handed to the retry queue");
                note(inv.tally, |m| m.add(metrics::RETRIED, 1));
                Ok(EventOutcome::Queued)
            }
            Err(e) => {
                error!(event_id = %info.id, key = %info.key, error = %e, "retry queue refused the event; parking it in the DLQ instead");
                env.reason = Some(if matches!(e, QueueError::Oversize { .. }) {
                    Reason::Oversize
                } else {
                    Reason::TransientExhausted
                });
                env.last_error = Some(format!(
                    "{}; the retry queue refused it: {e}",
                    env.last_error.as_deref().unwrap_or("")
                ));
                self.park(&env, inv).await?;
                Ok(EventOutcome::Parked(env.effective_reason()))
            }
        }
    }
}
