//! Dead letters as the replayer reads them, and the pure parts of replay: which letters a filter
//! selects, and which one per user and topic a `latest` replay sends.
//!
//! Four shapes can sit in the dead-letter queue (PRODUCT.md §5):
//! * our [`EnvelopeV1`] (parked by the forwarder; without `reason` when SQS's redrive policy moved
//!   it from the retry queue);
//! * Lambda's asynchronous-invocation failure record (on-failure destination; AWS Lambda
//!   developer guide, "Capturing records of Lambda asynchronous invocations"): the event is its
//!   `requestPayload` member, re-serialised by Lambda;
//! * a raw EventBridge event (an EventBridge target dead-letter queue; EventBridge user guide,
//!   "Using dead-letter queues to process undelivered events");
//! * anything else, kept as it is and reported as `invalid_event`.

use crate::envelope::{EnvelopeV1, QueueBody, Reason, classify_queue_body};
use crate::event::parse_event;
use crate::timefmt::parse_rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

/// Which shape a dead letter had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// wfm-relay's envelope.
    Envelope,
    /// Lambda's on-failure record.
    LambdaFailure,
    /// A raw EventBridge event.
    RawEvent,
    /// Unreadable: the body is kept as the event.
    Unreadable,
}

/// A decoded dead letter: always an envelope, whatever shape it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The envelope (built from the foreign shapes when needed).
    pub env: EnvelopeV1,
    /// The shape it was read from.
    pub shape: Shape,
}

/// Decodes any dead-letter body. Never fails: what cannot be read becomes an `invalid_event`
/// letter whose `event` is the body itself.
pub fn decode_dead_letter(body: &str) -> DeadLetter {
    let why = match classify_queue_body(body) {
        QueueBody::Envelope(env) => {
            return DeadLetter {
                env: *env,
                shape: Shape::Envelope,
            };
        }
        QueueBody::RawEvent => {
            let info = parse_event(body.as_bytes()).ok();
            return DeadLetter {
                env: EnvelopeV1::new(body.as_bytes(), info.as_ref()),
                shape: Shape::RawEvent,
            };
        }
        QueueBody::Invalid(why) => why,
    };
    if let Some(letter) = lambda_failure(body) {
        return letter;
    }
    let mut env = EnvelopeV1::new(body.as_bytes(), None);
    env.reason = Some(Reason::InvalidEvent);
    env.last_error = Some(why);
    DeadLetter {
        env,
        shape: Shape::Unreadable,
    }
}

fn lambda_failure(body: &str) -> Option<DeadLetter> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Record {
        request_context: Option<Box<RawValue>>,
        request_payload: Option<Box<RawValue>>,
        response_payload: Option<Box<RawValue>>,
        timestamp: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Context {
        condition: Option<String>,
        approximate_invoke_count: Option<u32>,
    }
    let r: Record = serde_json::from_str(body).ok()?;
    let ctx: Context = serde_json::from_str(r.request_context?.get()).ok()?;
    let payload = r.request_payload?;
    let raw = payload.get().as_bytes();
    let info = parse_event(raw);
    let mut env = EnvelopeV1::new(raw, info.as_ref().ok());
    env.attempts = ctx.approximate_invoke_count.unwrap_or(0);
    env.last_attempt_at = r.timestamp;
    let error = r
        .response_payload
        .map(|p| p.get().chars().take(1024).collect::<String>())
        .unwrap_or_default();
    match info {
        Ok(_) => {
            env.reason = Some(Reason::TransientExhausted);
            env.last_error = Some(format!(
                "Lambda asynchronous invocation failed ({}): {error}",
                ctx.condition.as_deref().unwrap_or("unknown condition")
            ));
        }
        Err(e) => {
            env.reason = Some(Reason::InvalidEvent);
            env.last_error = Some(e.to_string());
        }
    }
    Some(DeadLetter {
        env,
        shape: Shape::LambdaFailure,
    })
}

/// Which dead letters an action works on. Every set member must match; an empty filter matches
/// everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Glob (`*` any run, `?` one char) on the topic (`topicName`, or `detail-type`), e.g.
    /// `v2.users.*.presence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Exact agent user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Reason token (a message SQS redrove counts as `redriven`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Last HTTP status WFM answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Event time at or after this RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Event time before this RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// A filter time bound that is not an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter.{bound} `{value}` is not an RFC 3339 time")]
pub struct FilterError {
    /// `from` or `to`.
    pub bound: &'static str,
    /// The value given.
    pub value: String,
}

impl Filter {
    /// Checks the time bounds parse.
    ///
    /// # Errors
    /// [`FilterError`] naming the bound that is not RFC 3339.
    pub fn validate(&self) -> Result<(), FilterError> {
        for (bound, v) in [("from", &self.from), ("to", &self.to)] {
            if let Some(v) = v
                && parse_rfc3339(v).is_none()
            {
                return Err(FilterError {
                    bound,
                    value: v.clone(),
                });
            }
        }
        Ok(())
    }

