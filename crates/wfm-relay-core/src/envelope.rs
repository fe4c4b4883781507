//! The versioned JSON message carried by the retry queue and the dead-letter queue
//! (PRODUCT.md §5), and the decoding of every queue body the forwarder may receive.
//!
//! One shape, [`EnvelopeV1`], serves both queues so that a message moved by SQS's redrive
//! policy from the retry queue to the DLQ is still readable (it then has no `reason`, which
//! reads as [`Reason::Redriven`]). Fields are plain JSON so a person can read them in the SQS
//! console; times are RFC 3339 UTC strings.

use crate::attempt::Verdict;
use crate::event::{EventInfo, parse_event};
use crate::excerpt::clip;
use crate::guard::Refusal;
use crate::timefmt::format_rfc3339;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::SystemTime;

/// Why an event sits in the dead-letter queue. Serialised as the snake_case token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not an EventBridge event, or a queue body that cannot be read.
    InvalidEvent,
    /// WFM answered a permanent failure (3xx, 4xx other than the transient ones, 501, 505).
    Rejected,
    /// WFM answered `410 Gone`.
    Gone,
    /// Still failing when the retry schedule ran out.
    TransientExhausted,
    /// Moved by SQS's redrive policy (`maxReceiveCount`) rather than parked by wfm-relay.
    Redriven,
    /// Too large for the queue and no claim-check bucket could take it.
    Oversize,
    /// Older than the live-delivery age limit.
    Expired,
    /// From a partner source that is not allowed.
    UnknownSource,
    /// Replaced by a newer state of the same user and topic during a `latest` replay.
    Superseded,
    /// The WFM output profile found no agent key for the event (its user id is not in a good
    /// table, or it has none) and parks unmapped agents (issue 13). Replayable once the mapping
    /// is fixed.
    UnmappedAgent,
    /// The WFM output profile could not produce the request (a jq error, a result that is not
    /// what the profile declares, …; issue 13). `last_error` says what failed.
    TransformFailed,
}

impl Reason {
    /// Every reason, in declaration order (the CLI's `--reason` values come from it).
    pub const ALL: [Reason; 11] = [
        Reason::InvalidEvent,
        Reason::Rejected,
        Reason::Gone,
        Reason::TransientExhausted,
        Reason::Redriven,
        Reason::Oversize,
        Reason::Expired,
        Reason::UnknownSource,
        Reason::Superseded,
        Reason::UnmappedAgent,
        Reason::TransformFailed,
    ];

    /// The token as written in the envelope and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidEvent => "invalid_event",
            Reason::Rejected => "rejected",
            Reason::Gone => "gone",
            Reason::TransientExhausted => "transient_exhausted",
            Reason::Redriven => "redriven",
            Reason::Oversize => "oversize",
            Reason::Expired => "expired",
            Reason::UnknownSource => "unknown_source",
            Reason::Superseded => "superseded",
            Reason::UnmappedAgent => "unmapped_agent",
            Reason::TransformFailed => "transform_failed",
        }
    }
}

/// Where a claim-checked event is stored in S3 (its bytes exactly as received).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Pointer {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
}

/// Retry-queue and dead-letter message, version 1.
///
/// Exactly one of `event` (the original event bytes as a JSON string) and `event_s3` (claim
/// check) is set. `attempts` counts POSTs made before this message was sent; the consumer adds
/// SQS's `ApproximateReceiveCount` (PRODUCT.md §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeV1 {
    /// Format version, always 1.
    pub v: u32,
    /// The original event bytes (UTF-8 text) exactly as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Claim check: where the original bytes are stored when they did not fit the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_s3: Option<S3Pointer>,
    /// EventBridge `id` of the event, when it had one.
    #[serde(default)]
    pub event_id: Option<String>,
    /// Idempotency key (64 lowercase hex chars); absent for invalid events.
    #[serde(default)]
    pub key: Option<String>,
    /// Agent user id, when known.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `topicName`, or `detail-type` when absent.
    #[serde(default)]
    pub topic: Option<String>,
    /// Retry-schedule steps used before this message was written: 0 for a first enqueue or a
    /// redrive; a copy written by the consumer for a long wait carries the steps it used
    /// (PRODUCT.md §4). The schedule position is `steps` + `ApproximateReceiveCount`. Absent in
    /// letters written before it existed (read as 0).
    #[serde(default)]
    pub steps: u32,
    /// State time (RFC 3339).
    #[serde(default)]
    pub event_time: Option<String>,
    /// POST attempts made before this message was written.
    #[serde(default)]
    pub attempts: u32,
    /// Time of the first attempt (RFC 3339).
    #[serde(default)]
    pub first_attempt_at: Option<String>,
    /// Time of the last attempt (RFC 3339).
    #[serde(default)]
    pub last_attempt_at: Option<String>,
    /// Do not POST before this time (RFC 3339): a `Retry-After` longer than SQS's 900 s delay.
    #[serde(default)]
    pub not_before: Option<String>,
    /// Last HTTP status WFM answered, if it answered.
    #[serde(default)]
    pub last_status: Option<u16>,
    /// Human-readable detail of the last failure (field names, transport error…).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Why it is parked; `None` in the retry queue (and for messages SQS redrove).
    #[serde(default)]
    pub reason: Option<Reason>,
    /// Up to 1 KiB of WFM's last response body.
    #[serde(default)]
    pub excerpt: Option<String>,
}

