//! The SQS entry: records of the retry queue, answered with a partial batch response.
//!
//! Stages per record: read (envelope, raw event or invalid; claim check) → parse → guard →
//! `not_before` wait → deadline → breaker → attempt → verdict → schedule (list with a new
//! visibility timeout) or park. See the crate documentation.

use crate::attempt::Attempt;
use crate::{Forwarder, HandlerError, Invocation, note};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use futures_util::StreamExt;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use tracing::{error, info, warn};
use wfm_relay_core::attempt::Verdict;
use wfm_relay_core::breaker::Admit;
use wfm_relay_core::envelope::{EnvelopeV1, QueueBody, classify_queue_body};
use wfm_relay_core::event::{EventInfo, parse_event};
use wfm_relay_core::metrics;
use wfm_relay_core::policy::{QueuedNext, after_queued_transient};
use wfm_relay_core::timefmt::parse_rfc3339;

/// What becomes of one record of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Delivered or parked: not listed, so the event source mapping deletes it.
    Delete,
    /// Listed in `batchItemFailures` by this message id: it stays in the retry queue.
    Retry(String),
}

/// Whether a record whose message id is known may go ([`Keep::No`]) or stays ([`Keep::Yes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Delivered or parked.
    No,
    /// To be listed.
    Yes,
}

impl From<Result<(), HandlerError>> for Keep {
    /// A letter that could not be parked stays in the retry queue.
    fn from(r: Result<(), HandlerError>) -> Self {
        if r.is_ok() { Keep::No } else { Keep::Yes }
    }
}

/// One readable record being handled: what its stages share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    /// The parsed event.
    pub(crate) info: &'a EventInfo,
    /// Its receipt handle (for the visibility timeout).
    pub(crate) receipt: &'a str,
    /// SQS's `ApproximateReceiveCount` (at least 1).
    pub(crate) receive_count: u32,
    /// SQS's `ApproximateFirstReceiveTimestamp`, when present.
    pub(crate) first_receive: Option<SystemTime>,
}

impl Record<'_> {
    /// The schedule position of this receive: the envelope's `steps` + the receive count.
    fn position(&self, env: &EnvelopeV1) -> u32 {
        env.steps.saturating_add(self.receive_count)
    }
}

/// The partial batch response as the invocation's JSON answer.
///
/// # Errors
/// [`HandlerError::Response`] when it cannot be serialised: failing the invocation keeps every
/// record, where a made-up "no failures" would delete them.
pub(crate) fn response_json<T: serde::Serialize>(
    resp: &T,
) -> Result<serde_json::Value, HandlerError> {
    serde_json::to_value(resp).map_err(|e| HandlerError::Response {
        message: e.to_string(),
    })
}

impl Forwarder {
    /// The SQS entry: records handled concurrently (at most `BATCH_CONCURRENCY`); a record not
    /// started before the deadline reserve is listed without a POST.
    ///
    /// # Errors
    /// [`HandlerError::UnreadableBatch`] when the `Records` cannot be read.
    pub(crate) async fn batch_entry(
        &self,
        raw: &[u8],
        inv: Invocation<'_>,
    ) -> Result<SqsBatchResponse, HandlerError> {
        #[derive(serde::Deserialize)]
        struct Batch {
            #[serde(rename = "Records")]
            records: Vec<Box<RawValue>>,
        }
        let records = serde_json::from_slice::<Batch>(raw)
            .map_err(|e| {
                error!(error = %e, "unreadable SQS batch; failing the invocation so that every record stays queued");
                HandlerError::UnreadableBatch {
                    message: e.to_string(),
                }
            })?
            .records;
        let results: Vec<Disposition> = futures_util::stream::iter(records)
            .map(|r| self.handle_record(r, inv))
            .buffer_unordered(self.cfg.batch_concurrency)
            .collect()
            .await;
        let mut resp = SqsBatchResponse::default();
        for r in results {
            if let Disposition::Retry(id) = r {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                resp.batch_item_failures.push(f);
            }
        }
        let listed = u64::try_from(resp.batch_item_failures.len()).unwrap_or(u64::MAX);
        note(inv.tally, |m| m.add(metrics::RETRIED, listed));
        Ok(resp)
    }