    /// Whether `env` is selected. A time bound excludes letters without an event time.
    pub fn matches(&self, env: &EnvelopeV1) -> bool {
        if let Some(p) = &self.topic {
            let topic = env.topic.as_deref().unwrap_or("");
            if !wildmatch::WildMatch::new(p).matches(topic) {
                return false;
            }
        }
        if self.user_id.is_some() && env.user_id != self.user_id {
            return false;
        }
        if self.reason.is_some_and(|r| env.effective_reason() != r) {
            return false;
        }
        if self.status.is_some() && env.last_status != self.status {
            return false;
        }
        if self.from.is_some() || self.to.is_some() {
            let Some(t) = env.event_time.as_deref().and_then(parse_rfc3339) else {
                return false;
            };
            let before_from = self
                .from
                .as_deref()
                .and_then(parse_rfc3339)
                .is_some_and(|f| t < f);
            let after_to = self
                .to
                .as_deref()
                .and_then(parse_rfc3339)
                .is_some_and(|to| t >= to);
            if before_from || after_to {
                return false;
            }
        }
        true
    }
}

/// For a `latest` replay: `true` for the letters to send, `false` for the superseded ones. Per
/// (user id, topic) only the newest state (by event time) is sent; among equal times the later
/// letter wins; a letter without a user id or without an event time is always sent (it cannot be
/// compared safely).
pub fn select_latest(letters: &[&EnvelopeV1]) -> Vec<bool> {
    let mut best: HashMap<(&str, &str), (SystemTime, usize)> = HashMap::new();
    let mut keep = vec![true; letters.len()];
    for (i, env) in letters.iter().enumerate() {
        let (Some(user), Some(t)) = (
            env.user_id.as_deref(),
            env.event_time.as_deref().and_then(parse_rfc3339),
        ) else {
            continue;
        };
        let group = (user, env.topic.as_deref().unwrap_or(""));
        match best.get(&group) {
            Some((bt, _)) if *bt > t => keep[i] = false,
            Some((_, bi)) => {
                keep[*bi] = false;
                best.insert(group, (t, i));
            }
            None => {
                best.insert(group, (t, i));
            }
        }
    }
    keep
}

/// Dead-letter statistics (the replayer's `stats` action, part of its report JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Messages in the DLQ when the action ended (visible + in flight + delayed).
    pub depth: usize,
    /// Age of the oldest dead letter seen, s (from its SQS `SentTimestamp`).
    pub oldest_age_s: Option<u64>,
    /// Matching letters per topic (`none` without a topic).
    pub by_topic: BTreeMap<String, usize>,
    /// Matching letters per reason token ([`EnvelopeV1::effective_reason`]).
    pub by_reason: BTreeMap<String, usize>,
    /// Matching letters per last HTTP status (`none` when WFM never answered).
    pub by_status: BTreeMap<String, usize>,
}