impl EnvelopeV1 {
    /// A fresh envelope for `raw` bytes, filled from `info` when the event is valid.
    pub fn new(raw: &[u8], info: Option<&EventInfo>) -> Self {
        EnvelopeV1 {
            v: 1,
            event: Some(String::from_utf8_lossy(raw).into_owned()),
            event_s3: None,
            event_id: info.map(|i| i.id.clone()),
            key: info.map(|i| i.key.to_string()),
            user_id: info.and_then(|i| i.user_id.clone()),
            topic: info.map(|i| i.topic().to_owned()),
            steps: 0,
            event_time: info.and_then(|i| i.state_time.map(format_rfc3339)),
            attempts: 0,
            first_attempt_at: None,
            last_attempt_at: None,
            not_before: None,
            last_status: None,
            last_error: None,
            reason: None,
            excerpt: None,
        }
    }

    /// The reason as an operator reads it: a message without one was moved by SQS's redrive.
    pub fn effective_reason(&self) -> Reason {
        self.reason.unwrap_or(Reason::Redriven)
    }

    /// Records one more attempt made at `at`.
    pub fn record_attempt(&mut self, at: SystemTime) {
        let at = format_rfc3339(at);
        if self.first_attempt_at.is_none() {
            self.first_attempt_at = Some(at.clone());
        }
        self.last_attempt_at = Some(at);
    }

    /// A dead letter for bytes that are not a valid event (or a queue message that cannot be
    /// read): the bytes as its `event`, reason `invalid_event`, `why` as `last_error`.
    pub fn invalid(raw: &[u8], why: impl Into<String>) -> Self {
        let mut env = EnvelopeV1::new(raw, None);
        env.mark_invalid(why);
        env
    }

    /// Marks this letter `invalid_event` with `why` as `last_error`, keeping everything else
    /// (e.g. a claim-check pointer whose object is gone, or an envelope whose event is invalid).
    pub fn mark_invalid(&mut self, why: impl Into<String>) {
        self.reason = Some(Reason::InvalidEvent);
        self.last_error = Some(why.into());
    }

    /// Writes a profile refusal (`unmapped_agent` / `transform_failed`, from
    /// [`crate::attempt::Unshapeable`]) into the letter before parking or keeping it: the reason
    /// and `last_error`; the attempt history stays as it was (no POST was made).
    pub fn record_unshapeable(&mut self, refusal: &crate::attempt::Unshapeable) {
        self.reason = Some(refusal.reason);
        self.last_error = Some(refusal.message.clone());
    }

    /// Writes a guard refusal (`unknown_source` / `expired`) into the letter before parking.
    pub fn record_refusal(&mut self, refusal: &Refusal) {
        self.reason = Some(refusal.reason);
        self.last_error = Some(refusal.message.clone());
    }

    /// Writes an attempt's verdict into the letter's history: a transient one sets
    /// `last_status`, `last_error` and `excerpt` (no reason: it may still be retried); a
    /// permanent one sets those and the reason (`rejected` / `gone`). A delivered one changes
    /// nothing.
    pub fn record_verdict(&mut self, v: &Verdict) {
        match v {
            Verdict::Delivered { .. } => {}
            Verdict::Transient {
                status,
                error,
                excerpt,
                ..
            } => {
                self.last_status = *status;
                self.last_error = Some(error.clone());
                self.excerpt = excerpt.as_deref().map(|e| clip(e).to_owned());
            }
            Verdict::Park {
                reason,
                status,
                error,
                excerpt,
            } => {
                self.reason = Some(*reason);
                self.last_status = Some(*status);
                self.last_error = Some(error.clone());
                self.excerpt = Some(clip(excerpt).to_owned());
            }
        }
    }

