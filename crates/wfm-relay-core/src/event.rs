//! The EventBridge event as wfm-relay reads it: from raw bytes, leniently, field by field.
//!
//! Why raw: a typed `EventBridgeEvent<T>` fails inside the Lambda runtime before our handler runs
//! when the envelope is missing (cases C01, C02) or when a string holds an escaped lone surrogate
//! that serde_json refuses to decode (case C14, serde-rs/json#827). Here every member is kept as
//! [`RawValue`] and only the few members we need are decoded, so one odd field elsewhere never
//! costs the event.
//!
//! Envelope facts: EventBridge events carry `version`, `id`, `detail-type`, `source`, `account`,
//! `time`, `region`, `resources`, `detail` (AWS EventBridge user guide, "Amazon EventBridge
//! events"). Genesys Cloud puts `topicName`, `version`, `eventBody`, `metadata`, `timestamp` in
//! `detail` (Genesys blueprint `aws-eventbridge-user-presence-update-blueprint`,
//! `events/UserPresenceChange.json`).

use crate::key::IdempotencyKey;
use crate::timefmt::{from_epoch_ms, parse_rfc3339};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

type RawMap = HashMap<String, Box<RawValue>>;

/// What the forwarder was invoked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// A top-level `Records` array whose items all have `eventSource: "aws:sqs"` (an SQS batch
    /// from the event source mapping, AWS Lambda developer guide "Using Lambda with Amazon SQS").
    SqsBatch,
    /// Anything else: read as an EventBridge event (and parked as `invalid_event` if it is not one).
    EventBridge,
}

/// Tells an SQS batch from anything else. Never fails: unreadable input is `EventBridge`, whose
/// validation then names the problem.
pub fn payload_kind(raw: &[u8]) -> PayloadKind {
    let Ok(top) = serde_json::from_slice::<RawMap>(raw) else {
        return PayloadKind::EventBridge;
    };
    let Some(records) = top.get("Records") else {
        return PayloadKind::EventBridge;
    };
    let Ok(records) = serde_json::from_str::<Vec<Box<RawValue>>>(records.get()) else {
        return PayloadKind::EventBridge;
    };
    let all_sqs = !records.is_empty()
        && records
            .iter()
            .all(|r| member_str(r, "eventSource").as_deref() == Some("aws:sqs"));
    if all_sqs {
        PayloadKind::SqsBatch
    } else {
        PayloadKind::EventBridge
    }
}

/// Which bytes are POSTed to WFM (`WFM_BODY`, PRODUCT.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyMode {
    /// The original event bytes exactly as received (default).
    #[default]
    Event,
    /// The raw bytes of the `detail` member.
    Detail,
    /// The raw bytes of `detail.eventBody`; events without one send `detail`.
    EventBody,
}

/// A valid EventBridge event, with what wfm-relay derives from it.
#[derive(Debug, Clone)]
pub struct EventInfo {
    /// EventBridge `id` (changes when an event is re-published, e.g. by an archive replay).
    pub id: String,
    /// EventBridge `detail-type`; for Genesys, the topic pattern such as `v2.users.{id}.presence`.
    pub detail_type: String,
    /// EventBridge `source`; for Genesys, `aws.partner/genesys.com/cloud/<orgId>/<suffix>`.
    pub source: String,
    /// EventBridge `time` (RFC 3339, second precision), as given.
    pub time: String,
    /// `detail.topicName` when it is a string: the concrete topic with real ids.
    pub topic_name: Option<String>,
    /// The agent's user id: from `topicName` for `v2.users.{id}.*`, else `eventBody.userId`.
    pub user_id: Option<String>,
    /// The state time used for ordering (PRODUCT.md §2), if any member yields one.
    pub state_time: Option<SystemTime>,
    /// `detail.timestamp`: when Genesys published the event (RFC 3339 or epoch ms), if present.
    pub published_time: Option<SystemTime>,
    /// The content-derived idempotency key (see [`crate::key`]).
    pub key: IdempotencyKey,
    detail: Box<RawValue>,
    event_body: Option<Box<RawValue>>,
}

