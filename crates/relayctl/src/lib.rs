//! `relayctl`, the operator CLI over the replayer library (PRODUCT.md §6): the same
//! [`wfm_relay_replayer::Request`]s the replayer Lambda takes, run from an on-call laptop with
//! a confirmation step, a progress line and human or JSON output.
//!
//! * [`cli`]: the clap command line and its mapping to a request (pure).
//! * [`args`]: the subcommands' flag groups and value parsers (pure).
//! * [`render`]: human output from a report (pure).
//! * [`preview`]: the confirmation text from a dry-run report (pure).
//! * [`envfile`]: the `--env-file` parser (pure).
//! * [`errors`]: AWS errors as one line with a hint (pure).
//! * [`start`]: the replayer for an action; `stats` and `peek` read no WFM setting.
//! * [`doctor`]: `relayctl doctor`, the stack's wiring checked.
//! * [`snapshot`]: `relayctl snapshot`, agents' states from Genesys Cloud sent to WFM.
//! * [`profile_cmd`]: `relayctl profile test`, a WFM output profile run over one event, and
//!   `relayctl profile sync`, the user-field table written from the Genesys API.
//! * [`app`]: the run itself (environment, AWS, terminal, exit code).

pub mod app;
pub mod args;
pub mod cli;
pub mod doctor;
pub mod envfile;
pub mod errors;
pub mod preview;
pub mod profile_cmd;
pub mod render;
pub mod snapshot;
pub mod start;
