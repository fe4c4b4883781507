//! [`super::handle`] against an in-memory lease store and scripted parts.

use super::*;
use crate::snapshot_request::SnapshotCursor;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

const TTL: Duration = Duration::from_secs(600);

#[derive(Default)]
struct Fake {
    now_s: Mutex<u64>,
    lease: Mutex<Option<(Lease, u32)>>,
    reports: Mutex<VecDeque<SnapshotReport>>,
    ran: Mutex<Vec<SnapshotRequest>>,
    invoked: Mutex<Vec<SnapshotRequest>>,
    fail_read: Mutex<bool>,
    fail_invoke: Mutex<bool>,
    /// Written by "another start" just before our create lands.
    race: Mutex<Option<Lease>>,
}

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
}

impl Fake {
    fn set<T>(m: &Mutex<T>, v: T) {
        *m.lock().expect("lock") = v;
    }
    fn lease(&self) -> Option<Lease> {
        self.lease.lock().expect("lock").clone().map(|(l, _)| l)
    }
    fn write(&self, l: &Lease) {
        let mut g = self.lease.lock().expect("lock");
        let n = g.as_ref().map_or(1, |(_, n)| n + 1);
        *g = Some((l.clone(), n));
    }
}

impl ScheduleIo for Fake {
    fn now(&self) -> SystemTime {
        at(*self.now_s.lock().expect("lock"))
    }
    async fn read_lease(&self) -> Result<Option<Stored>, LeaseError> {
        if *self.fail_read.lock().expect("lock") {
            return Err(LeaseError("GetObject: 403 AccessDenied".into()));
        }
        Ok(self
            .lease
            .lock()
            .expect("lock")
            .clone()
            .map(|(lease, n)| Stored {
                lease,
                etag: format!("\"{n}\""),
            }))
    }
    async fn create_lease(&self, lease: &Lease) -> Result<Written, LeaseError> {
        if let Some(theirs) = self.race.lock().expect("lock").take() {
            self.write(&theirs);
        }
        if self.lease().is_some() {
            return Ok(Written::Conflict);
        }
        self.write(lease);
        Ok(Written::Done)
    }
    async fn replace_lease(&self, lease: &Lease, etag: &str) -> Result<Written, LeaseError> {
        let current = self.lease.lock().expect("lock").clone();
        match current {
            Some((_, n)) if format!("\"{n}\"") == etag => {
                self.write(lease);
                Ok(Written::Done)
            }
            _ => Ok(Written::Conflict),
        }
    }
    async fn delete_lease(&self) -> Result<(), LeaseError> {
        Fake::set(&self.lease, None);
        Ok(())
    }
    async fn run_part(&self, req: &SnapshotRequest, _deadline: SystemTime) -> SnapshotReport {
        self.ran.lock().expect("lock").push(req.clone());
        let mut r = self
            .reports
            .lock()
            .expect("lock")
            .pop_front()
            .expect("a scripted report");
        r.run_id = req.run_id.clone().unwrap_or_default();
        if let Some(n) = &mut r.next {
            n.run_id = req.run_id.clone();
        }
        r
    }
    async fn invoke_next(&self, next: &SnapshotRequest) -> Result<(), String> {
        if *self.fail_invoke.lock().expect("lock") {
            return Err("TooManyRequestsException".into());
        }
        self.invoked.lock().expect("lock").push(next.clone());
        Ok(())
    }
}

fn part(events: usize, next_page: Option<usize>) -> SnapshotReport {
    SnapshotReport {
        v: 1,
        action: "snapshot".into(),
        events,
        delivered: events,
        stopped: next_page.map(|_| "deadline".to_owned()),
        next: next_page.map(|page| SnapshotRequest {
            resume: Some(SnapshotCursor {
                cursor: wfm_relay_aws::genesys::Cursor { part: 0, page },
                skip: 0,
            }),
            ..SnapshotRequest::all()
        }),
        ..SnapshotReport::default()
    }
}

