//! WFM output profiles through the real forwarder and replayer (issue 13): the shipped
//! profiles' exact bodies on the Genesys fixtures and a snapshot event, `unmapped_agent` and
//! `transform_failed` parked and replayable, a signed transformed POST checked by the reference
//! verifier, and a profile error at start-up that names the field. The profile and its mapping
//! table are read from S3 (moto) by the start-up path the Lambdas use.

use crate::signing::{SECRET_A, reference_verify};
use crate::support::*;
use std::collections::HashMap;
use std::sync::Arc;
use wfm_relay_aws::lazy_aws::LazyAws;
use wfm_relay_aws::profile_source::ActiveProfile;
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_core::event::BodyMode;
use wfm_relay_replayer::{Action, Request};

const A1: &str = "aaaaaaaa-0000-4000-8000-0000000000a1";
const A2: &str = "aaaaaaaa-0000-4000-8000-0000000000a2";

/// The fixtures, in the order the tests send them.
const FIXTURES: &[&str] = &[
    "presence-break.json",
    "presence-break-eventbridge-replay.json",
    "presence-available.json",
    "routing-status-idle.json",
    "routing-status-not-responding.json",
    "activity.json",
    "user-end-detail-event.json",
    "snapshot-presence.json",
];

impl Stack {
    /// The start-up path of the Lambdas: the profile variables of `vars` read and validated,
    /// the profile and its table read from S3.
    async fn profile(&self, vars: &[(&str, &str)]) -> Result<Option<Arc<ActiveProfile>>, String> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ActiveProfile::from_lookup(
            |k| env.get(k).cloned(),
            BodyMode::Event,
            &LazyAws::with_s3(self.aws.s3.clone()),
        )
        .await
        .map_err(|e| e.to_string())
    }
}

fn agent_state(id: &str, state: &str, reason: Option<&str>, ts: &str) -> String {
    let reason = reason.map_or("null".to_owned(), |r| format!("\"{r}\""));
    format!(
        r#"{{"agent_id":"{id}","state":"{state}","reason":{reason},"timestamp":"{ts}","source":"genesys"}}"#
    )
}

fn assembled(id: &str, state: &str, start: u64) -> String {
    format!(r#"{{"states":[{{"agent_id":"{id}","state":"{state}","start_time":{start}}}]}}"#)
}

/// A shipped profile's run: name, profile variables, the bodies wanted per fixture (`None`:
/// the original bytes), the path of a transformed request.
type Case<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    Vec<Option<String>>,
    &'a str,
);

