//! What the scripted WFM server does during the demo: flaky (random 502 / 503 / no answer), then
//! down (503), then healthy; one sample always rejected (400) and the last generated events always
//! answered 503, whatever the phase.

use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wfm_relay_local::harness::Clock;
use wfm_relay_local::{Reply, Script, ScriptedWfm};

use crate::events::{DemoEvent, Special};

/// The WFM server's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Random 502 / 503 / no answer on half the requests.
    Flaky,
    /// Every request 503 (except the rejected one).
    Outage,
    /// Every request 200 (except the rejected and the stuck ones).
    Healthy,
}

/// The phases of the WFM server over time.
pub struct Phases {
    /// The ids WFM always answers 400.
    pub rejected: Vec<String>,
    /// The ids WFM always answers 503.
    pub stuck: Vec<String>,
    /// How long WFM is flaky, from the start of sending.
    pub flaky_for: Duration,
    /// When WFM is healthy again, from the start of sending.
    pub outage_end: Duration,
}

impl Phases {
    /// Runs the phases on `wfm` on a spawned task (which must already serve [`flaky_script`]);
    /// the receiver follows the phase.
    pub fn spawn(
        &self,
        wfm: &ScriptedWfm,
        clock: Clock,
    ) -> (JoinHandle<()>, watch::Receiver<Phase>) {
        let (phase_tx, phase_rx) = watch::channel(Phase::Flaky);
        let wfm = wfm.clone();
        let (rejected, stuck) = (self.rejected.clone(), self.stuck.clone());
        let (flaky_for, outage_end) = (self.flaky_for, self.outage_end);
        let task = tokio::spawn(async move {
            tokio::time::sleep(flaky_for).await;
            wfm.set_script(special_script(&rejected, &stuck, 503));
            let _ = phase_tx.send(Phase::Outage);
            println!("{} WFM down: every request gets 503", clock.stamp());
            tokio::time::sleep(outage_end.saturating_sub(flaky_for)).await;
            wfm.set_script(special_script(&rejected, &stuck, 200));
            let _ = phase_tx.send(Phase::Healthy);
            println!("{} WFM healthy again: 200", clock.stamp());
        });
        (task, phase_rx)
    }
}

/// The ids of the events with this special treatment.
pub fn ids_of(events: &[DemoEvent], special: Special) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.special == special)
        .filter_map(|e| e.id.clone())
        .collect()
}

/// Warm-up: each request independently, half of them fail (502, 503, or no answer at all).
pub fn flaky_script() -> Script {
    Script::Random {
        p_fail: 0.5,
        faults: vec![Reply::status(502), Reply::status(503), Reply::hang()],
        ok: Reply::status(200),
        seed: 2026,
    }
}

/// Outage (`status` 503) or healthy (`status` 200), with the rejected event always answered 400
/// and the stuck events always 503.
pub fn special_script(rejected: &[String], stuck: &[String], status: u16) -> Script {
    let mut by_event_id = HashMap::new();
    for id in rejected {
        by_event_id.insert(
            id.clone(),
            vec![
                Reply::status(400)
                    .header("Content-Type", "application/json")
                    .body(r#"{"error":"unsupported topic: detail events are not accepted"}"#),
            ],
        );
    }
    for id in stuck {
        by_event_id.insert(id.clone(), vec![Reply::status(503)]);
    }
    Script::PerEvent {
        by_event_id,
        default: vec![Reply::status(status)],
    }
}
