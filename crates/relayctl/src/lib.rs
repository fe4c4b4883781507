//! `relayctl`, the operator CLI over the replayer library (PRODUCT.md §6): the same
//! [`wfm_relay_replayer::Request`]s the replayer Lambda takes, run from an on-call laptop with
//! a confirmation step, a progress line and human or JSON output.
//!
//! * [`cli`]: clap types and their mapping to a request (pure).
//! * [`render`]: human output from a report (pure).
//! * [`envfile`]: the `--env-file` parser (pure).
//! * [`app`]: the run itself (environment, AWS, terminal, exit code).

pub mod app;
pub mod cli;
pub mod envfile;
pub mod render;