    /// Writes a transient verdict after which no retry is left: its history, and the reason
    /// `transient_exhausted`.
    pub fn record_exhausted(&mut self, v: &Verdict) {
        self.record_verdict(v);
        self.reason = Some(Reason::TransientExhausted);
    }

    /// Writes the verdict of a replay POST made at `now` into a dead letter that stays in the
    /// DLQ (issue 8, decided behaviour): the history as [`EnvelopeV1::record_verdict`]; a
    /// transient verdict sets the reason `transient_exhausted` (a replayed letter never loses
    /// its reason) and stores a `Retry-After` as `not_before` (the replayer never sleeps on it).
    pub fn record_replay(&mut self, v: &Verdict, now: SystemTime) {
        match v {
            Verdict::Transient { retry_after, .. } => {
                self.record_exhausted(v);
                self.not_before = retry_after.map(|w| format_rfc3339(now + w));
            }
            _ => self.record_verdict(v),
        }
    }

    /// Serialises to the JSON text put in the queue: characters outside SQS's character set
    /// are written as `\uXXXX` escapes (see [`escape_outside_sqs_set`]), so real SQS accepts
    /// the body and decoding it gives back the same strings.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        let json = serde_json::to_string(self).unwrap_or_default();
        escape_outside_sqs_set(&json).into_owned()
    }
}

