//! The forwarder Lambda: one function, two entries (PRODUCT.md §1, §2, §4).
//!
//! * **EventBridge entry** ([`Forwarder::handle_event`]): a Genesys Cloud event from the partner
//!   event bus. Up to `INLINE_ATTEMPTS` POSTs with full-jitter backoff, then the retry queue;
//!   permanent failures and invalid events are parked in the dead-letter queue. The invocation
//!   fails (so Lambda's asynchronous retries and on-failure destination keep the event) only
//!   when the event can be neither delivered, queued nor parked.
//! * **SQS entry** ([`Forwarder::handle_batch`]): records of the retry queue. One POST per record;
//!   transient failures are listed in `batchItemFailures` with their visibility timeout set to the
//!   next schedule step; permanent failures, invalid bodies and exhausted schedules are parked.
//!   The batch as a whole never fails.
//!
//! The payload is taken as raw JSON ([`RawValue`]) and validated here, never rejected by the
//! runtime before the handler runs (cases C01, C02, C14).
//!
//! Before every POST, in both entries:
//! * **Guards** ([`wfm_relay_core::guard`]): an event from a source outside `ALLOWED_SOURCES` is
//!   parked as `unknown_source`; an event older than its `MAX_EVENT_AGE` rule is parked as
//!   `expired` (a stale state must never overwrite a newer one in WFM). Neither is POSTed.
//! * **Circuit breaker** ([`wfm_relay_core::breaker`], one per process): after
//!   `BREAKER_FAILURES` transient failures in a row it opens for `BREAKER_OPEN_MS`, then lets one
//!   probe through. While it is open, no POST is made and the event is *queued*, never dropped
//!   nor reported delivered (case C17): the EventBridge entry sends it to the retry queue with the
//!   normal delay; the SQS entry lists the record with its visibility timeout set to the next
//!   schedule step. Such a skipped receive still raises SQS's `ApproximateReceiveCount`, so it
//!   uses up a schedule step, as a `not_before` wait does; a record whose schedule runs out while
//!   the breaker is open is parked as `transient_exhausted`.
//!
//! Each invocation's metrics ([`Metrics`]: `Delivered`, `Retried`, `Parked` by `Reason`,
//! `WfmLatency`, `BreakerOpen`, `Gone`) are written to stdout as CloudWatch Embedded Metric
//! Format lines when running inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set).

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use futures_util::StreamExt;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::{error, info, warn};
use wfm_relay_aws::queues::{QueueError, Queues};
use wfm_relay_aws::relay::RelayParts;
use wfm_relay_aws::wfm::WfmClient;
use wfm_relay_core::attempt::{AttemptResult, Delivery, Verdict, verdict};
use wfm_relay_core::breaker::{Admit, Breaker, BreakerSettings, Health, Transition};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::envelope::{EnvelopeV1, QueueBody, Reason, classify_queue_body};
use wfm_relay_core::event::{EventInfo, PayloadKind, parse_event, payload_kind};
use wfm_relay_core::guard::{self, GuardInput, Refusal};
use wfm_relay_core::metrics::{self, Metrics};
use wfm_relay_core::policy::{
    InlineNext, InlineState, QueuedNext, after_inline_transient, after_queued_transient,
    effective_deadline, enqueue_delay, full_jitter, time_left, visibility_secs,
};
use wfm_relay_core::timefmt::{format_rfc3339, parse_rfc3339};

/// The invocation could not do its job: the event is in none of delivered / queued / parked.
/// Returned as the Lambda invocation error so that AWS retries the invocation.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Neither the retry queue nor the dead-letter queue accepted the event.
    #[error("event {event_id}: could not queue or park it: {source}")]
    CannotPark {
        /// EventBridge `id`, or `-` when the payload had none.
        event_id: String,
        /// The last queue error.
        source: QueueError,
    },
}

pub use wfm_relay_aws::relay::StartError;

/// What happened to one EventBridge event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// WFM answered 2xx.
    Delivered,
    /// In the retry queue.
    Queued,
    /// In the dead-letter queue, for this reason.
    Parked(Reason),
}

impl EventOutcome {
    /// `delivered`, `queued`, or the reason token.
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Delivered => "delivered",
            EventOutcome::Queued => "queued",
            EventOutcome::Parked(r) => r.as_str(),
        }
    }
}

