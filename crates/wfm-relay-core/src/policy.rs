//! Delivery policy: how a WFM answer is classified and what happens next. Pure functions; time
//! and jitter are arguments, so every branch is tested by a table.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

/// SQS's largest per-message `DelaySeconds` (900 s, Amazon SQS API Reference, SendMessage).
pub const SQS_MAX_DELAY_S: u32 = 900;
/// SQS's largest visibility timeout (12 h = 43,200 s, Amazon SQS API Reference,
/// ChangeMessageVisibility).
pub const SQS_MAX_VISIBILITY_S: u32 = 43_200;

/// The class of one WFM answer (PRODUCT.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx.
    Delivered,
    /// Worth retrying later (408, 425, 429, 5xx except 501/505 by default, transport errors).
    Transient,
    /// Permanent: parked at once with reason `rejected`.
    Rejected,
    /// `410 Gone`: parked at once with reason `gone`.
    Gone,
}

/// The HTTP statuses treated as transient. Parsed from a comma list of codes and ranges,
/// e.g. the default `408,425,429,500,502-504,506-599`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransientStatuses(Vec<(u16, u16)>);

/// The default transient set: 408, 425, 429, and every 5xx except 501 and 505.
pub const DEFAULT_TRANSIENT_STATUSES: &str = "408,425,429,500,502-504,506-599";

impl Default for TransientStatuses {
    fn default() -> Self {
        DEFAULT_TRANSIENT_STATUSES
            .parse()
            .unwrap_or(TransientStatuses(Vec::new()))
    }
}

impl FromStr for TransientStatuses {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: u16 = a
                .trim()
                .parse()
                .map_err(|_| format!("`{part}` is not a status or range"))?;
            let b: u16 = b
                .trim()
                .parse()
                .map_err(|_| format!("`{part}` is not a status or range"))?;
            if !(100..=599).contains(&a) || !(100..=599).contains(&b) || a > b {
                return Err(format!("`{part}` is outside 100-599"));
            }
            if (200..=299).contains(&a) || (200..=299).contains(&b) || (a < 200 && b > 299) {
                return Err(format!(
                    "`{part}` includes a 2xx status, which is always delivered"
                ));
            }
            out.push((a, b));
        }
        Ok(TransientStatuses(out))
    }
}

impl TransientStatuses {
    /// Whether `status` is in the set.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&status))
    }
}

/// Classifies an HTTP status: 2xx delivered, 410 gone, the transient set transient, anything else
/// (3xx — redirects are never followed —, other 4xx, 501, 505) rejected.
pub fn classify(status: u16, transient: &TransientStatuses) -> Class {
    match status {
        200..=299 => Class::Delivered,
        410 => Class::Gone,
        s if transient.contains(s) => Class::Transient,
        _ => Class::Rejected,
    }
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): `delay-seconds` (ASCII digits only) or an
/// HTTP-date in any of the three formats of RFC 9110 §5.6.7 (IMF-fixdate, RFC 850, asctime).
///
/// Returns the wait from `now`; a date in the past gives zero. `None` means "no usable hint"
/// (negative, fractional, garbage, or a number too large for a `u64`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Full-jitter backoff (Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog,
/// 2015): `unit · min(cap, base · 2^(failures-1))`.
///
/// `failures` ≥ 1 is the number of failed attempts so far; `unit` ∈ [0, 1) is the random draw.
pub fn full_jitter(failures: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(31);
    let ceiling = base.saturating_mul(1u32 << exp).min(cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// The retry queue's schedule: the wait before each queued attempt, first step first.
/// Written as a comma list of human durations (`30s,2m,10m,1h`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// The default schedule: about 24 h in 9 steps (PRODUCT.md §4).
pub const DEFAULT_RETRY_SCHEDULE: &str = "30s,2m,10m,30m,1h,2h,4h,8h,8h";

impl FromStr for RetrySchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let steps = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| humantime::parse_duration(p).map_err(|e| format!("`{p}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if steps.is_empty() {
            return Err("the schedule needs at least one step".into());
        }
        if let Some(s) = steps
            .iter()
            .find(|s| s.as_secs() > u64::from(SQS_MAX_VISIBILITY_S))
        {
            return Err(format!(
                "step {s:?} is longer than SQS's 12 h visibility timeout limit"
            ));
        }
        Ok(RetrySchedule(steps))
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|d| format!("{}s", d.as_secs())).collect();
        f.write_str(&parts.join(","))
    }
}

