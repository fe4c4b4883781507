//! The replayer's request and report: versioned JSON, the same for the Lambda payload
//! (`aws lambda invoke --payload '{"action":"stats"}'`) and for `relayctl --json`.

use serde::{Deserialize, Serialize};
pub use wfm_relay_core::replay::Stats;
use wfm_relay_core::replay::{Filter, FilterError};

/// What to do. The default is the read-only `stats` (for an empty [`Report`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Counts by topic, reason and status, depth and oldest age; consumes nothing.
    #[default]
    Stats,
    /// The first `limit` (default 10) matching dead letters, decoded, left in place.
    Peek,
    /// POST matching dead letters to WFM; deleted only after a 2xx.
    Replay,
    /// Move matching dead letters back to the retry queue (the normal schedule runs again).
    Redrive,
    /// Write matching dead letters to S3 (gzip JSON Lines), delete them after the PUT.
    Archive,
    /// POST the dead letters of an archive object or prefix to WFM.
    ReplayArchive,
}

impl Action {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Stats => "stats",
            Action::Peek => "peek",
            Action::Replay => "replay",
            Action::Redrive => "redrive",
            Action::Archive => "archive",
            Action::ReplayArchive => "replay-archive",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Replay mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Every event, with its original event time and `X-Replay: true`.
    #[default]
    History,
    /// Per user + topic only the newest state; the superseded ones are archived with reason
    /// `superseded`.
    Latest,
}

fn one() -> u32 {
    1
}

/// A replayer request, version 1. Unknown members are refused so a typo never widens an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Format version, 1.
    #[serde(default = "one")]
    pub v: u32,
    /// The action.
    pub action: Action,
    /// Which dead letters (all when empty).
    #[serde(default, skip_serializing_if = "is_default")]
    pub filter: Filter,
    /// At most this many matching dead letters (peek: default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Report what would happen; change nothing, send nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Replay mode (`replay` only).
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: Mode,
    /// At most this many POSTs per second (replay, replay-archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// POSTs in flight at once (default 4, 1–50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// `replay-archive`: an object key (`….jsonl.gz`) or a key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_key: Option<String>,
    /// `replay-archive`: continue after this object key (set in a report's `next`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    /// `replay-archive`: the object the deadline stopped inside and the lines of it already
    /// handled (set in a report's `next`; PRODUCT.md §6, "continues from (object key, line)").
    /// Boxed: it keeps `Request` small (relayctl holds one in an enum beside a path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_at: Option<Box<ResumeAt>>,
}

/// Where replay-archive goes on inside an object: lines `1..=line` of `key` are handled, line
/// `line + 1` is the first to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeAt {
    /// The archive object key.
    pub key: String,
    /// Lines of the object (1-based, blank lines counted) already handled.
    pub line: usize,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl Request {
    /// A request for `action` with every option at its default.
    pub fn new(action: Action) -> Self {
        Request {
            v: 1,
            action,
            filter: Filter::default(),
            limit: None,
            dry_run: false,
            mode: Mode::History,
            rate_per_s: None,
            concurrency: None,
            archive_key: None,
            start_after: None,
            resume_at: None,
        }
    }

    /// Checks the request before anything is received.
    ///
    /// # Errors
    /// [`RequestError`] naming the member at fault.
    pub fn validate(&self) -> Result<(), RequestError> {
        if self.v != 1 {
            return Err(RequestError::Version(self.v));
        }
        self.filter.validate()?;
        if self.rate_per_s.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            return Err(RequestError::Rate);
        }
        if self.concurrency.is_some_and(|c| !(1..=50).contains(&c)) {
            return Err(RequestError::Concurrency);
        }
        if self.action == Action::ReplayArchive && self.archive_key.is_none() {
            return Err(RequestError::ArchiveKey);
        }
        Ok(())
    }

    /// The request in words as relayctl would type it, e.g. `replay --mode latest`.
    pub fn command_text(&self) -> String {
        let mut s = self.action.as_str().to_owned();
        if self.action == Action::Replay && self.mode == Mode::Latest {
            s.push_str(" --mode latest");
        }
        if self.dry_run {
            s.push_str(" --dry-run");
        }
        s
    }
}

