//! The client's pacing and retries: calls spaced to the rate per token, a 429 waiting its
//! `Retry-After`, 5xx backing off and giving up after the attempts, a wait past the deadline.

use super::super::*;
use super::*;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[tokio::test]
async fn calls_are_paced_to_the_rate_per_token() {
    let (c, t, ep) = client(vec![ok(json!({})), ok(json!({})), ok(json!({}))], 60);
    for _ in 0..3 {
        c.get_json("/api/v2/organizations/me", far())
            .await
            .expect("ok");
    }
    let at: Vec<f64> = t.seen().iter().map(|s| s.2).collect();
    assert_eq!(at, vec![0.0, 1.0, 2.0], "one call per second at 60/min");
    assert_eq!(t.seen()[0].1, "Bearer tok-1");
    assert_eq!(ep.requests.load(Ordering::SeqCst), 1, "one token for all");
    assert_eq!(
        c.stats(),
        CallStats {
            calls: 3,
            rate_limited: 0
        }
    );
}

#[tokio::test]
async fn a_429_waits_its_retry_after_and_5xx_back_off() {
    let (c, t, _) = client(
        vec![
            status(429, Some("7")),
            status(503, None),
            status(500, None),
            ok(json!({"id": "org"})),
        ],
        300,
    );
    let v = c
        .get_json("/api/v2/organizations/me", far())
        .await
        .expect("ok");
    assert_eq!(v["id"], "org");
    assert_eq!(
        t.slept(),
        vec![
            Duration::from_secs(7),
            Duration::from_secs(1),
            Duration::from_secs(2)
        ]
    );
    assert_eq!(
        c.stats(),
        CallStats {
            calls: 4,
            rate_limited: 1
        }
    );
}

#[tokio::test]
async fn server_errors_give_up_after_the_attempts() {
    let answers = (0..SERVER_ERROR_ATTEMPTS)
        .map(|_| status(502, None))
        .collect();
    let (c, _, _) = client(answers, 300);
    let e = c.get_json("/api/v2/users", far()).await.expect_err("down");
    assert!(matches!(e, GenesysError::Unavailable { .. }), "{e}");
    assert!(!e.is_fatal());
    assert_eq!(c.stats().calls, u64::from(SERVER_ERROR_ATTEMPTS));
}

#[tokio::test]
async fn a_wait_past_the_deadline_is_out_of_time() {
    let (c, _, _) = client(vec![status(429, Some("30"))], 300);
    let until = Instant::now() + Duration::from_secs(10);
    let e = c
        .get_json("/api/v2/users", until)
        .await
        .expect_err("no time");
    assert_eq!(e, GenesysError::OutOfTime);
    assert_eq!(
        c.stats(),
        CallStats {
            calls: 1,
            rate_limited: 1
        }
    );
}