impl EventInfo {
    /// `topicName` when present, else `detail-type`: the topic that names this event in keys,
    /// logs and filters.
    pub fn topic(&self) -> &str {
        self.topic_name.as_deref().unwrap_or(&self.detail_type)
    }

    /// The bytes to POST for `mode`, taken from `raw` (the bytes this event was parsed from).
    pub fn body<'a>(&'a self, raw: &'a [u8], mode: BodyMode) -> &'a [u8] {
        match mode {
            BodyMode::Event => raw,
            BodyMode::Detail => self.detail.get().as_bytes(),
            BodyMode::EventBody => self
                .event_body
                .as_deref()
                .unwrap_or(&self.detail)
                .get()
                .as_bytes(),
        }
    }
}

/// Why a payload is not a valid EventBridge event. `problems` names every missing or mistyped
/// field, one entry each (case C01 requires all of them, not only the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEvent {
    /// One human-readable sentence per problem, e.g. "missing field `detail-type`".
    pub problems: Vec<String>,
}

impl fmt::Display for InvalidEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems.join("; "))
    }
}

impl std::error::Error for InvalidEvent {}

fn json_kind(raw: &RawValue) -> &'static str {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Decodes `raw` as a JSON string; `None` when it is another kind (or undecodable).
fn as_string(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

/// Reads member `name` of a JSON object as raw JSON.
fn member(raw: &RawValue, name: &str) -> Option<Box<RawValue>> {
    let mut map = serde_json::from_str::<RawMap>(raw.get()).ok()?;
    map.remove(name)
}

fn member_str(raw: &RawValue, name: &str) -> Option<String> {
    as_string(&member(raw, name)?)
}

/// Reads a nested member by path, e.g. `["routingStatus", "startTime"]`.
fn path(raw: &RawValue, names: &[&str]) -> Option<Box<RawValue>> {
    let (first, rest) = names.split_first()?;
    let m = member(raw, first)?;
    if rest.is_empty() {
        Some(m)
    } else {
        path(&m, rest)
    }
}

/// A timestamp member: an RFC 3339 string, or epoch milliseconds as a number.
fn time_at(raw: &RawValue, names: &[&str]) -> Option<SystemTime> {
    let v = path(raw, names)?;
    if let Some(s) = as_string(&v) {
        return parse_rfc3339(&s);
    }
    let ms = serde_json::from_str::<i64>(v.get()).ok()?;
    from_epoch_ms(ms)
}

/// User id from a concrete `v2.users.<id>.<rest>` topic.
pub fn user_id_from_topic(topic: &str) -> Option<&str> {
    let rest = topic.strip_prefix("v2.users.")?;
    let (id, tail) = rest.split_once('.')?;
    if id.is_empty() || id == "{id}" || tail.is_empty() {
        None
    } else {
        Some(id)
    }
}

/// Parses and validates an EventBridge event from its raw bytes.
///
/// Valid means: a JSON object with string `id`, `detail-type`, `source`, `time` and an object
/// `detail` (PRODUCT.md §2). Everything else in the event is kept untouched and never checked.
///
/// # Errors
/// [`InvalidEvent`] listing every missing or mistyped field, or the JSON error when the bytes
/// are not a JSON object at all.
pub fn parse_event(raw: &[u8]) -> Result<EventInfo, InvalidEvent> {
    let top: RawMap = match serde_json::from_slice::<Box<RawValue>>(raw) {
        Err(e) => return Err(invalid(format!("not valid JSON: {e}"))),
        Ok(v) if json_kind(&v) != "an object" => {
            return Err(invalid(format!(
                "payload must be a JSON object (an EventBridge event), got {}",
                json_kind(&v)
            )));
        }
        Ok(v) => serde_json::from_str(v.get())
            .map_err(|e| invalid(format!("unreadable JSON object: {e}")))?,
    };
    let mut problems = Vec::new();
    let mut field = |name: &str| -> Option<String> {
        match top.get(name) {
            None => {
                problems.push(format!("missing field `{name}`"));
                None
            }
            Some(v) => match as_string(v) {
                Some(s) => Some(s),
                None => {
                    problems.push(format!(
                        "field `{name}` must be a string, got {}",
                        if json_kind(v) == "a string" {
                            "an undecodable string"
                        } else {
                            json_kind(v)
                        }
                    ));
                    None
                }
            },
        }
    };
    let id = field("id");
    let detail_type = field("detail-type");
    let source = field("source");
    let time = field("time");
    let detail = match top.get("detail") {
        None => {
            problems.push("missing field `detail`".to_owned());
            None
        }
        Some(d) if json_kind(d) != "an object" => {
            problems.push(format!(
                "field `detail` must be a JSON object, got {}",
                json_kind(d)
            ));
            None
        }
        Some(d) => Some(d.clone()),
    };
    let (Some(id), Some(detail_type), Some(source), Some(time), Some(detail)) =
        (id, detail_type, source, time, detail)
    else {
        return Err(InvalidEvent { problems });
    };

    let topic_name = member_str(&detail, "topicName");
    let event_body = member(&detail, "eventBody");
    let topic = topic_name.as_deref().unwrap_or(&detail_type).to_owned();
    let key = IdempotencyKey::compute(&topic, event_body.as_deref().unwrap_or(&detail));
    let user_id = user_id_from_topic(&topic)
        .map(str::to_owned)
        .or_else(|| event_body.as_deref().and_then(|b| member_str(b, "userId")));
    let published_time = time_at(&detail, &["timestamp"]);
    let state_time = event_body
        .as_deref()
        .and_then(|b| body_state_time(&topic, b))
        .or(published_time)
        .or_else(|| parse_rfc3339(&time));
    Ok(EventInfo {
        id,
        detail_type,
        source,
        time,
        topic_name,
        user_id,
        state_time,
        published_time,
        key,
        detail,
        event_body,
    })
}

/// The body's own state time for the topics that have one (PRODUCT.md §2).
fn body_state_time(topic: &str, body: &RawValue) -> Option<SystemTime> {
    if topic.ends_with(".presence") {
        time_at(body, &["modifiedDate"])
    } else if topic.ends_with(".routingStatus") {
        time_at(body, &["routingStatus", "startTime"])
    } else if topic.ends_with(".activity") {
        let a = time_at(body, &["routingStatus", "startTime"]);
        let b = time_at(body, &["presence", "modifiedDate"]);
        a.max(b)
    } else if topic.starts_with("v2.detail.events.") {
        time_at(body, &["eventTime"])
    } else {
        None
    }
}

fn invalid(problem: String) -> InvalidEvent {
    InvalidEvent {
        problems: vec![problem],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::format_rfc3339;

    const PRESENCE: &str = include_str!("../../../tests/fixtures/genesys/presence-break.json");
    const REPLAY: &str =
        include_str!("../../../tests/fixtures/genesys/presence-break-eventbridge-replay.json");
    const ACTIVITY: &str = include_str!("../../../tests/fixtures/genesys/activity.json");
    const DETAIL: &str = include_str!("../../../tests/fixtures/genesys/user-end-detail-event.json");
    const ROUTING: &str = include_str!("../../../tests/fixtures/genesys/routing-status-idle.json");

    fn parse(s: &str) -> EventInfo {
        parse_event(s.as_bytes()).expect("fixture is valid")
    }

    #[test]
    fn presence_fields() {
        let e = parse(PRESENCE);
        assert_eq!(e.detail_type, "v2.users.{id}.presence");
        assert_eq!(
            e.user_id.as_deref(),
            Some("aaaaaaaa-0000-4000-8000-0000000000a1")
        );
        assert_eq!(
            format_rfc3339(e.state_time.expect("state time")),
            "2025-03-04T09:15:01.874Z"
        );
        assert_eq!(
            e.published_time.map(format_rfc3339).as_deref(),
            Some("2025-03-04T09:15:01.912Z")
        );
    }

    #[test]
    fn eventbridge_replay_keeps_the_key() {
        let a = parse(PRESENCE);
        let b = parse(REPLAY);
        assert_ne!(a.id, b.id);
        assert_eq!(a.key, b.key);
    }

    #[test]
    fn state_time_per_topic() {
        let cases = [
            (ROUTING, "2025-03-04T09:20:39.551Z"),
            (ACTIVITY, "2025-03-04T09:45:11.300Z"),
            (DETAIL, "2025-03-04T09:52:29.000Z"),
        ];
        for (src, want) in cases {
            let e = parse(src);
            assert_eq!(format_rfc3339(e.state_time.expect("state time")), want);
        }
        assert_eq!(
            parse(DETAIL).user_id.as_deref(),
            Some("aaaaaaaa-0000-4000-8000-0000000000a2")
        );
    }

    #[test]
    fn body_modes_slice_the_raw_bytes() {
        let e = parse(PRESENCE);
        assert_eq!(
            e.body(PRESENCE.as_bytes(), BodyMode::Event),
            PRESENCE.as_bytes()
        );
        let detail =
            std::str::from_utf8(e.body(PRESENCE.as_bytes(), BodyMode::Detail)).expect("utf8");
        assert!(detail.starts_with('{') && detail.contains("\"topicName\""));
        let body =
            std::str::from_utf8(e.body(PRESENCE.as_bytes(), BodyMode::EventBody)).expect("utf8");
        assert!(body.starts_with('{') && body.contains("\"modifiedDate\""));
        assert!(!body.contains("topicName"));
    }

    #[test]
    fn invalid_events_name_every_problem() {
        let table: &[(&str, &[&str])] = &[
            (
                r#"{"topicName":"x","eventBody":{}}"#,
                &[
                    "missing field `id`",
                    "missing field `detail-type`",
                    "missing field `source`",
                    "missing field `time`",
                    "missing field `detail`",
                ],
            ),
            (
                r#"{"id":"1","detail-type":"t","source":"s","time":"x","detail":"{}"}"#,
                &["field `detail` must be a JSON object, got a string"],
            ),
            (
                r#"{"id":1,"detail-type":"t","source":"s","time":"x","detail":{}}"#,
                &["field `id` must be a string, got a number"],
            ),
            (
                r#"[1,2]"#,
                &["payload must be a JSON object (an EventBridge event), got an array"],
            ),
        ];
        for (input, want) in table {
            let err = parse_event(input.as_bytes()).expect_err("invalid");
            assert_eq!(err.problems, *want, "input {input}");
        }
        let err = parse_event(b"{\"id\":").expect_err("truncated");
        assert!(err.to_string().starts_with("not valid JSON"), "{err}");
    }

    #[test]
    fn lone_surrogate_in_body_is_still_a_valid_event() {
        let src = PRESENCE.replace("\"message\": \"\"", "\"message\": \"On a break \\ud83d\"");
        assert!(src.contains("\\ud83d"));
        let e = parse_event(src.as_bytes()).expect("valid");
        assert_eq!(
            e.user_id.as_deref(),
            Some("aaaaaaaa-0000-4000-8000-0000000000a1")
        );
        assert_ne!(e.key, parse(PRESENCE).key);
    }

    #[test]
    fn payload_kinds() {
        assert_eq!(payload_kind(PRESENCE.as_bytes()), PayloadKind::EventBridge);
        assert_eq!(
            payload_kind(br#"{"Records":[{"eventSource":"aws:sqs","body":"x"}]}"#),
            PayloadKind::SqsBatch
        );
        assert_eq!(
            payload_kind(br#"{"Records":[{"eventSource":"aws:s3"}]}"#),
            PayloadKind::EventBridge
        );
        assert_eq!(payload_kind(b"not json"), PayloadKind::EventBridge);
    }

    #[test]
    fn user_id_from_topics() {
        assert_eq!(user_id_from_topic("v2.users.abc.presence"), Some("abc"));
        assert_eq!(user_id_from_topic("v2.users.{id}.presence"), None);
        assert_eq!(user_id_from_topic("v2.users.abc"), None);
        assert_eq!(user_id_from_topic("v2.detail.events.x"), None);
    }
}
