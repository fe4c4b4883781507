//! The forwarder binary as a real Lambda process: it speaks the Lambda Runtime API to a local
//! stand-in with real deadlines, builds its SDK clients against moto, and posts to the scripted
//! WFM server. Proves the runtime never rejects a payload before the handler (C01, C14).

use crate::support::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use wfm_relay_local::runtime_api::{InvokeOutcome, RuntimeApi};

/// `target/<profile>/wfm-relay-forwarder`, built by `cargo build --bins` (infra/test.sh does).
pub fn forwarder_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let bin = dir.join("wfm-relay-forwarder");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with infra/test.sh (it runs `cargo build --bins` first)",
        bin.display()
    );
    bin
}

#[tokio::test]
async fn forwarder_binary_serves_eventbridge_and_sqs_payloads_through_the_runtime_api() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let env: Vec<(String, String)> = stack.env(&wfm.url(), &[]).into_iter().collect();
    let log = std::env::temp_dir().join(format!("{}.log", unique("forwarder")));
    let _proc = api
        .spawn_function(&forwarder_binary(), "wfm-relay-forwarder", &env, Some(&log))
        .expect("spawn");

    // A Genesys event: delivered, the exact bytes posted.
    // The Runtime API hands over the JSON value; the fixture file's trailing newline is not part
    // of it.
    let presence = fixture("presence-break.json").trim_ascii_end().to_vec();
    assert_eq!(
        invoke_json(&api, presence.clone()).await,
        json!({"outcome": "delivered"})
    );
    assert_eq!(
        String::from_utf8_lossy(&wfm.requests()[0].body),
        String::from_utf8_lossy(&presence)
    );

    // C01: no envelope. The runtime must hand it to the handler, which parks it.
    let c01 = bytes_of(&case("C01")["event"]);
    assert_eq!(
        invoke_json(&api, c01).await,
        json!({"outcome": "invalid_event"})
    );

    // C14: an escaped lone surrogate, which serde_json refuses to decode into a String.
    let c14 = case_raw_member("C14", "event");
    assert_eq!(
        invoke_json(&api, c14.clone()).await,
        json!({"outcome": "delivered"})
    );
    assert_eq!(
        String::from_utf8_lossy(&wfm.requests()[1].body),
        String::from_utf8_lossy(&c14)
    );

    // An SQS batch: the partial batch response.
    let c05 = bytes_of(&case("C05")["event"]);
    assert_eq!(
        invoke_json(&api, c05).await,
        json!({"batchItemFailures": []})
    );
    assert_eq!(wfm.requests().len(), 4);

    assert_eq!(
        stack.depth(&stack.dlq_url).await,
        1,
        "only the C01 payload is parked"
    );
    let logs = std::fs::read_to_string(&log).expect("function log");
    let outcomes: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "WFM attempt")
        .collect();
    assert_eq!(outcomes.len(), 4, "one JSON log line per attempt:\n{logs}");
    assert_eq!(outcomes[0]["fields"]["outcome"], "delivered");
    assert_eq!(outcomes[0]["fields"]["status"], 200);
    assert_eq!(
        outcomes[0]["fields"]["user_id"],
        "aaaaaaaa-0000-4000-8000-0000000000a1"
    );
}

#[tokio::test]
async fn forwarder_binary_fails_the_invocation_when_nothing_can_park_the_event() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503]).await;
    let api = RuntimeApi::start().await.expect("runtime API");
    // Queues that do not exist: SendMessage fails, so the event is in no queue.
    let mut env = stack.env(&wfm.url(), &[("INLINE_ATTEMPTS", "1")]);
    env.insert(
        "RETRY_QUEUE_URL".into(),
        format!("{}/123456789012/missing-retry", endpoint()),
    );
    env.insert(
        "DLQ_URL".into(),
        format!("{}/123456789012/missing-dlq", endpoint()),
    );
    let env: Vec<(String, String)> = env.into_iter().collect();
    let log = std::env::temp_dir().join(format!("{}.log", unique("forwarder")));
    let _proc = api
        .spawn_function(&forwarder_binary(), "wfm-relay-forwarder", &env, Some(&log))
        .expect("spawn");
    match api
        .invoke(fixture("presence-available.json"), Duration::from_secs(30))
        .await
        .expect("finished")
    {
        InvokeOutcome::Error { error_message, .. } => {
            assert!(
                error_message.contains("could not queue or park"),
                "{error_message}"
            )
        }
        InvokeOutcome::Response(body) => {
            panic!("must fail, got {}", String::from_utf8_lossy(&body))
        }
    }
}

/// `target/<profile>/wfm-relay-replayer`.
fn replayer_binary() -> PathBuf {
    forwarder_binary().with_file_name("wfm-relay-replayer")
}

#[tokio::test]
async fn replayer_binary_answers_a_json_request_through_the_runtime_api() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    stack
        .park(
            &fixture("presence-break.json"),
            wfm_relay_core::envelope::Reason::TransientExhausted,
            3,
        )
        .await;
    stack
        .park(
            &fixture("activity.json"),
            wfm_relay_core::envelope::Reason::Rejected,
            1,
        )
        .await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let env: Vec<(String, String)> = stack
        .env(&wfm.url(), &[("FUNCTION_TIMEOUT_S", "900")])
        .into_iter()
        .collect();
    let log = std::env::temp_dir().join(format!("{}.log", unique("replayer")));
    let _proc = api
        .spawn_function(&replayer_binary(), "wfm-relay-replayer", &env, Some(&log))
        .expect("spawn");

    let stats = invoke_json(&api, br#"{"action":"stats"}"#.to_vec()).await;
    assert_eq!(stats["matched"], 2);
    assert_eq!(
        stats["stats"]["by_reason"],
        json!({"rejected": 1, "transient_exhausted": 1})
    );
    assert_eq!(stats["stats"]["depth"], 2);

    let replay = invoke_json(
        &api,
        br#"{"action":"replay","filter":{"reason":"transient_exhausted"}}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (
            replay["matched"].clone(),
            replay["delivered"].clone(),
            replay["remaining"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
    assert_eq!(wfm.requests().len(), 1);

    match api
        .invoke(br#"{"action":"purge"}"#.to_vec(), Duration::from_secs(30))
        .await
        .expect("finished")
    {
        InvokeOutcome::Error { error_message, .. } => {
            assert!(error_message.contains("invalid request"), "{error_message}")
        }
        InvokeOutcome::Response(b) => panic!(
            "an unknown action must fail, got {}",
            String::from_utf8_lossy(&b)
        ),
    }
}
