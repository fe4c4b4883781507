//! Snapshot events: an agent's current presence and routing status, read from the Genesys Cloud
//! API, written as EventBridge events in the shape of the live ones (PRODUCT.md §6).
//!
//! A snapshot event has the live topic's `detail-type`, `topicName` and exactly the live
//! `eventBody` fields with their value formats — presence: `source`,
//! `presenceDefinition{id, systemPresence}`, `primary`, `message`, `modifiedDate`; routing
//! status: `id`, `routingStatus{status, startTime}` (FACTS.md §1.3–1.4, the SDK notification
//! models `PresenceEventUserPresence` and `UserRoutingStatusUserRoutingStatus`). Its `source` is
//! `wfm-relay.snapshot/<orgId>` and its `time` and `detail.timestamp` both say when the state was
//! read, so [`crate::event::parse_event`] derives the user id from the topic, the state time from
//! the state's own start (`modifiedDate` / `startTime`), and `MAX_EVENT_AGE` can measure age
//! from the read time.
//!
//! API shapes read here (Genesys Cloud Platform API, as the official SDK
//! `purecloudplatformclientv2` 269.0.0 models them): `User` from `GET /api/v2/users?expand=presence,
//! routingStatus` with `presence: UserPresence {source, presenceDefinition{id, systemPresence},
//! primary, message, modifiedDate}` and `routingStatus: RoutingStatus {userId, status,
//! startTime}`; `UcUserPresence` from `GET /api/v2/users/presences/purecloud/bulk` (the same
//! presence fields plus `userId`, without `primary`).
//!
//! Pure: no I/O; the read time and the run id are passed in.

use crate::timefmt::{format_rfc3339, parse_rfc3339};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::SystemTime;

/// The `source` prefix of every snapshot event; the forwarder sends `X-Snapshot: true` for it.
pub const SOURCE_PREFIX: &str = "wfm-relay.snapshot/";

/// The live presence topic pattern (EventBridge `detail-type`).
pub const PRESENCE_DETAIL_TYPE: &str = "v2.users.{id}.presence";

/// The live routing-status topic pattern (EventBridge `detail-type`).
pub const ROUTING_DETAIL_TYPE: &str = "v2.users.{id}.routingStatus";

/// A presence as the API returns it, reduced to the live event's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// `source`, e.g. `PURECLOUD`.
    pub source: String,
    /// `presenceDefinition.id`: the org's presence definition (custom presences share a
    /// `systemPresence`, so WFM maps by this id).
    pub definition_id: String,
    /// `presenceDefinition.systemPresence`, e.g. `Available`, `On Queue`, `Break`; as given.
    pub system_presence: String,
    /// `primary`: whether this is the user's primary presence source.
    pub primary: bool,
    /// `message`: the user's status message (`""` when none).
    pub message: String,
    /// `modifiedDate`: when the presence began, RFC 3339 exactly as the API wrote it.
    pub modified_date: String,
}

/// A routing status as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// `status`: `OFF_QUEUE`, `IDLE`, `INTERACTING`, `NOT_RESPONDING` or `COMMUNICATING`; as given.
    pub status: String,
    /// `startTime`: when the agent entered this status, RFC 3339 exactly as the API wrote it.
    pub start_time: String,
}

/// One agent's state as read: either part may be missing (the API resolves `expand` "with a
/// best effort approach", so a user can come back without `presence` or `routingStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    /// The Genesys user id (a UUID).
    pub user_id: String,
    /// The presence, when read.
    pub presence: Option<Presence>,
    /// The routing status, when read.
    pub routing: Option<Routing>,
}

/// What every event of one snapshot run shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotContext {
    /// The Genesys org id (`GENESYS_ORG_ID`, or `id` of `GET /api/v2/organizations/me`).
    pub org_id: String,
    /// The AWS account id written to `account` (the relay's own account).
    pub account: String,
    /// The AWS region written to `region`.
    pub region: String,
    /// The snapshot run's id, written to `detail.metadata.CorrelationId` and hashed into each
    /// event's `id`.
    pub run_id: String,
}

