//! The `snapshot` action's request and report (PRODUCT.md §6): a JSON payload of its own shape,
//! `{"action":"snapshot", …}`, dispatched beside the dead-letter actions.

use serde::{Deserialize, Serialize};
use wfm_relay_aws::genesys::{Cursor, Selection};

/// A topic a snapshot sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotTopic {
    /// `v2.users.<id>.presence`.
    Presence,
    /// `v2.users.<id>.routingStatus`.
    RoutingStatus,
}

/// Where a snapshot continues: the Genesys page and the agents of it already handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotCursor {
    /// The page to read again.
    #[serde(flatten)]
    pub cursor: Cursor,
    /// Agents of that page already handed to the delivery path (skipped on continuation).
    #[serde(default)]
    pub skip: usize,
}

/// A `snapshot` request: `{"action":"snapshot","groups":["…"],"dry_run":true}`. At most one of
/// `user_ids`, `groups`, `queues`, `divisions` (none = every active user).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRequest {
    /// Format version, 1.
    #[serde(default = "one")]
    pub v: u32,
    /// Always `snapshot`.
    pub action: String,
    /// Only these user ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<String>,
    /// Only members of these groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Only members of these queues.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<String>,
    /// Only active users of these divisions (`division.id`; read from the users pages of an
    /// all-users snapshot, no extra Genesys call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub divisions: Vec<String>,
    /// Only these topics (default both).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<SnapshotTopic>,
    /// Read Genesys and build the events; send nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Continue from here (set in a report's `next`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<SnapshotCursor>,
    /// The run id to continue (set in a report's `next`, so every part shares one id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

fn one() -> u32 {
    1
}

impl SnapshotRequest {
    /// A snapshot of every active user, both topics.
    pub fn all() -> Self {
        SnapshotRequest {
            v: 1,
            action: "snapshot".to_owned(),
            ..SnapshotRequest::default()
        }
    }

    /// The agents to read.
    ///
    /// # Errors
    /// A sentence when more than one of `user_ids`, `groups`, `queues`, `divisions` is given,
    /// or the
    /// version or action is wrong.
    pub fn selection(&self) -> Result<Selection, String> {
        if self.v != 1 {
            return Err(format!("version {} is not 1", self.v));
        }
        if self.action != "snapshot" {
            return Err(format!("action `{}` is not snapshot", self.action));
        }
        let kinds = [
            !self.user_ids.is_empty(),
            !self.groups.is_empty(),
            !self.queues.is_empty(),
            !self.divisions.is_empty(),
        ];
        match kinds {
            [false, false, false, false] => Ok(Selection::All),
            [true, false, false, false] => Ok(Selection::Users(self.user_ids.clone())),
            [false, true, false, false] => Ok(Selection::Groups(self.groups.clone())),
            [false, false, true, false] => Ok(Selection::Queues(self.queues.clone())),
            [false, false, false, true] => Ok(Selection::Divisions(self.divisions.clone())),
            _ => Err("give at most one of user_ids, groups, queues, divisions".to_owned()),
        }
    }

    /// Whether `topic` is sent.
    pub fn sends(&self, topic: SnapshotTopic) -> bool {
        self.topics.is_empty() || self.topics.contains(&topic)
    }
}

/// What a snapshot did. `events = delivered + queued + parked + not_sent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotReport {
    /// Format version, 1.
    pub v: u32,
    /// `snapshot`.
    pub action: String,
    /// The run id (in each event's `detail.metadata.CorrelationId`).
    pub run_id: String,
    /// True for a dry run (every event counts `not_sent`).
    pub dry_run: bool,
    /// Agents read (this part of the run).
    pub agents: usize,
    /// Snapshot events built.
    pub events: usize,
    /// Delivered to WFM (2xx).
    pub delivered: usize,
    /// In the retry queue (the normal schedule delivers them).
    pub queued: usize,
    /// In the dead-letter queue, with a reason.
    pub parked: usize,
    /// Built but not handed to the delivery path (dry run, deadline, or neither queue took it).
    pub not_sent: usize,
    /// Users whose Genesys answer could not be read (logged with the field; no event).
    pub unreadable: usize,
    /// Genesys API calls made.
    pub genesys_calls: u64,
    /// Genesys answers 429.
    pub genesys_429: u64,
    /// Wall time of this part, ms.
    pub duration_ms: u64,
    /// Why the run stopped before the end: `deadline`, or the Genesys error (a missing
    /// permission names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The request that continues this run, when work is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<SnapshotRequest>,
}

