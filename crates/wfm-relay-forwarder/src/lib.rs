//! The forwarder Lambda: one function, two entries (PRODUCT.md §1, §2, §4).
//!
//! * **EventBridge entry** (`eventbridge.rs`): a Genesys Cloud event from the partner event bus.
//!   Up to `INLINE_ATTEMPTS` POSTs with full-jitter backoff, then the retry queue; permanent
//!   failures and invalid events are parked in the dead-letter queue. The invocation fails (so
//!   Lambda's asynchronous retries and on-failure destination keep the event) only when the
//!   event can be neither delivered, queued nor parked.
//! * **SQS entry** (`sqs.rs`): records of the retry queue. One POST per record; transient
//!   failures are listed in `batchItemFailures` with their visibility timeout set to the next
//!   schedule step; permanent failures, invalid bodies and exhausted schedules are parked. The
//!   batch as a whole fails only when it cannot be read at all or its answer cannot be written
//!   (then every record stays in the queue; an empty answer would delete them all).
//!
//! The payload is taken as raw JSON and validated here, never rejected by the runtime before
//! the handler runs (cases C01, C02, C14).
//!
//! Each entry reads as its stages: guard → deadline → breaker → attempt (`attempt.rs`: POST, core
//! verdict) → schedule → enqueue or park (`park.rs`). The stages reach the outside world only through
//! the narrow [`ports`] (deliver, retry queue, dead letters, clock, jitter), so the whole flow is
//! unit-tested with in-memory fakes; production wires the AWS adapters ([`Ports::aws`]).
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
//! * **WFM output profile** (`profile.rs`, when `WFM_PROFILE` is set; issue 13): the profile
//!   shapes the request (agent key, state code, jq body, extra headers, URL path); an event it
//!   cannot shape is parked at once as `unmapped_agent` or `transform_failed`, only that event.
//!   The key, `X-Event-Time` and the envelope stay the original event's; signatures cover the
//!   shaped bytes sent. The agent table is re-read when older than `WFM_PROFILE_MAPPING_TTL_S`
//!   (a failed re-read keeps the previous table and counts `MappingStale`).
//!
//! Each invocation's metrics ([`Metrics`]: `Delivered`, `Retried`, `Parked` by `Reason`,
//! `WfmLatency`, `BreakerOpen`, `Gone`) are written to stdout as CloudWatch Embedded Metric
//! Format lines when running inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set).

mod attempt;
mod eventbridge;
mod hold;
#[cfg(test)]
mod memory;
mod park;
pub mod ports;
mod profile;
mod sqs;
#[cfg(test)]
mod tests;

pub use ports::Ports;
pub use wfm_relay_aws::relay::StartError;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};
use wfm_relay_aws::profile_source::ActiveProfile;
use wfm_relay_aws::queues::{QueueError, Queues};
use wfm_relay_aws::relay::RelayParts;
use wfm_relay_aws::telemetry::emit_metrics;
use wfm_relay_aws::wfm::WfmClient;
use wfm_relay_core::breaker::{Breaker, BreakerSettings};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::deadline::{effective_deadline, time_left};
use wfm_relay_core::envelope::Reason;
use wfm_relay_core::event::{EventInfo, PayloadKind, payload_kind};
use wfm_relay_core::guard::{self, GuardInput, Refusal};
use wfm_relay_core::metrics::Metrics;

/// The invocation could not do its job: the event (or the batch) is in none of delivered /
/// queued / parked. Returned as the Lambda invocation error so that AWS retries the
/// invocation (EventBridge) or keeps every record of the batch in the queue (SQS).
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
    /// An SQS batch whose `Records` cannot be read (e.g. the member given twice). Answering
    /// "no failures" would let the event source mapping delete every record unread.
    #[error("unreadable SQS batch: {message}")]
    UnreadableBatch {
        /// serde_json's description.
        message: String,
    },
    /// The partial batch response could not be serialised; answering "no failures" instead
    /// would delete the records that were meant to stay.
    #[error("cannot write the partial batch response: {message}")]
    Response {
        /// serde_json's description.
        message: String,
    },
}

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

/// The metrics of one invocation, shared by the records of a batch (locked briefly, never
/// across an `await`).
type Tally = Mutex<Metrics>;

fn note(tally: &Tally, f: impl FnOnce(&mut Metrics)) {
    let mut m = tally.lock().unwrap_or_else(PoisonError::into_inner);
    f(&mut m);
}

