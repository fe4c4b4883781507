//! Pure core of wfm-relay: it decides, the adapters act.
//!
//! * [`event`]: reads a Genesys Cloud EventBridge event from its raw bytes, validates the
//!   envelope and derives the user id, the state time and the [`key::IdempotencyKey`].
//! * [`attempt`]: one delivery attempt as data: the request ([`attempt::Delivery`]), WFM's
//!   answer ([`attempt::AttemptResult`]) and what it means ([`attempt::verdict`]).
//! * [`policy`]: classifies a WFM answer, parses `Retry-After`, computes full-jitter backoff and
//!   decides what happens after each attempt (retry inline, enqueue, wait, park).
//! * [`deadline`]: the effective deadline of an invocation and the time left before it.
//! * [`envelope`]: the versioned JSON message carried by the retry queue and the dead-letter queue.
//! * [`auth`]: destination auth settings (`WFM_AUTH_MODE` …) and the OAuth token refresh rule.
//! * [`config`]: the forwarder's configuration, read once from environment-like lookups.
//! * [`signing`]: Standard Webhooks `v1` signatures (HMAC-SHA256) of the exact bytes sent.
//! * [`guard`]: agent-state guards (allowed sources, maximum event age for live delivery).
//! * [`breaker`]: the circuit breaker in front of WFM, a state machine with time passed in.
//! * [`metrics`]: CloudWatch Embedded Metric Format documents.
//! * [`excerpt`]: the response excerpt of a dead letter (valid UTF-8, at most 1 KiB).
//! * [`redact`]: URLs as they may be shown (query values, password and fragment hidden).
//!
//! Architecture invariant: this crate does no I/O and knows nothing about AWS, HTTP clients or
//! tokio. Time and randomness are passed in.

pub mod attempt;
pub mod auth;
pub mod breaker;
pub mod config;
pub mod deadline;
pub mod envelope;
pub mod event;
pub mod excerpt;
pub mod guard;
pub mod key;
pub mod metrics;
pub mod policy;
pub mod redact;
pub mod replay;
pub mod signing;
pub mod snapshot;
pub mod timefmt;