impl Stats {
    /// Counts one matching letter by topic, reason and last status.
    pub fn tally(&mut self, env: &EnvelopeV1) {
        let topic = env.topic.clone().unwrap_or_else(|| "none".into());
        *self.by_topic.entry(topic).or_default() += 1;
        let reason = env.effective_reason().as_str().to_owned();
        *self.by_reason.entry(reason).or_default() += 1;
        let status = env
            .last_status
            .map_or_else(|| "none".to_owned(), |s| s.to_string());
        *self.by_status.entry(status).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRESENCE: &str = include_str!("../../../tests/fixtures/genesys/presence-break.json");
    const AVAILABLE: &str = include_str!("../../../tests/fixtures/genesys/presence-available.json");

    fn env_of(src: &str) -> EnvelopeV1 {
        EnvelopeV1::new(src.as_bytes(), parse_event(src.as_bytes()).ok().as_ref())
    }

    #[test]
    fn decodes_every_shape() {
        let mut ours = env_of(PRESENCE);
        ours.reason = Some(Reason::Rejected);
        let l = decode_dead_letter(&ours.to_json());
        assert_eq!(
            (l.shape, l.env.effective_reason()),
            (Shape::Envelope, Reason::Rejected)
        );

        let raw = decode_dead_letter(PRESENCE);
        assert_eq!(raw.shape, Shape::RawEvent);
        assert_eq!(raw.env.event.as_deref(), Some(PRESENCE));
        assert_eq!(raw.env.effective_reason(), Reason::Redriven);

        let compact: serde_json::Value = serde_json::from_str(PRESENCE).expect("json");
        let record = serde_json::json!({
            "version": "1.0",
            "timestamp": "2026-03-02T09:00:00.000Z",
            "requestContext": {"requestId": "r", "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:f:$LATEST",
                "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": compact,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "could not queue or park it", "errorType": "CannotPark"}
        })
        .to_string();
        let l = decode_dead_letter(&record);
        assert_eq!(l.shape, Shape::LambdaFailure);
        assert_eq!(l.env.attempts, 3);
        assert_eq!(
            l.env.key,
            env_of(PRESENCE).key,
            "same idempotency key as the original"
        );
        assert!(
            l.env
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("RetriesExhausted")
        );

        let junk = decode_dead_letter("not json at all");
        assert_eq!(junk.shape, Shape::Unreadable);
        assert_eq!(junk.env.event.as_deref(), Some("not json at all"));
        assert_eq!(junk.env.reason, Some(Reason::InvalidEvent));
    }

    #[test]
    fn filters() {
        let mut e = env_of(PRESENCE);
        e.reason = Some(Reason::TransientExhausted);
        e.last_status = Some(503);
        let yes = |f: Filter| assert!(f.matches(&e), "{f:?}");
        let no = |f: Filter| assert!(!f.matches(&e), "{f:?}");
        yes(Filter::default());
        yes(Filter {
            topic: Some("v2.users.*.presence".into()),
            ..Default::default()
        });
        no(Filter {
            topic: Some("v2.users.*.routingStatus".into()),
            ..Default::default()
        });
        yes(Filter {
            user_id: Some("aaaaaaaa-0000-4000-8000-0000000000a1".into()),
            ..Default::default()
        });
        no(Filter {
            user_id: Some("someone-else".into()),
            ..Default::default()
        });
        yes(Filter {
            reason: Some(Reason::TransientExhausted),
            status: Some(503),
            ..Default::default()
        });
        no(Filter {
            reason: Some(Reason::Rejected),
            ..Default::default()
        });
        no(Filter {
            status: Some(400),
            ..Default::default()
        });
        yes(Filter {
            from: Some("2025-03-04T09:15:00Z".into()),
            to: Some("2025-03-04T09:16:00Z".into()),
            ..Default::default()
        });
        no(Filter {
            from: Some("2025-03-04T09:15:02Z".into()),
            ..Default::default()
        });
        no(Filter {
            to: Some("2025-03-04T09:15:01.874Z".into()),
            ..Default::default()
        });
        let err = Filter {
            from: Some("yesterday".into()),
            ..Default::default()
        }
        .validate()
        .expect_err("not RFC 3339");
        assert_eq!(
            err.to_string(),
            "filter.from `yesterday` is not an RFC 3339 time"
        );
        let mut redriven = e.clone();
        redriven.reason = None;
        assert!(
            Filter {
                reason: Some(Reason::Redriven),
                ..Default::default()
            }
            .matches(&redriven)
        );
    }

    #[test]
    fn latest_keeps_the_newest_state_per_user_and_topic() {
        let brk = env_of(PRESENCE); // 09:15:01.874, user a1
        let avail = env_of(AVAILABLE); // later, same user and topic
        let mut other_user = env_of(PRESENCE);
        other_user.user_id = Some("b2".into());
        let mut no_time = env_of(PRESENCE);
        no_time.event_time = None;
        let letters = [&avail, &brk, &other_user, &no_time];
        assert_eq!(select_latest(&letters), [true, false, true, true]);
        let letters = [&brk, &avail];
        assert_eq!(select_latest(&letters), [false, true]);
        let same = [&brk, &brk.clone()];
        assert_eq!(
            select_latest(&same),
            [false, true],
            "equal times: the later letter wins"
        );
    }

    #[test]
    fn stats_count_by_topic_reason_and_status() {
        let mut parked = env_of(PRESENCE);
        parked.reason = Some(Reason::TransientExhausted);
        parked.last_status = Some(503);
        let mut redriven = env_of(AVAILABLE);
        redriven.topic = None;
        let mut stats = Stats::default();
        for env in [&parked, &parked, &redriven] {
            stats.tally(env);
        }
        let counts = |m: &BTreeMap<String, usize>| {
            m.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()
        };
        assert_eq!(
            counts(&stats.by_topic),
            [
                ("none".to_owned(), 1),
                (parked.topic.clone().unwrap_or_default(), 2)
            ]
        );
        assert_eq!(
            counts(&stats.by_reason),
            [
                ("redriven".to_owned(), 1),
                ("transient_exhausted".to_owned(), 2)
            ]
        );
        assert_eq!(
            counts(&stats.by_status),
            [("503".to_owned(), 2), ("none".to_owned(), 1)]
        );
        let json = r#"{"depth":3,"oldest_age_s":60,"by_topic":{"none":1},"by_reason":{"redriven":1},"by_status":{"none":1}}"#;
        let back: Stats = serde_json::from_str(json).expect("decodes");
        assert_eq!(serde_json::to_string(&back).expect("ser"), json);
    }
}