impl RetrySchedule {
    /// The steps, in order.
    pub fn steps(&self) -> &[Duration] {
        &self.0
    }
    /// Number of queued attempts the schedule allows.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Always false: a schedule has at least one step.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The redrive `maxReceiveCount` that matches: schedule steps + 5 (PRODUCT.md §4).
    pub fn max_receive_count(&self) -> usize {
        self.0.len() + 5
    }
}

/// What to do after a transient failure inside the EventBridge invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InlineNext {
    /// Sleep this long, then attempt again in this invocation.
    RetryAfter(Duration),
    /// Stop trying here: hand the event to the retry queue.
    Enqueue,
}

/// Inputs of [`after_inline_transient`].
#[derive(Debug, Clone, Copy)]
pub struct InlineState {
    /// Attempts made in this invocation so far (≥ 1).
    pub attempts: u32,
    /// `INLINE_ATTEMPTS`.
    pub max_attempts: u32,
    /// The jittered backoff for this failure ([`full_jitter`]).
    pub backoff: Duration,
    /// The server's `Retry-After`, already capped.
    pub retry_after: Option<Duration>,
    /// `INLINE_MAX_WAIT_MS`.
    pub max_wait: Duration,
    /// Time left before the deadline reserve, if the invocation has a deadline.
    pub time_left: Option<Duration>,
}

/// Decides between another inline attempt and the retry queue. Never sleeps after the last
/// attempt, never longer than `max_wait`, never into the deadline reserve.
pub fn after_inline_transient(s: InlineState) -> InlineNext {
    if s.attempts >= s.max_attempts {
        return InlineNext::Enqueue;
    }
    let wait = s.backoff.max(s.retry_after.unwrap_or(Duration::ZERO));
    if wait > s.max_wait {
        return InlineNext::Enqueue;
    }
    match s.time_left {
        Some(left) if wait >= left => InlineNext::Enqueue,
        _ => InlineNext::RetryAfter(wait),
    }
}

/// How a message enters the retry queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnqueueDelay {
    /// `DelaySeconds` for SendMessage (0–900).
    pub delay_s: u32,
    /// Set when the wanted wait exceeds 900 s: the consumer waits until then without a POST.
    pub not_before: Option<SystemTime>,
}

/// The delay of a first enqueue: the larger of the first schedule step and the `Retry-After`
/// hint, capped at 900 s; a longer wait becomes `not_before` (PRODUCT.md §4).
pub fn enqueue_delay(
    schedule: &RetrySchedule,
    retry_after: Option<Duration>,
    now: SystemTime,
) -> EnqueueDelay {
    let first = schedule.steps().first().copied().unwrap_or(Duration::ZERO);
    let want = first.max(retry_after.unwrap_or(Duration::ZERO));
    let secs = ceil_secs(want);
    EnqueueDelay {
        delay_s: u32::try_from(secs.min(u64::from(SQS_MAX_DELAY_S))).unwrap_or(SQS_MAX_DELAY_S),
        not_before: (secs > u64::from(SQS_MAX_DELAY_S)).then(|| now + want),
    }
}

/// What the retry-queue consumer does after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuedNext {
    /// Try again after this wait (see [`hold`] for how the record waits).
    Retry {
        /// The wanted wait: the schedule step, or the `Retry-After` hint when longer.
        wait: Duration,
    },
    /// The schedule is used up: park with reason `transient_exhausted`.
    Exhausted,
}

/// Decides the next step after the queued attempt made at schedule position `position` (the
/// envelope's `steps` + SQS `ApproximateReceiveCount`, ≥ 1): the wait is step `position` of the
/// schedule (step 0 was the enqueue delay), or the `Retry-After` hint when longer; past the
/// last step the schedule is used up.
pub fn after_queued_transient(
    position: u32,
    schedule: &RetrySchedule,
    retry_after: Option<Duration>,
) -> QueuedNext {
    let Some(step) = usize::try_from(position)
        .ok()
        .and_then(|p| schedule.steps().get(p))
    else {
        return QueuedNext::Exhausted;
    };
    QueuedNext::Retry {
        wait: (*step).max(retry_after.unwrap_or(Duration::ZERO)),
    }
}