fn scheduled(id: &str) -> Value {
    json!({"id": id, "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

async fn go(io: &Fake, payload: Value) -> Result<Outcome, ScheduleError> {
    handle(io, payload, at(900), TTL).await
}

#[tokio::test]
async fn a_run_continues_through_its_parts_and_releases_the_lease_at_the_end() {
    let io = Fake::default();
    Fake::set(
        &io.reports,
        VecDeque::from([part(10, Some(2)), part(10, Some(3)), part(4, None)]),
    );
    let first = go(&io, scheduled("e1")).await.expect("first part");
    assert_eq!(first.skipped_count(), 0);
    let lease = io.lease().expect("held");
    assert_eq!((lease.run_id.as_str(), lease.part), ("snapshot-e1", 1));
    let mut payload = serde_json::to_value(&io.invoked.lock().expect("lock")[0]).expect("json");
    assert_eq!(payload["run_id"], "snapshot-e1");
    assert_eq!(payload["resume"]["page"], 2);
    Fake::set(&io.now_s, 60);
    let second = go(&io, payload).await.expect("second part");
    assert!(matches!(
        second,
        Outcome::Ran {
            continued: true,
            ..
        }
    ));
    let lease = io.lease().expect("renewed");
    assert_eq!(lease.part, 2);
    assert_eq!(
        lease.renewed,
        wfm_relay_core::timefmt::format_rfc3339(at(60))
    );
    payload = serde_json::to_value(&io.invoked.lock().expect("lock")[1]).expect("json");
    let last = go(&io, payload).await.expect("last part");
    assert_eq!(last.to_json()["continued"], false, "{}", last.to_json());
    assert_eq!(io.lease(), None, "the last part deletes the lease");
    assert_eq!(io.invoked.lock().expect("lock").len(), 2);
    let ran = io.ran.lock().expect("lock");
    assert!(
        ran.iter()
            .all(|r| r.run_id.as_deref() == Some("snapshot-e1"))
    );
}

#[tokio::test]
async fn a_start_while_a_run_is_going_is_skipped_and_runs_nothing() {
    let io = Fake::default();
    io.write(&Lease::new("snapshot-e1", at(0), TTL));
    Fake::set(&io.now_s, 120);
    let out = go(&io, scheduled("e2")).await.expect("skipped");
    assert_eq!(out.skipped_count(), 1);
    let v = out.to_json();
    assert_eq!(
        (
            v["skipped"].clone(),
            v["run_id"].clone(),
            v["running"]["run_id"].clone()
        ),
        (json!(true), json!("snapshot-e2"), json!("snapshot-e1"))
    );
    assert!(io.ran.lock().expect("lock").is_empty());
    assert_eq!(io.lease().map(|l| l.run_id), Some("snapshot-e1".into()));
    // Two starts at once: the other one's create lands first.
    let io = Fake::default();
    Fake::set(&io.race, Some(Lease::new("snapshot-e3", at(0), TTL)));
    let out = go(&io, scheduled("e4")).await.expect("skipped");
    assert_eq!(out.skipped_count(), 1);
    assert!(io.ran.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_its_late_part_stops() {
    let io = Fake::default();
    io.write(&Lease::new("snapshot-crashed", at(0), TTL));
    Fake::set(&io.now_s, 601);
    Fake::set(&io.reports, VecDeque::from([part(6, None)]));
    let out = go(&io, scheduled("e5")).await.expect("taken over");
    assert!(matches!(
        out,
        Outcome::Ran {
            continued: false,
            ..
        }
    ));
    assert_eq!(io.ran.lock().expect("lock").len(), 1);
    assert_eq!(io.lease(), None, "released at its end");
    // A late part of the crashed run while a new run holds the lease: it stops.
    io.write(&Lease::new("snapshot-new", at(601), TTL));
    let late = part(0, Some(4)).next.map(|n| SnapshotRequest {
        run_id: Some("snapshot-crashed".into()),
        ..n
    });
    let out = go(&io, serde_json::to_value(late).expect("json"))
        .await
        .expect("lost");
    assert_eq!(out.to_json()["holder"]["run_id"], "snapshot-new");
    assert_eq!(io.ran.lock().expect("lock").len(), 1, "nothing ran");
}

#[tokio::test]
async fn lease_and_invoke_failures_fail_the_invocation_and_keep_the_lease() {
    let io = Fake::default();
    Fake::set(&io.fail_read, true);
    let e = go(&io, scheduled("e6"))
        .await
        .expect_err("unreadable lease");
    assert_eq!(e.to_string(), "snapshot lease: GetObject: 403 AccessDenied");
    assert!(
        io.ran.lock().expect("lock").is_empty(),
        "never skipped, never run"
    );

    let io = Fake::default();
    Fake::set(&io.fail_invoke, true);
    Fake::set(
        &io.reports,
        VecDeque::from([part(10, Some(2)), part(10, Some(2))]),
    );
    let e = go(&io, scheduled("e7")).await.expect_err("invoke failed");
    assert_eq!(
        e.to_string(),
        "cannot invoke the next part of snapshot-e7: TooManyRequestsException"
    );
    assert_eq!(io.lease().map(|l| l.run_id), Some("snapshot-e7".into()));
    // Lambda's retry of the same scheduled event is the same run: it renews, not skips.
    Fake::set(&io.fail_invoke, false);
    let out = go(&io, scheduled("e7")).await.expect("retried");
    assert!(matches!(
        out,
        Outcome::Ran {
            continued: true,
            ..
        }
    ));
    assert_eq!(io.lease().map(|l| l.part), Some(2));
}

#[tokio::test]
async fn a_run_stopped_for_good_releases_the_lease_and_fails() {
    let io = Fake::default();
    let mut r = part(0, None);
    r.stopped = Some("Genesys: 403 missing permission routing:queue:view".into());
    Fake::set(&io.reports, VecDeque::from([r]));
    let e = go(&io, scheduled("e8")).await.expect_err("stopped");
    assert!(
        e.to_string()
            .starts_with("snapshot snapshot-e8 stopped: Genesys"),
        "{e}"
    );
    assert_eq!(io.lease(), None);
    let bad = go(&io, json!({"action": "stats"}))
        .await
        .expect_err("payload");
    assert!(matches!(bad, ScheduleError::Payload(_)), "{bad}");
}
