//! The shipped profiles on the Genesys fixtures (and one snapshot event): exact bodies, paths
//! and outcomes (issue 13 §3), the two park reasons, and load errors that name the field.

use std::borrow::Cow;
use wfm_relay_core::event::parse_event;
use wfm_relay_profile::{AgentTable, Profile, Tables, TransformError, Transformed};

/// Fixtures by short name, read from the repository's tests/fixtures.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const GENESYS: &[&str] = &[
    "presence-break",
    "presence-break-eventbridge-replay",
    "presence-available",
    "routing-status-idle",
    "routing-status-not-responding",
    "activity",
    "user-end-detail-event",
    "snapshot-presence",
];

fn event(name: &str) -> Vec<u8> {
    fixture(&format!("genesys/{name}.json"))
}

fn apply<'a>(
    p: &'a Profile,
    raw: &'a [u8],
    tables: &Tables,
) -> Result<Transformed<'a>, TransformError> {
    let info = parse_event(raw).expect("fixture is a valid event");
    p.apply(raw, &info, tables)
}

fn text(body: &[u8]) -> &str {
    std::str::from_utf8(body).expect("utf-8 body")
}

fn mapping(csv: &str) -> Tables {
    Tables {
        agents: Some(AgentTable::parse_mapping(csv.as_bytes()).expect("mapping")),
    }
}

const A1: &str = "aaaaaaaa-0000-4000-8000-0000000000a1";
const A2: &str = "aaaaaaaa-0000-4000-8000-0000000000a2";

#[test]
fn genesys_is_the_event_unchanged() {
    let p = Profile::builtin("genesys").expect("builtin");
    for name in GENESYS {
        let raw = event(name);
        let out = apply(&p, &raw, &Tables::default()).expect(name);
        assert!(matches!(out.body, Cow::Borrowed(_)), "{name}: no copy");
        assert_eq!(out.body.as_ref(), raw.as_slice(), "{name}");
        assert_eq!(
            (out.headers.len(), out.path.as_deref()),
            (0, None),
            "{name}"
        );
    }
}

fn agent_state(id: &str, state: &str, reason: Option<&str>, ts: &str) -> String {
    let reason = reason.map_or("null".to_owned(), |r| format!("\"{r}\""));
    format!(
        r#"{{"agent_id":"{id}","state":"{state}","reason":{reason},"timestamp":"{ts}","source":"genesys"}}"#
    )
}

#[test]
fn agent_state_bodies_without_a_mapping_table() {
    let p = Profile::builtin("agent-state").expect("builtin");
    let break_id = Some("e08eaf1b-0000-4000-8000-0000000000b1");
    let avail_id = Some("6a3af858-0000-4000-8000-0000000000b2");
    let want: &[(&str, Option<String>)] = &[
        (
            "presence-break",
            Some(agent_state(
                A1,
                "BREAK",
                break_id,
                "2025-03-04T09:15:01.874Z",
            )),
        ),
        (
            "presence-break-eventbridge-replay",
            Some(agent_state(
                A1,
                "BREAK",
                break_id,
                "2025-03-04T09:15:01.874Z",
            )),
        ),
        (
            "presence-available",
            Some(agent_state(
                A1,
                "AVAILABLE",
                avail_id,
                "2025-03-04T09:31:09.120Z",
            )),
        ),
        (
            "routing-status-idle",
            Some(agent_state(A1, "IDLE", None, "2025-03-04T09:20:39.551Z")),
        ),
        (
            "routing-status-not-responding",
            Some(agent_state(
                A2,
                "NOT_RESPONDING",
                None,
                "2025-03-04T09:39:58.002Z",
            )),
        ),
        (
            "activity",
            Some(agent_state(
                A2,
                "INTERACTING",
                Some("3fd4b2a8-0000-4000-8000-0000000000b3"),
                "2025-03-04T09:45:11.300Z",
            )),
        ),
        // A topic without a state: forwarded unchanged (None = the original bytes).
        ("user-end-detail-event", None),
        // The snapshot: the state time is the presence's modifiedDate, not the read time.
        (
            "snapshot-presence",
            Some(agent_state(
                A1,
                "AVAILABLE",
                avail_id,
                "2025-03-04T09:31:09.120Z",
            )),
        ),
    ];
    assert_eq!(want.len(), GENESYS.len());
    for (name, body) in want {
        let raw = event(name);
        let out = apply(&p, &raw, &Tables::default()).expect(name);
        match body {
            Some(b) => assert_eq!(text(&out.body), b, "{name}"),
            None => assert_eq!(out.body.as_ref(), raw.as_slice(), "{name}"),
        }
        assert_eq!(out.path, None, "{name}");
    }
}

