//! The stand-in's directory: N agents generated deterministically from their index, and the JSON
//! of each Genesys Cloud model the stand-in serves.
//!
//! Model shapes follow the official SDK's models (PyPI `purecloudplatformclientv2` 269.0.0,
//! `PureCloudPlatformClientV2/models/`): `User` (`user.py`), `UserPresence`
//! (`user_presence.py`), `UcUserPresence` (`uc_user_presence.py`), `PresenceDefinition`
//! (`presence_definition.py`), `RoutingStatus` (`routing_status.py`, status enum `OFF_QUEUE`,
//! `IDLE`, `INTERACTING`, `NOT_RESPONDING`, `COMMUNICATING`), `Division` (`division.py`),
//! `QueueMember` (`queue_member.py`), `Organization` (`organization.py`), `EmployerInfo`
//! (`employer_info.py`: `officialName`, `employeeId`, `employeeType`, `dateHire`).

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use wfm_relay_core::timefmt::format_rfc3339;

/// The system presences the generator cycles through: (presence definition id, `systemPresence`
/// as the REST API writes it). The ids are fake, in the shape of the fixtures'.
pub const PRESENCES: [(&str, &str); 6] = [
    ("6a3af858-0000-4000-8000-0000000000b2", "Available"),
    ("3fd4b2a8-0000-4000-8000-0000000000b3", "On Queue"),
    ("e08eaf1b-0000-4000-8000-0000000000b1", "Break"),
    ("5e16d3d0-0000-4000-8000-0000000000b4", "Meal"),
    ("31fe3bac-0000-4000-8000-0000000000b5", "Away"),
    ("ccf3c10a-0000-4000-8000-0000000000b6", "Training"),
];

/// The routing statuses of agents who are `On Queue`, in the generator's order.
const ON_QUEUE_STATUSES: [&str; 4] = ["IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING"];

/// One generated agent: every value the stand-in serves about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// 0-based index the agent was generated from.
    pub index: usize,
    /// User id, `a9e70000-0000-4000-8000-<index + 1 as 12 hex digits>`.
    pub id: String,
    /// Display name, `Agent <index + 1>`.
    pub name: String,
    /// Username and email, `agent<index + 1>@example.com`.
    pub username: String,
    /// Division id (agents alternate over the configured divisions).
    pub division_id: String,
    /// `employerInfo.employeeId`, `E<index + 1 as 5 digits>`; `None` for every tenth agent
    /// (index 9, 19, …), whose `employerInfo` is absent.
    pub employee_id: Option<String>,
    /// Group ids the agent belongs to (one: `index % groups`).
    pub group_ids: Vec<String>,
    /// Queue ids the agent is a member of (one: `index % queues`).
    pub queue_ids: Vec<String>,
    /// `presenceDefinition.id`.
    pub presence_id: String,
    /// `presenceDefinition.systemPresence`.
    pub system_presence: String,
    /// `primary` of the PURECLOUD presence (always `true`).
    pub primary: bool,
    /// The status message (`""` for most agents, `"back soon"` for every seventh).
    pub message: String,
    /// Presence `modifiedDate`, RFC 3339 with milliseconds.
    pub modified_date: String,
    /// Routing `status`.
    pub routing_status: String,
    /// Routing `startTime`, RFC 3339 with milliseconds.
    pub routing_start: String,
}

/// How many of each thing the directory holds, and the time the states are anchored at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// Number of agents.
    pub agents: usize,
    /// Number of groups (≥ 1).
    pub groups: usize,
    /// Number of queues (≥ 1).
    pub queues: usize,
    /// Number of divisions (≥ 1).
    pub divisions: usize,
    /// Agent `i`'s presence began `epoch + i % 3600 s + i ms`; its routing status 1 s later.
    pub epoch: SystemTime,
}

fn uuid(prefix: &str, n: usize) -> String {
    format!("{prefix}-0000-4000-8000-{n:012x}")
}

/// The id of group `k` (0-based).
pub fn group_id(k: usize) -> String {
    uuid("9a0b0000", k + 1)
}

/// The id of queue `k` (0-based).
pub fn queue_id(k: usize) -> String {
    uuid("9c1f0000", k + 1)
}

/// The id of division `k` (0-based).
pub fn division_id(k: usize) -> String {
    uuid("d1d10000", k + 1)
}

