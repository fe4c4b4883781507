//! The outside evidence the run is judged by: WFM's recorded requests (which events were
//! answered 2xx, with which `Idempotency-Key`), the queues' depths at the checkpoints, and the
//! event ids left in the queues at the end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};
use wfm_relay_bench::events::EventFamily;
use wfm_relay_core::replay::decode_dead_letter;
use wfm_relay_local::harness::lock;
use wfm_relay_local::stack::{depth, peek_bodies};
use wfm_relay_local::{Recorded, ScriptedWfm};

use crate::ledger::Waiting;
use crate::run::{Outcome, Run};

/// Who got an event its first 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstDelivery {
    /// No 2xx yet.
    NotYet,
    /// A forwarder POST (inline or from the retry queue).
    Forwarder,
    /// A replayer POST (`X-Replay: true`).
    Replayer,
}

/// Per-event evidence gathered from the WFM server's recorded requests.
pub struct Evidence {
    /// Per event index: who delivered it first.
    pub first: Vec<FirstDelivery>,
    /// The first `Idempotency-Key` seen per event.
    keys: Vec<Option<Box<str>>>,
    /// Recorded requests already looked at.
    seen: usize,
    /// Distinct events answered 2xx.
    pub delivered: usize,
    /// Requests WFM read.
    pub requests: usize,
    /// Requests answered 2xx.
    pub ok_2xx: usize,
    /// Requests never answered (hang / reset).
    pub no_answer: usize,
    /// Answered requests by status.
    pub by_status: BTreeMap<u16, usize>,
    /// POSTs of an event already posted.
    pub repeated_posts: usize,
    /// 2xx answers for an event already delivered.
    pub duplicate_deliveries: usize,
    /// Repeated POSTs whose `Idempotency-Key` differs from the event's first one.
    pub key_mismatches: usize,
    /// Requests with no `X-Event-Id` of this run.
    pub foreign: usize,
}

impl Evidence {
    /// Evidence for `n` events, nothing seen yet.
    pub fn new(n: usize) -> Self {
        Evidence {
            first: vec![FirstDelivery::NotYet; n],
            keys: vec![None; n],
            seen: 0,
            delivered: 0,
            requests: 0,
            ok_2xx: 0,
            no_answer: 0,
            by_status: BTreeMap::new(),
            repeated_posts: 0,
            duplicate_deliveries: 0,
            key_mismatches: 0,
            foreign: 0,
        }
    }

    /// Reads the requests recorded since the last call.
    pub fn update(&mut self, fam: &EventFamily, wfm: &ScriptedWfm) {
        let all = wfm.requests();
        for r in all.iter().skip(self.seen) {
            self.add(fam, r);
        }
        self.seen = all.len();
    }

    fn add(&mut self, fam: &EventFamily, r: &Recorded) {
        self.requests += 1;
        match r.answered {
            Some(s) => *self.by_status.entry(s).or_default() += 1,
            None => self.no_answer += 1,
        }
        let Some(i) = r
            .header("x-event-id")
            .and_then(|id| fam.index_of(id))
            .filter(|i| *i < self.first.len())
        else {
            self.foreign += 1;
            return;
        };
        let key = r.header("idempotency-key").unwrap_or("");
        match &self.keys[i] {
            Some(first) => {
                self.repeated_posts += 1;
                if **first != *key {
                    self.key_mismatches += 1;
                }
            }
            None => self.keys[i] = Some(key.into()),
        }
        if r.answered.is_some_and(|s| (200..300).contains(&s)) {
            self.ok_2xx += 1;
            if self.first[i] == FirstDelivery::NotYet {
                self.delivered += 1;
                self.first[i] = if r.header("x-replay") == Some("true") {
                    FirstDelivery::Replayer
                } else {
                    FirstDelivery::Forwarder
                };
            } else {
                self.duplicate_deliveries += 1;
            }
        }
    }
}

/// A checkpoint every `--checkpoint-s` until aborted.
///
/// # Errors
/// When a queue depth cannot be read.
pub async fn checkpoint_loop(run: Arc<Run>) -> anyhow::Result<()> {
    let every = Duration::from_secs(run.args.checkpoint_s.max(1));
    loop {
        tokio::time::sleep(every).await;
        let label = format!(
            "{}/{} sent, WFM {}",
            run.counters.started.load(Ordering::SeqCst),
            run.n(),
            run.phase.borrow().name()
        );
        check_once(&run, &label).await?;
    }
}

/// Re-reads of a checkpoint that came out short before it counts as a failure.
const CHECK_REREADS: usize = 5;