/// Seconds kept off SQS's total-visibility limit (clock skew and the time the call takes).
pub const VISIBILITY_MARGIN_S: u32 = 10;

/// The visibility timeout (seconds) a message received `since_receive` ago may still be given:
/// 43,200 s in total since the ReceiveMessage (aws/aws-sdk-net#794, FACTS.md §7.1) − the
/// seconds since the receive (rounded up) − [`VISIBILITY_MARGIN_S`]; 0 at worst.
pub fn visibility_allowed(since_receive: Duration) -> u32 {
    let used = u32::try_from(ceil_secs(since_receive)).unwrap_or(u32::MAX);
    SQS_MAX_VISIBILITY_S
        .saturating_sub(used)
        .saturating_sub(VISIBILITY_MARGIN_S)
}

/// How a received retry-queue record waits before its next try (PRODUCT.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// ChangeMessageVisibility to this many seconds and list the record in `batchItemFailures`.
    Visibility {
        /// Seconds (≤ [`visibility_allowed`]).
        secs: u32,
    },
    /// Longer than the visibility still allowed: send a copy (history, `not_before`, `steps`)
    /// to the retry queue with this delay, then report the record done.
    Copy {
        /// `DelaySeconds` of the copy (≤ 900).
        delay_s: u32,
        /// The copy's `not_before`: no POST before it.
        not_before: SystemTime,
    },
}

/// Decides between a visibility change and a copy for a wanted `wait` from `now`, for a
/// message received `since_receive` ago. The wait is rounded up to whole seconds, so the next
/// try never comes earlier than wanted.
pub fn hold(wait: Duration, since_receive: Duration, now: SystemTime) -> Hold {
    let secs = ceil_secs(wait);
    match u32::try_from(secs) {
        Ok(secs) if secs <= visibility_allowed(since_receive) => Hold::Visibility { secs },
        _ => Hold::Copy {
            delay_s: u32::try_from(secs.min(u64::from(SQS_MAX_DELAY_S))).unwrap_or(SQS_MAX_DELAY_S),
            not_before: now + wait,
        },
    }
}

/// How much earlier than one batching window before the invocation a first-receive timestamp
/// may be and still be believed (the poller's latency): 60 s.
pub const RECEIVE_SLACK: Duration = Duration::from_secs(60);

/// When this invocation's record was received (PRODUCT.md §4): SQS's
/// `ApproximateFirstReceiveTimestamp` when `receive_count` is 1 (then it is this receive), else
/// the invocation's start minus `MaximumBatchingWindowInSeconds` (the longest a received record
/// waits for its batch). Never later than `started`. A receive is at most one batching window
/// (plus the poller's latency) before its invocation, so a timestamp more than
/// [`RECEIVE_SLACK`] older than the fallback (a hand-made or replayed record) is not believed.
pub fn estimated_receive(
    receive_count: u32,
    first_receive: Option<SystemTime>,
    started: SystemTime,
    batching_window: Duration,
) -> SystemTime {
    let fallback = started
        .checked_sub(batching_window)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match first_receive {
        Some(t) if receive_count == 1 && t + RECEIVE_SLACK >= fallback => t.min(started),
        _ => fallback,
    }
}

