//! `relayctl profile test` with the profile and its mapping table in S3 (moto, through the
//! AWS-rules layer): the same start-up read as the Lambdas, the request printed, nothing sent;
//! a table that cannot be read names its variable.

use crate::lambda_process::forwarder_binary;
use crate::support::*;
use std::process::{Command, Output, Stdio};

const PROFILE: &[u8] = br#"{"name":"s3-wfm","agent_key":{"from":"mapping"},
    "body":{"jq":"{agent: .agent_key, at: .state_time}"},"path":"/agents/{agent_key}"}"#;

/// `relayctl args` with nothing but `vars`, PATH and moto's AWS settings in its environment.
fn relayctl(args: &[&str], vars: &[(&str, String)]) -> Output {
    let bin = forwarder_binary().with_file_name("relayctl");
    Command::new(&bin)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", bin.display()))
}

async fn put(stack: &Stack, key: &str, body: &[u8]) -> String {
    stack
        .aws
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .expect("put");
    format!("s3://{}/{key}", stack.bucket)
}

#[tokio::test]
async fn an_s3_profile_and_its_s3_mapping_table() {
    let stack = Stack::create(StackOptions::default()).await;
    let profile = put(&stack, "profiles/s3-wfm.json", PROFILE).await;
    let table = put(
        &stack,
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
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
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
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("WFM_PROFILE_MAPPING: cannot read {missing}")),
        "{err}"
    );
}