/// One checkpoint. Reads, in this order, the completed invocations, the retry queue's depth,
/// the DLQ's depth and WFM's recorded requests: an event moves retry queue → DLQ (parked before
/// it is deleted) or retry queue / DLQ → delivered (2xx recorded before the delete), so with this
/// order every completed event is counted at least once, and `delivered + retry + DLQ ≥
/// completed` holds unless an event is lost. (It can miss a loss: an event both delivered and
/// still queued counts twice; the final check compares id sets.)
///
/// moto computes the visible, in-flight and delayed counts of one `GetQueueAttributes` one after
/// the other, so a message that changes state in between (a delay or a visibility timeout
/// ending) can be missed by one reading. A short reading is therefore re-read up to
/// [`CHECK_REREADS`] times, 0.5 s apart, and counts as a failure only when every reading is short.
///
/// # Errors
/// When a queue depth cannot be read.
pub async fn check_once(run: &Run, label: &str) -> anyhow::Result<()> {
    let mut rereads = 0;
    loop {
        let completed = run.counters.completed.load(Ordering::SeqCst);
        let retry = depth(&run.sqs, &run.stack.retry_url).await?;
        let dlq = depth(&run.sqs, &run.stack.dlq_url).await?;
        let (delivered, requests) = {
            let mut ev = lock(&run.evidence);
            ev.update(&run.fam, &run.wfm);
            (ev.delivered, ev.requests)
        };
        let sum = delivered + retry + dlq;
        let short = sum < completed;
        if short && rereads < CHECK_REREADS {
            rereads += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let mut verdict = if short {
            run.check_failures.fetch_add(1, Ordering::SeqCst);
            format!("CHECK FAILED: {} events missing", completed - sum)
        } else {
            "ok".to_owned()
        };
        if rereads > 0 {
            verdict.push_str(&format!(" (after {rereads} short readings)"));
        }
        println!(
            "{} checkpoint ({label}): delivered {delivered} + retry queue {retry} + DLQ {dlq} = {sum} ≥ {completed} answered invocations: {verdict} | WFM requests {requests}",
            run.clock.stamp()
        );
        return Ok(());
    }
}

/// The EventBridge ids of the messages of `url` (our envelope, Lambda's on-failure record or a
/// raw event; `None` for a body without an id), read by receiving up to `expected` messages
/// (waiting at most `patience` for in-flight and delayed ones, hiding each for 120 s meanwhile)
/// and making them visible again.
async fn peek_event_ids(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    expected: usize,
    patience: Duration,
) -> anyhow::Result<Vec<Option<String>>> {
    let bodies = peek_bodies(sqs, url, expected, patience, 120).await?;
    Ok(bodies
        .iter()
        .map(|body| decode_dead_letter(body).env.event_id)
        .collect())
}

/// Where one event ended up (the first that applies, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    /// WFM answered it 2xx.
    Delivered,
    /// In the retry queue with a `not_before` ahead (waiting for a `Retry-After`).
    Waiting,
    /// In the DLQ or the archive.
    Parked,
    /// In the retry queue, not waiting (the drain budget ran out).
    Queued,
    /// Nowhere.
    Lost,
}

impl Place {
    /// The summary's label.
    pub fn label(self) -> &'static str {
        match self {
            Place::Delivered => "delivered",
            Place::Waiting => "queued, waiting for Retry-After",
            Place::Parked => "parked (DLQ / archive)",
            Place::Queued => "still queued",
            Place::Lost => "LOST",
        }
    }
}

/// Where every event ended up at the end of the run.
pub struct Accounting {
    /// WFM's evidence, read once more at the end.
    pub evidence: Evidence,
    /// Messages left in the retry queue.
    pub retry_depth: usize,
    /// Of those, the ones the ledger shows with a `not_before` ahead, earliest first.
    pub waiting: Vec<Waiting>,
    /// Messages the ledger and the receives claim beyond the retry queue's depth (more than 0
    /// fails the run: the ledger would hide a loss).
    pub overclaimed: usize,
    /// Messages left in the DLQ.
    pub dlq_depth: usize,
    /// Dead letters archived by the recovery.
    pub archived: usize,
    /// Indices of the events found in none of delivered / retry queue / DLQ / archive.
    pub lost: Vec<usize>,
    /// Per event index, where it ended up.
    pub places: Vec<Place>,
    /// Delivered by the EventBridge invocation itself.
    pub inline: usize,
    /// Delivered by a forwarder from the retry queue.
    pub via_queue: usize,
    /// Delivered by the replayer.
    pub via_replay: usize,
    /// What the EventBridge invocations answered, by [`Outcome::label`].
    pub answered: BTreeMap<&'static str, usize>,
}

impl Accounting {
    /// delivered + retry queue + DLQ + archived.
    pub fn accounted(&self) -> usize {
        self.evidence.delivered + self.retry_depth + self.dlq_depth + self.archived
    }

    /// Retry-queue messages not waiting for a `Retry-After`.
    pub fn queued_other(&self) -> usize {
        self.retry_depth.saturating_sub(self.waiting.len())
    }
}

