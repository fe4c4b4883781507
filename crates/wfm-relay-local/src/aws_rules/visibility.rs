//! Message visibility as AWS keeps it, tracked by the layer from the ReceiveMessage answers it
//! forwards (FACTS §7.1; SQS Developer Guide, "Visibility timeout"):
//!
//! - a receipt handle is valid while its message's visibility timeout runs; once it ran out,
//!   DeleteMessage and ChangeMessageVisibility with it fail with `ReceiptHandleIsInvalid` (moto
//!   accepts any handle a message ever had, forever);
//! - ChangeMessageVisibility may extend a message to at most 43,200 s in total since *its
//!   receive* (moto counts from the send, so it refuses what AWS allows on old messages). "A call
//!   asking for 43,200 after any time has passed fails" (aws/aws-sdk-net#794), so the layer counts
//!   the milliseconds since the receive: 43,200 at the receive's instant passes, 1 ms later not.
//!
//! Time comes from a [`Clock`] so tests can jump hours ahead without waiting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest visibility in total since the receive, and the largest VisibilityTimeout: 43,200 s
/// (12 h; SQS API Reference, ChangeMessageVisibility).
pub const MAX_VISIBILITY_S: u64 = 43_200;

/// The layer's time source, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        system_now_ms()
    }
}

/// Milliseconds since the Unix epoch by the system clock (0 before 1970).
pub fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A clock that stands still until told to move: tests set the layer's "now" exactly.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicU64,
}

impl ManualClock {
    /// A manual clock starting at the system clock's now.
    pub fn starting_now() -> ManualClock {
        ManualClock {
            ms: AtomicU64::new(system_now_ms()),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.ms.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// Whether a handle whose visibility ends at `deadline_ms` has expired at `now_ms` (the message is
/// visible again from its deadline on).
pub fn expired(deadline_ms: u64, now_ms: u64) -> bool {
    now_ms >= deadline_ms
}

/// Whether AWS allows ChangeMessageVisibility to `requested_s` at `now_ms` for a message received
/// at `received_ms`: the time since the receive + `requested_s` ≤ 43,200 s, counted in ms.
pub fn change_allowed(received_ms: u64, now_ms: u64, requested_s: u64) -> bool {
    let elapsed_ms = now_ms.saturating_sub(received_ms);
    requested_s <= MAX_VISIBILITY_S
        && elapsed_ms.saturating_add(requested_s.saturating_mul(1000)) <= MAX_VISIBILITY_S * 1000
}

/// The visibility to pass moto for `requested_s` so that moto accepts it: moto 5.2.5 refuses when
/// `now + requested − sent > 43,200 s` (in ms), counting from the send at `sent_ms`. The result
/// keeps one second of margin for the time the call takes to reach moto.
pub fn moto_value(sent_ms: u64, real_now_ms: u64, requested_s: u64) -> u64 {
    let elapsed_ms = real_now_ms.saturating_sub(sent_ms);
    let room_s = (MAX_VISIBILITY_S * 1000).saturating_sub(elapsed_ms) / 1000;
    requested_s.min(room_s.saturating_sub(1))
}

/// What the layer knows of one receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The queue's key (`<account>/<name>`).
    pub queue: String,
    /// The message id.
    pub message_id: String,
    /// When the receive that issued this handle happened (layer clock, ms).
    pub received_ms: u64,
    /// When the visibility runs out (layer clock, ms).
    pub deadline_ms: u64,
    /// moto's `SentTimestamp` of the message (system clock, ms), when known.
    pub sent_ms: Option<u64>,
}

/// The state of a handle at some instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleState {
    /// The layer never saw this handle in a ReceiveMessage answer: moto decides.
    Unknown,
    /// The handle is valid.
    Valid(Received),
    /// The handle's visibility ran out.
    Expired,
}

/// Every receipt handle the layer forwarded, by handle.
#[derive(Debug, Default)]
pub struct Tracker {
    handles: HashMap<String, Received>,
}

impl Tracker {
    /// Records a handle from a ReceiveMessage answer.
    pub fn received(&mut self, handle: String, received: Received) {
        self.handles.insert(handle, received);
    }

    /// The state of `handle` at `now_ms`.
    pub fn state(&self, handle: &str, now_ms: u64) -> HandleState {
        match self.handles.get(handle) {
            None => HandleState::Unknown,
            Some(r) if expired(r.deadline_ms, now_ms) => HandleState::Expired,
            Some(r) => HandleState::Valid(r.clone()),
        }
    }