#[test]
fn agent_state_with_a_mapping_table_parks_the_unmapped() {
    let p = Profile::builtin("agent-state").expect("builtin");
    let tables = mapping(&format!("user_id,wfm_id\n{A1},WFM-1\n"));
    let raw = event("presence-break");
    let out = apply(&p, &raw, &tables).expect("mapped");
    assert_eq!(
        text(&out.body),
        agent_state(
            "WFM-1",
            "BREAK",
            Some("e08eaf1b-0000-4000-8000-0000000000b1"),
            "2025-03-04T09:15:01.874Z"
        )
    );
    let raw = event("routing-status-not-responding");
    let err = apply(&p, &raw, &tables).expect_err("unmapped");
    assert_eq!(err.reason(), "unmapped_agent");
    assert_eq!(
        err.to_string(),
        format!(
            "unmapped agent: user id {A2} is not in the agent mapping table (WFM_PROFILE_MAPPING)"
        )
    );
    // Topics without a state are forwarded before any mapping: never parked for it.
    let raw = event("user-end-detail-event");
    assert_eq!(
        apply(&p, &raw, &tables).expect("unchanged").body.as_ref(),
        raw.as_slice()
    );
}

fn assembled_body(id: &str, state: &str, start: u64) -> String {
    format!(r#"{{"states":[{{"agent_id":"{id}","state":"{state}","start_time":{start}}}]}}"#)
}

#[test]
fn assembled_bodies_and_schema() {
    let p = Profile::builtin("assembled").expect("builtin");
    let tables = mapping(&format!(
        "user_id,wfm_id\n{A1},asm-agent-1\n{A2},asm-agent-2\n"
    ));
    let want: &[(&str, Option<String>)] = &[
        (
            "presence-break",
            Some(assembled_body("asm-agent-1", "break", 1_741_079_701)),
        ),
        (
            "presence-break-eventbridge-replay",
            Some(assembled_body("asm-agent-1", "break", 1_741_079_701)),
        ),
        (
            "presence-available",
            Some(assembled_body("asm-agent-1", "available", 1_741_080_669)),
        ),
        (
            "routing-status-idle",
            Some(assembled_body("asm-agent-1", "idle", 1_741_080_039)),
        ),
        (
            "routing-status-not-responding",
            Some(assembled_body(
                "asm-agent-2",
                "not_responding",
                1_741_081_198,
            )),
        ),
        (
            "activity",
            Some(assembled_body("asm-agent-2", "interacting", 1_741_081_511)),
        ),
        ("user-end-detail-event", None),
        (
            "snapshot-presence",
            Some(assembled_body("asm-agent-1", "available", 1_741_080_669)),
        ),
    ];
    let schema: serde_json::Value =
        serde_json::from_slice(&fixture("assembled/agent-states-request.schema.json"))
            .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for (name, body) in want {
        let raw = event(name);
        let got = apply(&p, &raw, &tables);
        let Some(body) = body else {
            let err = got.expect_err(name);
            assert_eq!(err.reason(), "transform_failed");
            assert_eq!(
                err.to_string(),
                "transform failed: topic v2.detail.events.conversation.\
                 5e5e5e5e-0000-4000-8000-0000000000e1.user.end carries no agent state, and \
                 profile assembled sends agent states only"
            );
            continue;
        };
        let out = got.expect(name);
        assert_eq!(text(&out.body), body, "{name}");
        assert_eq!(out.path.as_deref(), Some("/v0/agents/state/bulk"), "{name}");
        assert_eq!(
            out.url("https://api.assembledhq.com"),
            "https://api.assembledhq.com/v0/agents/state/bulk"
        );
        let json: serde_json::Value = serde_json::from_slice(&out.body).expect("JSON body");
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    // The schema is not vacuous: a body with the time as a string is refused.
    let bad =
        serde_json::json!({"states": [{"agent_id": "a", "state": "s", "start_time": "2025"}]});
    assert!(!validator.is_valid(&bad));
    // The mapping table is required: start-up fails without it, naming the variable.
    let e = p.check_tables(&Tables::default()).expect_err("required");
    assert_eq!(
        e.to_string(),
        "WFM_PROFILE: agent_key.from: profile assembled reads agent keys from the agent mapping \
         table (WFM_PROFILE_MAPPING), but WFM_PROFILE_MAPPING is not set"
    );
    assert!(p.check_tables(&tables).is_ok());
}

fn custom(doc: &str) -> Profile {
    Profile::from_json(doc.as_bytes()).expect("valid profile")
}

#[test]
fn transform_failures_say_what_failed() {
    let raw = event("presence-break");
    let cases: &[(&str, &str)] = &[
        (
            r#"{"name": "t", "body": {"jq": "error(\"no \\(.topic)\")"}}"#,
            "transform failed: jq error: no v2.users.aaaaaaaa-0000-4000-8000-0000000000a1.presence",
        ),
        (
            r#"{"name": "t", "body": {"jq": ".state_time"}}"#,
            "transform failed: result must be an object, got a string",
        ),
        (
            r#"{"name": "t", "body": {"jq": ".eventBody.presenceDefinition.id | tonumber"}}"#,
            "transform failed: jq error: cannot parse \"e08eaf1b-0000-4000-8000-0000000000b1\" as JSON: \
             byte offset 0: value expected",
        ),
        (
            r#"{"name": "t", "body": {"jq": "[.eventBody[]]", "result": "array"}, "path": "/s/{state_code}"}"#,
            "transform failed: path template needs {state_code}, which is null for this event",
        ),
    ];
    for (doc, want) in cases {
        let p = custom(doc);
        let err = apply(&p, &raw, &Tables::default()).expect_err(doc);
        assert_eq!(err.reason(), "transform_failed", "{doc}");
        assert_eq!(err.to_string(), *want, "{doc}");
    }
}

#[test]
fn unmapped_agents_park_or_forward_null() {
    let park = custom(
        r#"{"name": "t", "agent_key": {"from": "user_field", "field": "username"}, "body": {"jq": "{a: .agent_key}"}}"#,
    );
    let forward = custom(
        r#"{"name": "t", "agent_key": {"from": "user_field", "field": "username", "unmapped": "forward"}, "body": {"jq": "{a: .agent_key}"}}"#,
    );
    let users = format!("user_id,username\n{A1},alice\n");
    let tables = Tables {
        agents: Some(park.parse_table(users.as_bytes()).expect("table")),
    };
    let mapped = event("presence-break");
    assert_eq!(
        text(&apply(&park, &mapped, &tables).expect("mapped").body),
        r#"{"a":"alice"}"#
    );
    let missing = event("activity");
    let err = apply(&park, &missing, &tables).expect_err("unmapped");
    assert_eq!(err.reason(), "unmapped_agent");
    assert_eq!(
        err.to_string(),
        format!(
            "unmapped agent: user id {A2} is not in the user-field table (WFM_PROFILE_USER_FIELDS)"
        )
    );
    assert_eq!(
        text(&apply(&forward, &missing, &tables).expect("forward").body),
        r#"{"a":null}"#
    );
    // An event without a user id is unmapped too.
    let no_user = String::from_utf8(event("user-end-detail-event"))
        .expect("utf-8")
        .replace("\"userId\"", "\"someoneId\"");
    let err = apply(&park, no_user.as_bytes(), &tables).expect_err("no user id");
    assert_eq!(err.to_string(), "unmapped agent: the event has no user id");
}

#[test]
fn the_input_object_is_as_documented() {
    let p = custom(
        r#"{"name": "t", "agent_key": {"from": "user_id"}, "state_codes": [{"system_presence": "AVAILABLE", "state": "AV", "reason": "R1"}], "body": {"jq": "del(.event, .detail, .eventBody) + {event_id: .event.id, detail_topic: .detail.topicName, body_primary: .eventBody.primary}"}, "headers": {"X-Source": "genesys"}, "path": "/agents/{agent_key}/{state_code}"}"#,
    );
    let raw = event("snapshot-presence");
    let out = apply(&p, &raw, &Tables::default()).expect("snapshot");
    let got: serde_json::Value = serde_json::from_slice(&out.body).expect("JSON");
    let want = serde_json::json!({
        "topic": format!("v2.users.{A1}.presence"),
        "user_id": A1,
        "agent_key": A1,
        "state_code": "AV",
        "reason_code": "R1",
        "system_presence": "Available",
        "presence_definition_id": "6a3af858-0000-4000-8000-0000000000b2",
        "routing_status": null,
        "state_time": "2025-03-04T09:31:09.120Z",
        "state_time_ms": 1_741_080_669_120_u64,
        "snapshot": true,
        "event_id": "5a0b5a0b-0000-4000-8000-000000000201",
        "detail_topic": format!("v2.users.{A1}.presence"),
        "body_primary": true
    });
    assert_eq!(got, want);
    assert_eq!(out.headers, [("X-Source".to_owned(), "genesys".to_owned())]);
    assert_eq!(out.path, Some(format!("/agents/{A1}/AV")));
    // A live event is not a snapshot.
    let raw = event("presence-available");
    let live = apply(&p, &raw, &Tables::default()).expect("live");
    let v: serde_json::Value = serde_json::from_slice(&live.body).expect("JSON");
    assert_eq!(v["snapshot"], serde_json::json!(false));
}

#[test]
fn load_errors_name_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"name": "x", "state_codes": [{"routing_status": "IDLE", "state": "I"}, {"system_presence": "Away", "state": "A"}, {"system_presence": "Break", "state": "B"}, {"routing_status": "IDEL", "state": "X"}]}"#,
            "WFM_PROFILE: state_codes[3].routing_status: unknown value \"IDEL\" (one of OFF_QUEUE, IDLE, INTERACTING, NOT_RESPONDING, COMMUNICATING)",
        ),
        (
            r#"{"name": "x", "body": {"jq": "{a: .x"}}"#,
            "WFM_PROFILE: body.jq: jq compile error at line 1, column ",
        ),
        (
            r#"{"name": "x", "state_codes": [{"routing_status": "IDLE", "stat": "I"}]}"#,
            "WFM_PROFILE: state_codes[0].stat: unknown field `stat`",
        ),
        (
            r#"{"name": "x", "agent_key": {"from": "mapping", "unmaped": "park"}}"#,
            "WFM_PROFILE: agent_key.unmaped: unknown field `unmaped`",
        ),
        (
            r#"{"name": "x", "agent_key": {"from": "table"}}"#,
            "WFM_PROFILE: agent_key.from: unknown variant `table`",
        ),
        (
            r#"{"name": "x", "agent_key": {"from": "user_field"}}"#,
            "WFM_PROFILE: agent_key.field: required (and non-empty) with `from: user_field`",
        ),
        (
            r#"{"name": "x", "agent_key": {"from": "mapping", "unmapped": "forward"}, "path": "/a/{agent_key}"}"#,
            "WFM_PROFILE: path: uses {agent_key}, but agent_key.unmapped is `forward`",
        ),
        (
            r#"{"name": "x", "headers": {"Authorization": "Bearer x"}}"#,
            "WFM_PROFILE: headers.Authorization: reserved",
        ),
        (
            r#"{"name": "x",}"#,
            "WFM_PROFILE: not a valid profile: trailing comma",
        ),
        (
            r#"{"description": "x"}"#,
            "WFM_PROFILE: not a valid profile: missing field `name`",
        ),
    ];
    for (doc, want) in cases {
        let e = Profile::from_json(doc.as_bytes()).expect_err(doc);
        assert!(
            e.to_string().starts_with(want),
            "{doc}\n got: {e}\nwant: {want}"
        );
    }
}

