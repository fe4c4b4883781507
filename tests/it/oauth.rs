//! Destination auth against a real OAuth 2.0 authorization server: npm `oidc-provider`
//! (`infra/oauth.sh`, started by `infra/test.sh`, tokens of `OAUTH_TOKEN_TTL_S` = 5 s) and the
//! scripted WFM validating every bearer token by introspection. Counts are asserted, never
//! timings.

use crate::support::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wfm_relay_aws::auth::{AuthErrorKind, Authorization, SystemClock, WfmAuth, token_http_client};
use wfm_relay_aws::secrets::{AwsSecretFetcher, SecretFetch};
use wfm_relay_core::auth::AuthSettings;
use wfm_relay_local::wfm_auth::{AuthCounts, TokenCheck};
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};

/// What each POST may spend on credentials (the Lambda deadline budget in production).
const BUDGET: Duration = Duration::from_secs(5);

/// A variable set by `infra/oauth.sh`; fails loudly when missing (no silent skip).
fn oauth_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: these tests need the OAuth test server. Run them with \
             `infra/test.sh`, which starts it (infra/oauth.sh) on a free port."
        ),
    }
}

/// The relay's `oauth2` settings against the test server, with `extra` on top.
fn settings(extra: &[(&str, &str)]) -> AuthSettings {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("WFM_AUTH_MODE".into(), "oauth2".into());
    env.insert("WFM_OAUTH_TOKEN_URL".into(), oauth_var("OAUTH_TOKEN_URL"));
    env.insert("WFM_OAUTH_CLIENT_ID".into(), oauth_var("OAUTH_CLIENT_ID"));
    env.insert(
        "WFM_OAUTH_CLIENT_SECRET".into(),
        oauth_var("OAUTH_CLIENT_SECRET"),
    );
    env.insert("WFM_OAUTH_SCOPE".into(), "status:write".into());
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    AuthSettings::from_lookup(|k| env.get(k).cloned()).expect("valid oauth2 settings")
}

