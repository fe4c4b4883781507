//! Pure core of wfm-relay: it decides, the adapters act.
//!
//! * [`event`]: reads a Genesys Cloud EventBridge event from its raw bytes, validates the
//!   envelope and derives the user id, the state time and the [`key::IdempotencyKey`].
//! * [`policy`]: classifies a WFM answer, parses `Retry-After`, computes full-jitter backoff and
//!   decides what happens after each attempt (retry inline, enqueue, wait, park).
//! * [`envelope`]: the versioned JSON message carried by the retry queue and the dead-letter queue.
//! * [`config`]: the forwarder's configuration, read once from environment-like lookups.
//!
//! Architecture invariant: this crate does no I/O and knows nothing about AWS, HTTP clients or
//! tokio. Time and randomness are passed in.

pub mod config;
pub mod envelope;
pub mod event;
pub mod key;
pub mod policy;
pub mod replay;
pub mod timefmt;
