//! The client's tokens: a 401 refreshes once (a second names the permission), and the token is
//! taken after the pacing wait, refreshed before it expires.

use super::super::*;
use super::*;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test]
async fn a_401_refreshes_once_and_a_second_stops_naming_the_permission() {
    let (c, t, ep) = client(vec![status(401, None), ok(json!({"id": "o"}))], 300);
    c.get_json("/api/v2/organizations/me", far())
        .await
        .expect("renewed");
    let auth: Vec<String> = t.seen().into_iter().map(|s| s.1).collect();
    assert_eq!(auth, vec!["Bearer tok-1", "Bearer tok-2"]);
    assert_eq!(ep.requests.load(Ordering::SeqCst), 2);

    let (c, _, ep) = client(vec![status(401, None), status(401, None)], 300);
    let e = c
        .get_json("/api/v2/users?pageSize=500", far())
        .await
        .expect_err("stop");
    assert_eq!(ep.requests.load(Ordering::SeqCst), 2, "one refresh only");
    match &e {
        GenesysError::Forbidden {
            status,
            path,
            permission,
            ..
        } => {
            assert_eq!(
                (*status, path.as_str(), *permission),
                (401, "/api/v2/users", "directory:user:view")
            );
        }
        other => panic!("not Forbidden: {other}"),
    }
    assert!(e.is_fatal());
    assert!(e.to_string().contains("directory:user:view"), "{e}");
}

/// Tokens of 2 s at 30 calls per minute (one every 2 s): each call waits for its slot first and
/// only then takes its token, which by then is due for refresh (half its lifetime left at
/// most): every call gets a new token, never one that expired during the wait.
#[tokio::test]
async fn the_token_is_taken_after_the_pacing_wait_and_refreshed_before_expiry() {
    let endpoint = CountingEndpoint {
        lifetime: Duration::from_secs(2),
        ..CountingEndpoint::default()
    };
    let answers = vec![ok(json!({})), ok(json!({})), ok(json!({}))];
    let (c, t, ep) = client_with_tokens(answers, 30, endpoint);
    for _ in 0..3 {
        c.get_json("/api/v2/users?pageSize=500", far())
            .await
            .expect("ok");
    }
    let seen: Vec<(String, f64)> = t.seen().into_iter().map(|s| (s.1, s.2)).collect();
    assert_eq!(
        seen,
        vec![
            ("Bearer tok-1".to_owned(), 0.0),
            ("Bearer tok-2".to_owned(), 2.0),
            ("Bearer tok-3".to_owned(), 4.0),
        ]
    );
    assert_eq!(ep.requests.load(Ordering::SeqCst), 3);

    // Tokens of 10 s at the same pace: refreshed once half their lifetime is gone (the call at
    // 6 s, 4 s left ≤ 5 s), not on every call.
    let endpoint = CountingEndpoint {
        lifetime: Duration::from_secs(10),
        ..CountingEndpoint::default()
    };
    let answers = (0..5).map(|_| ok(json!({}))).collect();
    let (c, t, ep) = client_with_tokens(answers, 30, endpoint);
    for _ in 0..5 {
        c.get_json("/api/v2/users?pageSize=500", far())
            .await
            .expect("ok");
    }
    let auth: Vec<String> = t.seen().into_iter().map(|s| s.1).collect();
    assert_eq!(
        auth,
        ["tok-1", "tok-1", "tok-1", "tok-2", "tok-2"].map(|a| format!("Bearer {a}"))
    );
    assert_eq!(ep.requests.load(Ordering::SeqCst), 2);
}
