//! The command line: clap types and their mapping to a replayer [`Request`] (the same JSON the
//! replayer Lambda takes, PRODUCT.md §6). Pure: nothing here touches AWS.

pub use crate::args::{
    ChangeArgs, DoctorArgs, FilterArgs, ModeArg, PaceArgs, ReplayArchiveArgs, ReplayArgs, ScanArgs,
};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use wfm_relay_replayer::{Action, Request};

const ABOUT: &str = "Operator CLI for wfm-relay's dead letters: look at them, send them to WFM again, put them back on the retry queue or archive them in S3.";

const LONG_ABOUT: &str = "\
Operator CLI for wfm-relay's dead letters: the events WFM did not take. It runs the replayer
Lambda's code from your machine, against the same dead-letter queue (DLQ), retry queue and
archive bucket, with your own AWS credentials.

Recovery walk-through after a WFM outage:
  1. relayctl stats                how many dead letters, for which topics, why, how old
  2. relayctl peek --limit 5       look at a few: reason, attempts, last status, last error
  3. relayctl replay --dry-run     what a replay would send (narrow it with the filter flags)
  4. relayctl replay               send them once WFM is healthy again (asks before it acts)
  5. relayctl archive              move what WFM keeps refusing to S3, to empty the DLQ

Events WFM rejected (--reason rejected, 4xx) will be rejected again: fix the cause at WFM first.

Configuration: the replayer Lambda's environment variables (WFM_URL, DLQ_URL, RETRY_QUEUE_URL,
ARCHIVE_BUCKET, ARCHIVE_PREFIX, WFM_AUTH_TOKEN, WFM_TIMEOUT_MS, ...), from the environment or
from --env-file. AWS access: the usual credential chain (AWS_PROFILE, AWS_REGION, SSO, ...).
Log level: RELAYCTL_LOG (default warn), written to stderr.

Interrupted (Ctrl-C)? Nothing is lost: the letters the run was holding reappear in the DLQ
within 15 minutes; letters already delivered, moved or archived are gone from it.

Exit codes: 0 done; 1 error; 2 usage error or refused; 3 done, but some letters failed.";

/// `relayctl`: the operator CLI over the replayer library.
#[derive(Debug, Clone, Parser)]
#[command(name = "relayctl", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Print the report as JSON on stdout (no table, no progress bar).
    #[arg(long, global = true)]
    pub json: bool,
    /// Do not ask for confirmation before replay, redrive, archive, replay-archive or snapshot.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Read the whole request from this JSON file (the Lambda's payload, or a report's `next`)
    /// instead of a subcommand.
    #[arg(long, global = true, value_name = "PATH")]
    pub request_file: Option<PathBuf>,
    /// Load KEY=VALUE lines (e.g. WFM_URL, DLQ_URL, AWS_PROFILE) into the environment first;
    /// they override variables already set. Blank lines and # comments are ignored.
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The actions (PRODUCT.md §6).
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Start here: how many dead letters, by topic, reason and last status; depth and oldest age.
    #[command(long_about = "\
Start here: how many dead letters there are and why. Counts the matching letters by topic, by
reason and by the last HTTP status WFM answered, with the DLQ depth and the age of the oldest
letter (the DLQ keeps a letter 14 days). Changes nothing: every letter stays in the DLQ.")]
    Stats(ScanArgs),

    /// Look at the first dead letters, decoded; they stay in the DLQ.
    #[command(long_about = "\
Look at the first matching dead letters (10 unless --limit), decoded: message id, event id,
topic, user, reason, attempts, last status and last error. Use it to see why WFM refused them
before you replay. Changes nothing: every letter stays in the DLQ.")]
    Peek(ScanArgs),

    /// After WFM is healthy again: send the parked events to WFM.
    #[command(
        long_about = "\
After WFM is healthy again: send the parked events to WFM. Each one leaves the dead-letter
queue only after WFM answers 2xx; failures stay with their history (attempts, last status, last
error). Events go with their original event time and the header X-Replay: true.

--mode latest sends only the newest state per agent and topic and archives the older ones to S3
(reason superseded) instead of sending them: use it after a long outage, when only the current
presence or routing status matters.

Run it with --dry-run first. Without --dry-run it shows what it would do and asks before it acts
(--yes skips the question).",
        after_help = "\
Examples:
  relayctl replay --dry-run
  relayctl replay --topic 'v2.users.*.presence' --reason transient_exhausted --mode latest
  relayctl replay --from 2026-03-02T08:00:00Z --to 2026-03-02T10:00:00Z --rate 20"
    )]
    Replay(ReplayArgs),

    /// Put dead letters back on the retry queue so the normal retry schedule runs again.
    #[command(long_about = "\
