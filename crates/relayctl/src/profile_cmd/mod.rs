//! `relayctl profile test`: runs a WFM output profile over one event (an EventBridge event
//! file, or a dead letter as `relayctl peek --json` prints it) and prints the request the
//! forwarder or the replayer would send — method and URL (query redacted), headers without
//! secrets, body — so an engineer develops a profile without deploying (issue 13).
//!
//! * [`input`]: the event from `--event` / `--letter` (pure).
//! * [`shown`]: the request as shown, in text or JSON (pure).
//! * [`run`]: loading the profile and its table, the exit code (I/O).
//!
//! It reads no secret: the auth mode's header is named, its value never read
//! (`Authorization: <from WFM_AUTH_MODE=bearer, not shown>`); signing headers likewise. A
//! `builtin:` or file profile with a `--mapping` file needs no AWS.

pub mod input;
pub mod run;
pub mod shown;

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `relayctl profile …`.
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// What to do with the profile.
    #[command(subcommand)]
    pub command: ProfileCommand,
}

/// The `profile` subcommands (`profile sync`, writing the user-field table from the Genesys
/// API, is not built yet).
#[derive(Debug, Clone, Subcommand)]
pub enum ProfileCommand {
    /// Show the request a profile makes of one event, without sending it.
    #[command(
        long_about = "\
Show the request a WFM output profile makes of one event, without sending it: method and URL
(WFM_URL joined with the profile's path, its query values shown as REDACTED), the headers
(credentials and signatures named, never shown) and the body. Nothing is sent, no secret is
read; a builtin: or file profile with a --mapping file needs no AWS.

The profile: --profile, else WFM_PROFILE (builtin:<name>, s3://bucket/key, ssm:/name, or a
path to a JSON file). Its agent table: --mapping FILE (CSV or JSON), else the object of
WFM_PROFILE_MAPPING / WFM_PROFILE_USER_FIELDS (S3).

Exit codes: 0 shown; 1 error (a file, AWS, a setting); 2 usage; 3 the profile cannot shape
this event (reason unmapped_agent or transform_failed, or invalid_event; printed with the
message the dead letter would carry).",
        after_help = "\
Examples:
  relayctl profile test --profile builtin:agent-state --event presence-break.json
  relayctl profile test --profile ./my-wfm.json --mapping agents.csv --letter letter.json --json"
    )]
    Test(ProfileTestArgs),
}

/// `relayctl profile test`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["event", "letter"])))]
pub struct ProfileTestArgs {
    /// The profile: builtin:<name>, s3://bucket/key, ssm:/name or a JSON file (default:
    /// WFM_PROFILE).
    #[arg(long, value_name = "LOCATION")]
    pub profile: Option<String>,
    /// The agent table, CSV or JSON (default: the S3 object of WFM_PROFILE_MAPPING or
    /// WFM_PROFILE_USER_FIELDS).
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// A raw EventBridge event (JSON).
    #[arg(long, value_name = "FILE")]
    pub event: Option<PathBuf>,
    /// A dead letter: an envelope, one letter of `relayctl peek --json`, or a peek report
    /// holding exactly one letter. Shown as its replay (X-Replay, the next X-Attempt).
    #[arg(long, value_name = "FILE")]
    pub letter: Option<PathBuf>,
}