#[tokio::test]
async fn shipped_profiles_send_their_exact_bodies_through_the_forwarder() {
    let stack = Stack::create(StackOptions::default()).await;
    let break_id = Some("e08eaf1b-0000-4000-8000-0000000000b1");
    let avail_id = Some("6a3af858-0000-4000-8000-0000000000b2");
    let act_id = Some("3fd4b2a8-0000-4000-8000-0000000000b3");
    // None: the original bytes.
    let agent_state_want: Vec<Option<String>> = vec![
        Some(agent_state(
            A1,
            "BREAK",
            break_id,
            "2025-03-04T09:15:01.874Z",
        )),
        Some(agent_state(
            A1,
            "BREAK",
            break_id,
            "2025-03-04T09:15:01.874Z",
        )),
        Some(agent_state(
            A1,
            "AVAILABLE",
            avail_id,
            "2025-03-04T09:31:09.120Z",
        )),
        Some(agent_state(A1, "IDLE", None, "2025-03-04T09:20:39.551Z")),
        Some(agent_state(
            A2,
            "NOT_RESPONDING",
            None,
            "2025-03-04T09:39:58.002Z",
        )),
        Some(agent_state(
            A2,
            "INTERACTING",
            act_id,
            "2025-03-04T09:45:11.300Z",
        )),
        None,
        Some(agent_state(
            A1,
            "AVAILABLE",
            avail_id,
            "2025-03-04T09:31:09.120Z",
        )),
    ];
    let mapping = stack
        .put(
            "profiles/agents.csv",
            format!("user_id,wfm_id\n{A1},asm-agent-1\n{A2},asm-agent-2\n").as_bytes(),
        )
        .await;
    let assembled_want: Vec<Option<String>> = vec![
        Some(assembled("asm-agent-1", "break", 1_741_079_701)),
        Some(assembled("asm-agent-1", "break", 1_741_079_701)),
        Some(assembled("asm-agent-1", "available", 1_741_080_669)),
        Some(assembled("asm-agent-1", "idle", 1_741_080_039)),
        Some(assembled("asm-agent-2", "not_responding", 1_741_081_198)),
        Some(assembled("asm-agent-2", "interacting", 1_741_081_511)),
        None, // parked: transform_failed (asserted in its own test)
        Some(assembled("asm-agent-1", "available", 1_741_080_669)),
    ];
    let cases: [Case<'_>; 3] = [
        (
            "genesys",
            vec![("WFM_PROFILE", "builtin:genesys")],
            vec![None; FIXTURES.len()],
            "",
        ),
        (
            "agent-state",
            vec![("WFM_PROFILE", "builtin:agent-state")],
            agent_state_want,
            "",
        ),
        (
            "assembled",
            vec![
                ("WFM_PROFILE", "builtin:assembled"),
                ("WFM_PROFILE_MAPPING", mapping.as_str()),
            ],
            assembled_want,
            "/v0/agents/state/bulk",
        ),
    ];
    for (name, vars, want, path) in cases {
        let wfm = wfm(&[200]).await;
        let profile = stack.profile(&vars).await.expect(name).expect("a profile");
        let fwd = stack.forwarder(&wfm.url(), &[]).with_profile(Some(profile));
        let mut sent = 0;
        for (fixture_name, want) in FIXTURES.iter().zip(&want) {
            let raw = fixture(fixture_name);
            let out = fwd.handle(&raw, deadline()).await.expect("handled");
            if name == "assembled" && want.is_none() {
                assert_eq!(out, serde_json::json!({"outcome": "transform_failed"}));
                continue;
            }
            assert_eq!(
                out,
                serde_json::json!({"outcome": "delivered"}),
                "{name} {fixture_name}"
            );
            let r = &wfm.requests()[sent];
            sent += 1;
            let body = String::from_utf8_lossy(&r.body);
            match want {
                Some(w) => assert_eq!(&body, w, "{name} {fixture_name}"),
                None => assert_eq!(r.body, raw, "{name} {fixture_name}: unchanged"),
            }
            // A transformed request goes to WFM_URL's path + the profile's path; the original
            // bytes to WFM_URL itself.
            let base = reqwest::Url::parse(&wfm.url())
                .expect("url")
                .path()
                .to_owned();
            let want_path = match want {
                Some(_) => format!("{}{path}", base.trim_end_matches('/')),
                None => base,
            };
            assert_eq!(r.path, want_path, "{name} {fixture_name}");
            // The key stays the event's: the same as without a profile.
            let info = wfm_relay_core::event::parse_event(&raw).expect("valid");
            assert_eq!(
                r.header("idempotency-key"),
                Some(info.key.to_string().as_str())
            );
        }
    }
}

#[tokio::test]
async fn unmapped_and_untransformable_events_are_parked_and_replayable() {
    let stack = Stack::create(StackOptions::default()).await;
    let mapping = stack
        .put(
            "profiles/agents.csv",
            format!("user_id,wfm_id\n{A1},asm-agent-1\n").as_bytes(),
        )
        .await;
    let vars = [
        ("WFM_PROFILE", "builtin:assembled"),
        ("WFM_PROFILE_MAPPING", mapping.as_str()),
    ];
    let wfm = wfm(&[200]).await;
    let fwd = stack
        .forwarder(&wfm.url(), &[])
        .with_profile(stack.profile(&vars).await.expect("valid"));
    // A2 is not in the table; the detail event carries no state (Assembled takes states only).
    for (name, outcome) in [
        ("routing-status-not-responding.json", "unmapped_agent"),
        ("user-end-detail-event.json", "transform_failed"),
    ] {
        let out = fwd
            .handle(&fixture(name), deadline())
            .await
            .expect("handled");
        assert_eq!(out, serde_json::json!({ "outcome": outcome }), "{name}");
    }
    assert!(wfm.requests().is_empty(), "nothing sent");
    let mut parked = stack.letters().await;
    parked.sort_by_key(|(_, e)| e.reason.map(Reason::as_str));
    let got: Vec<_> = parked
        .iter()
        .map(|(_, e)| {
            (
                e.reason,
                e.last_error.clone().unwrap_or_default(),
                e.attempts,
            )
        })
        .collect();
    assert_eq!(got[0].0, Some(Reason::TransformFailed));
    assert!(
        got[0].1.starts_with("transform failed: topic "),
        "{}",
        got[0].1
    );
    assert_eq!(got[1].0, Some(Reason::UnmappedAgent));
    assert_eq!(
        got[1].1,
        format!(
            "unmapped agent: user id {A2} is not in the agent mapping table (WFM_PROFILE_MAPPING)"
        )
    );
    assert_eq!((got[0].2, got[1].2), (0, 0), "no POST was made");
    // The archive keeps the original bytes.
    assert_eq!(
        parked[1].1.event.as_deref().map(str::as_bytes),
        Some(fixture("routing-status-not-responding.json").as_slice())
    );

    // Fix the mapping; a replay applies the profile current at replay time.
    stack
        .put(
            "profiles/agents.csv",
            format!("user_id,wfm_id\n{A1},asm-agent-1\n{A2},asm-agent-2\n").as_bytes(),
        )
        .await;
    let r = stack
        .replayer(&wfm.url(), &[])
        .with_profile(stack.profile(&vars).await.expect("valid"));
    let rep = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("replay")
        .checked();
    assert_eq!(
        (rep.matched, rep.delivered, rep.unsendable),
        (2, 1, 1),
        "{rep:?}"
    );
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&reqs[0].body),
        assembled("asm-agent-2", "not_responding", 1_741_081_198)
    );
    assert_eq!(reqs[0].header("x-replay"), Some("true"));
    // The detail event stays, its reason kept; a replay under a profile that takes it delivers.
    let left = stack.letters().await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1.reason, Some(Reason::TransformFailed));
    let genesys = stack.replayer(&wfm.url(), &[]).with_profile(
        stack
            .profile(&[("WFM_PROFILE", "builtin:genesys")])
            .await
            .expect("ok"),
    );
    let rep = run_request(&genesys, &Request::new(Action::Replay))
        .await
        .expect("replay")
        .checked();
    assert_eq!((rep.matched, rep.delivered), (1, 1), "{rep:?}");
    assert_eq!(
        wfm.requests()[1].body,
        fixture("user-end-detail-event.json")
    );
}