/// Seconds for ChangeMessageVisibility: rounded up, capped at 12 h.
pub fn visibility_secs(d: Duration) -> u32 {
    u32::try_from(ceil_secs(d).min(u64::from(SQS_MAX_VISIBILITY_S))).unwrap_or(SQS_MAX_VISIBILITY_S)
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(s: &str) -> SystemTime {
        crate::timefmt::parse_rfc3339(s).expect("time")
    }

    #[test]
    fn classify_table() {
        let t = TransientStatuses::default();
        let table = [
            (200, Class::Delivered),
            (202, Class::Delivered),
            (204, Class::Delivered),
            (301, Class::Rejected),
            (302, Class::Rejected),
            (400, Class::Rejected),
            (401, Class::Rejected),
            (404, Class::Rejected),
            (408, Class::Transient),
            (410, Class::Gone),
            (425, Class::Transient),
            (429, Class::Transient),
            (500, Class::Transient),
            (501, Class::Rejected),
            (502, Class::Transient),
            (503, Class::Transient),
            (504, Class::Transient),
            (505, Class::Rejected),
            (507, Class::Transient),
            (599, Class::Transient),
        ];
        for (status, want) in table {
            assert_eq!(classify(status, &t), want, "status {status}");
        }
        let custom: TransientStatuses = "503".parse().expect("parses");
        assert_eq!(classify(500, &custom), Class::Rejected);
        assert_eq!(classify(503, &custom), Class::Transient);
        assert!("200-299".parse::<TransientStatuses>().is_err());
        assert!("5xx".parse::<TransientStatuses>().is_err());
    }

    #[test]
    fn c10_retry_after_parse_table() {
        // tests/cases/C10.json parse_table, clock fixed at 2026-03-02T09:00:00Z.
        let case: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/cases/C10.json")).expect("case");
        let now = at(case["clock_now"].as_str().expect("clock"));
        let table = case["parse_table"].as_array().expect("table");
        assert_eq!(table.len(), 9);
        for row in table {
            let header = row["header"].as_str().expect("header");
            let want = row["expect_wait_s"].as_u64().map(Duration::from_secs);
            assert_eq!(parse_retry_after(header, now), want, "header {header:?}");
        }
    }

    #[test]
    fn full_jitter_bounds() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_millis(2000);
        assert_eq!(full_jitter(1, base, cap, 0.0), Duration::ZERO);
        assert_eq!(full_jitter(1, base, cap, 0.5), Duration::from_millis(50));
        assert_eq!(full_jitter(3, base, cap, 0.5), Duration::from_millis(200));
        assert_eq!(full_jitter(10, base, cap, 0.5), Duration::from_millis(1000));
        assert_eq!(full_jitter(u32::MAX, base, cap, 1.0), cap);
    }

    #[test]
    fn schedule_parse_and_receive_count() {
        let s: RetrySchedule = DEFAULT_RETRY_SCHEDULE.parse().expect("default");
        assert_eq!(s.len(), 9);
        assert_eq!(s.steps()[0], Duration::from_secs(30));
        assert_eq!(s.steps()[8], Duration::from_secs(8 * 3600));
        let total: u64 = s.steps().iter().map(Duration::as_secs).sum();
        assert_eq!(
            total,
            30 + 120 + 600 + 1800 + 3600 + 7200 + 14400 + 28800 + 28800
        );
        assert_eq!(s.max_receive_count(), 14);
        assert!("13h".parse::<RetrySchedule>().is_err());
        assert!("".parse::<RetrySchedule>().is_err());
        assert!("1x".parse::<RetrySchedule>().is_err());
    }

    #[test]
    fn inline_decisions() {
        let base = InlineState {
            attempts: 1,
            max_attempts: 3,
            backoff: Duration::from_millis(80),
            retry_after: None,
            max_wait: Duration::from_secs(5),
            time_left: Some(Duration::from_secs(50)),
        };
        let table = [
            (base, InlineNext::RetryAfter(Duration::from_millis(80))),
            (
                InlineState {
                    attempts: 3,
                    ..base
                },
                InlineNext::Enqueue,
            ),
            (
                InlineState {
                    retry_after: Some(Duration::from_secs(2)),
                    ..base
                },
                InlineNext::RetryAfter(Duration::from_secs(2)),
            ),
            (
                InlineState {
                    retry_after: Some(Duration::from_secs(3600)),
                    ..base
                },
                InlineNext::Enqueue,
            ),
            (
                InlineState {
                    time_left: Some(Duration::from_millis(50)),
                    ..base
                },
                InlineNext::Enqueue,
            ),
            (
                InlineState {
                    time_left: None,
                    ..base
                },
                InlineNext::RetryAfter(Duration::from_millis(80)),
            ),
        ];
        for (state, want) in table {
            assert_eq!(after_inline_transient(state), want, "{state:?}");
        }
    }

    #[test]
    fn enqueue_delays() {
        let s: RetrySchedule = "30s,2m".parse().expect("schedule");
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(
            enqueue_delay(&s, None, now),
            EnqueueDelay {
                delay_s: 30,
                not_before: None
            }
        );
        assert_eq!(
            enqueue_delay(&s, Some(Duration::from_secs(120)), now),
            EnqueueDelay {
                delay_s: 120,
                not_before: None
            }
        );
        // C10 long_wait: Retry-After 3600 -> DelaySeconds 900, the rest kept as not_before.
        assert_eq!(
            enqueue_delay(&s, Some(Duration::from_secs(3600)), now),
            EnqueueDelay {
                delay_s: 900,
                not_before: Some(now + Duration::from_secs(3600))
            }
        );
        let fast: RetrySchedule = "1500ms".parse().expect("schedule");
        assert_eq!(enqueue_delay(&fast, None, now).delay_s, 2);
    }

    #[test]
    fn queued_decisions() {
        let s: RetrySchedule = "30s,2m,10m".parse().expect("schedule");
        let secs = Duration::from_secs;
        assert_eq!(
            after_queued_transient(1, &s, None),
            QueuedNext::Retry { wait: secs(120) }
        );
        assert_eq!(
            after_queued_transient(2, &s, None),
            QueuedNext::Retry { wait: secs(600) }
        );
        assert_eq!(after_queued_transient(3, &s, None), QueuedNext::Exhausted);
        assert_eq!(after_queued_transient(9, &s, None), QueuedNext::Exhausted);
        assert_eq!(
            after_queued_transient(1, &s, Some(secs(43_200))),
            QueuedNext::Retry { wait: secs(43_200) }
        );
    }

    /// C20: visibility change or copy, by the wanted wait and the time since the receive.
    #[test]
    fn c20_hold_table() {
        let now = at("2026-03-02T09:40:00Z");
        let secs = Duration::from_secs;
        assert_eq!(visibility_allowed(secs(4)), 43_186);
        assert_eq!(visibility_allowed(Duration::from_millis(3_500)), 43_186);
        assert_eq!(visibility_allowed(Duration::ZERO), 43_190);
        assert_eq!(visibility_allowed(secs(50_000)), 0);
        let table = [
            // (wait, since receive, expected)
            (secs(120), secs(4), Hold::Visibility { secs: 120 }),
            (secs(43_186), secs(4), Hold::Visibility { secs: 43_186 }),
            (
                Duration::from_millis(1_500),
                Duration::ZERO,
                Hold::Visibility { secs: 2 },
            ),
            // A: Retry-After 86400 capped to 43200, 4 s after the receive.
            (
                secs(43_200),
                secs(4),
                Hold::Copy {
                    delay_s: 900,
                    not_before: now + secs(43_200),
                },
            ),
            (
                secs(43_187),
                secs(4),
                Hold::Copy {
                    delay_s: 900,
                    not_before: now + secs(43_187),
                },
            ),
            // B: not_before 13 h away.
            (
                secs(13 * 3600),
                Duration::ZERO,
                Hold::Copy {
                    delay_s: 900,
                    not_before: now + secs(13 * 3600),
                },
            ),
            // An 8 h step for a record received 5 h ago.
            (
                secs(8 * 3600),
                secs(5 * 3600),
                Hold::Copy {
                    delay_s: 900,
                    not_before: now + secs(8 * 3600),
                },
            ),
            (
                secs(300),
                secs(43_195),
                Hold::Copy {
                    delay_s: 300,
                    not_before: now + secs(300),
                },
            ),
            (Duration::ZERO, secs(43_195), Hold::Visibility { secs: 0 }),
        ];
        for (wait, since, want) in table {
            assert_eq!(
                hold(wait, since, now),
                want,
                "wait {wait:?} since {since:?}"
            );
        }
    }

    #[test]
    fn c20_receive_time_estimate() {
        let started = at("2026-03-02T09:40:10Z");
        let first = at("2026-03-02T09:40:06Z");
        let w = Duration::from_secs(5);
        assert_eq!(estimated_receive(1, Some(first), started, w), first);
        assert_eq!(
            estimated_receive(2, Some(first), started, w),
            at("2026-03-02T09:40:05Z")
        );
        assert_eq!(estimated_receive(1, None, started, Duration::ZERO), started);
        // Not believed long before one batching window ahead of the start (a hand-made record).
        assert_eq!(
            estimated_receive(1, Some(at("2026-03-02T09:00:00Z")), started, w),
            at("2026-03-02T09:40:05Z")
        );
        let old = at("2026-03-02T09:39:05Z");
        assert_eq!(estimated_receive(1, Some(old), started, w), old);
        // A first-receive time after the start (clock skew) is not trusted past the start.
        assert_eq!(
            estimated_receive(1, Some(at("2026-03-02T09:41:00Z")), started, w),
            started
        );
    }
}
