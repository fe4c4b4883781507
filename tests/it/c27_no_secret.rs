//! Case C27: a WFM URL with a credential in its query (`?code=…`) and a bearer token. Through
//! every failure kind (connection refused, a hang past the timeout, a TLS error, 503) and then
//! the replayer (stats, peek, replay) and relayctl (stats, peek, replay with its confirmation
//! prompt on a pseudo-terminal, archive), neither secret appears in the function logs and EMF
//! lines, the retry-queue and DLQ bodies and attributes, the S3 archive objects and manifests,
//! the replayer reports, nor relayctl's stdout and stderr. The URL is shown with its query
//! redacted; the request itself still carries the query and the token.

use crate::lambda_process::forwarder_binary;
use crate::log_scan::{LogScan, run_in_pty};
use crate::support::*;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{Value, json};
use std::io::Read;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_local::runtime_api::RuntimeApi;
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};

/// The credential in the WFM URL's query (the case's value).
const QUERY_SECRET: &str = "S3cr3tQueryKey123";
/// `WFM_AUTH_TOKEN` (the case's value).
const TOKEN: &str = "tok_live_abc";
const SECRETS: [&str; 2] = [QUERY_SECRET, TOKEN];

/// The case's WFM URL on `authority` (`127.0.0.1:<port>`).
fn secret_url(scheme: &str, authority: &str) -> String {
    format!("{scheme}://{authority}/api/status?code={QUERY_SECRET}")
}

/// `127.0.0.1:<port>` where nothing listens.
fn refused_authority() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("address");
    drop(l);
    addr.to_string()
}

/// A WFM on loopback that answers one POST with 503 and hands back what it received (request
/// line and headers), so the test sees the query and the token on the wire.
async fn wire_503() -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let authority = listener.local_addr().expect("address").to_string();
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut buf).await.expect("read");
            assert!(n > 0, "the request head ended early");
            got.extend_from_slice(&buf[..n]);
        }
        sock.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await
        .expect("answer");
        let _ = sock.shutdown().await;
        String::from_utf8_lossy(&got).into_owned()
    });
    (authority, task)
}

/// The forwarder's and replayer's environment for `wfm_url`: the token, debug logs, short
/// timeouts and a 1 s retry step (so the queued letters are visible soon).
fn env(stack: &Stack, wfm_url: &str) -> Vec<(String, String)> {
    stack
        .env(
            wfm_url,
            &[
                ("WFM_AUTH_TOKEN", TOKEN),
                ("INLINE_ATTEMPTS", "1"),
                ("WFM_TIMEOUT_MS", "700"),
                ("WFM_CONNECT_TIMEOUT_MS", "700"),
                ("RETRY_SCHEDULE", "1s"),
                ("FUNCTION_TIMEOUT_S", "900"),
                ("RUST_LOG", "debug"),
                ("RELAYCTL_LOG", "debug"),
            ],
        )
        .into_iter()
        .collect()
}

/// One forwarder process for `wfm_url`, logging to `log`: one EventBridge event, queued.
async fn forward_once(stack: &Stack, wfm_url: &str, n: usize, log: &Path) {
    let api = RuntimeApi::start().await.expect("runtime API");
    let _proc = api
        .spawn_function(
            &forwarder_binary(),
            "wfm-relay-forwarder",
            &env(stack, wfm_url),
            Some(log),
        )
        .expect("spawn");
    let event = presence_event(
        &format!("7f1c1a2e-0000-4000-8000-00000000024{n}"),
        "11111111-2222-4333-8444-555555555555",
        &format!("2026-03-02T09:4{n}:00.000Z"),
    );
    assert_eq!(
        invoke_json(&api, event).await,
        json!({"outcome": "queued"}),
        "{wfm_url}"
    );
}