    async fn handle_record(&self, rec: Box<RawValue>, inv: Invocation<'_>) -> Disposition {
        let msg: SqsMessage = match serde_json::from_str(rec.get()) {
            Ok(m) => m,
            Err(e) => {
                // Unreadable record: park its raw JSON; list it only if it has a usable id.
                let id = serde_json::from_str::<HashMap<String, Box<RawValue>>>(rec.get())
                    .ok()
                    .and_then(|m| {
                        m.get("messageId")
                            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
                    })
                    .filter(|id| !id.is_empty());
                let env = EnvelopeV1::invalid(
                    rec.get().as_bytes(),
                    format!("unreadable SQS record: {e}"),
                );
                return match (self.park(&env, inv).await, id) {
                    (Err(_), Some(id)) => Disposition::Retry(id),
                    _ => Disposition::Delete,
                };
            }
        };
        let Some(id) = msg.message_id.clone().filter(|id| !id.is_empty()) else {
            // Without a messageId the record cannot be listed (an empty itemIdentifier fails the
            // whole batch, case C05): park it and report success.
            let env = EnvelopeV1::invalid(
                msg.body.as_deref().unwrap_or("").as_bytes(),
                "SQS record without messageId",
            );
            let _ = self.park(&env, inv).await;
            return Disposition::Delete;
        };
        if self.left(inv.deadline).is_zero() {
            return Disposition::Retry(id);
        }
        match self.process_record(&msg, inv).await {
            Keep::No => Disposition::Delete,
            Keep::Yes => Disposition::Retry(id),
        }
    }

    /// Reads the record's body: the envelope to keep and the event bytes, or (when it cannot be
    /// read) what became of it.
    async fn read_record(
        &self,
        msg: &SqsMessage,
        inv: Invocation<'_>,
    ) -> Result<(EnvelopeV1, Vec<u8>), Keep> {
        let body = msg.body.as_deref().unwrap_or("");
        let message_id = msg.message_id.as_deref().unwrap_or("");
        match classify_queue_body(body) {
            QueueBody::Invalid(why) => {
                let env = EnvelopeV1::invalid(body.as_bytes(), why);
                warn!(
                    message_id,
                    outcome = "invalid_event",
                    "unreadable retry-queue message; parking it"
                );
                Err(self.park(&env, inv).await.into())
            }
            QueueBody::RawEvent => {
                let info = parse_event(body.as_bytes()).ok();
                Ok((
                    EnvelopeV1::new(body.as_bytes(), info.as_ref()),
                    body.as_bytes().to_vec(),
                ))
            }
            QueueBody::Envelope(env) => match self.ports.retry.event_bytes(&env).await {
                Ok(raw) => Ok((*env, raw)),
                Err(e) if e.is_permanent() => {
                    // Retrying cannot bring the event back: park the pointer with the reason.
                    let mut env = *env;
                    env.mark_invalid(e.to_string());
                    warn!(message_id, error = %e, outcome = "invalid_event", "claim-checked event is gone; parking its pointer");
                    Err(self.park(&env, inv).await.into())
                }
                Err(e) => {
                    error!(message_id, error = %e, "cannot read the claim-checked event; will retry");
                    Err(Keep::Yes)
                }
            },
        }
    }

