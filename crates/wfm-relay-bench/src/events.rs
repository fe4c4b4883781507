//! Generated Genesys Cloud events for load runs, built one at a time from their index so that a
//! run of 100,000 events holds no per-event bodies.
//!
//! Shape: [`wfm_relay_local::genesys`] (the EventBridge envelope Genesys Cloud publishes to a
//! partner bus, as in `tests/fixtures/genesys/`); this module only picks ids and state times.

use std::time::{Duration, SystemTime};
use wfm_relay_local::UserEvent;

/// The partner event source (fake organisation id, as in the repository's samples).
const SOURCE: &str =
    "aws.partner/genesys.com/cloud/11111111-2222-3333-4444-555555555555/wfm-relay-chaos";

/// A family of generated events of one run. Event `i` has the EventBridge id
/// `<run:8 hex>-0000-4000-8000-<i:12 hex>`, so an id read back from a WFM request or a queue
/// message maps to its index without a lookup table.
#[derive(Debug, Clone, Copy)]
pub struct EventFamily {
    run: u32,
    /// State time of event 0; event `i` is `i` ms later (distinct bodies, distinct keys).
    start: SystemTime,
}

impl EventFamily {
    /// A family for run `run` whose state times start at `start`.
    pub fn new(run: u32, start: SystemTime) -> Self {
        EventFamily { run, start }
    }

    /// A family with a random run id, state times starting one day before now.
    pub fn random() -> Self {
        let run = (uuid::Uuid::new_v4().as_u128() & 0xffff_ffff) as u32;
        let start = SystemTime::now()
            .checked_sub(Duration::from_secs(86_400))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        EventFamily::new(run, start)
    }

    /// The run id, 8 hex digits.
    pub fn run_hex(&self) -> String {
        format!("{:08x}", self.run)
    }

    /// The EventBridge `id` of event `i`.
    pub fn id(&self, i: usize) -> String {
        format!("{:08x}-0000-4000-8000-{:012x}", self.run, i)
    }

    /// The index of the event with EventBridge id `id`, when it belongs to this family.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        let rest = id.strip_prefix(&format!("{:08x}-0000-4000-8000-", self.run))?;
        if rest.len() != 12 {
            return None;
        }
        usize::from_str_radix(rest, 16).ok()
    }

    /// The bytes of event `i`, a [`UserEvent`] (alternately `v2.users.{id}.presence` and
    /// `v2.users.{id}.routingStatus`, spread over 25 agents; about 700 bytes) with id
    /// [`EventFamily::id`], correlation id `c0ffee00-0000-4000-8000-<i:12 hex>` and state time
    /// `start` + `i` ms.
    pub fn event(&self, i: usize) -> Vec<u8> {
        UserEvent {
            index: i,
            id: &self.id(i),
            correlation_id: &format!("c0ffee00-0000-4000-8000-{i:012x}"),
            source: SOURCE,
            state_time: self.start + Duration::from_millis(i as u64),
        }
        .to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_back_to_their_index_and_events_are_valid() {
        let f = EventFamily::new(
            0xabcd_0123,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        );
        for i in [0usize, 1, 7, 99_999, 123_456] {
            let id = f.id(i);
            assert_eq!(f.index_of(&id), Some(i), "{id}");
            let bytes = f.event(i);
            let info = wfm_relay_core::event::parse_event(&bytes).expect("valid event");
            assert_eq!(info.id, id);
            assert!((500..900).contains(&bytes.len()), "{} bytes", bytes.len());
        }
        assert_eq!(f.index_of("abcd0124-0000-4000-8000-000000000001"), None);
        assert_eq!(f.index_of("not an id"), None);
        // Distinct events, distinct idempotency keys (the bodies' state times differ).
        assert_ne!(f.event(0), f.event(2));
    }
}