/// One built snapshot event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotEvent {
    /// The concrete topic, e.g. `v2.users.<id>.presence`.
    pub topic: String,
    /// The EventBridge `id` written into the event.
    pub id: String,
    /// The serialised event (UTF-8 JSON), as the delivery path takes events.
    pub bytes: Vec<u8>,
}

/// Why an API answer cannot become a snapshot event; names the user and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("user {user_id}: {problem}")]
pub struct SnapshotError {
    /// The user id as read (`?` when the user had none).
    pub user_id: String,
    /// One sentence, e.g. "`presence.modifiedDate` is missing".
    pub problem: String,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, name| v.get(name))?.as_str()
}

fn required(v: &Value, path: &[&str], what: &str, user_id: &str) -> Result<String, SnapshotError> {
    let problem = |p: &str| SnapshotError {
        user_id: user_id.to_owned(),
        problem: format!("`{what}.{}` {p}", path.join(".")),
    };
    let s = str_at(v, path).ok_or_else(|| problem("is missing or not a string"))?;
    if s.is_empty() {
        return Err(problem("is empty"));
    }
    Ok(s.to_owned())
}

fn rfc3339(v: &Value, path: &[&str], what: &str, user_id: &str) -> Result<String, SnapshotError> {
    let s = required(v, path, what, user_id)?;
    if parse_rfc3339(&s).is_none() {
        return Err(SnapshotError {
            user_id: user_id.to_owned(),
            problem: format!("`{what}.{}` is not RFC 3339: {s:?}", path.join(".")),
        });
    }
    Ok(s)
}

impl Presence {
    /// Reads a `UserPresence` (users `expand=presence`) or a `UcUserPresence` (bulk presence).
    ///
    /// Required: `presenceDefinition.id`, `presenceDefinition.systemPresence`, `modifiedDate`
    /// (RFC 3339). Defaults where the API leaves a field out: `source` → `PURECLOUD` (the bulk
    /// endpoint reads the PURECLOUD source by its path), `primary` → `true` (both endpoints read
    /// the user's Genesys Cloud presence, which the live topic reports), `message` → `""` (what
    /// live events carry for no message).
    ///
    /// # Errors
    /// [`SnapshotError`] naming the first missing, empty or malformed required field.
    pub fn from_api(v: &Value, user_id: &str) -> Result<Self, SnapshotError> {
        Ok(Presence {
            source: str_at(v, &["source"]).unwrap_or("PURECLOUD").to_owned(),
            definition_id: required(v, &["presenceDefinition", "id"], "presence", user_id)?,
            system_presence: required(
                v,
                &["presenceDefinition", "systemPresence"],
                "presence",
                user_id,
            )?,
            primary: v.get("primary").and_then(Value::as_bool).unwrap_or(true),
            message: str_at(v, &["message"]).unwrap_or_default().to_owned(),
            modified_date: rfc3339(v, &["modifiedDate"], "presence", user_id)?,
        })
    }
}

impl Routing {
    /// Reads a `RoutingStatus` (`GET /api/v2/users/{id}/routingstatus`, or a user's
    /// `routingStatus` with `expand=routingStatus`). Required: `status`, `startTime` (RFC 3339).
    ///
    /// # Errors
    /// [`SnapshotError`] naming the first missing, empty or malformed field.
    pub fn from_api(v: &Value, user_id: &str) -> Result<Self, SnapshotError> {
        Ok(Routing {
            status: required(v, &["status"], "routingStatus", user_id)?,
            start_time: rfc3339(v, &["startTime"], "routingStatus", user_id)?,
        })
    }
}