/// Why a request cannot run (the replayer refuses it before receiving anything).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// `v` is not 1.
    #[error("v {0} is not supported (1 is)")]
    Version(u32),
    /// A filter bound is not an RFC 3339 time.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// `rate_per_s` is not a positive finite number.
    #[error("rate_per_s must be a positive number")]
    Rate,
    /// `concurrency` is outside 1..=50.
    #[error("concurrency must be 1..=50")]
    Concurrency,
    /// `replay-archive` without `archive_key`.
    #[error("replay-archive needs archive_key (an object key or a prefix)")]
    ArchiveKey,
    /// The request writes to (or reads) the archive and `ARCHIVE_BUCKET` is not set; the
    /// request in words, e.g. `replay --mode latest`.
    #[error("{0} needs ARCHIVE_BUCKET to be configured")]
    NeedsBucket(String),
}

/// Why an action stopped before it ran out of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The Lambda deadline (less the reserve) was reached.
    Deadline,
    /// `limit` letters matched.
    Limit,
}

impl StopReason {
    /// The token the report carries: `deadline`, `limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Deadline => "deadline",
            StopReason::Limit => "limit",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded dead letter as `peek` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeekedLetter {
    /// SQS message id in the DLQ.
    pub message_id: String,
    /// The shape it was stored in.
    pub shape: wfm_relay_core::replay::Shape,
    /// The decoded envelope.
    pub letter: wfm_relay_core::envelope::EnvelopeV1,
}

/// What an action did, version 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Format version, 1.
    pub v: u32,
    /// The action (its kebab-case name in JSON).
    pub action: Action,
    /// Id of this run (archive object names carry it).
    pub run_id: String,
    /// Nothing was changed.
    pub dry_run: bool,
    /// Dead letters that matched the filter.
    pub matched: usize,
    /// POSTs answered 2xx whose letter SQS confirmed deleted (replay), or every 2xx of
    /// replay-archive (it deletes nothing).
    pub delivered: usize,
    /// A 2xx (replay), an S3 PUT (archive, superseded) or a retry-queue send (redrive) that
    /// succeeded but whose DLQ delete failed even when retried (expired receipt handle, per-entry
    /// `Failed`): the letter is still in the DLQ and may be sent again. Never counted
    /// `delivered`.
    #[serde(default)]
    pub delivered_not_deleted: usize,
    /// POSTs cut short by the deadline without an answer: the letter's history is not rewritten
    /// and `next` sends it again.
    #[serde(default)]
    pub in_flight: usize,
    /// Matched letters not handled before the action stopped (deadline): left as they were.
    #[serde(default)]
    pub not_reached: usize,
    /// Letters that failed (POST not 2xx, or not movable); they stay in the DLQ.
    pub failed: usize,
    /// Of `failed`: replays not sent because the OAuth token endpoint refused our credentials
    /// (a configuration error; the metric `AuthConfigError`). Omitted from JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub auth_config_errors: usize,
    /// Letters looked at that did not match the filter (left in the DLQ, visible again).
    pub skipped: usize,
    /// Matching letters that hold no valid EventBridge event (reason `invalid_event`): replay
    /// cannot send them; they stay in the DLQ (archive them to empty it).
    #[serde(default)]
    pub unsendable: usize,
    /// Letters superseded by a newer state (replay `latest`), archived and deleted (a dry run:
    /// as the real run would count them).
    #[serde(default)]
    pub superseded: usize,
    /// Letters written to S3 and deleted from the DLQ.
    pub archived: usize,
    /// Letters moved to the retry queue.
    pub redriven: usize,
    /// Messages left in the DLQ at the end; `null` when its depth could not be read (then `next`
    /// is kept, as if work were left).
    pub remaining: Option<usize>,
    /// S3 object keys written.
    pub keys: Vec<String>,
    /// `stats` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// `peek` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub letters: Vec<PeekedLetter>,
    /// Why the action stopped before it ran out of work (`deadline`, `limit`), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<StopReason>,
    /// The request to send next to continue, when work is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Request>,
    /// `replay-archive`: objects that could not be read in full (damaged gzip, a line that is
    /// not a dead letter, a failed GetObject). Their lines read in full were handled and counted;
    /// they are not among `keys`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrupt: Vec<CorruptObject>,
}