/// The final accounting: reads the retry queue's and the DLQ's depths and event ids (the retry
/// queue's waiting messages from the ledger, the others by receiving them), WFM's recorded
/// requests, and places every event (the ids of `archived_ids` come from the archive).
///
/// # Errors
/// When a queue cannot be read.
pub async fn account(run: &Run, archived_ids: &[Option<String>]) -> anyhow::Result<Accounting> {
    let (sqs, n, fam) = (&run.sqs, run.n(), &run.fam);
    let patience = Duration::from_secs(20);
    let retry_depth = depth(sqs, &run.stack.retry_url).await?;
    let waiting = run.ledger.waiting(SystemTime::now());
    let visible = retry_depth.saturating_sub(waiting.len());
    let retry_ids = peek_event_ids(sqs, &run.stack.retry_url, visible, patience).await?;
    let overclaimed = (retry_ids.len() + waiting.len()).saturating_sub(retry_depth);
    let dlq_depth = depth(sqs, &run.stack.dlq_url).await?;
    let dlq_ids = peek_event_ids(sqs, &run.stack.dlq_url, dlq_depth, patience).await?;
    let evidence = {
        let mut e = lock(&run.evidence);
        e.update(fam, &run.wfm);
        std::mem::replace(&mut *e, Evidence::new(0))
    };
    let mut places: Vec<Place> = evidence
        .first
        .iter()
        .map(|f| match f {
            FirstDelivery::NotYet => Place::Lost,
            _ => Place::Delivered,
        })
        .collect();
    let waiting_ids: Vec<Option<String>> = waiting.iter().map(|w| w.event_id.clone()).collect();
    let parked_ids = dlq_ids.iter().chain(archived_ids);
    for (place, ids) in [
        (Place::Waiting, waiting_ids.iter().collect::<Vec<_>>()),
        (Place::Parked, parked_ids.collect()),
        (Place::Queued, retry_ids.iter().collect()),
    ] {
        for i in ids.into_iter().flatten().filter_map(|id| fam.index_of(id)) {
            if let Some(p) = places.get_mut(i) {
                *p = (*p).min(place);
            }
        }
    }
    let lost: Vec<usize> = (0..n).filter(|i| places[*i] == Place::Lost).collect();
    let outcomes = std::mem::take(&mut *lock(&run.outcomes));
    let (mut inline, mut via_queue, mut via_replay) = (0, 0, 0);
    for (i, first) in evidence.first.iter().enumerate() {
        match first {
            FirstDelivery::NotYet => {}
            FirstDelivery::Replayer => via_replay += 1,
            FirstDelivery::Forwarder if outcomes[i] == Outcome::Delivered => inline += 1,
            FirstDelivery::Forwarder => via_queue += 1,
        }
    }
    let mut answered: BTreeMap<&'static str, usize> = BTreeMap::new();
    for o in &outcomes {
        *answered.entry(o.label()).or_default() += 1;
    }
    Ok(Accounting {
        evidence,
        retry_depth,
        waiting,
        overclaimed,
        dlq_depth,
        archived: archived_ids.len(),
        lost,
        places,
        inline,
        via_queue,
        via_replay,
        answered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(fam: &EventFamily, i: usize, key: &str, answered: Option<u16>) -> Recorded {
        Recorded {
            at: SystemTime::now(),
            connection: 1,
            nth_on_connection: 1,
            method: "POST".into(),
            path: "/".into(),
            headers: vec![
                ("x-event-id".into(), fam.id(i)),
                ("idempotency-key".into(), key.into()),
            ],
            body: Vec::new(),
            answered,
        }
    }

    #[test]
    fn evidence_counts_deliveries_repeats_and_key_mismatches() {
        let fam = EventFamily::new(7, SystemTime::UNIX_EPOCH);
        let mut ev = Evidence::new(3);
        ev.add(&fam, &request(&fam, 0, "k0", Some(503)));
        ev.add(&fam, &request(&fam, 0, "k0", Some(200)));
        ev.add(&fam, &request(&fam, 0, "k0", Some(200)));
        ev.add(&fam, &request(&fam, 1, "k1", None));
        ev.add(&fam, &request(&fam, 1, "other", Some(200)));
        let mut foreign = request(&fam, 0, "k0", Some(200));
        foreign.headers[0].1 = "not-of-this-run".into();
        ev.add(&fam, &foreign);
        assert_eq!(ev.requests, 6);
        assert_eq!(ev.delivered, 2);
        assert_eq!(ev.ok_2xx, 3);
        assert_eq!(ev.no_answer, 1);
        assert_eq!(ev.repeated_posts, 3);
        assert_eq!(ev.key_mismatches, 1);
        assert_eq!(ev.duplicate_deliveries, 1);
        assert_eq!(ev.foreign, 1);
        assert_eq!(
            ev.first,
            [
                FirstDelivery::Forwarder,
                FirstDelivery::Forwarder,
                FirstDelivery::NotYet
            ]
        );
        assert_eq!(ev.by_status, BTreeMap::from([(200, 4), (503, 1)]));
    }
}
