//! One delivery attempt, as data: the request to make ([`Delivery`]), what WFM answered
//! ([`AttemptResult`], filled in by the WFM client of `wfm-relay-aws`), and what that answer means
//! ([`Verdict`], decided by [`verdict`]). The forwarder's two entries and the replayer all go
//! through these, so a WFM answer is classified in one place (PRODUCT.md §3).

use crate::envelope::Reason;
use crate::event::{BodyMode, EventInfo};
use crate::policy::{Class, TransientStatuses, classify, parse_retry_after};
use crate::timefmt::format_rfc3339;
use bytes::Bytes;
use std::time::{Duration, SystemTime};

/// One delivery attempt's request: the body and the headers that describe the event
/// (PRODUCT.md §3, "Headers").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The exact bytes to POST.
    pub body: Bytes,
    /// `Idempotency-Key` (64 lowercase hex chars).
    pub key: String,
    /// `X-Event-Id` (EventBridge `id`).
    pub event_id: String,
    /// `X-Event-Time` (RFC 3339 state time), when known.
    pub event_time: Option<String>,
    /// `X-Genesys-Timestamp` (RFC 3339 `detail.timestamp`, Genesys's publish time), when known.
    pub published_time: Option<String>,
    /// `X-Genesys-Topic` (`detail-type`).
    pub detail_type: String,
    /// `X-Attempt`, 1-based over the whole life of the event.
    pub attempt: u32,
    /// Adds `X-Replay: true` (the POSTs of `replay` and `replay-archive`).
    pub replay: bool,
    /// Adds `X-Snapshot: true`: the event's `source` starts with `wfm-relay.snapshot/` (a state
    /// snapshot event, PRODUCT.md §3, §6), on every entry and on replays.
    pub snapshot: bool,
    /// A path to append to `WFM_URL`'s path (a WFM output profile's `path`, rendered and
    /// percent-encoded); `None` posts to `WFM_URL` itself.
    pub path: Option<String>,
    /// Extra static headers of a WFM output profile (name, value); never one wfm-relay sets
    /// itself (the profile's validation refuses those). Empty without a profile.
    pub headers: Vec<(String, String)>,
}

/// What a WFM output profile makes of one event (issue 13): the body to send instead of the
/// original bytes, extra headers and a URL path. The Idempotency-Key, `X-Event-Id` and
/// `X-Event-Time` stay the original event's; signatures cover [`Shaped::body`] when it is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shaped {
    /// The body to send; `None` sends the body chosen by `WFM_BODY` as without a profile.
    pub body: Option<Bytes>,
    /// Extra headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Path appended to `WFM_URL`'s path (its query stays last); `None` = `WFM_URL`.
    pub path: Option<String>,
}

/// Why a WFM output profile cannot produce the request for an event: the event is parked (or,
/// in a replay, stays in the DLQ) with [`Unshapeable::reason`] — [`Reason::UnmappedAgent`] or
/// [`Reason::TransformFailed`] — and [`Unshapeable::message`] as `last_error`. Never a whole
/// batch: only that event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unshapeable {
    /// `unmapped_agent` or `transform_failed`.
    pub reason: Reason,
    /// What failed, for a person (`unmapped agent: user id … is not in the agent mapping
    /// table (WFM_PROFILE_MAPPING)`, `transform failed: jq: …`).
    pub message: String,
}

/// The profile hook of the delivery builder: turns one event into its [`Shaped`] request
/// parts. Implemented by the WFM output profile in use (`wfm_relay_aws::profile_source`), so
/// this crate knows nothing of profiles, tables or jq.
pub trait Shape: Send + Sync + std::fmt::Debug {
    /// Shapes the event `info` read from `raw` (its bytes exactly as received).
    ///
    /// # Errors
    /// [`Unshapeable`] when the profile cannot produce a request for this event.
    fn shape(&self, info: &EventInfo, raw: &[u8]) -> Result<Shaped, Unshapeable>;
}