/// Receives the `want` messages of `url` with their attributes (waiting for delayed ones), adds
/// bodies and attributes to `scan`, and makes them visible again (or deletes them); returns the
/// envelopes.
async fn scan_queue(
    stack: &Stack,
    (url, want): (&str, usize),
    place: &str,
    scan: &mut LogScan,
    delete: bool,
) -> Vec<EnvelopeV1> {
    let sqs = &stack.aws.sqs;
    let mut out = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..30 {
        if out.len() >= want {
            break;
        }
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        for m in got.messages() {
            let body = m.body().unwrap_or_default();
            scan.add(format!("{place} body"), body);
            scan.add(
                format!("{place} attributes"),
                format!("{:?} {:?}", m.attributes(), m.message_attributes()),
            );
            out.push(serde_json::from_str(body).expect("an envelope"));
            handles.push(m.receipt_handle().unwrap_or_default().to_owned());
        }
    }
    for h in handles {
        if delete {
            let r = sqs.delete_message().queue_url(url).receipt_handle(h);
            r.send().await.expect("delete");
        } else {
            let r = sqs.change_message_visibility().queue_url(url);
            let r = r.receipt_handle(h).visibility_timeout(0);
            r.send().await.expect("release");
        }
    }
    out
}

/// `target/<profile>/relayctl`, built by `cargo build --bins`.
fn relayctl_binary() -> PathBuf {
    forwarder_binary().with_file_name("relayctl")
}

/// relayctl with `args` (no terminal): its exit code; stdout and stderr go to `scan`.
fn relayctl(env: &[(String, String)], args: &[&str], scan: &mut LogScan) -> (Option<i32>, String) {
    let out = std::process::Command::new(relayctl_binary())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("relayctl runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    scan.add(format!("relayctl {args:?} stdout"), stdout.clone());
    scan.add_bytes(format!("relayctl {args:?} stderr"), &out.stderr);
    (out.status.code(), stdout)
}

/// Every object of the stack's bucket, gunzipped when it is gzip.
async fn scan_bucket(stack: &Stack, scan: &mut LogScan) -> usize {
    let keys = stack.object_keys().await;
    for key in &keys {
        let bytes = stack.object(key).await;
        scan.add(format!("s3 key {key}"), key.clone());
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(bytes.as_slice())
                .read_to_string(&mut text)
                .expect("gunzip");
            scan.add(format!("s3 object {key}"), text);
        } else {
            scan.add_bytes(format!("s3 object {key}"), &bytes);
        }
    }
    keys.len()
}