impl AgentState {
    /// Reads one `User` of a users page fetched with `expand=presence,routingStatus`. A user
    /// without `presence` / `routingStatus` yields `None` for that part (the caller reads it
    /// another way or reports it); a part that is present but malformed is an error.
    ///
    /// # Errors
    /// [`SnapshotError`] when `id` is missing or unusable in a topic (empty, or holding `.`),
    /// or when a present part is malformed.
    pub fn from_api_user(user: &Value) -> Result<Self, SnapshotError> {
        let user_id = str_at(user, &["id"]).unwrap_or_default();
        check_user_id(user_id)?;
        let presence = match user.get("presence").filter(|p| !p.is_null()) {
            Some(p) => Some(Presence::from_api(p, user_id)?),
            None => None,
        };
        let routing = match user.get("routingStatus").filter(|r| !r.is_null()) {
            Some(r) => Some(Routing::from_api(r, user_id)?),
            None => None,
        };
        Ok(AgentState {
            user_id: user_id.to_owned(),
            presence,
            routing,
        })
    }
}

fn check_user_id(user_id: &str) -> Result<(), SnapshotError> {
    if user_id.is_empty() || user_id.contains('.') || user_id.contains('{') {
        return Err(SnapshotError {
            user_id: if user_id.is_empty() { "?" } else { user_id }.to_owned(),
            problem: "`id` is missing or cannot be part of a topic `v2.users.<id>.*`".to_owned(),
        });
    }
    Ok(())
}

#[derive(Serialize)]
struct Envelope<'a, B: Serialize> {
    version: &'a str,
    id: &'a str,
    #[serde(rename = "detail-type")]
    detail_type: &'a str,
    source: &'a str,
    account: &'a str,
    time: &'a str,
    region: &'a str,
    resources: [&'a str; 0],
    detail: Detail<'a, B>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Detail<'a, B: Serialize> {
    topic_name: &'a str,
    version: &'a str,
    event_body: B,
    metadata: Metadata<'a>,
    timestamp: &'a str,
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(rename = "CorrelationId")]
    correlation_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PresenceBody<'a> {
    source: &'a str,
    presence_definition: PresenceDefinition<'a>,
    primary: bool,
    message: &'a str,
    modified_date: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PresenceDefinition<'a> {
    id: &'a str,
    system_presence: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoutingBody<'a> {
    id: &'a str,
    routing_status: RoutingStatus<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoutingStatus<'a> {
    status: &'a str,
    start_time: &'a str,
}

