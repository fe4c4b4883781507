//! The attempt stage: one POST let through by the breaker, its core verdict, the log line, the
//! metrics and the breaker's bookkeeping. Shared by both entries.

use crate::{Forwarder, Invocation, millis, note};
use std::time::Duration;
use tracing::{info, warn};
use wfm_relay_core::attempt::{AttemptResult, Delivery, Shaped, TransportKind, Verdict, verdict};
use wfm_relay_core::breaker::{Admit, Health, Transition};
use wfm_relay_core::envelope::Reason;
use wfm_relay_core::event::EventInfo;
use wfm_relay_core::metrics;

/// One attempt to make: which event, which attempt number, how long it may take, and the
/// breaker's admission it was made under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    /// The event's bytes exactly as received.
    pub raw: &'a [u8],
    /// The parsed event.
    pub info: &'a EventInfo,
    /// `X-Attempt` (1-based over the event's life).
    pub number: u32,
    /// Total timeout of the POST.
    pub timeout: Duration,
    /// What the breaker said ([`Admit::Go`] or [`Admit::Probe`]).
    pub admitted: Admit,
    /// What the WFM output profile made of the event (`None` without a profile).
    pub shaped: Option<&'a Shaped>,
}

impl Forwarder {
    /// Makes the attempt: POST → verdict (logged, counted, reported to the breaker).
    pub(crate) async fn attempt(&self, a: Attempt<'_>, inv: Invocation<'_>) -> Verdict {
        let delivery = Delivery::for_event_shaped(
            a.info,
            a.raw,
            self.cfg.body_mode,
            a.number,
            false,
            a.shaped,
        );
        let res = self.ports.deliver.post(&delivery, a.timeout).await;
        let v = verdict(
            &res,
            &self.cfg.transient,
            self.cfg.retry_after_cap,
            self.ports.clock.now(),
        );
        log_attempt(a.info, a.number, &res, &v);
        let health = match v {
            Verdict::Transient { .. } => Health::Failed,
            Verdict::Delivered { .. } | Verdict::Park { .. } => Health::Healthy,
        };
        let transition = self
            .breaker()
            .record(a.admitted, health, self.ports.clock.instant());
        self.log_transition(transition, &a.info.id);
        note(inv.tally, |m| {
            match &res {
                // No POST was sent: no latency; a refused client is a configuration error.
                AttemptResult::Transport {
                    kind: TransportKind::CredentialsRefused,
                    ..
                } => m.add(metrics::AUTH_CONFIG_ERROR, 1),
                AttemptResult::Transport {
                    kind: TransportKind::Credentials,
                    ..
                } => {}
                _ => m.latency(res.latency_ms()),
            }
            match &v {
                Verdict::Delivered { .. } => m.add(metrics::DELIVERED, 1),
                Verdict::Park {
                    reason: Reason::Gone,
                    ..
                } => m.add(metrics::GONE, 1),
                _ => {}
            }
        });
        v
    }

    fn log_transition(&self, transition: Transition, event_id: &str) {
        match transition {
            Transition::Opened => warn!(
                event_id,
                failures = self.cfg.breaker_failures,
                open_ms = millis(self.cfg.breaker_open),
                outcome = "breaker_opened",
                "circuit breaker opened; events go to the retry queue without a POST until a probe succeeds"
            ),
            Transition::Reopened => warn!(
                event_id,
                open_ms = millis(self.cfg.breaker_open),
                outcome = "breaker_reopened",
                "circuit breaker probe failed; open again"
            ),
            Transition::Closed => info!(
                event_id,
                outcome = "breaker_closed",
                "circuit breaker probe succeeded; closed"
            ),
            Transition::None => {}
        }
    }

    /// `last_error` for an event that the open breaker kept from WFM.
    pub(crate) fn breaker_note(&self) -> String {
        format!(
            "not attempted: circuit breaker open (WFM failed {} requests in a row)",
            self.cfg.breaker_failures
        )
    }
}

fn log_attempt(info: &EventInfo, attempt: u32, res: &AttemptResult, v: &Verdict) {
    info!(event_id = %info.id, key = %info.key, user_id = info.user_id.as_deref().unwrap_or(""),
        topic = info.topic(), attempt, status = res.status(), latency_ms = res.latency_ms(),
        outcome = v.outcome(), error = v.error(), "WFM attempt");
}