#[tokio::test]
async fn c27_no_secret_from_the_wfm_url_anywhere() {
    let case = case("C27");
    let expect = &case["expect"];
    let stack = Stack::create(StackOptions::default()).await;
    let mut scan = LogScan::default();
    let log = std::env::temp_dir().join(format!("{}.log", unique("c27-forwarder")));

    // The forwarder through each failure kind, each time with the secret URL.
    let refused = secret_url("http", &refused_authority());
    forward_once(&stack, &refused, 1, &log).await;
    let hang = ScriptedWfm::start(Script::Sequence(vec![Reply::hang()]))
        .await
        .expect("WFM server");
    forward_once(
        &stack,
        &secret_url("http", &hang.addr().to_string()),
        2,
        &log,
    )
    .await;
    // TLS to a server that speaks plain HTTP: the handshake fails.
    let plain = wfm(&[200]).await;
    forward_once(
        &stack,
        &secret_url("https", &plain.addr().to_string()),
        3,
        &log,
    )
    .await;
    let (authority, wire) = wire_503().await;
    forward_once(&stack, &secret_url("http", &authority), 4, &log).await;

    // request_still_carries_the_query_and_the_token
    let head = wire.await.expect("the 503 server ran");
    assert_eq!(
        expect["request_still_carries_the_query_and_the_token"],
        true
    );
    assert!(
        head.starts_with(&format!(
            "POST /api/status?code={QUERY_SECRET} HTTP/1.1\r\n"
        )),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains(&format!(
            "\r\nauthorization: bearer {}\r\n",
            TOKEN.to_ascii_lowercase()
        )),
        "{head}"
    );

    let forwarder_log = std::fs::read_to_string(&log).expect("function log");
    assert_eq!(
        forwarder_log.matches("\"WFM attempt\"").count(),
        4,
        "one attempt line per failure:\n{forwarder_log}"
    );
    assert!(
        forwarder_log.contains("\"_aws\""),
        "EMF lines were captured"
    );
    scan.add("forwarder log (stdout/stderr, EMF lines)", forwarder_log);

    // The retry queue holds the four letters with their errors; the schedule then runs out:
    // they are parked as the SQS entry parks them (reason transient_exhausted).
    let queued = scan_queue(
        &stack,
        (&stack.retry_url, 4),
        "retry queue",
        &mut scan,
        true,
    )
    .await;
    assert_eq!(queued.len(), 4);
    let errors: Vec<&str> = queued
        .iter()
        .filter_map(|e| e.last_error.as_deref())
        .collect();
    assert_eq!(
        errors.len(),
        4,
        "three transport errors and a 503: {errors:?}"
    );
    assert!(errors.contains(&"HTTP 503"), "{errors:?}");
    let shown = refused.replace(QUERY_SECRET, "REDACTED");
    assert!(
        errors.iter().any(|e| e.contains(&shown)),
        "url_shown_with_query_redacted ({}): {errors:?}",
        expect["url_shown_with_query_redacted"]
    );
    for mut env in queued {
        env.reason = Some(Reason::TransientExhausted);
        stack.queues().dlq().park(&env).await.expect("park");
    }

    // The replayer Lambda: stats, peek, replay (WFM still refuses connections).
    let api = RuntimeApi::start().await.expect("runtime API");
    let rlog = std::env::temp_dir().join(format!("{}.log", unique("c27-replayer")));
    let renv = env(&stack, &refused);
    let _replayer = api
        .spawn_function(
            &forwarder_binary().with_file_name("wfm-relay-replayer"),
            "wfm-relay-replayer",
            &renv,
            Some(&rlog),
        )
        .expect("spawn");
    for request in [
        json!({"action": "stats"}),
        json!({"action": "peek"}),
        json!({"action": "replay"}),
    ] {
        let report = invoke_json(&api, request.to_string().into_bytes()).await;
        assert_eq!(report["matched"], 4, "{report}");
        scan.add(format!("replayer report {request}"), report.to_string());
    }
    scan.add(
        "replayer log",
        std::fs::read_to_string(&rlog).expect("replayer log"),
    );
    let rewritten = scan_queue(&stack, (&stack.dlq_url, 4), "DLQ", &mut scan, false).await;
    assert_eq!(rewritten.len(), 4);
    assert!(
        rewritten
            .iter()
            .all(|e| e.last_error.as_deref().is_some_and(|x| x.contains(&shown))),
        "the replay's connection errors show the URL redacted"
    );

    // relayctl: stats, peek, replay with its prompt on a terminal, archive.
    for args in [
        &["stats"][..],
        &["--json", "stats"],
        &["peek"],
        &["--json", "peek"],
    ] {
        let (code, _) = relayctl(&renv, args, &mut scan);
        assert_eq!(code, Some(0), "relayctl {args:?}");
    }
    let replay = run_in_pty(&relayctl_binary(), &["replay"], &renv, "y\n");
    assert!(
        replay.text.contains("Proceed? [y/N]"),
        "the prompt was shown:\n{}",
        replay.text
    );
    assert!(
        replay
            .text
            .contains(&format!("will replay 4 dead letters to {shown}")),
        "url_shown_with_query_redacted:\n{}",
        replay.text
    );
    assert_eq!(
        replay.code,
        Some(3),
        "all four failed again:\n{}",
        replay.text
    );
    scan.add("relayctl replay (terminal)", replay.text);
    let (code, report) = relayctl(&renv, &["--json", "--yes", "replay"], &mut scan);
    assert_eq!(code, Some(3));
    let report: Value = serde_json::from_str(&report).expect("JSON report");
    assert_eq!(
        (report["matched"].clone(), report["failed"].clone()),
        (json!(4), json!(4))
    );
    let archive = run_in_pty(&relayctl_binary(), &["archive"], &renv, "y\n");
    assert!(archive.text.contains("Proceed? [y/N]"), "{}", archive.text);
    assert_eq!(archive.code, Some(0), "{}", archive.text);
    scan.add("relayctl archive (terminal)", archive.text);
    assert_eq!(stack.depth(&stack.dlq_url).await, 0, "all archived");
    assert!(
        scan_bucket(&stack, &mut scan).await >= 2,
        "an archive object and its manifest"
    );

    // neither_secret_in: every place above.
    assert_eq!(
        expect["neither_secret_in"].as_array().map(Vec::len),
        Some(6)
    );
    scan.assert_free_of(&SECRETS);
}