/// The event `id`: UUID-shaped lowercase hex of SHA-256(run id, 0x00, topic, 0x00, read time),
/// so one run gives each topic one id and another run (or another read) a new one.
pub fn event_id(run_id: &str, topic: &str, read_at: &str) -> String {
    let mut h = Sha256::new();
    for (i, part) in [run_id, topic, read_at].iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(part.as_bytes());
    }
    let x = hex::encode(&h.finalize()[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn envelope<B: Serialize>(
    ctx: &SnapshotContext,
    detail_type: &str,
    topic: String,
    read_at: SystemTime,
    body: B,
) -> SnapshotEvent {
    let read = format_rfc3339(read_at);
    let id = event_id(&ctx.run_id, &topic, &read);
    let source = format!("{SOURCE_PREFIX}{}", ctx.org_id);
    let env = Envelope {
        version: "0",
        id: &id,
        detail_type,
        source: &source,
        account: &ctx.account,
        time: &read,
        region: &ctx.region,
        resources: [],
        detail: Detail {
            topic_name: &topic,
            version: "2",
            event_body: body,
            metadata: Metadata {
                correlation_id: &ctx.run_id,
            },
            timestamp: &read,
        },
    };
    // Serialising these structs (strings, bools, fixed arrays) cannot fail.
    let bytes = serde_json::to_vec(&env).unwrap_or_default();
    SnapshotEvent { topic, id, bytes }
}

/// The `v2.users.<id>.presence` snapshot event of `user_id`, read at `read_at`.
pub fn presence_event(
    ctx: &SnapshotContext,
    user_id: &str,
    p: &Presence,
    read_at: SystemTime,
) -> SnapshotEvent {
    let body = PresenceBody {
        source: &p.source,
        presence_definition: PresenceDefinition {
            id: &p.definition_id,
            system_presence: &p.system_presence,
        },
        primary: p.primary,
        message: &p.message,
        modified_date: &p.modified_date,
    };
    let topic = format!("v2.users.{user_id}.presence");
    envelope(ctx, PRESENCE_DETAIL_TYPE, topic, read_at, body)
}

/// The `v2.users.<id>.routingStatus` snapshot event of `user_id`, read at `read_at`.
pub fn routing_event(
    ctx: &SnapshotContext,
    user_id: &str,
    r: &Routing,
    read_at: SystemTime,
) -> SnapshotEvent {
    let body = RoutingBody {
        id: user_id,
        routing_status: RoutingStatus {
            status: &r.status,
            start_time: &r.start_time,
        },
    };
    let topic = format!("v2.users.{user_id}.routingStatus");
    envelope(ctx, ROUTING_DETAIL_TYPE, topic, read_at, body)
}

/// The snapshot events of one agent: presence first, then routing status, each when read
/// (0, 1 or 2 events).
pub fn agent_events(
    ctx: &SnapshotContext,
    a: &AgentState,
    read_at: SystemTime,
) -> Vec<SnapshotEvent> {
    let mut out = Vec::with_capacity(2);
    if let Some(p) = &a.presence {
        out.push(presence_event(ctx, &a.user_id, p, read_at));
    }
    if let Some(r) = &a.routing {
        out.push(routing_event(ctx, &a.user_id, r, read_at));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_event;
    use std::collections::BTreeSet;
    use std::time::{Duration, UNIX_EPOCH};

    const PRESENCE_FIXTURES: [&str; 2] = [
        include_str!("../../../tests/fixtures/genesys/presence-break.json"),
        include_str!("../../../tests/fixtures/genesys/presence-available.json"),
    ];
    const ROUTING_FIXTURE: &str =
        include_str!("../../../tests/fixtures/genesys/routing-status-idle.json");

    const USER: &str = "aaaaaaaa-0000-4000-8000-0000000000a1";
    const ORG: &str = "11111111-2222-3333-4444-555555555555";

    fn ctx() -> SnapshotContext {
        SnapshotContext {
            org_id: ORG.to_owned(),
            account: "123456789012".to_owned(),
            region: "eu-west-1".to_owned(),
            run_id: "run-1".to_owned(),
        }
    }

    /// 2025-03-04T15:00:00.250Z: six hours after the states below began.
    fn read_at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_741_100_400_250)
    }

    /// A `User` as `GET /api/v2/users?expand=presence,routingStatus` returns it.
    fn api_user() -> Value {
        serde_json::json!({
            "id": USER,
            "name": "Agent 1",
            "state": "active",
            "presence": {
                "id": "pres-1",
                "source": "PURECLOUD",
                "primary": true,
                "presenceDefinition": {
                    "id": "6a3af858-0000-4000-8000-0000000000b2",
                    "systemPresence": "Available",
                    "selfUri": "/api/v2/presencedefinitions/6a3af858-0000-4000-8000-0000000000b2"
                },
                "message": "back at 3",
                "modifiedDate": "2025-03-04T09:00:00.120Z",
                "selfUri": "/api/v2/users/aaaaaaaa-0000-4000-8000-0000000000a1/presences/PURECLOUD"
            },
            "routingStatus": {
                "userId": USER,
                "status": "IDLE",
                "startTime": "2025-03-04T09:00:01.551Z"
            },
            "selfUri": "/api/v2/users/aaaaaaaa-0000-4000-8000-0000000000a1"
        })
    }

    fn events() -> Vec<SnapshotEvent> {
        let a = AgentState::from_api_user(&api_user()).expect("valid user");
        agent_events(&ctx(), &a, read_at())
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("event is JSON")
    }

    /// Every key path of a JSON value (objects only), e.g. `presenceDefinition.id`.
    fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        if let Value::Object(m) = v {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                key_paths(child, &p, out);
                out.insert(p);
            }
        }
    }

    fn paths(v: &Value) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        key_paths(v, "", &mut out);
        out
    }

    #[test]
    fn two_events_parse_with_the_state_time_and_user_from_the_topic() {
        let evs = events();
        assert_eq!(evs.len(), 2);
        let p = parse_event(&evs[0].bytes).expect("presence event parses");
        assert_eq!(p.detail_type, "v2.users.{id}.presence");
        assert_eq!(p.topic(), format!("v2.users.{USER}.presence"));
        assert_eq!(p.user_id.as_deref(), Some(USER));
        assert_eq!(p.source, format!("wfm-relay.snapshot/{ORG}"));
        assert_eq!(p.id, evs[0].id);
        assert_eq!(
            p.state_time.map(format_rfc3339).as_deref(),
            Some("2025-03-04T09:00:00.120Z")
        );
        assert_eq!(p.published_time, Some(read_at()));
        assert_eq!(p.time, "2025-03-04T15:00:00.250Z");

        let r = parse_event(&evs[1].bytes).expect("routing event parses");
        assert_eq!(r.detail_type, "v2.users.{id}.routingStatus");
        assert_eq!(r.topic(), format!("v2.users.{USER}.routingStatus"));
        assert_eq!(r.user_id.as_deref(), Some(USER));
        assert_eq!(
            r.state_time.map(format_rfc3339).as_deref(),
            Some("2025-03-04T09:00:01.551Z")
        );
        assert_eq!(r.published_time, Some(read_at()));
        assert_ne!(evs[0].id, evs[1].id);
    }

    #[test]
    fn values_are_copied_from_the_api() {
        let evs = events();
        let p = json(&evs[0].bytes);
        assert_eq!(
            p["detail"]["eventBody"],
            serde_json::json!({
                "source": "PURECLOUD",
                "presenceDefinition": {
                    "id": "6a3af858-0000-4000-8000-0000000000b2",
                    "systemPresence": "Available"
                },
                "primary": true,
                "message": "back at 3",
                "modifiedDate": "2025-03-04T09:00:00.120Z"
            })
        );
        let r = json(&evs[1].bytes);
        assert_eq!(
            r["detail"]["eventBody"],
            serde_json::json!({
                "id": USER,
                "routingStatus": { "status": "IDLE", "startTime": "2025-03-04T09:00:01.551Z" }
            })
        );
        for e in [&p, &r] {
            assert_eq!(e["time"], "2025-03-04T15:00:00.250Z");
            assert_eq!(e["detail"]["timestamp"], e["time"]);
            assert_eq!(e["detail"]["metadata"]["CorrelationId"], "run-1");
            assert_eq!(e["account"], "123456789012");
            assert_eq!(e["region"], "eu-west-1");
        }
    }

    #[test]
    fn envelope_and_body_keys_match_the_live_fixtures() {
        let evs = events();
        let ours = [json(&evs[0].bytes), json(&evs[1].bytes)];
        for fixture in PRESENCE_FIXTURES {
            let live: Value = serde_json::from_str(fixture).expect("fixture");
            assert_eq!(paths(&ours[0]), paths(&live), "presence event keys");
            assert_eq!(
                paths(&ours[0]["detail"]["eventBody"]),
                paths(&live["detail"]["eventBody"])
            );
        }
        let live: Value = serde_json::from_str(ROUTING_FIXTURE).expect("fixture");
        assert_eq!(paths(&ours[1]), paths(&live), "routing event keys");
        // Value formats: the same JSON kinds at every body path.
        for (mine, theirs) in [
            (
                &ours[0],
                serde_json::from_str::<Value>(PRESENCE_FIXTURES[0]).expect("fixture"),
            ),
            (&ours[1], live),
        ] {
            for path in paths(&theirs["detail"]["eventBody"]) {
                let at = |v: &Value| {
                    path.split('.')
                        .fold(v["detail"]["eventBody"].clone(), |v, k| v[k].clone())
                };
                assert_eq!(
                    std::mem::discriminant(&at(mine)),
                    std::mem::discriminant(&at(&theirs)),
                    "{path}"
                );
            }
        }
    }

    #[test]
    fn bulk_presence_defaults_and_ids() {
        // A `UcUserPresence` (bulk endpoint): no `primary`, deprecated `source` may be absent.
        let bulk = serde_json::json!({
            "userId": USER,
            "presenceDefinition": { "id": "e08eaf1b", "systemPresence": "Break" },
            "modifiedDate": "2025-03-04T09:15:01.874Z"
        });
        let p = Presence::from_api(&bulk, USER).expect("valid");
        assert_eq!(
            p,
            Presence {
                source: "PURECLOUD".to_owned(),
                definition_id: "e08eaf1b".to_owned(),
                system_presence: "Break".to_owned(),
                primary: true,
                message: String::new(),
                modified_date: "2025-03-04T09:15:01.874Z".to_owned(),
            }
        );
        let a = presence_event(&ctx(), USER, &p, read_at());
        let b = presence_event(&ctx(), USER, &p, read_at() + Duration::from_secs(1));
        assert_eq!(a.id, presence_event(&ctx(), USER, &p, read_at()).id);
        assert_ne!(a.id, b.id, "another read, another id");
        assert_eq!(a.id.len(), 36);
        assert_eq!(a.id.matches('-').count(), 4);
    }

    #[test]
    fn malformed_answers_name_the_user_and_field() {
        let mut u = api_user();
        u["presence"]["modifiedDate"] = Value::from("yesterday");
        let e = AgentState::from_api_user(&u).expect_err("bad date");
        assert_eq!(e.user_id, USER);
        assert!(e.problem.contains("presence.modifiedDate"), "{e}");

        let mut u = api_user();
        u["routingStatus"]
            .as_object_mut()
            .expect("object")
            .remove("status");
        let e = AgentState::from_api_user(&u).expect_err("no status");
        assert!(e.problem.contains("routingStatus.status"), "{e}");

        let mut u = api_user();
        u["id"] = Value::from("a.b");
        assert!(AgentState::from_api_user(&u).is_err());
        let e = AgentState::from_api_user(&serde_json::json!({})).expect_err("no id");
        assert_eq!(e.user_id, "?");

        // Missing parts are not errors: they yield fewer events.
        let mut u = api_user();
        u.as_object_mut().expect("object").remove("presence");
        let a = AgentState::from_api_user(&u).expect("valid");
        assert_eq!(a.presence, None);
        let evs = agent_events(&ctx(), &a, read_at());
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].topic, format!("v2.users.{USER}.routingStatus"));
    }

    #[test]
    fn snapshot_events_are_delivered_with_x_snapshot() {
        use crate::attempt::Delivery;
        use crate::event::BodyMode;
        let evs = events();
        let info = parse_event(&evs[0].bytes).expect("parses");
        let d = Delivery::for_event(&info, &evs[0].bytes, BodyMode::Event, 1, false);
        assert!(d.snapshot);
        assert!(!d.replay);
        assert_eq!(d.event_time.as_deref(), Some("2025-03-04T09:00:00.120Z"));
        let live: Value = serde_json::from_str(PRESENCE_FIXTURES[0]).expect("fixture");
        let raw = serde_json::to_vec(&live).expect("json");
        let info = parse_event(&raw).expect("parses");
        assert!(!Delivery::for_event(&info, &raw, BodyMode::Event, 1, false).snapshot);
    }
}
