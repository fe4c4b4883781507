//! Adapters of wfm-relay: the only crate that names AWS SDK or HTTP client types.
//!
//! * [`wfm`]: the WFM HTTP client (one POST attempt, classified by the caller with
//!   `wfm_relay_core::policy`).
//! * [`queues`]: the SQS retry queue and dead-letter queue, with the size check against the
//!   queue's `MaximumMessageSize` and the S3 claim check for oversize events.
//! * [`auth`]: destination auth (none, bearer, oauth2 client credentials, api_key, basic): the
//!   credentials provider and the OAuth token cache.
//! * [`aws`]: loading the shared AWS configuration once.
//! * [`secrets`]: the WFM bearer token and signing keys, plain or from Secrets Manager / SSM,
//!   cached and refreshed.

pub mod archive;
pub mod auth;
pub mod aws;
pub mod queues;
pub mod relay;
pub mod secrets;
pub mod wfm;
