//! `relayctl profile test` with the profile and its mapping table in S3 (moto, through the
//! AWS-rules layer): the same start-up read as the Lambdas, the request printed, nothing sent;
//! a table that cannot be read names its variable.

use crate::support::relayctl::{Relayctl, Run};
use crate::support::*;

const PROFILE: &[u8] = br#"{"name":"s3-wfm","agent_key":{"from":"mapping"},
    "body":{"jq":"{agent: .agent_key, at: .state_time}"},"path":"/agents/{agent_key}"}"#;

/// `relayctl args` with nothing but `vars`, PATH and moto's AWS settings in its environment.
fn relayctl(args: &[&str], vars: &[(&str, String)]) -> Run {
    Relayctl::against_moto(args, vars).run()
}

#[tokio::test]
async fn an_s3_profile_and_its_s3_mapping_table() {
    let stack = Stack::create(StackOptions::default()).await;
    let profile = stack.put("profiles/s3-wfm.json", PROFILE).await;
    let table = stack
        .put(
            "profiles/agents.csv",
            b"user_id,wfm_id\naaaaaaaa-0000-4000-8000-0000000000a1,asm-1\n",
        )
        .await;
    let event = std::env::temp_dir().join(format!("{}.json", unique("profile-event")));
    std::fs::write(&event, fixture("presence-break.json")).expect("event file");
    let event = event.to_str().expect("utf-8 path").to_owned();
    let vars = [
        ("WFM_PROFILE", profile.clone()),
        ("WFM_PROFILE_MAPPING", table),
        (
            "WFM_URL",
            "https://wfm.example.test/v1?key=S3cr3tQueryKey123".to_owned(),
        ),
    ];
    let o = relayctl(&["profile", "test", "--event", &event, "--json"], &vars);
    assert_eq!(o.code, Some(0), "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("JSON");
    assert_eq!(
        v["url"],
        "https://wfm.example.test/v1/agents/asm-1?key=REDACTED"
    );
    assert_eq!(
        v["body"],
        serde_json::json!({"agent": "asm-1", "at": "2025-03-04T09:15:01.874Z"})
    );
    // A mapping object that does not exist fails as start-up would, naming the variable.
    let missing = format!("s3://{}/profiles/missing.csv", stack.bucket);
    let o = relayctl(
        &["profile", "test", "--event", &event],
        &[
            ("WFM_PROFILE", profile),
            ("WFM_PROFILE_MAPPING", missing.clone()),
        ],
    );
    assert_eq!(o.code, Some(1), "{o:?}");
    let err = &o.stderr;
    assert!(
        err.contains(&format!("WFM_PROFILE_MAPPING: cannot read {missing}")),
        "{err}"
    );
}
