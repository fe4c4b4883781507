//! The WFM bearer token and signing secrets read from AWS Secrets Manager and SSM Parameter
//! Store (moto, through `AWS_ENDPOINT_URL`): sent as configured, read again after a 401 when
//! rotated, and never written to the logs.

use crate::lambda_process::forwarder_binary;
use crate::signing::{SECRET_A, SECRET_B, reference_verify};
use crate::support::*;
use aws_config::BehaviorVersion;
use aws_sdk_ssm::types::ParameterType;
use base64::Engine;
use serde_json::json;
use wfm_relay_aws::relay::RelayParts;
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::runtime_api::RuntimeApi;

async fn sdk_config() -> aws_config::SdkConfig {
    let _ = endpoint();
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// Creates a Secrets Manager secret holding `value`; returns its ARN.
async fn create_secret(value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(&sdk_config().await)
        .create_secret()
        .name(unique("wfm-relay-secret"))
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret")
        .arn
        .expect("ARN")
}

/// Stores a new current version of a secret (a rotation).
async fn rotate_secret(arn: &str, value: &str) {
    aws_sdk_secretsmanager::Client::new(&sdk_config().await)
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .expect("PutSecretValue");
}

/// Creates a `SecureString` parameter holding `value`; returns its name.
async fn put_parameter(value: &str) -> String {
    let name = format!("/wfm-relay/{}", unique("param"));
    aws_sdk_ssm::Client::new(&sdk_config().await)
        .put_parameter()
        .name(&name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("PutParameter");
    name
}

/// A forwarder built on the production start-up path (`RelayParts`, as `Forwarder::from_env`
/// uses it) with the stack's variables: the WFM client reads its secrets from AWS before the
/// first event.
async fn forwarder_with_secrets(stack: &Stack, wfm_url: &str, extra: &[(&str, &str)]) -> Forwarder {
    let env = stack.env(wfm_url, extra);
    let parts = RelayParts::from_lookup(|k| env.get(k).cloned(), &sdk_config().await)
        .await
        .expect("start-up with secrets");
    Forwarder::new(parts.cfg, parts.wfm, parts.queues)
}

/// The start-up error for the stack's variables plus `extra`.
async fn start_up_error(stack: &Stack, extra: &[(&str, &str)]) -> String {
    let env = stack.env("http://127.0.0.1:9/x", extra);
    RelayParts::from_lookup(|k| env.get(k).cloned(), &sdk_config().await)
        .await
        .expect_err("start-up must fail")
        .to_string()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn token_from_secrets_manager_and_signing_keys_from_ssm() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let token = format!("sm-token-{}", unique("t"));
    let arn = create_secret(&token).await;
    let param = put_parameter(&format!("{SECRET_A} {SECRET_B}")).await;
    let fwd = forwarder_with_secrets(
        &stack,
        &wfm.url(),
        &[
            ("WFM_AUTH_TOKEN_SECRET_ARN", &arn),
            ("WFM_SIGNING_SECRET_PARAM", &param),
        ],
    )
    .await;
    let out = fwd
        .handle(&fixture("presence-break.json"), deadline())
        .await
        .expect("handled");
    assert_eq!(out, json!({"outcome": "delivered"}));
    let r = &wfm.requests()[0];
    assert_eq!(r.header("authorization"), Some(bearer(&token).as_str()));
    reference_verify(SECRET_A, r, &r.body).expect("signed with the parameter's first secret");
    reference_verify(SECRET_B, r, &r.body).expect("and with its second");
}

#[tokio::test]
async fn token_from_ssm_and_signing_keys_from_secrets_manager() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let token = format!("ssm-token-{}", unique("t"));
    let param = put_parameter(&token).await;
    let arn = create_secret(SECRET_A).await;
    let fwd = forwarder_with_secrets(
        &stack,
        &wfm.url(),
        &[
            ("WFM_AUTH_TOKEN_PARAM", &param),
            ("WFM_SIGNING_SECRET_ARN", &arn),
        ],
    )
    .await;
    fwd.handle(&fixture("presence-break.json"), deadline())
        .await
        .expect("handled");
    let r = &wfm.requests()[0];
    assert_eq!(r.header("authorization"), Some(bearer(&token).as_str()));
    reference_verify(SECRET_A, r, &r.body).expect("signed with the secret's value");
    assert!(reference_verify(SECRET_B, r, &r.body).is_err());
}

#[tokio::test]
async fn a_rotated_token_is_read_again_after_a_401() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[401, 200, 401]).await;
    let old = format!("old-{}", unique("t"));
    let new = format!("new-{}", unique("t"));
    let arn = create_secret(&old).await;
    let fwd =
        forwarder_with_secrets(&stack, &wfm.url(), &[("WFM_AUTH_TOKEN_SECRET_ARN", &arn)]).await;

    // The token is rotated after start-up; the cached one is refused once, then the new one
    // is read and the same attempt is sent again at once.
    rotate_secret(&arn, &new).await;
    let out = fwd
        .handle(&fixture("presence-break.json"), deadline())
        .await
        .expect("handled");
    assert_eq!(out, json!({"outcome": "delivered"}));
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("authorization"), Some(bearer(&old).as_str()));
    assert_eq!(reqs[1].header("authorization"), Some(bearer(&new).as_str()));
    assert_eq!(reqs[0].header("x-attempt"), Some("1"));
    assert_eq!(reqs[1].header("x-attempt"), Some("1"), "the same attempt");

    // A 401 with a token that did not change is not retried: 401 is permanent by default.
    let out = fwd
        .handle(&fixture("presence-available.json"), deadline())
        .await
        .expect("handled");
    assert_eq!(out, json!({"outcome": "rejected"}));
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].header("authorization"), Some(bearer(&new).as_str()));
}