Put dead letters back on the retry queue so the normal retry schedule runs again (first
attempt at once, then the backoff steps of RETRY_SCHEDULE). Use it instead of replay when you
want the forwarder's pace and retries rather than one pass from here. A letter leaves the DLQ
only after the retry queue accepted it.

Without --dry-run it shows what it would do and asks before it acts (--yes skips the question).")]
    Redrive(ChangeArgs),

    /// Move dead letters to S3 (gzip JSON Lines) to empty the DLQ without losing them.
    #[command(long_about = "\
Move dead letters to S3 (gzip JSON Lines, up to 1,000 letters per object, plus a manifest
listing the objects) to empty the DLQ without losing them. A letter leaves the DLQ only after its
object was written. Use it for what WFM will never take, or before the DLQ's 14 days run out;
replay-archive can send them later.

Without --dry-run it shows what it would do and asks before it acts (--yes skips the question).")]
    Archive(ChangeArgs),

    /// Send the events of an S3 archive (object or prefix) to WFM again.
    #[command(
        long_about = "\
Send the events of an S3 archive object, or of every archive object under a prefix, to WFM
again, in key order. Nothing is deleted from S3. The report's `next` (with --start-after) lets
you continue where a run stopped.

Without --dry-run it shows what it would do and asks before it acts (--yes skips the question).",
        after_help = "\
Examples:
  relayctl replay-archive --key dead-letters/2026/03/02/ --dry-run
  relayctl replay-archive --key dead-letters/2026/03/02/20260302T090000Z-1a2b3c4d-1.jsonl.gz"
    )]
    ReplayArchive(ReplayArchiveArgs),

    /// Check that the deployed stack is wired the way the no-loss promise needs.
    #[command(long_about = "\
Check that the deployed stack is wired the way the no-loss promise needs: the retry queue's
redrive policy (maxReceiveCount = the deployed forwarder's RETRY_SCHEDULE steps + 5, target the
DLQ), its visibility timeout (>= 6 x the forwarder's Timeout + the mapping's batching window), the
retention periods (DLQ longer than the retry queue), the archive bucket's default encryption and
public-access block, the forwarder's event source mapping (enabled, ReportBatchItemFailures,
MaximumConcurrency) and async invoke config (on failure to the DLQ, maximum event age), the
EventBridge bus, rule (enabled) and target (the forwarder), that WFM's URL (WFM_URL, else the
forwarder's) answers TLS with a trusted chain (one HEAD, no event), the template's alarms (exist,
notify), the functions' secrets (exist; their roles may read them) and the forwarder's profile
and tables (exist). Each check prints pass, warn or fail with what to do. Metadata only: it
changes nothing, never reads a secret's value nor a profile's content.

Names: RETRY_QUEUE_URL, DLQ_URL, ARCHIVE_BUCKET, FORWARDER_FUNCTION, REPLAYER_FUNCTION,
SNAPSHOT_FUNCTION, EVENT_BUS, EVENT_RULE, ALARM_PREFIX, from the environment or --env-file (the
stack's outputs of the same names), or from --stack NAME (a variable that is set wins).

Exit codes: 0 no check failed (warnings printed); 1 doctor could not run; 2 usage; 4 at least
one check failed; 5 with --strict, a check warned.")]
    Doctor(DoctorArgs),

    /// Send every selected agent's current presence and routing status from Genesys Cloud to WFM.
    #[command(
        long_about = "\
Send every selected agent's current presence and routing status from Genesys Cloud to WFM, as
snapshot events (X-Snapshot: true) through the forwarder's delivery path: guards, retries, retry
queue, dead-letter queue. Use it after a long outage, a first deployment, or a disabled
EventBridge rule, so WFM knows who is in which state now. Same settings as the replayer Lambda's
snapshot action: GENESYS_* (GENESYS_CLIENT_ID and its secret, GENESYS_DOMAIN or GENESYS_API_URL /
GENESYS_LOGIN_URL, GENESYS_ORG_ID), SNAPSHOT_RATE_PER_S and the WFM and queue settings.

Without --dry-run it reads Genesys once as a dry run, shows how many events it would send and
asks before it sends (--yes skips the question).

Exit codes: 0 done (or a dry run); 1 error, or the run stopped before the end (e.g. a missing
Genesys permission); 2 usage error or declined; 3 done, but events were parked or not sent (or
users unreadable).",
        after_help = "\
Examples:
  relayctl snapshot --dry-run
  relayctl snapshot --queue 6a3b… --topic routing_status
  relayctl snapshot --division 5f1c… --dry-run
  relayctl snapshot --user-id u-1 --user-id u-2 --yes"
    )]
    Snapshot(crate::snapshot::SnapshotArgs),

    /// WFM output profiles: `profile test` shows the request a profile makes of one event;
    /// `profile sync` writes the user-field table from Genesys.
    #[command(long_about = "\