/// Whether SQS accepts `c` in a message body or a String/Number attribute value:
/// `#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF` (Amazon SQS API
/// Reference, SendMessage; FACTS.md §7.1). Anything else is refused with
/// `InvalidMessageContents`.
pub fn is_sqs_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Rewrites JSON text so that every character SQS refuses (see [`is_sqs_char`]) is a `\uXXXX`
/// escape; every other character is kept as it is.
///
/// `json` must be JSON text (e.g. from `serde_json`): a refused character can then only sit
/// inside a string (structure, numbers and literals are ASCII, and serde_json already escapes
/// control characters), where the escape decodes to the same character. Every refused
/// character is in the Basic Multilingual Plane (a `str` holds no surrogates), so one
/// four-digit escape is enough. Borrows when nothing needs escaping.
pub fn escape_outside_sqs_set(json: &str) -> std::borrow::Cow<'_, str> {
    if json.chars().all(is_sqs_char) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_sqs_char(c) {
            out.push(c);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// What a retry-queue message body turned out to be.
#[derive(Debug, Clone)]
pub enum QueueBody {
    /// Our envelope (from the forwarder, or redriven back by the replayer).
    Envelope(Box<EnvelopeV1>),
    /// A raw EventBridge event (an EventBridge rule pointed at the queue): attempt 0.
    RawEvent,
    /// Neither: to be parked as `invalid_event` with this explanation.
    Invalid(String),
}

/// Classifies a queue message body. An object with `"v": 1` and an `event` or `event_s3`
/// member is an envelope; any other object with the EventBridge `detail-type` member is read as
/// a raw event; everything else is invalid, with the reason.
pub fn classify_queue_body(body: &str) -> QueueBody {
    #[derive(Deserialize)]
    struct Probe {
        v: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Probe>(body) {
        Ok(Probe { v: Some(v) }) => {
            if v != serde_json::json!(1) {
                return QueueBody::Invalid(format!("unsupported envelope version {v}"));
            }
            match serde_json::from_str::<EnvelopeV1>(body) {
                Ok(env) if env.event.is_some() || env.event_s3.is_some() => {
                    QueueBody::Envelope(Box::new(env))
                }
                Ok(_) => QueueBody::Invalid("envelope has neither `event` nor `event_s3`".into()),
                Err(e) => QueueBody::Invalid(format!("unreadable envelope: {e}")),
            }
        }
        _ => match parse_event(body.as_bytes()) {
            Ok(_) => QueueBody::RawEvent,
            Err(e) => QueueBody::Invalid(format!(
                "queue body is not an envelope nor an EventBridge event: {e}"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRESENCE: &str = include_str!("../../../tests/fixtures/genesys/presence-break.json");

    #[test]
    fn round_trip_keeps_original_bytes() {
        let info = parse_event(PRESENCE.as_bytes()).expect("valid");
        let mut env = EnvelopeV1::new(PRESENCE.as_bytes(), Some(&info));
        env.attempts = 3;
        env.reason = Some(Reason::TransientExhausted);
        let json = env.to_json();
        let back: EnvelopeV1 = serde_json::from_str(&json).expect("decodes");
        assert_eq!(back, env);
        assert_eq!(back.event.as_deref(), Some(PRESENCE));
        assert!(json.contains(r#""reason":"transient_exhausted""#));
    }

    #[test]
    fn sample_v1_json_still_decodes() {
        // A dead letter as written by version 0.1; it must keep decoding after upgrades.
        let sample = r#"{"v":1,"event":"{\"id\":\"x\"}","event_id":"x","key":"ab","user_id":null,
            "topic":"v2.users.{id}.presence","event_time":"2026-03-02T09:00:00.000Z","attempts":12,
            "first_attempt_at":"2026-03-02T09:00:01.000Z","last_attempt_at":"2026-03-03T09:00:01.000Z",
            "not_before":null,"last_status":503,"last_error":"HTTP 503","reason":"transient_exhausted",
            "excerpt":"busy"}"#;
        let QueueBody::Envelope(env) = classify_queue_body(sample) else {
            panic!("not an envelope")
        };
        assert_eq!(env.attempts, 12);
        assert_eq!(env.last_status, Some(503));
        assert_eq!(env.effective_reason(), Reason::TransientExhausted);
        assert_eq!(env.steps, 0, "a letter without `steps` reads as 0");
        let with_steps = sample.replace(r#""attempts":12,"#, r#""attempts":12,"steps":4,"#);
        let QueueBody::Envelope(env) = classify_queue_body(&with_steps) else {
            panic!("not an envelope")
        };
        assert_eq!(env.steps, 4);
        let again: EnvelopeV1 = serde_json::from_str(&env.to_json()).expect("round trip");
        assert_eq!(again, *env);
        assert!(env.to_json().contains(r#""steps":4"#));
        let no_reason = sample.replace(r#""reason":"transient_exhausted","#, "");
        let QueueBody::Envelope(env) = classify_queue_body(&no_reason) else {
            panic!("not an envelope")
        };
        assert_eq!(env.effective_reason(), Reason::Redriven);
    }

    #[test]
    fn queue_body_kinds() {
        assert!(matches!(classify_queue_body(PRESENCE), QueueBody::RawEvent));
        assert!(matches!(
            classify_queue_body("{\"id\":"),
            QueueBody::Invalid(_)
        ));
        assert!(matches!(
            classify_queue_body(r#"{"v":2,"event":"x"}"#),
            QueueBody::Invalid(_)
        ));
        assert!(matches!(
            classify_queue_body(r#"{"v":1}"#),
            QueueBody::Invalid(_)
        ));
    }

    #[test]
    fn constructors_write_the_history() {
        let env = EnvelopeV1::invalid(b"nope", "not JSON");
        assert_eq!(env.event.as_deref(), Some("nope"));
        assert_eq!(env.reason, Some(Reason::InvalidEvent));
        assert_eq!(env.last_error.as_deref(), Some("not JSON"));
        assert_eq!(env.key, None);

        let info = parse_event(PRESENCE.as_bytes()).expect("valid");
        let fresh = EnvelopeV1::new(PRESENCE.as_bytes(), Some(&info));
        let mut env = fresh.clone();
        env.record_refusal(&Refusal {
            reason: Reason::Expired,
            message: "too old".into(),
        });
        assert_eq!(env.reason, Some(Reason::Expired));
        assert_eq!(env.last_error.as_deref(), Some("too old"));

        let busy = Verdict::Transient {
            status: Some(503),
            retry_after: Some(std::time::Duration::from_secs(60)),
            error: "HTTP 503".into(),
            excerpt: Some("busy".into()),
        };
        let mut env = fresh.clone();
        env.record_verdict(&busy);
        assert_eq!(
            (
                env.reason,
                env.last_status,
                env.last_error.as_deref(),
                env.excerpt.as_deref()
            ),
            (None, Some(503), Some("HTTP 503"), Some("busy"))
        );
        env.record_exhausted(&busy);
        assert_eq!(env.reason, Some(Reason::TransientExhausted));

        let gone = Verdict::Park {
            reason: Reason::Gone,
            status: 410,
            error: "HTTP 410".into(),
            excerpt: String::new(),
        };
        let mut env = fresh.clone();
        env.record_verdict(&gone);
        assert_eq!(
            (env.reason, env.last_status),
            (Some(Reason::Gone), Some(410))
        );
        assert_eq!(env.excerpt.as_deref(), Some(""));
        let mut delivered = fresh.clone();
        delivered.record_verdict(&Verdict::Delivered { status: 200 });
        assert_eq!(delivered, fresh);
    }

    #[test]
    fn a_replay_keeps_a_reason_and_stores_retry_after() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let mut env = EnvelopeV1::new(PRESENCE.as_bytes(), None);
        env.reason = None; // moved by SQS's redrive
        env.record_replay(
            &Verdict::Transient {
                status: Some(429),
                retry_after: Some(std::time::Duration::from_secs(90)),
                error: "HTTP 429".into(),
                excerpt: None,
            },
            now,
        );
        assert_eq!(env.reason, Some(Reason::TransientExhausted));
        assert_eq!(env.last_status, Some(429));
        assert_eq!(env.not_before.as_deref(), Some("2027-01-15T08:01:30.000Z"));
        env.record_replay(
            &Verdict::Transient {
                status: None,
                retry_after: None,
                error: "connection refused".into(),
                excerpt: None,
            },
            now,
        );
        assert_eq!(env.not_before, None);
        assert_eq!(env.last_status, None);
        env.record_replay(
            &Verdict::Park {
                reason: Reason::Rejected,
                status: 400,
                error: "HTTP 400: permanent failure".into(),
                excerpt: "bad".into(),
            },
            now,
        );
        assert_eq!(env.reason, Some(Reason::Rejected));
        assert_eq!(env.last_status, Some(400));
    }

    /// C13: every character SQS refuses is escaped, every one it accepts is kept, and the
    /// decoded string equals the original, for every Unicode scalar value.
    #[test]
    fn c13_escaping_covers_every_char() {
        let mut refused = 0u32;
        for cp in 0..=0x10_FFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let original = format!("a{c}b");
            let json = serde_json::to_string(&original).expect("ser");
            let safe = escape_outside_sqs_set(&json);
            assert!(safe.chars().all(is_sqs_char), "U+{cp:04X} left raw");
            let back: String = serde_json::from_str(&safe).expect("decodes");
            assert_eq!(back, original, "U+{cp:04X} round trip");
            let serde_escapes = c < ' ';
            if is_sqs_char(c) {
                assert!(matches!(safe, std::borrow::Cow::Borrowed(_)), "U+{cp:04X}");
                assert_eq!(safe.contains(c), !serde_escapes, "U+{cp:04X} kept");
            } else {
                refused += 1;
                assert!(!safe.contains(c), "U+{cp:04X} escaped");
            }
        }
        // 0x00–0x1F minus tab, LF, CR (29), and U+FFFE, U+FFFF (surrogates are not chars).
        assert_eq!(refused, 31);
        assert!(!is_sqs_char('\u{FFFE}') && !is_sqs_char('\u{FFFF}') && !is_sqs_char('\u{1}'));
    }

    #[test]
    fn c13_envelope_with_uffff_is_sqs_safe_and_exact() {
        let raw = PRESENCE.replacen("\"", "\"\u{FFFF}\u{FFFE}", 1);
        let env = EnvelopeV1::new(raw.as_bytes(), None);
        let json = env.to_json();
        assert!(json.chars().all(is_sqs_char));
        assert!(json.contains("\\uffff\\ufffe"));
        let back: EnvelopeV1 = serde_json::from_str(&json).expect("decodes");
        assert_eq!(
            back.event.as_deref().map(str::as_bytes),
            Some(raw.as_bytes())
        );
    }

    #[test]
    fn reason_tokens() {
        for r in [
            Reason::InvalidEvent,
            Reason::Rejected,
            Reason::Gone,
            Reason::TransientExhausted,
            Reason::Redriven,
            Reason::Oversize,
            Reason::Expired,
            Reason::UnknownSource,
            Reason::Superseded,
            Reason::UnmappedAgent,
            Reason::TransformFailed,
        ] {
            assert_eq!(
                serde_json::to_string(&r).expect("ser"),
                format!("\"{}\"", r.as_str())
            );
        }
        let back: Reason = serde_json::from_str("\"unmapped_agent\"").expect("de");
        assert_eq!(back, Reason::UnmappedAgent);
        assert_eq!(Reason::TransformFailed.as_str(), "transform_failed");
    }
}