impl Delivery {
    /// The request for attempt number `attempt` of the event `info` read from `raw` (its bytes
    /// exactly as received), with the body chosen by `mode` (`WFM_BODY`). `replay` marks the
    /// POSTs of the replayer.
    pub fn for_event(
        info: &EventInfo,
        raw: &[u8],
        mode: BodyMode,
        attempt: u32,
        replay: bool,
    ) -> Self {
        Self::for_event_shaped(info, raw, mode, attempt, replay, None)
    }

    /// [`Delivery::for_event`] with what a WFM output profile made of the event: its body (when
    /// set) replaces the `WFM_BODY` one, its headers and path are added. The key, event id and
    /// times are the original event's either way (PRODUCT.md §3).
    pub fn for_event_shaped(
        info: &EventInfo,
        raw: &[u8],
        mode: BodyMode,
        attempt: u32,
        replay: bool,
        shaped: Option<&Shaped>,
    ) -> Self {
        let body = match shaped.and_then(|s| s.body.clone()) {
            Some(b) => b,
            None => Bytes::copy_from_slice(info.body(raw, mode)),
        };
        Delivery {
            body,
            path: shaped.and_then(|s| s.path.clone()),
            headers: shaped.map(|s| s.headers.clone()).unwrap_or_default(),
            key: info.key.to_string(),
            event_id: info.id.clone(),
            event_time: info.state_time.map(format_rfc3339),
            published_time: info.published_time.map(format_rfc3339),
            detail_type: info.detail_type.clone(),
            attempt,
            replay,
            snapshot: info.source.starts_with(crate::snapshot::SOURCE_PREFIX),
        }
    }
}

/// How a transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Could not connect (refused, DNS, TLS handshake).
    Connect,
    /// The attempt's timeout elapsed.
    Timeout,
    /// Connection reset or closed, truncated response, anything else.
    Other,
    /// No request was sent: the destination credentials could not be had (the OAuth token
    /// endpoint is down, too slow, answered 5xx / 408 / 429, or a secret could not be read).
    /// Transient like any transport failure; a POST is never sent without its credentials.
    Credentials,
    /// No request was sent: the token endpoint refused our credentials (`invalid_client`,
    /// `unauthorized_client`, `invalid_grant`, …). Transient (the event waits in the retry
    /// queue while someone fixes the secret); the message names the variable, and the
    /// forwarder counts the metric `AuthConfigError`.
    CredentialsRefused,
}

/// What one attempt produced: WFM's answer as data (never an `Err`: a failed delivery is a
/// value the policy decides on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// WFM answered with a complete response.
    Answered {
        /// HTTP status code.
        status: u16,
        /// The raw `Retry-After` header, if present (parsed by [`verdict`]).
        retry_after: Option<String>,
        /// Up to 1 KiB of the body, lossily decoded as UTF-8.
        excerpt: String,
        /// Time from sending to the end of the response, ms.
        latency_ms: u64,
    },
    /// No complete response.
    Transport {
        /// The failure's kind.
        kind: TransportKind,
        /// A one-line description (never contains a credential nor the URL's query).
        message: String,
        /// Time spent, ms.
        latency_ms: u64,
    },
}

impl AttemptResult {
    /// The HTTP status, when WFM answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            AttemptResult::Answered { status, .. } => Some(*status),
            AttemptResult::Transport { .. } => None,
        }
    }

    /// Time the attempt took, ms.
    pub fn latency_ms(&self) -> u64 {
        match self {
            AttemptResult::Answered { latency_ms, .. }
            | AttemptResult::Transport { latency_ms, .. } => *latency_ms,
        }
    }
}

/// What an attempt's answer means for the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// WFM answered 2xx: the event is delivered; nothing more to do.
    Delivered {
        /// The 2xx status.
        status: u16,
    },
    /// A failure worth retrying (a status of the transient set, or no complete response).
    Transient {
        /// The status, when WFM answered (`None` for a transport failure).
        status: Option<u16>,
        /// WFM's `Retry-After`, parsed and capped at `RETRY_AFTER_CAP`; `None` when absent or
        /// invalid.
        retry_after: Option<Duration>,
        /// For `last_error`: `HTTP <status>`, or the transport error.
        error: String,
        /// Up to 1 KiB of the response body; `None` when empty or when there was no answer.
        excerpt: Option<String>,
    },
    /// A permanent failure: park the event at once with this reason, never retry it.
    Park {
        /// [`Reason::Rejected`] (3xx, 4xx outside the transient set, 501, 505) or
        /// [`Reason::Gone`] (410).
        reason: Reason,
        /// The status WFM answered.
        status: u16,
        /// For `last_error`.
        error: String,
        /// Up to 1 KiB of the response body (may be empty).
        excerpt: String,
    },
}