impl SnapshotReport {
    /// True when `events = delivered + queued + parked + not_sent`.
    pub fn identity_holds(&self) -> bool {
        self.events == self.delivered + self.queued + self.parked + self.not_sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_select() {
        let r: SnapshotRequest = serde_json::from_str(
            r#"{"action":"snapshot","groups":["g1"],"topics":["presence"],"dry_run":true}"#,
        )
        .expect("parses");
        assert_eq!(r.selection(), Ok(Selection::Groups(vec!["g1".to_owned()])));
        assert!(r.sends(SnapshotTopic::Presence));
        assert!(!r.sends(SnapshotTopic::RoutingStatus));
        assert!(r.dry_run);
        assert_eq!(SnapshotRequest::all().selection(), Ok(Selection::All));
        let both = SnapshotRequest {
            groups: vec!["g".into()],
            queues: vec!["q".into()],
            ..SnapshotRequest::all()
        };
        assert!(both.selection().is_err());
        assert!(serde_json::from_str::<SnapshotRequest>(r#"{"action":"snapshot","x":1}"#).is_err());
        let next = SnapshotRequest {
            resume: Some(SnapshotCursor {
                cursor: Cursor { part: 1, page: 3 },
                skip: 7,
            }),
            run_id: Some("r".into()),
            ..SnapshotRequest::all()
        };
        let text = serde_json::to_string(&next).expect("json");
        assert_eq!(
            text,
            r#"{"v":1,"action":"snapshot","resume":{"part":1,"page":3,"skip":7},"run_id":"r"}"#
        );
        assert_eq!(
            serde_json::from_str::<SnapshotRequest>(&text).expect("parses"),
            next
        );
    }

    /// Divisions are one more kind of selection: alone they select, with another kind they are
    /// refused, and a continuation keeps them (so `next` resumes the same filtered pages).
    #[test]
    fn divisions_select_alone_and_survive_a_continuation() {
        let r: SnapshotRequest =
            serde_json::from_str(r#"{"action":"snapshot","divisions":["d1","d2"]}"#)
                .expect("parses");
        assert_eq!(
            r.selection(),
            Ok(Selection::Divisions(vec!["d1".to_owned(), "d2".to_owned()]))
        );
        for other in [
            SnapshotRequest {
                user_ids: vec!["u".into()],
                ..r.clone()
            },
            SnapshotRequest {
                groups: vec!["g".into()],
                ..r.clone()
            },
            SnapshotRequest {
                queues: vec!["q".into()],
                ..r.clone()
            },
        ] {
            assert_eq!(
                other.selection(),
                Err("give at most one of user_ids, groups, queues, divisions".to_owned())
            );
        }
        let next = SnapshotRequest {
            resume: Some(SnapshotCursor {
                cursor: Cursor { part: 0, page: 4 },
                skip: 2,
            }),
            run_id: Some("r".into()),
            ..r.clone()
        };
        let text = serde_json::to_string(&next).expect("json");
        assert_eq!(
            text,
            r#"{"v":1,"action":"snapshot","divisions":["d1","d2"],"resume":{"part":0,"page":4,"skip":2},"run_id":"r"}"#
        );
        let back: SnapshotRequest = serde_json::from_str(&text).expect("parses");
        assert_eq!(back.selection(), r.selection());
        assert_eq!(back, next);
    }
}