/// Whether a count is 0 (serde's `skip_serializing_if`).
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// An archive object replay-archive could not read in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorruptObject {
    /// The object key.
    pub key: String,
    /// Lines read in full (blank ones included) before the damage; their letters were handled.
    pub lines_read: usize,
    /// What is wrong, e.g. `unreadable after line 998: <the gzip decoder's message>` or
    /// `line 17 is not a dead letter: <serde_json's message>`.
    pub error: String,
}

impl Report {
    /// The sum the identity of PRODUCT.md §6 sets equal to `matched`: `delivered +
    /// delivered_not_deleted + failed + unsendable + superseded + archived + redriven +
    /// in_flight + not_reached` (`skipped` and `remaining` are outside it).
    pub fn accounted(&self) -> usize {
        self.delivered
            + self.delivered_not_deleted
            + self.failed
            + self.unsendable
            + self.superseded
            + self.archived
            + self.redriven
            + self.in_flight
            + self.not_reached
    }

    /// Whether the report must satisfy the identity: every report of `replay`, `redrive`,
    /// `archive` and `replay-archive` run without `dry_run` (`stats`, `peek` and dry runs are
    /// exempt).
    pub fn identity_applies(&self) -> bool {
        !self.dry_run && !self.action.reads_only()
    }

    /// PRODUCT.md §6: each matched letter is counted once, `matched == accounted()`; true for an
    /// exempt report.
    pub fn identity_holds(&self) -> bool {
        !self.identity_applies() || self.matched == self.accounted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_sample_json_round_trips() {
        let sample = r#"{"action":"replay","filter":{"topic":"v2.users.*.presence","reason":"transient_exhausted",
            "from":"2026-03-02T00:00:00Z"},"limit":100,"dry_run":true,"mode":"latest","rate_per_s":20.0}"#;
        let r: Request = serde_json::from_str(sample).expect("decodes");
        assert_eq!(r.v, 1);
        assert_eq!(r.action, Action::Replay);
        assert_eq!(r.mode, Mode::Latest);
        assert_eq!(r.limit, Some(100));
        assert!(r.validate().is_ok());
        let back: Request =
            serde_json::from_str(&serde_json::to_string(&r).expect("ser")).expect("de");
        assert_eq!(back, r);
        assert_eq!(
            serde_json::to_string(&Request::new(Action::Stats)).expect("ser"),
            r#"{"v":1,"action":"stats"}"#
        );
    }

    #[test]
    fn request_errors() {
        assert!(serde_json::from_str::<Request>(r#"{"action":"replay","filtr":{}}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"action":"purge"}"#).is_err());
        let mut r = Request::new(Action::ReplayArchive);
        assert!(r.validate().is_err());
        r.archive_key = Some("dead-letters/".into());
        assert!(r.validate().is_ok());
        r.rate_per_s = Some(0.0);
        assert_eq!(r.validate(), Err(RequestError::Rate));
        assert_eq!(
            Request::new(Action::ReplayArchive).validate(),
            Err(RequestError::ArchiveKey)
        );
    }

    #[test]
    fn report_sample_json_round_trips() {
        let sample = r#"{"v":1,"action":"replay-archive","run_id":"20260302T090000Z-1a2b3c4d","dry_run":false,
            "matched":12,"delivered":10,"failed":2,"skipped":0,"unsendable":0,"superseded":0,"archived":0,
            "redriven":0,"remaining":null,"keys":["dead-letters/2026/03/02/r-1.jsonl.gz"],"stopped":"deadline",
            "next":{"action":"replay-archive","archive_key":"dead-letters/","start_after":"dead-letters/2026/03/02/r-1.jsonl.gz"}}"#;
        let r: Report = serde_json::from_str(sample).expect("decodes");
        assert_eq!(r.action, Action::ReplayArchive);
        assert_eq!(r.stopped, Some(StopReason::Deadline));
        let json = serde_json::to_value(&r).expect("ser");
        assert_eq!(json["action"], "replay-archive");
        assert_eq!(json["stopped"], "deadline");
        assert!(
            json["remaining"].is_null(),
            "an unknown depth is written as null"
        );
        let back: Report = serde_json::from_value(json).expect("de");
        assert_eq!(back, r);
        let limit: Report =
            serde_json::from_str(&sample.replace(r#""deadline""#, r#""limit""#)).expect("limit");
        assert_eq!(limit.stopped, Some(StopReason::Limit));
        assert!(
            serde_json::from_str::<Report>(&sample.replace(r#""deadline""#, r#""bored""#)).is_err()
        );
    }

    #[test]
    fn reports_without_the_new_counts_decode_and_the_identity_is_checked() {
        // A report written before `delivered_not_deleted`, `in_flight` and `not_reached`.
        let old = r#"{"v":1,"action":"replay","run_id":"r","dry_run":false,"matched":3,"delivered":2,
            "failed":1,"skipped":4,"redriven":0,"archived":0,"remaining":5,"keys":[]}"#;
        let r: Report = serde_json::from_str(old).expect("an old report decodes");
        assert_eq!(
            (
                r.delivered_not_deleted,
                r.in_flight,
                r.not_reached,
                r.superseded
            ),
            (0, 0, 0, 0)
        );
        assert!(r.identity_holds(), "skipped and remaining are outside it");
        let honest = Report {
            action: Action::Replay,
            matched: 10,
            delivered: 5,
            delivered_not_deleted: 1,
            failed: 1,
            unsendable: 1,
            in_flight: 1,
            not_reached: 1,
            ..Report::default()
        };
        assert_eq!(honest.accounted(), 10);
        assert!(honest.identity_holds());
        let json = serde_json::to_value(&honest).expect("ser");
        assert_eq!(
            (
                &json["delivered_not_deleted"],
                &json["in_flight"],
                &json["not_reached"]
            ),
            (
                &serde_json::json!(1),
                &serde_json::json!(1),
                &serde_json::json!(1)
            )
        );
        let back: Report = serde_json::from_value(json).expect("de");
        assert_eq!(back, honest);
        let short = Report {
            not_reached: 0,
            ..honest.clone()
        };
        assert!(!short.identity_holds(), "a letter counted nowhere");
        for exempt in [
            Report {
                dry_run: true,
                ..short.clone()
            },
            Report {
                action: Action::Stats,
                ..short.clone()
            },
            Report {
                action: Action::Peek,
                ..short
            },
        ] {
            assert!(exempt.identity_holds(), "{:?} is exempt", exempt.action);
        }
    }

    #[test]
    fn command_text_names_what_needs_the_bucket() {
        let latest = Request {
            mode: Mode::Latest,
            ..Request::new(Action::Replay)
        };
        assert_eq!(
            RequestError::NeedsBucket(latest.command_text()).to_string(),
            "replay --mode latest needs ARCHIVE_BUCKET to be configured"
        );
        let dry = Request {
            dry_run: true,
            ..Request::new(Action::Archive)
        };
        assert_eq!(dry.command_text(), "archive --dry-run");
    }

    #[test]
    fn resume_at_and_corrupt_round_trip() {
        let next = r#"{"v":1,"action":"replay-archive","archive_key":"dead-letters/",
            "start_after":"dead-letters/a.jsonl.gz","resume_at":{"key":"dead-letters/b.jsonl.gz","line":412}}"#;
        let r: Request = serde_json::from_str(next).expect("decodes");
        assert_eq!(
            r.resume_at.as_deref(),
            Some(&ResumeAt {
                key: "dead-letters/b.jsonl.gz".into(),
                line: 412
            })
        );
        assert!(
            serde_json::from_str::<Request>(&next.replace(r#""line""#, r#""lines""#)).is_err(),
            "a typo in resume_at is refused"
        );
        let report = Report {
            action: Action::ReplayArchive,
            corrupt: vec![CorruptObject {
                key: "dead-letters/d.jsonl.gz".into(),
                lines_read: 998,
                error: "unreadable after line 998: corrupt deflate stream".into(),
            }],
            ..Report::default()
        };
        let json = serde_json::to_value(&report).expect("ser");
        assert_eq!(json["corrupt"][0]["lines_read"], 998);
        assert_eq!(serde_json::from_value::<Report>(json).expect("de"), report);
        let clean = serde_json::to_value(Report::default()).expect("ser");
        assert!(clean.get("corrupt").is_none(), "absent when empty");
    }
}