impl Verdict {
    /// `delivered`, `transient`, or the reason token: the `outcome` of the attempt's log line.
    pub fn outcome(&self) -> &'static str {
        match self {
            Verdict::Delivered { .. } => "delivered",
            Verdict::Transient { .. } => "transient",
            Verdict::Park { reason, .. } => reason.as_str(),
        }
    }

    /// The failure text (empty for [`Verdict::Delivered`]).
    pub fn error(&self) -> &str {
        match self {
            Verdict::Transient { error, .. } | Verdict::Park { error, .. } => error,
            Verdict::Delivered { .. } => "",
        }
    }
}

/// Decides what `res` means: 2xx delivered; a status of `transient` or a transport failure
/// transient (with `Retry-After` parsed at `now` and capped at `retry_after_cap`); 410 parked as
/// `gone`; any other status parked as `rejected` (PRODUCT.md §3, "Outcome classes"). Pure.
pub fn verdict(
    res: &AttemptResult,
    transient: &TransientStatuses,
    retry_after_cap: Duration,
    now: SystemTime,
) -> Verdict {
    match res {
        AttemptResult::Transport { message, .. } => Verdict::Transient {
            status: None,
            retry_after: None,
            error: message.clone(),
            excerpt: None,
        },
        AttemptResult::Answered {
            status,
            retry_after,
            excerpt,
            ..
        } => {
            let status = *status;
            match classify(status, transient) {
                Class::Delivered => Verdict::Delivered { status },
                Class::Transient => Verdict::Transient {
                    status: Some(status),
                    retry_after: retry_after
                        .as_deref()
                        .and_then(|v| parse_retry_after(v, now))
                        .map(|d| d.min(retry_after_cap)),
                    error: format!("HTTP {status}"),
                    excerpt: Some(excerpt.clone()).filter(|e| !e.is_empty()),
                },
                Class::Gone => Verdict::Park {
                    reason: Reason::Gone,
                    status,
                    error: format!("HTTP {status}: WFM says the resource is gone"),
                    excerpt: excerpt.clone(),
                },
                Class::Rejected => Verdict::Park {
                    reason: Reason::Rejected,
                    status,
                    error: format!("HTTP {status}: permanent failure"),
                    excerpt: excerpt.clone(),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, retry_after: Option<&str>, excerpt: &str) -> AttemptResult {
        AttemptResult::Answered {
            status,
            retry_after: retry_after.map(str::to_owned),
            excerpt: excerpt.into(),
            latency_ms: 1,
        }
    }

    fn transient(status: Option<u16>, retry_after: Option<u64>, error: &str, ex: &str) -> Verdict {
        Verdict::Transient {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            error: error.into(),
            excerpt: Some(ex.to_owned()).filter(|e| !e.is_empty()),
        }
    }

    fn park(reason: Reason, status: u16, error: &str) -> Verdict {
        Verdict::Park {
            reason,
            status,
            error: error.into(),
            excerpt: "body".into(),
        }
    }

    #[test]
    fn verdict_table() {
        let t = TransientStatuses::default();
        let cap = Duration::from_secs(43_200);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let timeout = AttemptResult::Transport {
            kind: TransportKind::Timeout,
            message: "timed out".into(),
            latency_ms: 5,
        };
        let table: Vec<(AttemptResult, Verdict)> = vec![
            (
                answered(200, None, "ok"),
                Verdict::Delivered { status: 200 },
            ),
            (
                answered(202, Some("5"), ""),
                Verdict::Delivered { status: 202 },
            ),
            (
                answered(400, None, "body"),
                park(Reason::Rejected, 400, "HTTP 400: permanent failure"),
            ),
            (
                answered(302, None, "body"),
                park(Reason::Rejected, 302, "HTTP 302: permanent failure"),
            ),
            (
                answered(501, None, "body"),
                park(Reason::Rejected, 501, "HTTP 501: permanent failure"),
            ),
            (
                answered(410, Some("60"), "body"),
                park(Reason::Gone, 410, "HTTP 410: WFM says the resource is gone"),
            ),
            (
                answered(503, None, "busy"),
                transient(Some(503), None, "HTTP 503", "busy"),
            ),
            (
                answered(503, Some("soon"), ""),
                transient(Some(503), None, "HTTP 503", ""),
            ),
            (
                answered(429, Some("120"), "slow"),
                transient(Some(429), Some(120), "HTTP 429", "slow"),
            ),
            // Capped at RETRY_AFTER_CAP.
            (
                answered(429, Some("99999999"), ""),
                transient(Some(429), Some(43_200), "HTTP 429", ""),
            ),
            // An HTTP-date, read at `now`.
            (
                answered(503, Some("Fri, 15 Jan 2027 08:00:30 GMT"), ""),
                transient(Some(503), Some(30), "HTTP 503", ""),
            ),
            (timeout, transient(None, None, "timed out", "")),
        ];
        for (res, want) in table {
            assert_eq!(verdict(&res, &t, cap, now), want, "{res:?}");
        }
    }

    #[test]
    fn delivery_for_event_sets_every_header_field() {
        let raw = br#"{"id":"e-1","detail-type":"v2.users.{id}.presence","source":"s","time":"2026-03-02T09:00:00Z","detail":{"topicName":"v2.users.u1.presence","eventBody":{"x":1},"timestamp":"2026-03-02T09:00:01.500Z"}}"#;
        let info = crate::event::parse_event(raw).expect("valid");
        let d = Delivery::for_event(&info, raw, BodyMode::EventBody, 3, true);
        assert_eq!(&d.body[..], br#"{"x":1}"#);
        assert_eq!(d.key, info.key.to_string());
        assert_eq!(d.event_id, "e-1");
        assert_eq!(d.detail_type, "v2.users.{id}.presence");
        assert_eq!(
            d.published_time.as_deref(),
            Some("2026-03-02T09:00:01.500Z")
        );
        assert_eq!(d.event_time, info.state_time.map(format_rfc3339));
        assert_eq!((d.attempt, d.replay), (3, true));
        let live = Delivery::for_event(&info, raw, BodyMode::Event, 1, false);
        assert_eq!(&live.body[..], &raw[..]);
        assert!(!live.replay);
        assert_eq!((live.path, live.headers), (None, vec![]));
    }

    #[test]
    fn a_shaped_delivery_keeps_the_events_key_and_times() {
        let raw = br#"{"id":"e-2","detail-type":"v2.users.{id}.presence","source":"s","time":"2026-03-02T09:00:00Z","detail":{"topicName":"v2.users.u1.presence","eventBody":{"modifiedDate":"2026-03-02T08:59:59.250Z"}}}"#;
        let info = crate::event::parse_event(raw).expect("valid");
        let plain = Delivery::for_event(&info, raw, BodyMode::Event, 2, false);
        let shaped = Shaped {
            body: Some(Bytes::from_static(br#"{"agent":"A"}"#)),
            headers: vec![("X-Source".into(), "genesys".into())],
            path: Some("/agents/A/state".into()),
        };
        let d = Delivery::for_event_shaped(&info, raw, BodyMode::Event, 2, false, Some(&shaped));
        assert_eq!(&d.body[..], br#"{"agent":"A"}"#);
        assert_eq!(d.path.as_deref(), Some("/agents/A/state"));
        assert_eq!(d.headers, shaped.headers);
        assert_eq!(
            (&d.key, &d.event_id, &d.event_time, d.attempt),
            (&plain.key, &plain.event_id, &plain.event_time, 2)
        );
        // A profile that keeps the original body: WFM_BODY still chooses it.
        let keep = Shaped {
            body: None,
            ..shaped
        };
        let d = Delivery::for_event_shaped(&info, raw, BodyMode::EventBody, 2, false, Some(&keep));
        assert_eq!(
            &d.body[..],
            br#"{"modifiedDate":"2026-03-02T08:59:59.250Z"}"#
        );
    }
}
