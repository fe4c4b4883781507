//! `relayctl profile test` as an engineer runs it, without AWS: a builtin or file profile over
//! a Genesys fixture (tests/fixtures/genesys) or a dead letter, the exact body printed, the
//! query redacted, no secret shown, an unmapped agent exit 3.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BREAK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/genesys/presence-break.json"
);

/// The agent-state body of presence-break.json (the profile crate's tests assert the same).
const AGENT_STATE_BODY: &str = r#"{"agent_id":"aaaaaaaa-0000-4000-8000-0000000000a1","state":"BREAK","reason":"e08eaf1b-0000-4000-8000-0000000000b1","timestamp":"2025-03-04T09:15:01.874Z","source":"genesys"}"#;

/// Runs `relayctl args` with `vars` and no `WFM_*` variable inherited.
fn relayctl(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relayctl"));
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("RELAYCTL_ENV_FILE_LOADED");
    for (k, _) in std::env::vars() {
        if k.starts_with("WFM_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(vars.iter().copied());
    cmd.output().expect("relayctl runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("relayctl-profile-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write temp file");
    p
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn agent_state_prints_the_exact_request_with_the_query_redacted() {
    let o = relayctl(
        &["profile", "test", "--event", BREAK],
        &[
            ("WFM_PROFILE", "builtin:agent-state"),
            (
                "WFM_URL",
                "https://wfm.example.test/api/status?code=S3cr3tQueryKey123",
            ),
            ("WFM_AUTH_TOKEN", "tok-N0tShown"),
            (
                "WFM_SIGNING_SECRETS",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let want = format!(
        "POST https://wfm.example.test/api/status?code=REDACTED\n\
         Content-Type: application/json\n\
         User-Agent: wfm-relay/{}\n\
         Idempotency-Key: a59d5f362b0f680c6820371be01908a9358f89b4871cf802360a089e89644d6d\n\
         X-Event-Id: 7f0c1e52-0000-4000-8000-000000000101\n\
         X-Genesys-Topic: v2.users.{{id}}.presence\n\
         X-Attempt: 1\n\
         X-Event-Time: 2025-03-04T09:15:01.874Z\n\
         X-Genesys-Timestamp: 2025-03-04T09:15:01.912Z\n\
         Authorization: <from WFM_AUTH_MODE=bearer, not shown>\n\
         webhook-id: a59d5f362b0f680c6820371be01908a9358f89b4871cf802360a089e89644d6d\n\
         webhook-timestamp: <the send time, Unix seconds>\n\
         webhook-signature: <from WFM_SIGNING_SECRETS, not shown>\n\
         \n\
         {AGENT_STATE_BODY}\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(stdout(&o), want);
    for secret in [
        "S3cr3tQueryKey123",
        "tok-N0tShown",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        assert!(
            !stdout(&o).contains(secret) && !String::from_utf8_lossy(&o.stderr).contains(secret)
        );
    }
}

#[test]
fn json_output_has_url_headers_and_body() {
    let o = relayctl(
        &[
            "profile",
            "test",
            "--profile",
            "builtin:agent-state",
            "--event",
            BREAK,
            "--json",
        ],
        &[(
            "WFM_URL",
            "https://wfm.example.test/api/status?code=S3cr3tQueryKey123",
        )],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(
        v["url"],
        "https://wfm.example.test/api/status?code=REDACTED"
    );
    assert_eq!(v["headers"]["X-Attempt"], "1");
    assert!(
        v["headers"].get("Authorization").is_none(),
        "WFM_AUTH_MODE none: {v}"
    );
    let body: serde_json::Value = serde_json::from_str(AGENT_STATE_BODY).expect("JSON");
    assert_eq!(v["body"], body);
    assert_eq!(v.as_object().map(serde_json::Map::len), Some(3));
}

#[test]
fn an_unmapped_agent_prints_its_reason_and_exits_3() {
    let empty = temp_file("empty.csv", "user_id,wfm_id\n");
    let o = relayctl(
        &[
            "profile",
            "test",
            "--profile",
            "builtin:assembled",
            "--mapping",
            path(&empty),
            "--event",
            BREAK,
        ],
        &[("WFM_URL", "https://api.assembledhq.com")],
    );
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert_eq!(
        stdout(&o),
        "unmapped_agent: unmapped agent: user id aaaaaaaa-0000-4000-8000-0000000000a1 is not in \
         the agent mapping table (WFM_PROFILE_MAPPING)\n"
    );
    // Mapped, the same event goes to the profile's path under WFM_URL.
    let table = temp_file(
        "agents.csv",
        "user_id,wfm_id\naaaaaaaa-0000-4000-8000-0000000000a1,asm-1\n",
    );
    let o = relayctl(
        &[
            "profile",
            "test",
            "--profile",
            "builtin:assembled",
            "--mapping",
            path(&table),
            "--event",
            BREAK,
            "--json",
        ],
        &[("WFM_URL", "https://api.assembledhq.com")],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["url"], "https://api.assembledhq.com/v0/agents/state/bulk");
    assert_eq!(v["body"]["states"][0]["agent_id"], "asm-1");
}

#[test]
fn a_dead_letter_is_shown_as_its_replay_through_a_file_profile() {
    let raw = std::fs::read(BREAK).expect("fixture");
    let info = wfm_relay_core::event::parse_event(&raw).expect("valid fixture");
    let letter = wfm_relay_core::envelope::EnvelopeV1 {
        attempts: 6,
        ..wfm_relay_core::envelope::EnvelopeV1::new(&raw, Some(&info))
    };
    let letter = temp_file("letter.json", &letter.to_json());
    let profile = temp_file(
        "my-wfm.json",
        r#"{"name":"my-wfm","body":{"jq":"{who: .user_id, code: .state_code}"},
            "state_codes":[{"system_presence":"Break","state":"BRK"}],
            "path":"/agents/{user_id}","headers":{"X-Source":"genesys"}}"#,
    );
    let o = relayctl(
        &[
            "profile",
            "test",
            "--profile",
            path(&profile),
            "--letter",
            path(&letter),
        ],
        &[("WFM_URL", "https://wfm.example.test/v1/")],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "POST https://wfm.example.test/v1/agents/aaaaaaaa-0000-4000-8000-0000000000a1\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("\nX-Attempt: 7\n") && out.contains("\nX-Replay: true\nX-Source: genesys\n"),
        "{out}"
    );
    assert!(
        out.ends_with("\n\n{\"who\":\"aaaaaaaa-0000-4000-8000-0000000000a1\",\"code\":\"BRK\"}\n"),
        "{out}"
    );
}

#[test]
fn a_transform_failure_and_usage_errors() {
    let profile = temp_file(
        "fails.json",
        r#"{"name":"fails","body":{"jq":"error(\"no agent here\")"}}"#,
    );
    let o = relayctl(
        &[
            "profile",
            "test",
            "--profile",
            path(&profile),
            "--event",
            BREAK,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(
        stdout(&o).starts_with("transform_failed: transform failed: "),
        "{}",
        stdout(&o)
    );
    // No profile anywhere; no input.
    let o = relayctl(&["profile", "test", "--event", BREAK], &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--profile"),
        "{o:?}"
    );
    let o = relayctl(
        &["profile", "test", "--profile", "builtin:agent-state"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    // An unknown builtin names the known ones.
    let o = relayctl(
        &[
            "profile",
            "test",
            "--profile",
            "builtin:nice",
            "--event",
            BREAK,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("known: genesys, agent-state, assembled"));
}
