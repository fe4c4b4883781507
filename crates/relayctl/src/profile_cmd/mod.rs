//! `relayctl profile test`: runs a WFM output profile over one event (an EventBridge event
//! file, or a dead letter as `relayctl peek --json` prints it) and prints the request the
//! forwarder or the replayer would send — method and URL (query redacted), headers without
//! secrets, body — so an engineer develops a profile without deploying (issue 13).
//!
//! * [`input`]: the event from `--event` / `--letter` (pure).
//! * [`shown`]: the request as shown, in text or JSON (pure).
//! * [`run`]: loading the profile and its table, the exit code (I/O).
//! * [`sync`] / [`sync_table`]: `relayctl profile sync`, the user-field table written from the
//!   Genesys API (I/O / pure).
//!
//! It reads no secret: the auth mode's header is named, its value never read
//! (`Authorization: <from WFM_AUTH_MODE=bearer, not shown>`); signing headers likewise. A
//! `builtin:` or file profile with a `--mapping` file needs no AWS.

pub mod input;
pub mod run;
pub mod shown;
pub mod sync;
pub mod sync_table;

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `relayctl profile …`.
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// What to do with the profile.
    #[command(subcommand)]
    pub command: ProfileCommand,
}

/// The `profile` subcommands.
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

    /// Write the user-field table (WFM_PROFILE_USER_FIELDS) from the Genesys Cloud API.
    #[command(
        long_about = "\
Write the user-field table a `user_field` profile reads (agent_key.from: user_field) from the
Genesys Cloud API: every active user's id, username, employee id (employerInfo.employeeId) and
email, one GET /api/v2/users page per 500 users (the snapshot's client and settings: GENESYS_*,
paced under the rate limit, 429 Retry-After honoured, one token refresh on a 401). The table is
CSV, `user_id,username,employee_id,email`, sorted by user id; a missing field is empty.

It goes to WFM_PROFILE_USER_FIELDS (s3://bucket/key) in one PutObject, or to --out FILE
(written beside it and renamed over it), so a reader sees the old table or the new one. The
forwarder re-reads it within WFM_PROFILE_MAPPING_TTL_S; it never calls Genesys itself.
The Genesys OAuth client needs directory:user:view (as the API explorer names it).

Exit codes: 0 written (or --dry-run: the first rows printed, nothing written); 1 error (a
setting, Genesys, AWS, the file; or Genesys listed no active user: nothing written); 2 usage.",
        after_help = "\
Examples:
  relayctl profile sync --dry-run
  WFM_PROFILE_USER_FIELDS=s3://my-bucket/profiles/users.csv relayctl profile sync
  relayctl profile sync --out users.csv --json"
    )]
    Sync(sync::ProfileSyncArgs),
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