impl Directory {
    /// Agent `index` (any index; the directory serves `0..agents`).
    pub fn agent(&self, index: usize) -> Agent {
        let n = index + 1;
        let (presence_id, system) = PRESENCES[index % PRESENCES.len()];
        let routing = if system == "On Queue" {
            ON_QUEUE_STATUSES[(index / PRESENCES.len()) % ON_QUEUE_STATUSES.len()]
        } else {
            "OFF_QUEUE"
        };
        let offset = Duration::from_secs((index % 3600) as u64) + Duration::from_millis(n as u64);
        let began = self.epoch + offset;
        Agent {
            index,
            id: uuid("a9e70000", n),
            name: format!("Agent {n}"),
            username: format!("agent{n}@example.com"),
            division_id: division_id(index % self.divisions.max(1)),
            employee_id: (index % 10 != 9).then(|| format!("E{n:05}")),
            group_ids: vec![group_id(index % self.groups.max(1))],
            queue_ids: vec![queue_id(index % self.queues.max(1))],
            presence_id: presence_id.to_owned(),
            system_presence: system.to_owned(),
            primary: true,
            message: if index % 7 == 6 { "back soon" } else { "" }.to_owned(),
            modified_date: format_rfc3339(began),
            routing_status: routing.to_owned(),
            routing_start: format_rfc3339(began + Duration::from_secs(1)),
        }
    }

    /// Index of the agent with user id `id`, if it is one of ours.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        let hex = id.strip_prefix("a9e70000-0000-4000-8000-")?;
        if hex.len() != 12 {
            return None;
        }
        let n = usize::from_str_radix(hex, 16).ok()?;
        (1..=self.agents).contains(&n).then(|| n - 1)
    }
}

fn presence_definition(a: &Agent) -> Value {
    json!({
        "id": a.presence_id,
        "systemPresence": a.system_presence,
        "selfUri": format!("/api/v2/presencedefinitions/{}", a.presence_id),
    })
}

/// `UserPresence` (the `presence` of a user read with `expand=presence`).
pub fn user_presence(a: &Agent) -> Value {
    json!({
        "source": "PURECLOUD",
        "primary": a.primary,
        "presenceDefinition": presence_definition(a),
        "message": a.message,
        "modifiedDate": a.modified_date,
        "selfUri": format!("/api/v2/users/{}/presences/PURECLOUD", a.id),
    })
}

/// `UcUserPresence` (one item of the bulk presence answer).
pub fn uc_user_presence(a: &Agent) -> Value {
    json!({
        "userId": a.id,
        "source": "PURECLOUD",
        "presenceDefinition": presence_definition(a),
        "message": a.message,
        "modifiedDate": a.modified_date,
    })
}

/// `RoutingStatus`.
pub fn routing_status(a: &Agent) -> Value {
    json!({
        "userId": a.id,
        "status": a.routing_status,
        "startTime": a.routing_start,
    })
}

/// Which optional parts of a `User` to include (`expand`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expand {
    /// `expand=presence`.
    pub presence: bool,
    /// `expand=routingStatus`.
    pub routing_status: bool,
    /// `expand=groups` (the user's groups as `Group` references).
    pub groups: bool,
    /// `expand=employerInfo` (the user's `EmployerInfo`, when it has one).
    pub employer_info: bool,
}

/// `User`, with the expanded parts requested.
pub fn user(a: &Agent, expand: Expand) -> Value {
    let mut u = json!({
        "id": a.id,
        "name": a.name,
        "division": {
            "id": a.division_id,
            "name": format!("Division {}", &a.division_id[a.division_id.len() - 1..]),
            "selfUri": format!("/api/v2/authorization/divisions/{}", a.division_id),
        },
        "chat": { "jabberId": format!("{}@example.orgspan.com", a.id) },
        "email": a.username,
        "primaryContactInfo": [
            { "address": a.username, "mediaType": "EMAIL", "type": "PRIMARY" }
        ],
        "addresses": [],
        "state": "active",
        "username": a.username,
        "version": 1,
        "acdAutoAnswer": false,
        "selfUri": format!("/api/v2/users/{}", a.id),
    });
    if expand.presence {
        u["presence"] = user_presence(a);
    }
    if expand.routing_status {
        u["routingStatus"] = routing_status(a);
    }
    if expand.employer_info
        && let Some(employee_id) = &a.employee_id
    {
        u["employerInfo"] = json!({
            "officialName": a.name,
            "employeeId": employee_id,
            "employeeType": "Full-time",
            "dateHire": "2024-01-15",
        });
    }
    if expand.groups {
        u["groups"] = Value::Array(
            a.group_ids
                .iter()
                .map(|g| json!({ "id": g, "selfUri": format!("/api/v2/groups/{g}") }))
                .collect(),
        );
    }
    u
}

