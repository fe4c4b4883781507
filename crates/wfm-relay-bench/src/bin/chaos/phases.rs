//! What the scripted WFM server does when: random faults until half the events are started, a
//! full outage of `--outage-s`, random faults again, and healthy for the recovery.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
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

/// Random faults: with probability `rate` one of 502, 503, 504, no answer, reset, a slow 200
/// within the client's timeout and a slow 200 past it (WFM accepted it, the forwarder timed out:
/// it retries, so the event is posted twice with the same key).
pub fn fault_script(rate: f64, timeout: Duration, seed: u64) -> Script {
    Script::Random {
        p_fail: rate,
        faults: vec![
            Reply::status(502),
            Reply::status(503),
            Reply::status(504),
            Reply::hang(),
            Reply::reset(),
            Reply::status(200).delay(timeout / 2),
            Reply::status(200).delay(timeout + Duration::from_millis(200)),
        ],
        ok: Reply::status(200),
        seed,
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
    run.wfm
        .set_script(Script::Sequence(vec![Reply::status(503)]));
    run.phase.send_replace(Phase::Outage);
    println!(
        "{} WFM: full outage, every request 503, for {outage_s} s",
        run.clock.stamp()
    );
    tokio::time::sleep(Duration::from_secs(outage_s)).await;
    run.wfm.set_script(fault_script(
        rate,
        run.args.wfm_timeout(),
        run.args.seed.wrapping_add(1),
    ));
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
}