#[tokio::test]
async fn an_unreadable_secret_fails_start_up_naming_the_variable() {
    let stack = Stack::create(StackOptions::default()).await;
    let table = [
        ("WFM_AUTH_TOKEN_SECRET_ARN", unique("missing-secret")),
        ("WFM_AUTH_TOKEN_PARAM", format!("/{}", unique("missing"))),
        ("WFM_SIGNING_SECRET_ARN", unique("missing-secret")),
    ];
    for (var, id) in &table {
        let text = start_up_error(&stack, &[(var, id)]).await;
        assert!(text.starts_with(var), "{text}");
        assert!(text.contains(id.as_str()), "names the secret: {text}");
    }
    // A value that is no list of `whsec_` secrets: named, not shown.
    let arn = create_secret("whsec_not-base64-at-all!!").await;
    let text = start_up_error(&stack, &[("WFM_SIGNING_SECRET_ARN", &arn)]).await;
    assert!(text.starts_with("WFM_SIGNING_SECRET_ARN"), "{text}");
    assert!(!text.contains("not-base64-at-all"), "{text}");
}

#[tokio::test]
async fn the_function_log_holds_no_secret() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200, 401, 200, 503]).await;
    let old = format!("log-old-{}", unique("t"));
    let new = format!("log-new-{}", unique("t"));
    let token_arn = create_secret(&old).await;
    let signing_arn = create_secret(SECRET_B).await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let env: Vec<(String, String)> = stack
        .env(
            &wfm.url(),
            &[
                ("WFM_AUTH_TOKEN_SECRET_ARN", &token_arn),
                ("WFM_SIGNING_SECRET_ARN", &signing_arn),
                ("INLINE_ATTEMPTS", "1"),
                ("RUST_LOG", "debug"),
            ],
        )
        .into_iter()
        .collect();
    let log = std::env::temp_dir().join(format!("{}.log", unique("forwarder-secrets")));
    let _proc = api
        .spawn_function(&forwarder_binary(), "wfm-relay-forwarder", &env, Some(&log))
        .expect("spawn");

    // Delivered; then rotated and refused once (401), read again and delivered; then a 503,
    // queued.
    let presence = fixture("presence-break.json").trim_ascii_end().to_vec();
    assert_eq!(
        invoke_json(&api, presence).await,
        json!({"outcome": "delivered"})
    );
    rotate_secret(&token_arn, &new).await;
    let available = fixture("presence-available.json").trim_ascii_end().to_vec();
    assert_eq!(
        invoke_json(&api, available).await,
        json!({"outcome": "delivered"})
    );
    let third = presence_event("e-log-3", "user-log", "2026-03-02T09:30:00.000Z");
    assert_eq!(invoke_json(&api, third).await, json!({"outcome": "queued"}));
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[2].header("authorization"), Some(bearer(&new).as_str()));
    for r in &reqs {
        reference_verify(SECRET_B, r, &r.body).expect("signed");
    }

    let logs = std::fs::read_to_string(&log).expect("function log");
    assert!(
        logs.lines().count() > 10 && logs.contains("WFM attempt"),
        "a debug log was captured:\n{logs}"
    );
    assert!(
        logs.contains("WFM credentials read again from AWS"),
        "the 401 path ran:\n{logs}"
    );
    let b64 = SECRET_B.trim_start_matches("whsec_");
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("key bytes");
    let mut forbidden = vec![
        old.clone(),
        new.clone(),
        SECRET_B.to_owned(),
        b64.to_owned(),
        b64.trim_end_matches('=').to_owned(),
        hex(&key),
    ];
    if let Ok(s) = std::str::from_utf8(&key) {
        forbidden.push(s.to_owned());
    }
    for f in &forbidden {
        assert!(!logs.contains(f.as_str()), "the log holds a secret ({f})");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
