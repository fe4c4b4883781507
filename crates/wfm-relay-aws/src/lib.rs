//! Adapters of wfm-relay: the only crate that names AWS SDK or HTTP client types.
//!
//! * [`wfm`]: the WFM HTTP client (one POST attempt per core `Delivery`, answered as a core
//!   `AttemptResult` that `wfm_relay_core::attempt::verdict` classifies).
//! * [`queues`]: the SQS retry queue and dead-letter queue as typed handles
//!   ([`queues::Queues::retry`], [`queues::Queues::dlq`]), with the size check against the
//!   queue's `MaximumMessageSize`; [`sqs_limits`]: SQS's batch and size limits.
//! * [`claim_check`]: the S3 claim check for events too large for a queue message.
//! * [`telemetry`]: the JSON log subscriber, the EMF writer and error chains, shared by both
//!   Lambdas.
//! * [`auth`]: destination auth (none, bearer, oauth2 client credentials, api_key, basic): the
//!   credentials provider and the OAuth token cache.
//! * [`genesys`]: the Genesys Cloud API client for state snapshots (OAuth client credentials,
//!   paced under the per-token rate limit).
//! * [`profile_source`]: the WFM output profile of a process (`WFM_PROFILE`), read and
//!   validated at start-up, its agent table kept fresh.
//! * [`aws`]: loading the shared AWS configuration once.
//! * [`tls`]: one root store, read once, and one rustls configuration shared by every HTTP
//!   client of the process (WFM, token endpoints, the AWS SDK).
//! * [`secrets`]: the WFM bearer token and signing keys, plain or from Secrets Manager / SSM,
//!   cached and refreshed.

pub mod archive;
pub mod auth;
pub mod aws;
pub mod claim_check;
pub mod credentials;
pub mod genesys;
pub mod lazy_aws;
pub mod profile_source;
pub mod queues;
pub mod relay;
pub mod secrets;
pub mod sqs_limits;
mod sqs_queue;
pub mod telemetry;
pub mod tls;
pub mod wfm;