#[test]
fn a_profile_is_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Profile>();
    send_sync::<Tables>();
}

/// Core keeps events whose strings hold an escaped lone surrogate (case C14); the profile must
/// never crash on one: pass-through sends the bytes, a jq profile gets a clear outcome.
#[test]
fn lone_surrogates_never_crash() {
    let raw = String::from_utf8(event("presence-break"))
        .expect("utf-8")
        .replace("\"message\": \"\"", "\"message\": \"On a break \\ud83d\"");
    assert!(raw.contains("\\ud83d"));
    let genesys = Profile::builtin("genesys").expect("builtin");
    let out = apply(&genesys, raw.as_bytes(), &Tables::default()).expect("pass-through");
    assert_eq!(out.body.as_ref(), raw.as_bytes());
    let p = Profile::builtin("agent-state").expect("builtin");
    let got = apply(&p, raw.as_bytes(), &Tables::default()).map(|o| text(&o.body).to_owned());
    // jaq's JSON reader refuses the lone surrogate: the event is parked (transform_failed) with
    // the position, never sent half-read.
    assert_eq!(
        got,
        Err(TransformError::TransformFailed(
            "event is not readable by jq: byte offset 652: expected low surrogate".into()
        ))
    );
}

/// The README's worked example, exactly as printed there.
#[test]
fn readme_worked_example() {
    let p = Profile::from_json(include_bytes!("worked-example.json")).expect("example profile");
    let users = format!("user_id,username\n{A1},alice\n");
    let tables = Tables {
        agents: Some(p.parse_table(users.as_bytes()).expect("table")),
    };
    let raw = event("presence-break");
    let out = apply(&p, &raw, &tables).expect("transformed");
    assert_eq!(
        text(&out.body),
        r#"{"agent":"alice","code":"AUX","reason":"BREAK","at":"2025-03-04T09:15:01.874Z","snapshot":false}"#
    );
    assert_eq!(out.path.as_deref(), Some("/agents/alice/state"));
    assert_eq!(out.headers, [("X-Source".to_owned(), "genesys".to_owned())]);
    // The activity event carries both a presence and a routing status: the combined row.
    let raw = event("activity");
    let err = apply(&p, &raw, &tables).expect_err("a2 has no username yet");
    assert_eq!(err.reason(), "unmapped_agent");
    let users = format!("user_id,username\n{A1},alice\n{A2},bob\n");
    let tables = Tables {
        agents: Some(p.parse_table(users.as_bytes()).expect("table")),
    };
    let out = apply(&p, &raw, &tables).expect("mapped now");
    assert_eq!(
        text(&out.body),
        r#"{"agent":"bob","code":"TALK","reason":null,"at":"2025-03-04T09:45:11.300Z","snapshot":false}"#
    );
}