    /// Records a successful ChangeMessageVisibility to `visibility_s` at `now_ms`.
    pub fn changed(&mut self, handle: &str, now_ms: u64, visibility_s: u64) {
        if let Some(r) = self.handles.get_mut(handle) {
            r.deadline_ms = now_ms.saturating_add(visibility_s.saturating_mul(1000));
        }
    }

    /// Forgets every handle of the message `handle` belongs to (after a successful delete).
    pub fn deleted(&mut self, handle: &str) {
        if let Some(r) = self.handles.remove(handle) {
            self.handles
                .retain(|_, o| !(o.queue == r.queue && o.message_id == r.message_id));
        }
    }

    /// Forgets every handle of `queue` (after PurgeQueue or DeleteQueue).
    pub fn forget_queue(&mut self, queue: &str) {
        self.handles.retain(|_, r| r.queue != queue);
    }

    /// Forgets handles whose visibility ran out more than 12 h before `now_ms` (their messages
    /// were received again since or are long gone), so a long run stays small.
    pub fn prune(&mut self, now_ms: u64) {
        let horizon = now_ms.saturating_sub(MAX_VISIBILITY_S * 1000);
        self.handles.retain(|_, r| r.deadline_ms >= horizon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_expires_at_its_deadline() {
        assert!(!expired(10_000, 9_999));
        assert!(expired(10_000, 10_000));
        assert!(expired(10_000, 10_001));
    }

    #[test]
    fn the_43200_s_count_from_the_receive_to_the_millisecond() {
        let t0 = 1_000_000;
        // (ms since the receive, requested s, allowed)
        let cases = [
            (0, 43_200, true),
            (1, 43_200, false),
            (1_000, 43_200, false),
            (1_000, 43_199, true),
            (1_001, 43_199, false),
            (43_000_000, 200, true),
            (43_000_000, 201, false),
            (43_200_000, 0, true),
            (43_200_000, 1, false),
            (0, 43_201, false),
        ];
        for (elapsed, requested, want) in cases {
            assert_eq!(
                change_allowed(t0, t0 + elapsed, requested),
                want,
                "{elapsed} ms, {requested} s"
            );
        }
    }

    #[test]
    fn moto_gets_what_it_counts_from_the_send_minus_a_second() {
        let sent = 5_000_000;
        assert_eq!(moto_value(sent, sent, 30), 30);
        assert_eq!(moto_value(sent, sent, 43_200), 43_199);
        // Sent 15 s before (the DelaySeconds 15 message): moto takes at most 43,184.
        assert_eq!(moto_value(sent, sent + 15_000, 43_200), 43_184);
        assert_eq!(moto_value(sent, sent + 15_500, 43_200), 43_183);
        // Older than 12 h: moto refuses any extension; the layer passes 0.
        assert_eq!(moto_value(sent, sent + 50_000_000, 100), 0);
    }

    #[test]
    fn the_tracker_follows_changes_and_deletes() {
        let mut t = Tracker::default();
        let r = |id: &str, deadline_ms| Received {
            queue: "1/q".to_owned(),
            message_id: id.to_owned(),
            received_ms: 0,
            deadline_ms,
            sent_ms: None,
        };
        t.received("h1".to_owned(), r("m1", 10_000));
        t.received("h1-old".to_owned(), r("m1", 5_000));
        t.received("h2".to_owned(), r("m2", 10_000));
        assert_eq!(t.state("nope", 0), HandleState::Unknown);
        assert_eq!(t.state("h1-old", 6_000), HandleState::Expired);
        assert_eq!(t.state("h1", 6_000), HandleState::Valid(r("m1", 10_000)));
        t.changed("h1", 9_000, 5);
        assert_eq!(t.state("h1", 13_999), HandleState::Valid(r("m1", 14_000)));
        assert_eq!(t.state("h1", 14_000), HandleState::Expired);
        t.deleted("h1");
        assert_eq!(t.state("h1-old", 0), HandleState::Unknown);
        assert_eq!(t.state("h2", 0), HandleState::Valid(r("m2", 10_000)));
        t.prune(10_000 + MAX_VISIBILITY_S * 1000 + 1);
        assert_eq!(t.state("h2", 0), HandleState::Unknown);
    }
}
