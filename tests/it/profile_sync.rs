//! `relayctl profile sync` end to end (issue 13 items 1/4): the relayctl binary reads every
//! active user from the Genesys Cloud API stand-in on loopback and writes the user-field table
//! to `WFM_PROFILE_USER_FIELDS` in moto's S3 (behind the AWS-rules layer); then the forwarder,
//! started the Lambdas' way with a `user_field` profile, keys an event on the synced username,
//! and `relayctl profile test` on the synced employee id — no Genesys call on that path.

use crate::support::genesys::genesys_vars;
use crate::support::relayctl::{Relayctl, Run};
use crate::support::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use wfm_relay_aws::lazy_aws::LazyAws;
use wfm_relay_aws::profile_source::ActiveProfile;
use wfm_relay_core::event::BodyMode;
use wfm_relay_local::genesys_api::{GenesysApi, GenesysApiOptions};

/// Agents of the stand-in: agent 9 (the tenth) has no `employerInfo`.
const N: usize = 12;

/// relayctl with only `vars`, PATH, moto's AWS settings and the stand-in's Genesys settings in
/// its environment; stdin not a terminal; off the runtime's threads (the stand-in runs there).
async fn relayctl(api: &GenesysApi, args: &[&str], vars: &[(&str, String)]) -> Run {
    let mut all: Vec<(&str, String)> = genesys_vars(api);
    all.extend(vars.iter().cloned());
    Relayctl::against_moto(args, &all).run_off_runtime().await
}

/// The Break presence fixture, for stand-in user `user_id`.
fn presence_event(user_id: &str) -> Vec<u8> {
    let raw = String::from_utf8(fixture("presence-break.json")).expect("utf-8");
    raw.replace("aaaaaaaa-0000-4000-8000-0000000000a1", user_id)
        .into_bytes()
}