WFM output profiles (WFM_PROFILE). `profile test` runs a profile over one event file or dead
letter and shows the request that would be sent, without sending it. `profile sync` writes the
user-field table (WFM_PROFILE_USER_FIELDS) from the Genesys API.")]
    Profile(crate::profile_cmd::ProfileArgs),
}

impl Command {
    /// The replayer request this subcommand stands for.
    pub fn to_request(&self) -> Request {
        let scan_request = |action, scan: &ScanArgs| Request {
            filter: scan.filter.to_filter(),
            limit: scan.limit,
            ..Request::new(action)
        };
        let change_request = |action, change: &ChangeArgs| Request {
            dry_run: change.dry_run,
            ..scan_request(action, &change.scan)
        };
        match self {
            // Not a replayer action: `app::run` runs doctor before any request is built, and
            // `Cli::request_source` refuses it; this arm only keeps the match total.
            Command::Doctor(_) => Request::new(Action::Stats),
            // Not a replayer `Request` either: `app::run` runs it first (its own payload).
            Command::Snapshot(_) => Request::new(Action::Stats),
            // Not a replayer action either: `app::run` runs it before any request is built.
            Command::Profile(_) => Request::new(Action::Stats),
            Command::Stats(a) => scan_request(Action::Stats, a),
            Command::Peek(a) => scan_request(Action::Peek, a),
            Command::Redrive(a) => change_request(Action::Redrive, a),
            Command::Archive(a) => change_request(Action::Archive, a),
            Command::Replay(a) => Request {
                mode: a.mode.into(),
                rate_per_s: a.pace.rate,
                concurrency: a.pace.concurrency,
                ..change_request(Action::Replay, &a.change)
            },
            Command::ReplayArchive(a) => Request {
                archive_key: Some(a.key.clone()),
                start_after: a.start_after.clone(),
                rate_per_s: a.pace.rate,
                concurrency: a.pace.concurrency,
                ..change_request(Action::ReplayArchive, &a.change)
            },
        }
    }
}

/// Where the request comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestSource {
    /// Built from a subcommand.
    Command(Request),
    /// To be read from `--request-file`.
    File(PathBuf),
}

impl Cli {
    /// The request source: exactly one of a subcommand and `--request-file`.
    ///
    /// # Errors
    /// A usage message when both or neither are given.
    pub fn request_source(&self) -> Result<RequestSource, String> {
        match (&self.command, &self.request_file) {
            (Some(Command::Doctor(_)), _) => {
                Err("doctor is not a replayer request; run it as `relayctl doctor`".into())
            }
            (Some(Command::Snapshot(_)), _) => {
                Err("snapshot is run as `relayctl snapshot`, not as a dead-letter request".into())
            }
            (Some(Command::Profile(_)), _) => Err(
                "profile is not a replayer request; run it as `relayctl profile test` or `relayctl profile sync`".into(),
            ),
            (Some(c), None) => Ok(RequestSource::Command(c.to_request())),
            (None, Some(p)) => Ok(RequestSource::File(p.clone())),
            (Some(_), Some(_)) => {
                Err("give either a subcommand or --request-file, not both".into())
            }
            (None, None) => Err(
                "a subcommand is required (start with `relayctl stats`), or --request-file; see --help"
                    .into(),
            ),
        }
    }
}

