//! Generated Genesys Cloud user events for the demo and load runs: alternately
//! `v2.users.{id}.presence` and `v2.users.{id}.routingStatus`, spread over 25 agents.
//!
//! Shape: the EventBridge envelope Genesys Cloud publishes to a partner event bus (`version`,
//! `id`, `detail-type`, `source`, `account`, `time`, `region`, `resources`, `detail` with
//! `topicName`, `version`, `eventBody`, `metadata.CorrelationId`, `timestamp`), as in the
//! repository's samples `tests/fixtures/genesys/` (source: Genesys Cloud Developer Center,
//! "Amazon EventBridge integration" and the notification topics `v2.users.{id}.presence` /
//! `v2.users.{id}.routingStatus`).

use serde_json::json;
use std::time::{Duration, SystemTime};
use wfm_relay_core::timefmt::format_rfc3339;

const PRESENCES: [&str; 5] = ["Available", "Break", "Meal", "Meeting", "Training"];
const ROUTING: [&str; 4] = ["IDLE", "INTERACTING", "NOT_RESPONDING", "OFF_QUEUE"];
/// Distinct agents the generated events are spread over.
pub const USERS: u64 = 25;
/// Time from an event's state change (`modifiedDate` / `startTime`) to its publication
/// (`detail.timestamp`, `time`), ms.
pub const PUBLISH_DELAY_MS: u64 = 40;

/// One generated user event; everything but the id, correlation id, source and state time
/// follows from `index`.
#[derive(Debug, Clone, Copy)]
pub struct UserEvent<'a> {
    /// Position in its run: even → presence, odd → routing status; the agent is
    /// `aaaaaaaa-0000-4000-8000-<0xd00 + index % 25, 12 hex>`, the presence / status value
    /// cycles with `index`.
    pub index: usize,
    /// The EventBridge `id`.
    pub id: &'a str,
    /// `detail.metadata.CorrelationId`.
    pub correlation_id: &'a str,
    /// The EventBridge `source`, e.g.
    /// `aws.partner/genesys.com/cloud/<organisation id>/<integration name>`.
    pub source: &'a str,
    /// When the state changed (`modifiedDate` / `startTime`, ms precision); published
    /// [`PUBLISH_DELAY_MS`] later.
    pub state_time: SystemTime,
}

impl UserEvent<'_> {
    /// The topic kind: `presence` for an even index, `routingStatus` for an odd one.
    pub fn kind(&self) -> &'static str {
        if self.index.is_multiple_of(2) {
            "presence"
        } else {
            "routingStatus"
        }
    }

    /// The event as the EventBridge invocation payload, about 700 bytes of compact JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let i = self.index;
        let user = format!(
            "aaaaaaaa-0000-4000-8000-{:012x}",
            0xd00 + (i as u64 % USERS)
        );
        let modified = format_rfc3339(self.state_time);
        let published = format_rfc3339(self.state_time + Duration::from_millis(PUBLISH_DELAY_MS));
        // EventBridge's `time` has second precision.
        let time = format!("{}Z", published.get(..19).unwrap_or(&published));
        let kind = self.kind();
        let body = if i.is_multiple_of(2) {
            json!({
                "source": "PURECLOUD",
                "presenceDefinition": {
                    "id": format!("6a3af858-0000-4000-8000-{:012x}", i % PRESENCES.len()),
                    "systemPresence": PRESENCES[i % PRESENCES.len()],
                },
                "primary": true,
                "message": "",
                "modifiedDate": modified,
            })
        } else {
            json!({
                "id": user,
                "routingStatus": {
                    "status": ROUTING[i % ROUTING.len()],
                    "startTime": modified,
                },
            })
        };
        let event = json!({
            "version": "0",
            "id": self.id,
            "detail-type": format!("v2.users.{{id}}.{kind}"),
            "source": self.source,
            "account": "123456789012",
            "time": time,
            "region": "eu-west-1",
            "resources": [],
            "detail": {
                "topicName": format!("v2.users.{user}.{kind}"),
                "version": "2",
                "eventBody": body,
                "metadata": { "CorrelationId": self.correlation_id },
                "timestamp": published,
            },
        });
        // Serialising a `Value` cannot fail.
        serde_json::to_vec(&event).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn presence_and_routing_status_alternate_with_the_fields_given() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let ev = |index| UserEvent {
            index,
            id: "11111111-0000-4000-8000-000000000001",
            correlation_id: "c0ffee00-0000-4000-8000-000000000001",
            source: "aws.partner/genesys.com/cloud/org/x",
            state_time: t,
        };
        let p: Value = serde_json::from_slice(&ev(0).to_bytes()).expect("JSON");
        assert_eq!(p["detail-type"], "v2.users.{id}.presence");
        assert_eq!(
            p["detail"]["topicName"],
            "v2.users.aaaaaaaa-0000-4000-8000-000000000d00.presence"
        );
        assert_eq!(p["detail"]["eventBody"]["systemPresence"], Value::Null);
        assert_eq!(
            p["detail"]["eventBody"]["presenceDefinition"]["systemPresence"],
            "Available"
        );
        assert_eq!(
            p["detail"]["eventBody"]["modifiedDate"],
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(p["detail"]["timestamp"], "2023-11-14T22:13:20.163Z");
        assert_eq!(p["time"], "2023-11-14T22:13:20Z");
        assert_eq!(p["id"], "11111111-0000-4000-8000-000000000001");
        assert_eq!(p["source"], "aws.partner/genesys.com/cloud/org/x");
        assert_eq!(
            p["detail"]["metadata"]["CorrelationId"],
            "c0ffee00-0000-4000-8000-000000000001"
        );

        let r: Value = serde_json::from_slice(&ev(27).to_bytes()).expect("JSON");
        assert_eq!(ev(27).kind(), "routingStatus");
        assert_eq!(r["detail-type"], "v2.users.{id}.routingStatus");
        assert_eq!(
            r["detail"]["eventBody"]["id"],
            "aaaaaaaa-0000-4000-8000-000000000d02"
        );
        assert_eq!(
            r["detail"]["eventBody"]["routingStatus"]["status"],
            "OFF_QUEUE"
        );
        let info = wfm_relay_core::event::parse_event(&ev(27).to_bytes()).expect("valid event");
        assert_eq!(info.id, "11111111-0000-4000-8000-000000000001");
    }
}