/// What every stage of one invocation needs: its deadline and its metrics.
#[derive(Debug, Clone, Copy)]
struct Invocation<'a> {
    /// The effective deadline (a past runtime deadline replaced by the function timeout).
    deadline: SystemTime,
    /// The invocation's metrics.
    tally: &'a Tally,
    /// When the invocation started (wall clock): the receive-time estimate of PRODUCT.md §4.
    started: SystemTime,
}

/// The forwarder: configuration, ports (WFM client, queues, clock) and circuit breaker, built
/// once per process.
#[derive(Debug)]
pub struct Forwarder {
    cfg: ForwarderConfig,
    ports: Ports,
    /// One breaker per process: every invocation this process serves shares it.
    breaker: Mutex<Breaker>,
    /// The WFM output profile (`WFM_PROFILE`), if one is configured.
    profile: Option<Arc<ActiveProfile>>,
}

impl Forwarder {
    /// Builds the forwarder over the AWS adapters; the circuit breaker starts closed.
    pub fn new(cfg: ForwarderConfig, wfm: WfmClient, queues: Queues) -> Self {
        Forwarder::with_ports(cfg, Ports::aws(wfm, queues))
    }

    /// Builds the forwarder over any [`Ports`] (the AWS adapters, or in-memory fakes in unit
    /// tests); the circuit breaker starts closed.
    pub fn with_ports(cfg: ForwarderConfig, ports: Ports) -> Self {
        let breaker = Mutex::new(Breaker::new(BreakerSettings {
            failures: cfg.breaker_failures,
            open_for: cfg.breaker_open,
        }));
        Forwarder {
            cfg,
            ports,
            breaker,
            profile: None,
        }
    }

    /// Uses `profile` (a WFM output profile, read at start-up) for every delivery; `None`
    /// sends events unchanged.
    pub fn with_profile(mut self, profile: Option<Arc<ActiveProfile>>) -> Self {
        self.profile = profile;
        self
    }

    /// Reads the configuration from the environment (PRODUCT.md §10) and builds the clients.
    ///
    /// # Errors
    /// [`StartError`] naming the variable at fault.
    pub async fn from_env() -> Result<Self, StartError> {
        let parts = RelayParts::from_env().await?;
        let profile = ActiveProfile::from_env(parts.cfg.body_mode, parts.queues.aws()).await?;
        Ok(Forwarder::new(parts.cfg, parts.wfm, parts.queues).with_profile(profile))
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
    /// [`HandlerError`] for an EventBridge event that could be neither delivered, queued nor
    /// parked, and for an SQS batch that cannot be read or answered (its records all stay in
    /// the queue). A readable batch never fails as a whole.
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
            self.ports.clock.now(),
            self.cfg.function_timeout,
        );
        let tally = Mutex::new(self.new_metrics());
        self.refresh_profile(&tally).await;
        let inv = Invocation {
            deadline,
            tally: &tally,
            started: self.ports.clock.now(),
        };
        // The entries' futures are boxed: nested in the runtime's own future they would
        // otherwise exceed the compiler's default depth when it lays out `main`'s future.
        let result = match payload_kind(payload) {
            PayloadKind::SqsBatch => Box::pin(self.batch_entry(payload, inv))
                .await
                .and_then(|resp| sqs::response_json(&resp)),
            PayloadKind::EventBridge => Box::pin(self.event_entry(payload, inv))
                .await
                .map(|outcome| serde_json::json!({ "outcome": outcome.as_str() })),
        };
        let mut metrics = tally.into_inner().unwrap_or_else(PoisonError::into_inner);
        metrics.set_breaker_open(self.breaker().is_open());
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

    /// Time left before `deadline` minus the reserve needed to enqueue or park.
    fn left(&self, deadline: SystemTime) -> Duration {
        time_left(deadline, self.cfg.deadline_reserve, self.ports.clock.now())
    }

    /// The agent-state guards for live delivery (`ALLOWED_SOURCES`, `MAX_EVENT_AGE`), now.
    fn refuse(&self, info: &EventInfo) -> Option<Refusal> {
        guard::check(
            &self.cfg.allowed_sources,
            &self.cfg.max_event_age,
            GuardInput::from(info),
            self.ports.clock.now(),
        )
    }

    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whole milliseconds, for logs.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