/// Reads a request from JSON text (the Lambda payload format; unknown members are refused) and
/// validates it.
///
/// # Errors
/// A message saying what is wrong with it.
pub fn parse_request_json(text: &str) -> Result<Request, String> {
    let req: Request = serde_json::from_str(text).map_err(|e| format!("not a request: {e}"))?;
    req.validate().map_err(|e| e.to_string())?;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use wfm_relay_core::envelope::Reason;
    use wfm_relay_core::replay::Filter;
    use wfm_relay_replayer::Mode;

    fn request(args: &[&str]) -> Request {
        let cli = Cli::try_parse_from(std::iter::once("relayctl").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?} parses: {e}"));
        match cli.request_source() {
            Ok(RequestSource::Command(r)) => r,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn refused(args: &[&str]) -> String {
        match Cli::try_parse_from(std::iter::once("relayctl").chain(args.iter().copied())) {
            Ok(cli) => panic!("{args:?} should be refused, got {cli:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn replay_flags_map_to_the_request() {
        let got = request(&[
            "replay",
            "--topic",
            "v2.users.*.presence",
            "--reason",
            "transient_exhausted",
            "--mode",
            "latest",
            "--limit",
            "5",
            "--dry-run",
        ]);
        let want = Request {
            filter: Filter {
                topic: Some("v2.users.*.presence".into()),
                reason: Some(Reason::TransientExhausted),
                ..Filter::default()
            },
            mode: Mode::Latest,
            limit: Some(5),
            dry_run: true,
            ..Request::new(Action::Replay)
        };
        assert_eq!(got, want);
        assert!(got.validate().is_ok());
    }

    #[test]
    fn every_subcommand_maps_to_its_action() {
        let cases: &[(&[&str], Request)] = &[
            (&["stats"], Request::new(Action::Stats)),
            (
                &["peek", "--limit", "3", "--status", "503"],
                Request {
                    limit: Some(3),
                    filter: Filter {
                        status: Some(503),
                        ..Filter::default()
                    },
                    ..Request::new(Action::Peek)
                },
            ),
            (
                &["redrive", "--user-id", "u-1", "--dry-run"],
                Request {
                    dry_run: true,
                    filter: Filter {
                        user_id: Some("u-1".into()),
                        ..Filter::default()
                    },
                    ..Request::new(Action::Redrive)
                },
            ),
            (
                &[
                    "archive",
                    "--reason",
                    "rejected",
                    "--from",
                    "2026-03-02T08:00:00Z",
                    "--to",
                    "2026-03-02T10:00:00+01:00",
                ],
                Request {
                    filter: Filter {
                        reason: Some(Reason::Rejected),
                        from: Some("2026-03-02T08:00:00Z".into()),
                        to: Some("2026-03-02T10:00:00+01:00".into()),
                        ..Filter::default()
                    },
                    ..Request::new(Action::Archive)
                },
            ),
            (
                &["replay", "--rate", "20", "--concurrency", "8"],
                Request {
                    rate_per_s: Some(20.0),
                    concurrency: Some(8),
                    ..Request::new(Action::Replay)
                },
            ),
            (
                &[
                    "replay-archive",
                    "--key",
                    "dead-letters/2026/03/02/",
                    "--start-after",
                    "dead-letters/2026/03/02/a-1.jsonl.gz",
                    "--rate",
                    "2.5",
                ],
                Request {
                    archive_key: Some("dead-letters/2026/03/02/".into()),
                    start_after: Some("dead-letters/2026/03/02/a-1.jsonl.gz".into()),
                    rate_per_s: Some(2.5),
                    ..Request::new(Action::ReplayArchive)
                },
            ),
        ];
        for (args, want) in cases {
            let got = request(args);
            assert_eq!(&got, want, "{args:?}");
            assert!(got.validate().is_ok(), "{args:?}");
        }
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["relayctl", "replay", "--yes", "--json", "--env-file", "p"])
            .expect("parses");
        assert!(cli.yes && cli.json);
        assert_eq!(cli.env_file, Some(PathBuf::from("p")));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for (args, needle) in [
            (&["replay", "--reason", "flaky"][..], "flaky"),
            (&["replay", "--from", "yesterday"], "RFC 3339"),
            (&["replay", "--rate", "0"], "positive"),
            (&["replay", "--concurrency", "51"], "51"),
            (&["peek", "--limit", "0"], "0"),
            (&["peek", "--status", "42"], "42"),
            (&["stats", "--mode", "latest"], "--mode"),
            (&["replay-archive"], "--key"),
        ] {
            let e = refused(args);
            assert!(e.contains(needle), "{args:?}: {e}");
        }
    }

    #[test]
    fn request_source_is_a_subcommand_or_a_file() {
        let both =
            Cli::try_parse_from(["relayctl", "--request-file", "r.json", "stats"]).expect("parses");
        assert!(both.request_source().is_err());
        let none = Cli::try_parse_from(["relayctl", "--json"]).expect("parses");
        assert!(none.request_source().is_err());
        let file = Cli::try_parse_from(["relayctl", "--request-file", "r.json"]).expect("parses");
        assert_eq!(
            file.request_source(),
            Ok(RequestSource::File("r.json".into()))
        );
    }

    #[test]
    fn request_json_is_parsed_and_validated() {
        let r = parse_request_json(r#"{"action":"redrive","filter":{"reason":"gone"},"limit":7}"#)
            .expect("valid");
        assert_eq!(r.action, Action::Redrive);
        assert_eq!(r.limit, Some(7));
        assert!(parse_request_json(r#"{"action":"replay","filtr":{}}"#).is_err());
        assert!(
            parse_request_json(r#"{"action":"replay-archive"}"#)
                .expect_err("needs a key")
                .contains("archive_key")
        );
    }
}