/// `QueueMember` (one entity of a queue's members page).
pub fn queue_member(a: &Agent) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "user": {
            "id": a.id,
            "name": a.name,
            "division": { "id": a.division_id },
            "state": "active",
            "selfUri": format!("/api/v2/users/{}", a.id),
        },
        "ringNumber": 1,
        "joined": true,
        "memberBy": "user",
        "routingStatus": routing_status(a),
        "selfUri": format!("/api/v2/users/{}", a.id),
    })
}

/// `Organization` (`GET /api/v2/organizations/me`).
pub fn organization(org_id: &str) -> Value {
    json!({
        "id": org_id,
        "name": "wfm-relay stand-in",
        "defaultLanguage": "en-us",
        "defaultCountryCode": "US",
        "thirdPartyOrgName": "wfm-relay-standin",
        "domain": "wfm-relay-standin",
        "version": 1,
        "state": "active",
        "defaultSiteId": uuid("5173d000", 1),
        "voicemailEnabled": true,
        "productPlatform": "GenesysCloud",
        "selfUri": format!("/api/v2/organizations/{org_id}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn dir() -> Directory {
        Directory {
            agents: 120,
            groups: 3,
            queues: 4,
            divisions: 2,
            epoch: UNIX_EPOCH + Duration::from_secs(1_772_431_200), // 2026-03-02T06:00:00Z
        }
    }

    #[test]
    fn agents_are_deterministic_and_found_by_id() {
        let d = dir();
        let a = d.agent(1);
        assert_eq!(a.id, "a9e70000-0000-4000-8000-000000000002");
        assert_eq!(a.system_presence, "On Queue");
        assert_eq!(a.routing_status, "IDLE");
        assert_eq!(a.modified_date, "2026-03-02T06:00:01.002Z");
        assert_eq!(a.routing_start, "2026-03-02T06:00:02.002Z");
        assert_eq!(d.agent(7).routing_status, "INTERACTING");
        assert_eq!(d.agent(2).routing_status, "OFF_QUEUE");
        assert_eq!(d.agent(6).message, "back soon");
        assert_eq!(a, d.agent(1));
        assert_eq!(d.index_of(&a.id), Some(1));
        assert_eq!(d.index_of(&d.agent(119).id), Some(119));
        assert_eq!(d.index_of(&d.agent(120).id), None, "beyond the directory");
        assert_eq!(d.index_of("a9e70000-0000-4000-8000-00000000000"), None);
        assert_eq!(a.group_ids, vec![group_id(1)]);
        assert_eq!(a.queue_ids, vec![queue_id(1)]);
        assert_eq!(a.division_id, division_id(1));
    }

    #[test]
    fn expand_adds_presence_and_routing_status() {
        let a = dir().agent(0);
        let plain = user(&a, Expand::default());
        assert!(plain.get("presence").is_none() && plain.get("routingStatus").is_none());
        let full = user(
            &a,
            Expand {
                presence: true,
                routing_status: true,
                groups: false,
                employer_info: false,
            },
        );
        assert_eq!(
            full["presence"]["presenceDefinition"]["systemPresence"],
            "Available"
        );
        assert_eq!(full["presence"]["modifiedDate"], a.modified_date);
        assert_eq!(full["routingStatus"]["status"], "OFF_QUEUE");
        assert_eq!(full["routingStatus"]["userId"], a.id);
        assert!(full.get("employerInfo").is_none());
        let employer = Expand {
            employer_info: true,
            ..Expand::default()
        };
        assert_eq!(user(&a, employer)["employerInfo"]["employeeId"], "E00001");
        let tenth = dir().agent(9);
        assert_eq!(tenth.employee_id, None);
        assert!(user(&tenth, employer).get("employerInfo").is_none());
    }
}
