//! Destination auth on the real delivery path: forwarders and a replayer built by the
//! production start-up (`RelayParts`, as the Lambdas and `relayctl` build them) against the
//! real OAuth 2.0 server (npm `oidc-provider`, `infra/oauth.sh`, 5 s tokens), the scripted WFM
//! validating every bearer token by introspection, and moto for the queues and secrets.
//! Counts are asserted (token requests, POSTs, resends, POSTs without Authorization), never
//! timings.

use crate::lambda_process::forwarder_binary;
use crate::support::*;
use aws_sdk_ssm::types::ParameterType;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use wfm_relay_aws::relay::RelayParts;
use wfm_relay_aws::wfm::WfmClient;
use wfm_relay_core::envelope::Reason;
use wfm_relay_core::metrics::AUTH_CONFIG_ERROR;
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::runtime_api::RuntimeApi;
use wfm_relay_local::wfm_auth::{AuthCounts, TokenCheck};
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};
use wfm_relay_replayer::{Action, Request};

/// A variable set by `infra/oauth.sh`; fails loudly when missing (no silent skip).
fn oauth_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{name} is not set: run these tests with `infra/test.sh` (infra/oauth.sh)"),
    }
}

/// The `oauth2` variables against the test server (client secret as a plain value).
fn oauth_env() -> Vec<(String, String)> {
    [
        ("WFM_AUTH_MODE", "oauth2".to_owned()),
        ("WFM_OAUTH_TOKEN_URL", oauth_var("OAUTH_TOKEN_URL")),
        ("WFM_OAUTH_CLIENT_ID", oauth_var("OAUTH_CLIENT_ID")),
        ("WFM_OAUTH_CLIENT_SECRET", oauth_var("OAUTH_CLIENT_SECRET")),
        ("WFM_OAUTH_SCOPE", "status:write".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `base` with `over` replacing or adding variables.
fn with(base: &[(String, String)], over: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
        .cloned()
        .collect();
    v.extend(over.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    v
}

/// A scripted WFM that validates bearer tokens at the test server.
async fn checked_wfm(script: Script) -> (ScriptedWfm, Arc<TokenCheck>) {
    let check = Arc::new(TokenCheck::new(
        &oauth_var("OAUTH_INTROSPECTION_URL"),
        &oauth_var("OAUTH_INTROSPECTION_CLIENT_ID"),
        &oauth_var("OAUTH_INTROSPECTION_SECRET"),
    ));
    let wfm = ScriptedWfm::start(script).await.expect("scripted WFM");
    wfm.set_token_check(Arc::clone(&check));
    (wfm, check)
}

async fn sdk_config() -> aws_config::SdkConfig {
    let _ = endpoint();
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A forwarder on the production start-up path, and its WFM client (to read the token
/// cache's counters).
async fn forwarder(
    stack: &Stack,
    wfm_url: &str,
    vars: &[(String, String)],
) -> (Forwarder, WfmClient) {
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let env = stack.env(wfm_url, &extra);
    let parts = RelayParts::from_lookup(|k| env.get(k).cloned(), &sdk_config().await)
        .await
        .expect("start-up");
    let wfm = parts.wfm.clone();
    (Forwarder::new(parts.cfg, parts.wfm, parts.queues), wfm)
}

fn token_requests(wfm: &WfmClient) -> u64 {
    wfm.auth().token_stats().map_or(0, |s| s.requests)
}

fn event(n: usize) -> Vec<u8> {
    presence_event(
        &format!("e-auth-{n}-{}", unique("x")),
        "user-auth",
        "2026-03-02T09:30:00.000Z",
    )
}

/// The bearer tokens WFM received, in order.
fn bearers(wfm: &ScriptedWfm) -> Vec<String> {
    wfm.requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_forwarder_fetches_reuses_and_refreshes_tokens_before_expiry() {
    let stack = Stack::create(StackOptions::default()).await;
    let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
    let (fwd, client) = forwarder(&stack, &wfm.url(), &oauth_env()).await;
    assert_eq!(token_requests(&client), 0, "no token before the first POST");
    let mut events = 0;
    // Events until the cache has refreshed twice (5 s tokens are refreshed when 2.5 s are
    // left); the bound keeps the loop finite, the assertions are on counts.
    while token_requests(&client) < 3 && events < 400 {
        let out = fwd
            .handle(&event(events), deadline())
            .await
            .expect("handled");
        assert_eq!(out, json!({"outcome": "delivered"}));
        events += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stats = client.auth().token_stats().expect("oauth2 counters");
    assert_eq!((stats.requests, stats.failures), (3, 0));
    let sent = bearers(&wfm);
    assert_eq!(sent.len(), events, "one POST per event");
    assert!(sent.iter().all(|a| a.starts_with("Bearer ")), "{sent:?}");
    let distinct: HashSet<&String> = sent.iter().collect();
    assert_eq!(distinct.len(), 3, "each token reused until its refresh");
    assert!(events > 6, "tokens were reused: {events} POSTs");
    assert_eq!(
        check.counts(),
        AuthCounts {
            accepted: events as u64,
            ..AuthCounts::default()
        },
        "0 POSTs without Authorization, 0 with an expired token"
    );
}

#[tokio::test]
async fn a_401_renews_the_token_and_resends_the_same_attempt_once() {
    let stack = Stack::create(StackOptions::default()).await;
    // Event 1: 401 → new token → 200. Event 2: 401 → new token → 401 again: rejected.
    let script = [401, 200, 401, 401].map(Reply::status).to_vec();
    let (wfm, check) = checked_wfm(Script::Sequence(script)).await;
    let (fwd, client) = forwarder(&stack, &wfm.url(), &oauth_env()).await;
    let out = fwd.handle(&event(1), deadline()).await.expect("handled");
    assert_eq!(out, json!({"outcome": "delivered"}));
    let out = fwd.handle(&event(2), deadline()).await.expect("handled");
    assert_eq!(out, json!({"outcome": "rejected"}));
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 4, "one resend per 401, no more");
    for r in &reqs {
        assert_eq!(
            r.header("x-attempt"),
            Some("1"),
            "the resend is the same attempt"
        );
    }
    assert_eq!(reqs[0].header("x-event-id"), reqs[1].header("x-event-id"));
    let sent = bearers(&wfm);
    assert_ne!(sent[0], sent[1], "resent with a new token");
    assert_ne!(sent[2], sent[3], "resent with a new token");
    assert_eq!(
        token_requests(&client),
        3,
        "first token + one renewal per 401"
    );
    assert_eq!(check.counts().accepted, 4);
    assert_eq!(check.counts().without_authorization, 0);
    assert_eq!(check.counts().expired, 0);
    let parked = stack.take_all(&stack.dlq_url).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].1.reason, Some(Reason::Rejected));
}

#[tokio::test]
async fn a_token_endpoint_down_slow_or_failing_queues_the_event_without_a_post() {
    let stack = Stack::create(StackOptions::default()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let failing = |reply: Reply| async move {
        ScriptedWfm::start(Script::Sequence(vec![reply]))
            .await
            .expect("token endpoint stand-in")
    };
    let e503 = failing(Reply::status(503)).await;
    let e429 = failing(Reply::status(429).header("Retry-After", "1")).await;
    let hung = failing(Reply::hang()).await;
    let urls = [
        format!("http://127.0.0.1:{closed}/token"),
        e503.url(),
        e429.url(),
        hung.url(),
    ];
    for (n, url) in urls.iter().enumerate() {
        let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
        let vars = with(
            &oauth_env(),
            &[
                ("WFM_OAUTH_TOKEN_URL", url),
                ("INLINE_ATTEMPTS", "1"),
                // The token request's own timeout stays inside the attempt's budget.
                ("WFM_TIMEOUT_MS", "800"),
            ],
        );
        let (fwd, client) = forwarder(&stack, &wfm.url(), &vars).await;
        let (out, m) = fwd.handle_measured(&event(0), deadline()).await;
        assert_eq!(out.expect("handled"), json!({"outcome": "queued"}), "{url}");
        assert!(
            wfm.requests().is_empty(),
            "{url}: never sent without credentials"
        );
        assert_eq!(check.counts(), AuthCounts::default(), "{url}");
        assert_eq!(
            m.count(AUTH_CONFIG_ERROR),
            0,
            "{url}: not a configuration error"
        );
        assert_eq!(m.latencies_ms().len(), 0, "{url}: no POST, no latency");
        let stats = client.auth().token_stats().expect("counters");
        assert_eq!((stats.requests, stats.failures), (1, 1), "{url}");
        // Queued with its retry delay (visible, in flight or delayed).
        assert_eq!(stack.depth(&stack.retry_url).await, n + 1, "{url}");
    }
    assert_eq!(stack.depth(&stack.dlq_url).await, 0, "never parked");
}

#[tokio::test]
async fn a_wrong_client_secret_queues_the_event_and_counts_auth_config_error() {
    let stack = Stack::create(StackOptions::default()).await;
    let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
    let wrong = format!("wrong-{}", unique("s"));
    let vars = with(
        &oauth_env(),
        &[
            ("WFM_OAUTH_CLIENT_SECRET", &wrong),
            ("INLINE_ATTEMPTS", "1"),
        ],
    );
    let (fwd, client) = forwarder(&stack, &wfm.url(), &vars).await;
    let (out, m) = fwd.handle_measured(&event(0), deadline()).await;
    assert_eq!(out.expect("handled"), json!({"outcome": "queued"}));
    assert_eq!(m.count(AUTH_CONFIG_ERROR), 1);
    assert!(
        m.to_emf_json(0).contains("\"Name\":\"AuthConfigError\""),
        "declared in the EMF document"
    );
    assert!(wfm.requests().is_empty());
    assert_eq!(check.counts(), AuthCounts::default());
    assert_eq!(token_requests(&client), 1);
    assert_eq!(
        stack.depth(&stack.retry_url).await,
        1,
        "queued with its retry delay"
    );
    assert_eq!(stack.depth(&stack.dlq_url).await, 0);
}

#[tokio::test]
async fn the_replayer_posts_with_the_same_oauth2_settings() {
    let stack = Stack::create(StackOptions::default()).await;
    let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
    for n in 0..3 {
        stack.park(&event(n), Reason::Expired, 2).await;
    }
    let vars = oauth_env();
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = stack.replayer(&wfm.url(), &extra);
    let rep = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("replay");
    assert_eq!(rep.delivered, 3);
    assert_eq!(check.counts().accepted, 3);
    assert_eq!(check.counts().without_authorization, 0);
    let distinct: HashSet<String> = bearers(&wfm).into_iter().collect();
    assert_eq!(distinct.len(), 1, "one token for the three POSTs");
}

#[tokio::test]
async fn a_wrong_client_secret_leaves_the_replay_failed_and_counts_auth_config_error() {
    let stack = Stack::create(StackOptions::default()).await;
    let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
    stack.park(&event(0), Reason::Expired, 2).await;
    let wrong = format!("wrong-{}", unique("s"));
    // A timeout beyond the 60 s deadline: the budget is cut, yet a POST never sent is `failed`,
    // not `in_flight`.
    let vars = with(
        &oauth_env(),
        &[
            ("WFM_OAUTH_CLIENT_SECRET", &wrong),
            ("WFM_TIMEOUT_MS", "120000"),
        ],
    );
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = stack.replayer(&wfm.url(), &extra);
    let rep = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("replay");
    assert_eq!(
        (rep.matched, rep.failed, rep.in_flight, rep.delivered),
        (1, 1, 0, 0)
    );
    assert_eq!(rep.auth_config_errors, 1);
    let m = wfm_relay_replayer::report_metrics("WfmRelay", "replayer", &rep);
    assert_eq!(m.count(AUTH_CONFIG_ERROR), 1);
    assert!(
        m.to_emf_json(0).contains("\"Name\":\"AuthConfigError\""),
        "declared in the EMF document"
    );
    assert!(wfm.requests().is_empty(), "never sent without credentials");
    assert_eq!(check.counts(), AuthCounts::default());
    assert_eq!(stack.depth(&stack.dlq_url).await, 1, "stays in the DLQ");
    assert_eq!(rep.remaining, Some(1));
}

/// Creates a Secrets Manager secret; its ARN.
async fn create_secret(value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(&sdk_config().await)
        .create_secret()
        .name(unique("wfm-auth"))
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret")
        .arn
        .expect("ARN")
}

/// Creates a `SecureString` parameter; its name.
async fn put_parameter(value: &str) -> String {
    let name = format!("/wfm-relay/{}", unique("auth"));
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

#[tokio::test]
async fn api_key_and_basic_send_their_headers_and_a_401_rereads_a_rotated_key() {
    let stack = Stack::create(StackOptions::default()).await;
    let old = format!("key-old-{}", unique("k"));
    let new = format!("key-new-{}", unique("k"));
    let arn = create_secret(&old).await;
    // api_key from Secrets Manager: 200; rotated, 401 → read again → resent → 200.
    let keyed = wfm(&[200, 401, 200]).await;
    let vars = [
        ("WFM_AUTH_MODE", "api_key"),
        ("WFM_API_KEY_HEADER", "X-Api-Key"),
        ("WFM_API_KEY_ARN", arn.as_str()),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let (fwd, _) = forwarder(&stack, &keyed.url(), &vars).await;
    let out = fwd.handle(&event(1), deadline()).await.expect("handled");
    assert_eq!(out, json!({"outcome": "delivered"}));
    aws_sdk_secretsmanager::Client::new(&sdk_config().await)
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(&new)
        .send()
        .await
        .expect("rotate");
    let out = fwd.handle(&event(2), deadline()).await.expect("handled");
    assert_eq!(out, json!({"outcome": "delivered"}));
    let keys: Vec<Option<String>> = keyed
        .requests()
        .iter()
        .map(|r| r.header("x-api-key").map(str::to_owned))
        .collect();
    assert_eq!(keys, [Some(old.clone()), Some(old), Some(new)]);
    assert!(
        keyed
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );

    // basic from SSM (Assembled: the API key as the user, no password): base64("user:").
    let user = put_parameter("assembled-key").await;
    let basic = wfm(&[200]).await;
    let vars = [
        ("WFM_AUTH_MODE", "basic"),
        ("WFM_BASIC_USER_PARAM", user.as_str()),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let (fwd, _) = forwarder(&stack, &basic.url(), &vars).await;
    fwd.handle(&event(3), deadline()).await.expect("handled");
    assert_eq!(
        basic.requests()[0].header("authorization"),
        Some("Basic YXNzZW1ibGVkLWtleTo=")
    );
}

#[tokio::test]
async fn misconfigurations_fail_start_up_naming_the_variable() {
    let stack = Stack::create(StackOptions::default()).await;
    let missing = format!("/{}", unique("missing"));
    let table: [(&[(&str, &str)], &str); 4] = [
        (&[("WFM_AUTH_MODE", "digest")], "WFM_AUTH_MODE"),
        (
            &[
                ("WFM_AUTH_MODE", "oauth2"),
                ("WFM_OAUTH_TOKEN_URL", "http://login.example.com/token"),
                ("WFM_OAUTH_CLIENT_ID", "relay"),
                ("WFM_OAUTH_CLIENT_SECRET", "s"),
            ],
            "WFM_OAUTH_TOKEN_URL",
        ),
        (
            &[
                ("WFM_AUTH_MODE", "api_key"),
                ("WFM_API_KEY_HEADER", "X-Key"),
            ],
            "WFM_API_KEY_ARN",
        ),
        (
            &[
                ("WFM_AUTH_MODE", "basic"),
                ("WFM_BASIC_USER_PARAM", &missing),
            ],
            "WFM_BASIC_USER_PARAM",
        ),
    ];
    for (extra, variable) in table {
        let env = stack.env("http://127.0.0.1:9/x", extra);
        let e = RelayParts::from_lookup(|k| env.get(k).cloned(), &sdk_config().await)
            .await
            .expect_err("start-up must fail")
            .to_string();
        assert!(e.contains(variable), "{variable}: {e}");
    }
}

#[tokio::test]
async fn the_function_log_holds_no_client_secret_token_api_key_or_password() {
    let stack = Stack::create(StackOptions::default()).await;
    let api_key = format!("apikey-{}", unique("k"));
    let password = format!("pw-{}", unique("p"));
    let modes: [Vec<(String, String)>; 3] = [
        with(&oauth_env(), &[]),
        [
            ("WFM_AUTH_MODE", "api_key"),
            ("WFM_API_KEY_HEADER", "X-Api-Key"),
            ("WFM_API_KEY", api_key.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec(),
        [
            ("WFM_AUTH_MODE", "basic"),
            ("WFM_BASIC_USER", "relay-user"),
            ("WFM_BASIC_PASSWORD", password.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec(),
    ];
    for vars in &modes {
        let oauth = vars
            .iter()
            .any(|(k, v)| k == "WFM_AUTH_MODE" && v == "oauth2");
        let (wfm, _check) = if oauth {
            // 200, then 401 → new token → 200, then 503 (queued); tokens introspected.
            let (w, c) = checked_wfm(Script::Sequence(
                [200, 401, 200, 503].map(Reply::status).to_vec(),
            ))
            .await;
            (w, Some(c))
        } else {
            // 200, then 401 (plain values: nothing to renew, rejected), then 503 (queued).
            (wfm(&[200, 401, 503]).await, None)
        };
        let extra: Vec<(&str, &str)> = vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([("INLINE_ATTEMPTS", "1"), ("RUST_LOG", "debug")])
            .collect();
        let env: Vec<(String, String)> = stack.env(&wfm.url(), &extra).into_iter().collect();
        let api = RuntimeApi::start().await.expect("runtime API");
        let log = std::env::temp_dir().join(format!("{}.log", unique("forwarder-auth")));
        let _proc = api
            .spawn_function(&forwarder_binary(), "wfm-relay-forwarder", &env, Some(&log))
            .expect("spawn");
        let mut outcomes = Vec::new();
        for n in 0..3 {
            let payload = event(n).trim_ascii_end().to_vec();
            outcomes.push(invoke_json(&api, payload).await["outcome"].clone());
        }
        let want = if oauth {
            ["delivered", "delivered", "queued"]
        } else {
            ["delivered", "rejected", "queued"]
        };
        assert_eq!(outcomes, want.map(|o| json!(o)), "oauth2: {oauth}");
        let logs = std::fs::read_to_string(&log).expect("function log");
        assert!(logs.contains("WFM attempt"), "a log was captured:\n{logs}");
        let mut forbidden: Vec<String> = vars
            .iter()
            .filter(|(k, _)| {
                [
                    "WFM_OAUTH_CLIENT_SECRET",
                    "WFM_API_KEY",
                    "WFM_BASIC_PASSWORD",
                ]
                .contains(&k.as_str())
            })
            .map(|(_, v)| v.clone())
            .collect();
        for r in wfm.requests() {
            for h in ["authorization", "x-api-key"] {
                if let Some(v) = r.header(h) {
                    forbidden.push(v.to_owned());
                    if let Some(t) = v.strip_prefix("Bearer ").or(v.strip_prefix("Basic ")) {
                        forbidden.push(t.to_owned());
                    }
                }
            }
        }
        assert!(
            forbidden.len() >= 3,
            "secrets to look for: {}",
            forbidden.len()
        );
        for f in &forbidden {
            assert!(!logs.contains(f.as_str()), "the log holds a secret ({f})");
        }
    }
}