async fn provider(settings: &AuthSettings, fetcher: Option<Arc<dyn SecretFetch>>) -> WfmAuth {
    let http = token_http_client(Duration::from_secs(2)).expect("http client");
    WfmAuth::from_settings(settings, fetcher, http, Arc::new(SystemClock))
        .await
        .expect("provider")
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

/// POSTs `{}` to the scripted WFM with `auth`'s header; the status.
async fn post(http: &reqwest::Client, wfm: &ScriptedWfm, auth: &Authorization) -> u16 {
    let mut req = http.post(wfm.url()).body("{}");
    if let Some((k, v)) = auth.header() {
        req = req.header(k, v);
    }
    req.send().await.expect("POST").status().as_u16()
}

#[tokio::test]
async fn a_real_token_is_fetched_reused_and_refreshed_before_expiry() {
    let auth = provider(&settings(&[]), None).await;
    let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
    let http = reqwest::Client::new();
    let first = auth.authorization(BUDGET).await.expect("first token");
    assert_eq!(post(&http, &wfm, &first).await, 200);
    let again = auth.authorization(BUDGET).await.expect("cached token");
    assert_eq!(again.generation(), first.generation());
    assert_eq!(auth.token_stats().map(|s| s.requests), Some(1));
    // POST until the cache has refreshed twice (5 s tokens are refreshed once 2.5 s are left);
    // the bound keeps the loop finite, the assertions are on counts.
    let mut posts = 1;
    while auth.token_stats().map_or(0, |s| s.requests) < 3 && posts < 400 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let a = auth.authorization(BUDGET).await.expect("token");
        assert_eq!(post(&http, &wfm, &a).await, 200);
        posts += 1;
    }
    let stats = auth.token_stats().expect("oauth2 stats");
    assert_eq!(stats.requests, 3, "two refreshes before expiry");
    assert_eq!(stats.failures, 0);
    assert!(
        posts > 3 * 2,
        "tokens were reused: {posts} POSTs for 3 tokens"
    );
    assert_eq!(
        check.counts(),
        AuthCounts {
            accepted: posts,
            ..AuthCounts::default()
        },
        "every POST carried an active token: none without Authorization, none expired"
    );
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_the_resend_is_accepted() {
    // WFM refuses the first (valid) token once, then accepts.
    let (wfm, check) = checked_wfm(Script::Sequence(vec![
        Reply::status(401),
        Reply::status(200),
    ]))
    .await;
    let auth = provider(&settings(&[("WFM_OAUTH_CLIENT_AUTH", "basic")]), None).await;
    let http = reqwest::Client::new();
    let used = auth.authorization(BUDGET).await.expect("token");
    assert_eq!(post(&http, &wfm, &used).await, 401);
    assert!(auth.renew_after_401(&used, BUDGET).await.expect("renewed"));
    let fresh = auth.authorization(BUDGET).await.expect("new token");
    assert_ne!(fresh.generation(), used.generation());
    assert_eq!(post(&http, &wfm, &fresh).await, 200);
    // A second POST that failed with the old token shares that renewal.
    assert!(
        auth.renew_after_401(&used, BUDGET)
            .await
            .expect("already renewed")
    );
    assert_eq!(auth.token_stats().map(|s| s.requests), Some(2));
    assert_eq!(check.counts().accepted, 2);
    assert_eq!(check.counts().without_authorization, 0);
}

#[tokio::test]
async fn client_authentication_in_the_body_works_too() {
    let id = format!("{}-body", oauth_var("OAUTH_CLIENT_ID"));
    let s = settings(&[
        ("WFM_OAUTH_CLIENT_ID", &id),
        ("WFM_OAUTH_CLIENT_AUTH", "body"),
    ]);
    let auth = provider(&s, None).await;
    let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
    let a = auth.authorization(BUDGET).await.expect("token");
    assert_eq!(post(&reqwest::Client::new(), &wfm, &a).await, 200);
    assert_eq!(check.counts().accepted, 1);
}

#[tokio::test]
async fn the_client_secret_can_live_in_secrets_manager() {
    let _ = endpoint();
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let arn = aws_sdk_secretsmanager::Client::new(&conf)
        .create_secret()
        .name(unique("wfm-oauth-client-secret"))
        .secret_string(oauth_var("OAUTH_CLIENT_SECRET"))
        .send()
        .await
        .expect("create secret")
        .arn
        .expect("arn");
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("WFM_AUTH_MODE", "oauth2".into());
    env.insert("WFM_OAUTH_TOKEN_URL", oauth_var("OAUTH_TOKEN_URL"));
    env.insert("WFM_OAUTH_CLIENT_ID", oauth_var("OAUTH_CLIENT_ID"));
    env.insert("WFM_OAUTH_CLIENT_SECRET_ARN", arn);
    let s = AuthSettings::from_lookup(|k| env.get(k).cloned()).expect("settings");
    let fetcher: Arc<dyn SecretFetch> = Arc::new(AwsSecretFetcher::new(&conf));
    let auth = provider(&s, Some(fetcher)).await;
    let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
    let a = auth.authorization(BUDGET).await.expect("token");
    assert_eq!(post(&reqwest::Client::new(), &wfm, &a).await, 200);
    assert_eq!(check.counts().accepted, 1);
}

#[tokio::test]
async fn a_refused_client_secret_is_read_again_from_aws_and_a_rotated_one_is_used() {
    let _ = endpoint();
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sm = aws_sdk_secretsmanager::Client::new(&conf);
    let arn = sm
        .create_secret()
        .name(unique("wfm-oauth-rotated"))
        .secret_string("the-old-secret")
        .send()
        .await
        .expect("create secret")
        .arn
        .expect("arn");
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("WFM_AUTH_MODE", "oauth2".into());
    env.insert("WFM_OAUTH_TOKEN_URL", oauth_var("OAUTH_TOKEN_URL"));
    env.insert("WFM_OAUTH_CLIENT_ID", oauth_var("OAUTH_CLIENT_ID"));
    env.insert("WFM_OAUTH_CLIENT_SECRET_ARN", arn.clone());
    let s = AuthSettings::from_lookup(|k| env.get(k).cloned()).expect("settings");
    let fetcher: Arc<dyn SecretFetch> = Arc::new(AwsSecretFetcher::new(&conf));
    // Start-up read the old value; then the secret is rotated in Secrets Manager.
    let auth = provider(&s, Some(fetcher)).await;
    sm.put_secret_value()
        .secret_id(&arn)
        .secret_string(oauth_var("OAUTH_CLIENT_SECRET"))
        .send()
        .await
        .expect("rotate");
    let a = auth
        .authorization(BUDGET)
        .await
        .expect("token with the rotated secret");
    let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
    assert_eq!(post(&reqwest::Client::new(), &wfm, &a).await, 200);
    assert_eq!(check.counts().accepted, 1);
    // One refused request with the old secret, one accepted with the new one.
    assert_eq!(
        auth.token_stats().map(|s| (s.requests, s.failures)),
        Some((2, 1))
    );
}

#[tokio::test]
async fn a_wrong_secret_is_a_configuration_error_naming_the_variable() {
    let auth = provider(
        &settings(&[("WFM_OAUTH_CLIENT_SECRET", "not-the-secret")]),
        None,
    )
    .await;
    let e = auth.authorization(BUDGET).await.expect_err("refused");
    assert_eq!(e.kind(), AuthErrorKind::Configuration, "{e}");
    assert_eq!(e.variable(), Some("WFM_OAUTH_CLIENT_SECRET"), "{e}");
    assert!(e.to_string().contains("invalid_client"), "{e}");
    assert!(!e.to_string().contains("not-the-secret"), "{e}");
    let unknown = provider(&settings(&[("WFM_OAUTH_CLIENT_ID", "nobody")]), None).await;
    let e = unknown
        .authorization(BUDGET)
        .await
        .expect_err("unknown client");
    assert_eq!(e.kind(), AuthErrorKind::Configuration, "{e}");
}

#[tokio::test]
async fn a_token_endpoint_that_is_down_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/token");
    let auth = provider(&settings(&[("WFM_OAUTH_TOKEN_URL", &url)]), None).await;
    let e = auth.authorization(BUDGET).await.expect_err("down");
    assert_eq!(e.kind(), AuthErrorKind::Transient, "{e}");
    assert_eq!(
        auth.token_stats().map(|s| (s.requests, s.failures)),
        Some((1, 1))
    );
}

#[tokio::test]
async fn the_scripted_wfm_refuses_missing_and_unknown_tokens() {
    let (wfm, check) = checked_wfm(Script::Sequence(vec![])).await;
    let http = reqwest::Client::new();
    let none = http.post(wfm.url()).body("{}").send().await.expect("POST");
    assert_eq!(none.status().as_u16(), 401);
    let bogus = http
        .post(wfm.url())
        .header("Authorization", "Bearer not-a-token")
        .body("{}")
        .send()
        .await
        .expect("POST");
    assert_eq!(bogus.status().as_u16(), 401);
    assert_eq!(
        check.counts(),
        AuthCounts {
            without_authorization: 1,
            invalid: 1,
            ..AuthCounts::default()
        }
    );
    assert_eq!(
        wfm.requests()
            .iter()
            .filter(|r| r.answered == Some(401))
            .count(),
        2
    );
}