impl Stack {
    /// The DLQ's letters (bodies and envelopes), left in the queue: received, then made
    /// visible again.
    async fn letters(&self) -> Vec<(String, EnvelopeV1)> {
        let q = self.queues();
        let mut got = Vec::new();
        for _ in 0..20 {
            let msgs = q.dlq().receive(10, 30, 0).await.expect("receive");
            if msgs.is_empty() {
                break;
            }
            got.extend(msgs);
        }
        q.dlq().release(&got.iter().collect::<Vec<_>>()).await;
        got.into_iter()
            .map(|m| {
                let env = serde_json::from_str(&m.body).expect("envelope");
                (m.body, env)
            })
            .collect()
    }
}

#[tokio::test]
async fn a_signed_transformed_post_verifies_with_the_reference_verifier() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack
        .forwarder(&wfm.url(), &[("WFM_SIGNING_SECRETS", SECRET_A)])
        .with_profile(
            stack
                .profile(&[("WFM_PROFILE", "builtin:agent-state")])
                .await
                .expect("valid"),
        );
    let raw = fixture("presence-break.json");
    fwd.handle(&raw, deadline()).await.expect("handled");
    let r = &wfm.requests()[0];
    let want = agent_state(
        A1,
        "BREAK",
        Some("e08eaf1b-0000-4000-8000-0000000000b1"),
        "2025-03-04T09:15:01.874Z",
    );
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        want,
        "the transformed bytes"
    );
    reference_verify(SECRET_A, r, &r.body).expect("the signature covers the bytes sent");
    let err = reference_verify(SECRET_A, r, &raw).expect_err("not the original bytes");
    assert!(err.contains("No matching signature"), "{err}");
    let info = wfm_relay_core::event::parse_event(&raw).expect("valid");
    assert_eq!(r.header("webhook-id"), Some(info.key.to_string().as_str()));
    assert_eq!(r.header("x-event-time"), Some("2025-03-04T09:15:01.874Z"));
}

#[tokio::test]
async fn a_profile_error_at_start_up_names_the_variable_and_the_field() {
    let stack = Stack::create(StackOptions::default()).await;
    let bad = stack
        .put(
            "profiles/bad.json",
            br#"{"name":"x","state_codes":[{"routing_status":"IDEL","state":"I"}]}"#,
        )
        .await;
    let e = stack
        .profile(&[("WFM_PROFILE", bad.as_str())])
        .await
        .expect_err("invalid");
    assert!(
        e.starts_with("WFM_PROFILE: state_codes[0].routing_status: unknown value \"IDEL\""),
        "{e}"
    );
    let missing = format!("s3://{}/profiles/none.csv", stack.bucket);
    let e = stack
        .profile(&[
            ("WFM_PROFILE", "builtin:assembled"),
            ("WFM_PROFILE_MAPPING", missing.as_str()),
        ])
        .await
        .expect_err("no table");
    assert!(
        e.starts_with(&format!("WFM_PROFILE_MAPPING: cannot read {missing}: ")),
        "{e}"
    );
    let e = stack
        .profile(&[("WFM_PROFILE", "builtin:assembled")])
        .await
        .expect_err("table required");
    assert_eq!(e, "WFM_PROFILE_MAPPING: is required by profile assembled");
    assert!(
        matches!(stack.profile(&[]).await, Ok(None)),
        "absent: no profile"
    );
}