fn profile(field: &str) -> String {
    json!({
        "name": format!("by-{field}"),
        "agent_key": {"from": "user_field", "field": field, "unmapped": "park"},
        "body": {"jq": "{agent: .agent_key, at: .state_time}"},
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_writes_the_table_a_user_field_profile_keys_on() {
    let stack = Stack::create(StackOptions::default()).await;
    let api = GenesysApi::start(GenesysApiOptions::new(N))
        .await
        .expect("stand-in");
    let key = "profiles/user-fields.csv";
    let table_url = format!("s3://{}/{key}", stack.bucket);
    let vars = [("WFM_PROFILE_USER_FIELDS", table_url.clone())];

    // Nowhere to write: usage, before any Genesys call.
    let r = relayctl(&api, &["profile", "sync"], &[]).await;
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--out FILE"), "{}", r.stderr);
    assert_eq!(api.counters().api_calls(), 0);

    // A dry run prints the first rows and writes nothing.
    let r = relayctl(&api, &["profile", "sync", "--dry-run"], &vars).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let a0 = api.agent(0);
    let first_row = format!("{},agent1@example.com,E00001,agent1@example.com", a0.id);
    assert!(
        r.stdout.starts_with(&format!(
            "user_id,username,employee_id,email\n{first_row}\n"
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("… 2 more\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "would write 12 users to {table_url} (1 without employee_id) · Genesys calls 1 (429: 0)"
        )),
        "{}",
        r.stdout
    );
    let listed = stack
        .aws
        .s3
        .list_objects_v2()
        .bucket(&stack.bucket)
        .prefix("profiles/")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.key_count(), Some(0), "a dry run writes nothing");

    // The sync: one users page, one PutObject.
    let r = relayctl(&api, &["--json", "profile", "sync"], &vars).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let summary: Value = serde_json::from_str(&r.stdout).expect("--json summary");
    assert_eq!(summary["users"], N);
    assert_eq!(summary["destination"], table_url);
    assert_eq!(summary["dry_run"], false);
    assert_eq!(
        summary["missing"],
        json!({"username": 0, "employee_id": 1, "email": 0})
    );
    assert_eq!(
        (
            summary["genesys_calls"].as_u64(),
            summary["genesys_429"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let c = api.counters();
    assert_eq!(
        c.of("GET /api/v2/users"),
        2,
        "one page per run (dry run + sync)"
    );
    assert_eq!(c.api_calls(), 2, "{c:?}");

    let table = String::from_utf8(stack.object(key).await).expect("utf-8");
    let mut want = String::from("user_id,username,employee_id,email\n");
    let mut agents: Vec<_> = (0..N).map(|i| api.agent(i)).collect();
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    for a in &agents {
        let n = a.index + 1;
        let employee = a.employee_id.clone().unwrap_or_default();
        want.push_str(&format!(
            "{},agent{n}@example.com,{employee},agent{n}@example.com\n",
            a.id
        ));
    }
    assert_eq!(table, want);
    assert_eq!(summary["bytes"], want.len());
    assert!(table.contains(&format!(
        "{},agent10@example.com,,agent10@example.com\n",
        api.agent(9).id
    )));

    // --out FILE: the same bytes, locally.
    let file = std::env::temp_dir().join(format!("{}.csv", unique("user-fields")));
    let path = file.to_str().expect("utf-8 path").to_owned();
    let r = relayctl(&api, &["profile", "sync", "--out", &path], &vars).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.starts_with("wrote 12 users to "), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(&file).expect("the file"), want);
    std::fs::remove_file(&file).expect("clean up");

    // The forwarder, started the Lambdas' way: the profile and the synced table from S3; an
    // event of agent 2 is keyed on its synced username.
    let profile_url = stack
        .put("profiles/by-username.json", profile("username").as_bytes())
        .await;
    let env: HashMap<String, String> = [
        ("WFM_PROFILE".to_owned(), profile_url),
        ("WFM_PROFILE_USER_FIELDS".to_owned(), table_url.clone()),
    ]
    .into();
    let active = ActiveProfile::from_lookup(
        |k| env.get(k).cloned(),
        BodyMode::Event,
        &LazyAws::with_s3(stack.aws.s3.clone()),
    )
    .await
    .expect("profile loads")
    .expect("a profile");
    let w = wfm(&[200]).await;
    let fwd = stack.forwarder(&w.url(), &[]).with_profile(Some(active));
    let out = fwd
        .handle(&presence_event(&api.agent(2).id), deadline())
        .await
        .expect("handled");
    assert_eq!(out, json!({"outcome": "delivered"}));
    let sent = w.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&sent[0].body),
        r#"{"agent":"agent3@example.com","at":"2025-03-04T09:15:01.874Z"}"#
    );

    // `relayctl profile test` on the employee id: agent 0 maps, agent 9 has none (unmapped).
    let profile_file = std::env::temp_dir().join(format!("{}.json", unique("by-employee")));
    std::fs::write(&profile_file, profile("employee_id")).expect("profile file");
    let profile_path = profile_file.to_str().expect("utf-8").to_owned();
    for (index, code, shown) in [
        (
            0,
            0,
            json!({"agent": "E00001", "at": "2025-03-04T09:15:01.874Z"}),
        ),
        (9, 3, Value::Null),
    ] {
        let event = std::env::temp_dir().join(format!("{}.json", unique("event")));
        std::fs::write(&event, presence_event(&api.agent(index).id)).expect("event file");
        let event_path = event.to_str().expect("utf-8").to_owned();
        let r = relayctl(
            &api,
            &[
                "profile",
                "test",
                "--profile",
                &profile_path,
                "--event",
                &event_path,
                "--json",
            ],
            &[
                ("WFM_PROFILE_USER_FIELDS", table_url.clone()),
                ("WFM_URL", "https://wfm.example.test/v1".to_owned()),
            ],
        )
        .await;
        assert_eq!(
            r.code,
            Some(code),
            "agent {index}: {} {}",
            r.stdout,
            r.stderr
        );
        if code == 0 {
            let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
            assert_eq!(v["body"], shown);
        } else {
            assert!(r.stdout.contains("unmapped_agent"), "{}", r.stdout);
        }
        std::fs::remove_file(&event).expect("clean up");
    }
    std::fs::remove_file(&profile_file).expect("clean up");
    assert_eq!(
        api.counters().api_calls(),
        3,
        "profile test and the forwarder call no Genesys"
    );
    api.shutdown().await;
}