    /// One readable record, from its body to its fate.
    async fn process_record(&self, msg: &SqsMessage, inv: Invocation<'_>) -> Keep {
        let (mut env, raw) = match self.read_record(msg, inv).await {
            Ok(read) => read,
            Err(keep) => return keep,
        };
        let info = match parse_event(&raw) {
            Ok(info) => info,
            Err(invalid) => {
                env.mark_invalid(invalid.to_string());
                return self.park(&env, inv).await.into();
            }
        };
        let rec = Record {
            info: &info,
            receipt: msg.receipt_handle.as_deref().unwrap_or(""),
            receive_count: msg
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1)
                .max(1),
            first_receive: crate::hold::first_receive(&msg.attributes),
        };
        // The guards apply to every queued retry: a message may have aged past its limit in the
        // queue, or ALLOWED_SOURCES may have changed since it was queued.
        if let Some(refusal) = self.refuse(&info) {
            warn!(event_id = %info.id, key = %info.key, topic = info.topic(), source = %info.source,
                outcome = refusal.reason.as_str(), error = %refusal.message, "not delivered live; parking it");
            env.record_refusal(&refusal);
            return self.park(&env, inv).await.into();
        }
        let shaped = match self.shape(&info, &raw) {
            Ok(s) => s,
            Err(refusal) => {
                return self
                    .park_unshapeable(&mut env, &info, &refusal, inv)
                    .await
                    .into();
            }
        };
        let now = self.ports.clock.now();
        let wait = env
            .not_before
            .as_deref()
            .and_then(parse_rfc3339)
            .and_then(|nb| nb.duration_since(now).ok())
            .filter(|w| !w.is_zero());
        if let Some(wait) = wait {
            info!(event_id = %info.id, key = %info.key, outcome = "waiting", wait_s = wait.as_secs(),
                "not before the server's Retry-After; waiting without a POST");
            // This receive counts as an attempt (PRODUCT.md §4) in a copy's history.
            env.attempts = env.attempts.saturating_add(rec.receive_count);
            return self.hold_record(&env, rec, wait, inv).await;
        }
        let left = self.left(inv.deadline);
        if left.is_zero() {
            return Keep::Yes;
        }
        let admitted = self.breaker().admit(self.ports.clock.instant());
        if let Admit::Skip { wait } = admitted {
            return self.skip_record(&mut env, rec, wait, inv).await;
        }
        // Saturating: `attempts` comes from a queue body anyone with SendMessage could write.
        let number = env.attempts.saturating_add(rec.receive_count);
        env.attempts = number;
        env.record_attempt(now);
        let attempt = Attempt {
            raw: &raw,
            info: &info,
            number,
            timeout: self.cfg.timeout.min(left),
            admitted,
            shaped: shaped.as_ref(),
        };
        let v = self.attempt(attempt, inv).await;
        self.after_verdict(&mut env, rec, &v, inv).await
    }

    /// Delivered → delete; permanent → park; transient → list with the next schedule step as
    /// its visibility timeout, or park as `transient_exhausted` when the schedule ran out.
    async fn after_verdict(
        &self,
        env: &mut EnvelopeV1,
        rec: Record<'_>,
        v: &Verdict,
        inv: Invocation<'_>,
    ) -> Keep {
        match v {
            Verdict::Delivered { .. } => Keep::No,
            Verdict::Park { .. } => {
                env.record_verdict(v);
                self.park(env, inv).await.into()
            }
            Verdict::Transient { retry_after, .. } => {
                let position = rec.position(env);
                match after_queued_transient(position, &self.cfg.schedule, *retry_after) {
                    QueuedNext::Retry { wait } => {
                        env.record_verdict(v);
                        self.hold_record(env, rec, wait, inv).await
                    }
                    QueuedNext::Exhausted => {
                        env.record_exhausted(v);
                        self.park(env, inv).await.into()
                    }
                }
            }
        }
    }

    /// A retry-queue record that the open breaker keeps from WFM: listed, never deleted, with
    /// its visibility timeout set to the next schedule step (or to the rest of the open period
    /// when longer, so it does not come back only to be skipped again). No POST is made and no
    /// attempt is recorded in the envelope; but SQS's `ApproximateReceiveCount` still grows, so
    /// this receive uses up a schedule step like a `not_before` wait does. When the schedule is
    /// used up, the record is parked as `transient_exhausted` (a preserved copy, never a drop).
    async fn skip_record(
        &self,
        env: &mut EnvelopeV1,
        rec: Record<'_>,
        wait: Duration,
        inv: Invocation<'_>,
    ) -> Keep {
        match after_queued_transient(rec.position(env), &self.cfg.schedule, None) {
            QueuedNext::Retry { wait: step } => {
                let wait = step.max(wait);
                info!(event_id = %rec.info.id, key = %rec.info.key, outcome = "breaker_open", receive_count = rec.receive_count,
                    wait_s = wait.as_secs(), "circuit breaker open: no POST; the record comes back after its wait");
                let mut copy = env.clone();
                copy.attempts = copy.attempts.saturating_add(rec.receive_count);
                self.hold_record(&copy, rec, wait, inv).await
            }
            QueuedNext::Exhausted => {
                env.attempts = env.attempts.saturating_add(rec.receive_count);
                env.reason = Some(wfm_relay_core::envelope::Reason::TransientExhausted);
                env.last_error = Some(match env.last_error.as_deref() {
                    Some(e) => format!(
                        "{e}; then the retry schedule ran out while the circuit breaker was open"
                    ),
                    None => format!("{}; the retry schedule ran out", self.breaker_note()),
                });
                self.park(env, inv).await.into()
            }
        }
    }
}
