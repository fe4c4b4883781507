//! What the scripted WFM server does when: random faults until half the events are started, a
//! full outage of `--outage-s`, random faults again, and healthy for the recovery. Throughout
//! (but the recovery), the hostile mix's long-`Retry-After` events get that answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use wfm_relay_bench::hostile::Hostile;
use wfm_relay_local::{Reply, Script};

use crate::run::Run;

/// The WFM server's phase, in the order the run goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Random faults at `--fault-rate`, before the outage.
    Faults,
    /// Every request answered 503.
    Outage,
    /// Random faults again, after the outage.
    After,
    /// Every request answered 200 (the recovery).
    Healthy,
}

impl Phase {
    /// The checkpoint lines' name of the phase.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Faults | Phase::After => "faults",
            Phase::Outage => "outage",
            Phase::Healthy => "healthy",
        }
    }
}

/// Requests of one event that draw a fault before its replies settle on `200`.
const DRAWS_PER_EVENT: usize = 12;

/// The fault replies, picked uniformly: 502, 503, 504, no answer, reset, a slow 200 within the
/// client's timeout and a slow 200 past it (WFM accepted it, the forwarder timed out: it
/// retries, so the event is posted twice with the same key).
fn fault_replies(timeout: Duration) -> Vec<Reply> {
    vec![
        Reply::status(502),
        Reply::status(503),
        Reply::status(504),
        Reply::hang(),
        Reply::reset(),
        Reply::status(200).delay(timeout / 2),
        Reply::status(200).delay(timeout + Duration::from_millis(200)),
    ]
}

/// WFM's answer to every POST of an event of the hostile mix's [`Hostile::RetryAfter`]: 429 or
/// 503 (alternately by index) with `Retry-After: <secs>`.
pub fn retry_after_reply(i: usize, secs: u64) -> Reply {
    let status = if i.is_multiple_of(2) { 429 } else { 503 };
    Reply::status(status).header("Retry-After", secs.to_string())
}

/// The replies per event id of the events of the hostile mix that WFM answers with a long
/// `Retry-After` (none when the mix is off).
fn retry_after_events(run: &Run) -> HashMap<String, Vec<Reply>> {
    if !run.args.hostile() {
        return HashMap::new();
    }
    (0..run.n())
        .filter_map(|i| match Hostile::of(i) {
            Hostile::RetryAfter(secs) => Some((run.fam.id(i), vec![retry_after_reply(i, secs)])),
            _ => None,
        })
        .collect()
}

/// Random faults: each event's first [`DRAWS_PER_EVENT`] requests draw, each with probability
/// `rate`, one of [`fault_replies`] (xorshift64* seeded with `seed`, so a run is repeatable);
/// later ones get `200`. The events of the hostile mix's long `Retry-After` get that answer
/// instead, every time.
pub fn fault_script(run: &Run, seed: u64) -> Script {
    let faults = fault_replies(run.args.wfm_timeout());
    let mut rng = Xorshift(seed.max(1));
    let mut by_event_id = HashMap::with_capacity(run.n());
    for i in 0..run.n() {
        let mut replies: Vec<Reply> = (0..DRAWS_PER_EVENT)
            .map(|_| {
                if rng.next_f64() < run.args.fault_rate {
                    faults[(rng.next_u64() % faults.len() as u64) as usize].clone()
                } else {
                    Reply::status(200)
                }
            })
            .collect();
        replies.push(Reply::status(200));
        by_event_id.insert(run.fam.id(i), replies);
    }
    by_event_id.extend(retry_after_events(run));
    Script::PerEvent {
        by_event_id,
        default: vec![Reply::status(200)],
    }
}

/// The outage: every request 503, but the long `Retry-After` events keep their answer.
fn outage_script(run: &Run) -> Script {
    Script::PerEvent {
        by_event_id: retry_after_events(run),
        default: vec![Reply::status(503)],
    }
}

/// xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators").
struct Xorshift(u64);

impl Xorshift {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)` from 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Faults until half the events are started, then the outage, then faults again.
pub async fn run_phases(run: Arc<Run>) {
    let (rate, outage_s) = (run.args.fault_rate, run.args.outage_s);
    println!(
        "{} WFM: random faults on {:.0} % of the requests",
        run.clock.stamp(),
        rate * 100.0
    );
    while run.counters.started.load(Ordering::SeqCst) < run.n() / 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run.wfm.set_script(outage_script(&run));
    run.phase.send_replace(Phase::Outage);
    println!(
        "{} WFM: full outage, every request 503, for {outage_s} s",
        run.clock.stamp()
    );
    tokio::time::sleep(Duration::from_secs(outage_s)).await;
    run.wfm
        .set_script(fault_script(&run, run.args.seed.wrapping_add(1)));
    run.phase.send_replace(Phase::After);
    println!(
        "{} WFM: outage over, random faults again",
        run.clock.stamp()
    );
}

/// Waits until the phase satisfies `reached`.
pub async fn wait_for_phase(run: &Run, reached: impl FnMut(&Phase) -> bool) {
    // The sender lives in `run`, which outlives this wait: `wait_for` cannot fail here.
    let _ = run.phase.subscribe().wait_for(reached).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_ordered_as_the_run_goes() {
        assert!(Phase::Faults < Phase::Outage);
        assert!(Phase::Outage < Phase::After);
        assert!(Phase::After < Phase::Healthy);
        let names: Vec<&str> = [Phase::Faults, Phase::Outage, Phase::After, Phase::Healthy]
            .iter()
            .map(|p| p.name())
            .collect();
        assert_eq!(names, ["faults", "outage", "faults", "healthy"]);
    }

    #[test]
    fn retry_after_replies_alternate_429_and_503() {
        let r = retry_after_reply(7, 3_600);
        assert_eq!(r.status, 503);
        assert_eq!(r.headers, [("Retry-After".to_owned(), "3600".to_owned())]);
        assert_eq!(retry_after_reply(8, 86_400).status, 429);
        let mut rng = Xorshift(2026);
        let draws: Vec<f64> = (0..1000).map(|_| rng.next_f64()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let below = draws.iter().filter(|d| **d < 0.3).count();
        assert!((200..400).contains(&below), "{below}");
    }
}