/// Result of one SQS record.
enum RecordResult {
    Done,
    Failed(String),
}

/// The metrics of one invocation, shared by the records of a batch (locked briefly, never
/// across an `await`).
type Tally = Mutex<Metrics>;

fn note(tally: &Tally, f: impl FnOnce(&mut Metrics)) {
    let mut m = tally.lock().unwrap_or_else(PoisonError::into_inner);
    f(&mut m);
}

/// The forwarder: configuration, WFM client, queues and circuit breaker, built once per process.
#[derive(Debug)]
pub struct Forwarder {
    cfg: ForwarderConfig,
    wfm: WfmClient,
    queues: Queues,
    /// One breaker per process: every invocation this process serves shares it.
    breaker: Mutex<Breaker>,
}

impl Forwarder {
    /// Builds the forwarder from its parts; the circuit breaker starts closed.
    pub fn new(cfg: ForwarderConfig, wfm: WfmClient, queues: Queues) -> Self {
        let breaker = Mutex::new(Breaker::new(BreakerSettings {
            failures: cfg.breaker_failures,
            open_for: cfg.breaker_open,
        }));
        Forwarder {
            cfg,
            wfm,
            queues,
            breaker,
        }
    }

    /// Reads the configuration from the environment (PRODUCT.md §10) and builds the clients.
    ///
    /// # Errors
    /// [`StartError`] naming the variable at fault.
    pub async fn from_env() -> Result<Self, StartError> {
        let parts = RelayParts::from_env().await?;
        Ok(Forwarder::new(parts.cfg, parts.wfm, parts.queues))
    }

    /// The configuration in use.
    pub fn config(&self) -> &ForwarderConfig {
        &self.cfg
    }

    /// Handles one invocation: an SQS batch (returns the partial batch response
    /// `{"batchItemFailures":[...]}`) or an EventBridge event (returns `{"outcome": ...}`).
    /// `runtime_deadline` is Lambda's deadline; one already past counts as absent.
    ///
    /// Inside a Lambda runtime (`AWS_LAMBDA_FUNCTION_NAME` set) it then writes the invocation's
    /// metrics to stdout as CloudWatch Embedded Metric Format lines ([`Metrics::to_emf_json`]).
    ///
    /// # Errors
    /// [`HandlerError`] only for an EventBridge event that could be neither delivered, queued
    /// nor parked. An SQS batch never fails as a whole.
    pub async fn handle(
        &self,
        payload: &[u8],
        runtime_deadline: SystemTime,
    ) -> Result<serde_json::Value, HandlerError> {
        let (result, metrics) = self.handle_measured(payload, runtime_deadline).await;
        if self.cfg.function_name.is_some() {
            emit_metrics(&metrics);
        }
        result
    }

    /// [`Forwarder::handle`] without writing the metrics: returns them with the result.
    pub async fn handle_measured(
        &self,
        payload: &[u8],
        runtime_deadline: SystemTime,
    ) -> (Result<serde_json::Value, HandlerError>, Metrics) {
        let deadline = effective_deadline(
            runtime_deadline,
            SystemTime::now(),
            self.cfg.function_timeout,
        );
        let tally = Mutex::new(self.new_metrics());
        // The entries' futures are boxed: nested in the runtime's own future they would
        // otherwise exceed the compiler's default depth when it lays out `main`'s future.
        let result = match payload_kind(payload) {
            PayloadKind::SqsBatch => {
                let resp = Box::pin(self.batch_entry(payload, deadline, &tally)).await;
                Ok(serde_json::to_value(resp)
                    .unwrap_or_else(|_| serde_json::json!({"batchItemFailures": []})))
            }
            PayloadKind::EventBridge => Box::pin(self.event_entry(payload, deadline, &tally))
                .await
                .map(|outcome| serde_json::json!({ "outcome": outcome.as_str() })),
        };
        let mut metrics = tally.into_inner().unwrap_or_else(PoisonError::into_inner);
        metrics.set_breaker_open(self.breaker_is_open());
        (result, metrics)
    }

    fn new_metrics(&self) -> Metrics {
        Metrics::forwarder(
            self.cfg.metrics_namespace.clone(),
            self.cfg
                .function_name
                .clone()
                .unwrap_or_else(|| "wfm-relay-forwarder".into()),
        )
    }

    fn left(&self, deadline: SystemTime) -> Duration {
        time_left(deadline, self.cfg.deadline_reserve, SystemTime::now())
    }

