//! The scheduled snapshot's lease: one small JSON object (in the archive bucket, key
//! [`LEASE_KEY`]) that says which run is going and until when. The decisions here are pure; the
//! store behind them is [`super::LeaseStore`].
//!
//! * A start finds no lease → creates one (S3 `PutObject` with `If-None-Match: *`: of two starts
//!   at once, one wins and the other gets `412 Precondition Failed` and is skipped).
//! * A start finds a live lease of another run → skipped (`SnapshotSkipped` = 1).
//! * A start finds an expired lease (a crashed run) → takes it over (`PutObject` with `If-Match`
//!   the lease's ETag), with a log line naming the crashed run.
//! * A start finds its own run's lease (Lambda retried the start) → renews it.
//! * Each continuation renews the lease of its run (`If-Match`); the last part deletes it.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};
use wfm_relay_core::timefmt::{format_rfc3339, parse_rfc3339};

/// The lease's object key in the archive bucket.
pub const LEASE_KEY: &str = "snapshots/lease.json";

/// Added to the function timeout for the lease's lifetime: 5 minutes, room for Lambda's
/// asynchronous queue (and a retry after an error) between one part and the next.
pub const LEASE_SLACK: Duration = Duration::from_secs(300);

/// The lease object, `{"v":1,"run_id":…,"since":…,"renewed":…,"expires":…,"part":n}`; times are
/// RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Format version, 1.
    pub v: u32,
    /// The run holding it.
    pub run_id: String,
    /// When the run started.
    pub since: String,
    /// When a part last renewed it.
    pub renewed: String,
    /// When it lapses if no part renews it: then another run may take it over.
    pub expires: String,
    /// The part that last renewed it, from 1.
    pub part: u32,
}

impl Lease {
    /// A new lease of `run_id` at `now`, lapsing after `ttl`.
    pub fn new(run_id: &str, now: SystemTime, ttl: Duration) -> Lease {
        let at = format_rfc3339(now);
        Lease {
            v: 1,
            run_id: run_id.to_owned(),
            since: at.clone(),
            renewed: at,
            expires: format_rfc3339(now + ttl),
            part: 1,
        }
    }

    /// This lease renewed at `now` by its next part.
    pub fn renewed(&self, now: SystemTime, ttl: Duration) -> Lease {
        Lease {
            renewed: format_rfc3339(now),
            expires: format_rfc3339(now + ttl),
            part: self.part.saturating_add(1),
            ..self.clone()
        }
    }

    /// True when it has lapsed at `now`. An `expires` that cannot be read counts as lapsed (the
    /// object was written by something else than a run; a run would have written a valid one).
    pub fn expired(&self, now: SystemTime) -> bool {
        parse_rfc3339(&self.expires).is_none_or(|t| t <= now)
    }
}

/// A lease as read from the store, with the version tag a conditional write must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The lease.
    pub lease: Lease,
    /// Its ETag (S3), given back as `If-Match`.
    pub etag: String,
}

/// What a start does with the lease it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartStep {
    /// No lease: create one (`If-None-Match: *`).
    Create,
    /// A lapsed lease of a crashed run: replace it (`If-Match`), logging the crashed run.
    TakeOver(Stored),
    /// Our own run's lease (a retried start): renew it (`If-Match`).
    Renew(Stored),
    /// Another run's live lease: skip this run.
    Skip(Lease),
}

/// The step of a start of `run_id` at `now` that found `current`.
pub fn start_step(current: Option<Stored>, run_id: &str, now: SystemTime) -> StartStep {
    match current {
        None => StartStep::Create,
        Some(s) if s.lease.run_id == run_id => StartStep::Renew(s),
        Some(s) if s.lease.expired(now) => StartStep::TakeOver(s),
        Some(s) => StartStep::Skip(s.lease),
    }
}

/// What a continuation does with the lease it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContinueStep {
    /// Its run's lease: renew it (`If-Match`).
    Renew(Stored),
    /// No lease (deleted by hand, or lost with the object): create it again (`If-None-Match`).
    Create,
    /// Another run holds it (ours lapsed and was taken over): stop; that run sends everything.
    Lost(Lease),
}

/// The step of a continuation of `run_id` that found `current`.
pub fn continue_step(current: Option<Stored>, run_id: &str) -> ContinueStep {
    match current {
        None => ContinueStep::Create,
        Some(s) if s.lease.run_id == run_id => ContinueStep::Renew(s),
        Some(s) => ContinueStep::Lost(s.lease),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
    }

    fn stored(run: &str, start: u64, ttl: u64) -> Stored {
        Stored {
            lease: Lease::new(run, at(start), Duration::from_secs(ttl)),
            etag: "\"e1\"".to_owned(),
        }
    }

    #[test]
    fn a_lease_lives_for_its_ttl_and_renewing_moves_it_on() {
        let l = Lease::new("r1", at(0), Duration::from_secs(60));
        assert_eq!(
            (l.since.as_str(), l.expires.as_str(), l.part),
            ("2027-01-15T08:00:00.000Z", "2027-01-15T08:01:00.000Z", 1)
        );
        assert!(!l.expired(at(59)));
        assert!(l.expired(at(60)));
        let r = l.renewed(at(50), Duration::from_secs(60));
        assert_eq!(
            (
                r.since.as_str(),
                r.renewed.as_str(),
                r.expires.as_str(),
                r.part
            ),
            (
                "2027-01-15T08:00:00.000Z",
                "2027-01-15T08:00:50.000Z",
                "2027-01-15T08:01:50.000Z",
                2
            )
        );
        let bad = Lease {
            expires: "soon".into(),
            ..l
        };
        assert!(bad.expired(at(0)), "an unreadable expiry lapses");
        let json = serde_json::to_string(&r).expect("json");
        assert_eq!(serde_json::from_str::<Lease>(&json).expect("parses"), r);
    }

    #[test]
    fn a_start_creates_skips_takes_over_or_renews() {
        assert_eq!(start_step(None, "r2", at(0)), StartStep::Create);
        let live = stored("r1", 0, 60);
        assert_eq!(
            start_step(Some(live.clone()), "r2", at(30)),
            StartStep::Skip(live.lease.clone())
        );
        assert_eq!(
            start_step(Some(live.clone()), "r2", at(60)),
            StartStep::TakeOver(live.clone())
        );
        assert_eq!(
            start_step(Some(live.clone()), "r1", at(30)),
            StartStep::Renew(live)
        );
    }

    #[test]
    fn a_continuation_renews_recreates_or_is_lost() {
        let ours = stored("r1", 0, 60);
        assert_eq!(
            continue_step(Some(ours.clone()), "r1"),
            ContinueStep::Renew(ours)
        );
        assert_eq!(continue_step(None, "r1"), ContinueStep::Create);
        let theirs = stored("r9", 0, 60);
        assert_eq!(
            continue_step(Some(theirs.clone()), "r1"),
            ContinueStep::Lost(theirs.lease)
        );
    }
}