    /// The agent-state guards for live delivery (`ALLOWED_SOURCES`, `MAX_EVENT_AGE`), now.
    fn refuse(&self, info: &EventInfo) -> Option<Refusal> {
        guard::check(
            &self.cfg.allowed_sources,
            &self.cfg.max_event_age,
            GuardInput::from(info),
            SystemTime::now(),
        )
    }

    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn breaker_is_open(&self) -> bool {
        self.breaker().is_open()
    }

    /// One POST, let through by the breaker as `admitted`: the verdict, logged, counted in the
    /// metrics and reported to the breaker.
    async fn attempt(
        &self,
        raw: &[u8],
        info: &EventInfo,
        attempt: u32,
        timeout: Duration,
        admitted: Admit,
        tally: &Tally,
    ) -> Verdict {
        let res = self
            .wfm
            .post(
                &Delivery::for_event(info, raw, self.cfg.body_mode, attempt, false),
                timeout,
            )
            .await;
        let v = verdict(
            &res,
            &self.cfg.transient,
            self.cfg.retry_after_cap,
            SystemTime::now(),
        );
        log_attempt(info, attempt, &res, &v);
        let health = match v {
            Verdict::Transient { .. } => Health::Failed,
            Verdict::Delivered { .. } | Verdict::Park { .. } => Health::Healthy,
        };
        let transition = self.breaker().record(admitted, health, Instant::now());
        match transition {
            Transition::Opened => warn!(event_id = %info.id, failures = self.cfg.breaker_failures,
                open_ms = millis(self.cfg.breaker_open), outcome = "breaker_opened",
                "circuit breaker opened: WFM failed this many requests in a row; events go to the retry queue without a POST until a probe succeeds"),
            Transition::Reopened => {
                warn!(event_id = %info.id, open_ms = millis(self.cfg.breaker_open),
                outcome = "breaker_reopened", "circuit breaker probe failed; open again")
            }
            Transition::Closed => info!(event_id = %info.id, outcome = "breaker_closed",
                "circuit breaker probe succeeded; closed"),
            Transition::None => {}
        }
        note(tally, |m| {
            m.latency(res.latency_ms());
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

    /// The EventBridge entry. See the crate documentation.
    ///
    /// # Errors
    /// [`HandlerError::CannotPark`] when neither queue accepted an undeliverable event.
    pub async fn handle_event(
        &self,
        raw: &[u8],
        deadline: SystemTime,
    ) -> Result<EventOutcome, HandlerError> {
        self.event_entry(raw, deadline, &Mutex::new(self.new_metrics()))
            .await
    }

    async fn event_entry(
        &self,
        raw: &[u8],
        deadline: SystemTime,
        tally: &Tally,
    ) -> Result<EventOutcome, HandlerError> {
        let info = match parse_event(raw) {
            Ok(info) => info,
            Err(invalid) => {
                let env = EnvelopeV1::invalid(raw, invalid.to_string());
                warn!(outcome = "invalid_event", error = %invalid, bytes = raw.len(), "not an EventBridge event; parking it");
                self.park(&env, "-", tally).await?;
                return Ok(EventOutcome::Parked(Reason::InvalidEvent));
            }
        };
        let mut env = EnvelopeV1::new(raw, Some(&info));
        let mut retry_after = None;
        let mut attempt = 0u32;
        loop {
            // Checked before every attempt: an event may age past its limit during retries.
            if let Some(refusal) = self.refuse(&info) {
                warn!(event_id = %info.id, key = %info.key, topic = info.topic(), source = %info.source,
                    outcome = refusal.reason.as_str(), error = %refusal.message, "not delivered live; parking it");
                env.record_refusal(&refusal);
                self.park(&env, &info.id, tally).await?;
                return Ok(EventOutcome::Parked(refusal.reason));
            }
            let left = self.left(deadline);
            if left.is_zero() {
                break;
            }
            let admitted = self.breaker().admit(Instant::now());
            if let Admit::Skip { wait } = admitted {
                info!(event_id = %info.id, key = %info.key, outcome = "breaker_open", attempt,
                    wait_ms = millis(wait), "circuit breaker open: no POST; handing the event to the retry queue");
                if env.last_error.is_none() {
                    env.last_error = Some(self.breaker_note());
                }
                break;
            }
            attempt += 1;
            let now = SystemTime::now();
            env.attempts = attempt;
            env.record_attempt(now);
            let v = self
                .attempt(
                    raw,
                    &info,
                    attempt,
                    self.cfg.timeout.min(left),
                    admitted,
                    tally,
                )
                .await;
            match v {
                Verdict::Delivered { .. } => return Ok(EventOutcome::Delivered),
                Verdict::Park { reason, .. } => {
                    env.record_verdict(&v);
                    self.park(&env, &info.id, tally).await?;
                    return Ok(EventOutcome::Parked(reason));
                }
                Verdict::Transient {
                    retry_after: hint, ..
                } => {
                    env.record_verdict(&v);
                    retry_after = hint;
                    let next = after_inline_transient(InlineState {
                        attempts: attempt,
                        max_attempts: self.cfg.inline_attempts,
                        backoff: full_jitter(
                            attempt,
                            self.cfg.backoff_base,
                            self.cfg.backoff_cap,
                            rand::random::<f64>(),
                        ),
                        retry_after: hint,
                        max_wait: self.cfg.inline_max_wait,
                        time_left: Some(self.left(deadline)),
                    });
                    match next {
                        InlineNext::RetryAfter(wait) => tokio::time::sleep(wait).await,
                        InlineNext::Enqueue => break,
                    }
                }
            }
        }
        let now = SystemTime::now();
        let delay = enqueue_delay(&self.cfg.schedule, retry_after, now);
        env.not_before = delay.not_before.map(format_rfc3339);
        match self.queues.retry().enqueue(&env, delay.delay_s).await {
            Ok(sent) => {
                info!(event_id = %info.id, key = %info.key, outcome = "queued", attempt, delay_s = delay.delay_s,
                    not_before = env.not_before.as_deref().unwrap_or(""), message_id = %sent.message_id,
                    claim_check = sent.claim_check.is_some(), "handed to the retry queue");
                note(tally, |m| m.add(metrics::RETRIED, 1));
                Ok(EventOutcome::Queued)
            }
            Err(e) => {
                error!(event_id = %info.id, key = %info.key, error = %e, "retry queue refused the event; parking it in the DLQ instead");
                let oversize = matches!(e, QueueError::Oversize { .. });
                env.reason = Some(if oversize {
                    Reason::Oversize
                } else {
                    Reason::TransientExhausted
                });
                env.last_error = Some(format!(
                    "{}; the retry queue refused it: {e}",
                    env.last_error.as_deref().unwrap_or("")
                ));
                self.park(&env, &info.id, tally).await?;
                Ok(EventOutcome::Parked(env.effective_reason()))
            }
        }
    }

    /// `last_error` for an event that the open breaker kept from WFM.
    fn breaker_note(&self) -> String {
        format!(
            "not attempted: circuit breaker open (WFM failed {} requests in a row)",
            self.cfg.breaker_failures
        )
    }

    /// Sends `env` to the DLQ.
    async fn park(
        &self,
        env: &EnvelopeV1,
        event_id: &str,
        tally: &Tally,
    ) -> Result<(), HandlerError> {
        match self.queues.dlq().park(env).await {
            Ok(sent) => {
                warn!(event_id, key = env.key.as_deref().unwrap_or(""), user_id = env.user_id.as_deref().unwrap_or(""),
                    topic = env.topic.as_deref().unwrap_or(""), attempt = env.attempts, status = env.last_status,
                    outcome = "parked", reason = env.effective_reason().as_str(), message_id = %sent.message_id,
                    "parked in the dead-letter queue");
                note(tally, |m| m.parked(env.effective_reason()));
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

    /// The SQS entry: returns the partial batch response. Records are handled concurrently (at
    /// most `BATCH_CONCURRENCY`); a record not started before the deadline reserve is listed
    /// without a POST.
    pub async fn handle_batch(&self, raw: &[u8], deadline: SystemTime) -> SqsBatchResponse {
        self.batch_entry(raw, deadline, &Mutex::new(self.new_metrics()))
            .await
    }

    async fn batch_entry(
        &self,
        raw: &[u8],
        deadline: SystemTime,
        tally: &Tally,
    ) -> SqsBatchResponse {
        #[derive(serde::Deserialize)]
        struct Batch {
            #[serde(rename = "Records")]
            records: Vec<Box<RawValue>>,
        }
        let records = serde_json::from_slice::<Batch>(raw)
            .map(|b| b.records)
            .unwrap_or_default();
        let results: Vec<RecordResult> = futures_util::stream::iter(records)
            .map(|r| self.handle_record(r, deadline, tally))
            .buffer_unordered(self.cfg.batch_concurrency)
            .collect()
            .await;
        let mut resp = SqsBatchResponse::default();
        for r in results {
            if let RecordResult::Failed(id) = r {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                resp.batch_item_failures.push(f);
            }
        }
        let listed = u64::try_from(resp.batch_item_failures.len()).unwrap_or(u64::MAX);
        note(tally, |m| m.add(metrics::RETRIED, listed));
        resp
    }

    async fn handle_record(
        &self,
        rec: Box<RawValue>,
        deadline: SystemTime,
        tally: &Tally,
    ) -> RecordResult {
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
                return match (self.park(&env, "-", tally).await, id) {
                    (Err(_), Some(id)) => RecordResult::Failed(id),
                    _ => RecordResult::Done,
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
            let _ = self.park(&env, "-", tally).await;
            return RecordResult::Done;
        };
        if self.left(deadline).is_zero() {
            return RecordResult::Failed(id);
        }
        match self.process_record(&msg, deadline, tally).await {
            Ok(()) => RecordResult::Done,
            Err(()) => RecordResult::Failed(id),
        }
    }

    /// `Ok` when the record may be deleted (delivered or parked), `Err` to list it.
    async fn process_record(
        &self,
        msg: &SqsMessage,
        deadline: SystemTime,
        tally: &Tally,
    ) -> Result<(), ()> {
        let body = msg.body.as_deref().unwrap_or("");
        let receipt = msg.receipt_handle.as_deref().unwrap_or("");
        let message_id = msg.message_id.as_deref().unwrap_or("");
        let receive_count: u32 = msg
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        let (mut env, raw) = match classify_queue_body(body) {
            QueueBody::Invalid(why) => {
                let env = EnvelopeV1::invalid(body.as_bytes(), why);
                warn!(
                    message_id,
                    outcome = "invalid_event",
                    "unreadable retry-queue message; parking it"
                );
                return self.park(&env, "-", tally).await.map_err(|_| ());
            }
            QueueBody::RawEvent => {
                let info = parse_event(body.as_bytes()).ok();
                (
                    EnvelopeV1::new(body.as_bytes(), info.as_ref()),
                    body.as_bytes().to_vec(),
                )
            }
            QueueBody::Envelope(env) => match self.queues.event_bytes(&env).await {
                Ok(raw) => (*env, raw),
                Err(e) if e.is_permanent() => {
                    // Retrying cannot bring the object back: park the pointer with the reason.
                    let mut env = *env;
                    env.mark_invalid(e.to_string());
                    warn!(message_id, error = %e, outcome = "invalid_event", "claim-checked event is gone; parking its pointer");
                    return self.park(&env, "-", tally).await.map_err(|_| ());
                }
                Err(e) => {
                    error!(message_id, error = %e, "cannot read the claim-checked event; will retry");
                    return Err(());
                }
            },
        };
        let info = match parse_event(&raw) {
            Ok(info) => info,
            Err(invalid) => {
                env.mark_invalid(invalid.to_string());
                return self.park(&env, "-", tally).await.map_err(|_| ());
            }
        };
        // The guards apply to every queued retry: a message may have aged past its limit in the
        // queue, or ALLOWED_SOURCES may have changed since it was queued.
        if let Some(refusal) = self.refuse(&info) {
            warn!(event_id = %info.id, key = %info.key, topic = info.topic(), source = %info.source,
                outcome = refusal.reason.as_str(), error = %refusal.message, "not delivered live; parking it");
            env.record_refusal(&refusal);
            return self.park(&env, &info.id, tally).await.map_err(|_| ());
        }
        let now = SystemTime::now();
        let wait = env
            .not_before
            .as_deref()
            .and_then(parse_rfc3339)
            .and_then(|nb| nb.duration_since(now).ok())
            .filter(|w| !w.is_zero());
        if let Some(wait) = wait {
            info!(event_id = %info.id, key = %info.key, outcome = "waiting", wait_s = wait.as_secs(),
                "not before the server's Retry-After; extending the visibility timeout");
            self.extend(receipt, visibility_secs(wait), &info.id).await;
            return Err(());
        }
        let left = self.left(deadline);
        if left.is_zero() {
            return Err(());
        }
        let admitted = self.breaker().admit(Instant::now());
        if let Admit::Skip { wait } = admitted {
            return self
                .skip_record(&mut env, &info, receipt, receive_count, wait, tally)
                .await;
        }
        // Saturating: `attempts` comes from a queue body anyone with SendMessage could write.
        let attempt = env.attempts.saturating_add(receive_count);
        env.attempts = attempt;
        env.record_attempt(now);
        let v = self
            .attempt(
                &raw,
                &info,
                attempt,
                self.cfg.timeout.min(left),
                admitted,
                tally,
            )
            .await;
        match v {
            Verdict::Delivered { .. } => Ok(()),
            Verdict::Park { .. } => {
                env.record_verdict(&v);
                self.park(&env, &info.id, tally).await.map_err(|_| ())
            }
            Verdict::Transient { retry_after, .. } => {
                match after_queued_transient(receive_count, &self.cfg.schedule, retry_after) {
                    QueuedNext::Retry { visibility_s } => {
                        self.extend(receipt, visibility_s, &info.id).await;
                        Err(())
                    }
                    QueuedNext::Exhausted => {
                        env.record_exhausted(&v);
                        self.park(&env, &info.id, tally).await.map_err(|_| ())
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
        info: &EventInfo,
        receipt: &str,
        receive_count: u32,
        wait: Duration,
        tally: &Tally,
    ) -> Result<(), ()> {
        match after_queued_transient(receive_count, &self.cfg.schedule, None) {
            QueuedNext::Retry { visibility_s } => {
                let visibility_s = visibility_s.max(visibility_secs(wait));
                info!(event_id = %info.id, key = %info.key, outcome = "breaker_open", receive_count, visibility_s,
                    "circuit breaker open: no POST; the record comes back after its visibility timeout");
                self.extend(receipt, visibility_s, &info.id).await;
                Err(())
            }
            QueuedNext::Exhausted => {
                env.attempts = env.attempts.saturating_add(receive_count);
                env.reason = Some(Reason::TransientExhausted);
                env.last_error = Some(match env.last_error.as_deref() {
                    Some(e) => format!(
                        "{e}; then the retry schedule ran out while the circuit breaker was open"
                    ),
                    None => format!("{}; the retry schedule ran out", self.breaker_note()),
                });
                self.park(env, &info.id, tally).await.map_err(|_| ())
            }
        }
    }

    /// Best effort: if it fails, the queue's default visibility timeout applies.
    async fn extend(&self, receipt: &str, secs: u32, event_id: &str) {
        if let Err(e) = self.queues.retry().set_visibility(receipt, secs).await {
            warn!(event_id, error = %e, "could not set the visibility timeout; the queue default applies");
        }
    }
}

fn log_attempt(info: &EventInfo, attempt: u32, res: &AttemptResult, v: &Verdict) {
    info!(event_id = %info.id, key = %info.key, user_id = info.user_id.as_deref().unwrap_or(""),
        topic = info.topic(), attempt, status = res.status(), latency_ms = res.latency_ms(),
        outcome = v.outcome(), error = v.error(), "WFM attempt");
}

/// Writes `metrics` to stdout as CloudWatch Embedded Metric Format lines (Lambda sends stdout to
/// CloudWatch Logs, which extracts the metrics). A failed write is ignored: metrics never fail
/// an invocation.
pub fn emit_metrics(metrics: &Metrics) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", metrics.to_emf_json(now_ms));
    let _ = out.flush();
}

/// Whole milliseconds, for logs.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Installs the JSON log subscriber: one JSON object per line on stdout, level from `RUST_LOG`
/// (default `info`). Lambda forwards stdout to CloudWatch Logs.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_value_survives_the_runtime_deserializer() {
        // lambda_runtime deserialises payloads through serde_path_to_error; a Box<RawValue>
        // must come out byte for byte, lone surrogate escapes included (case C14).
        let src = br#"{"a": "On a break \ud83d", "b": [1, 2]}"#;
        let jd = &mut serde_json::Deserializer::from_slice(src);
        let raw: Box<RawValue> = serde_path_to_error::deserialize(jd).expect("raw");
        assert_eq!(raw.get().as_bytes(), src);
    }
}
