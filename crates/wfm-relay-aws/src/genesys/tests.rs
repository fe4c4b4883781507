//! Unit tests of the Genesys client through its seams: a scripted [`Transport`] with a virtual
//! clock (sleeping advances it) and a counting token endpoint.

use super::*;
use crate::auth::{IssuedToken, ManualClock, TokenCache, TokenEndpoint, TokenFuture};
use reqwest::header::HeaderValue;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wfm_relay_core::config::Secret;

#[derive(Default)]
struct Script {
    answers: VecDeque<Answer>,
    /// (url, authorization, virtual seconds since start) of every GET.
    seen: Vec<(String, String, f64)>,
    slept: Vec<Duration>,
}

pub(super) struct FakeTransport {
    start: Instant,
    now: Mutex<Instant>,
    script: Mutex<Script>,
    /// The token cache's clock: moved by every sleep, so tokens age with the virtual time.
    clock: Arc<ManualClock>,
}

impl FakeTransport {
    fn new(answers: Vec<Answer>) -> Arc<Self> {
        let start = Instant::now();
        Arc::new(FakeTransport {
            start,
            now: Mutex::new(start),
            clock: Arc::new(ManualClock::new(start)),
            script: Mutex::new(Script {
                answers: answers.into(),
                ..Script::default()
            }),
        })
    }
    pub(super) fn seen(&self) -> Vec<(String, String, f64)> {
        self.script.lock().expect("lock").seen.clone()
    }
    fn slept(&self) -> Vec<Duration> {
        self.script.lock().expect("lock").slept.clone()
    }
}

impl Transport for FakeTransport {
    fn get<'a>(
        &'a self,
        url: &'a str,
        authorization: &'a HeaderValue,
    ) -> BoxFuture<'a, Result<Answer, String>> {
        let at = self.now().duration_since(self.start).as_secs_f64();
        let mut s = self.script.lock().expect("lock");
        s.seen.push((
            url.to_owned(),
            authorization.to_str().unwrap_or_default().to_owned(),
            at,
        ));
        let a = s
            .answers
            .pop_front()
            .ok_or_else(|| "script ran out".to_owned());
        Box::pin(async move { a })
    }
    fn now(&self) -> Instant {
        *self.now.lock().expect("lock")
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        *self.now.lock().expect("lock") += d;
        self.clock.advance(d);
        self.script.lock().expect("lock").slept.push(d);
        Box::pin(async {})
    }
}

pub(super) struct CountingEndpoint {
    requests: AtomicU64,
    /// `expires_in` of every token issued.
    lifetime: Duration,
}

impl Default for CountingEndpoint {
    fn default() -> Self {
        CountingEndpoint {
            requests: AtomicU64::new(0),
            lifetime: Duration::from_secs(86_400),
        }
    }
}

impl TokenEndpoint for CountingEndpoint {
    fn request(&self, _timeout: Duration) -> TokenFuture<'_> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let lifetime = self.lifetime;
        Box::pin(async move {
            Ok(IssuedToken {
                access_token: Secret::new(format!("tok-{n}")),
                expires_in: Some(lifetime),
            })
        })
    }
}

pub(super) fn ok(body: serde_json::Value) -> Answer {
    Answer {
        status: 200,
        retry_after: None,
        body: serde_json::to_vec(&body).expect("json"),
    }
}

fn status(s: u16, retry_after: Option<&str>) -> Answer {
    Answer {
        status: s,
        retry_after: retry_after.map(str::to_owned),
        body: br#"{"message":"no","code":"x"}"#.to_vec(),
    }
}

pub(super) fn client(
    answers: Vec<Answer>,
    rate: u32,
) -> (GenesysClient, Arc<FakeTransport>, Arc<CountingEndpoint>) {
    client_with_tokens(answers, rate, CountingEndpoint::default())
}

fn client_with_tokens(
    answers: Vec<Answer>,
    rate: u32,
    endpoint: CountingEndpoint,
) -> (GenesysClient, Arc<FakeTransport>, Arc<CountingEndpoint>) {
    let t = FakeTransport::new(answers);
    let ep = Arc::new(endpoint);
    let cache = TokenCache::new(
        Arc::clone(&ep) as Arc<dyn TokenEndpoint>,
        Arc::clone(&t.clock) as Arc<dyn crate::auth::Clock>,
    );
    let c = GenesysClient::new(
        "http://127.0.0.1:1".to_owned(),
        Arc::new(cache),
        Arc::clone(&t) as Arc<dyn Transport>,
        rate,
    );
    (c, t, ep)
}

pub(super) fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

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

#[tokio::test]
async fn a_403_stops_at_once() {
    let (c, _, _) = client(vec![status(403, None)], 300);
    let e = c
        .get_json("/api/v2/users/presences/purecloud/bulk?id=a", far())
        .await
        .expect_err("stop");
    assert!(e.to_string().contains("presence:userPresence:view"), "{e}");
    assert_eq!(c.stats().calls, 1);
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

pub(super) fn user(id: &str, presence: bool, routing: bool) -> serde_json::Value {
    let mut u = json!({"id": id, "name": id, "state": "active"});
    if presence {
        u["presence"] = json!({
            "source": "PURECLOUD", "primary": true, "message": "",
            "presenceDefinition": {"id": "p-avail", "systemPresence": "Available"},
            "modifiedDate": "2026-03-02T06:00:00.000Z"
        });
    }
    if routing {
        u["routingStatus"] =
            json!({"userId": id, "status": "IDLE", "startTime": "2026-03-02T06:00:01.000Z"});
    }
    u
}

#[tokio::test]
async fn users_pages_fill_what_expand_left_out() {
    let page1 = json!({
        "entities": [user("u1", true, true), user("u2", false, true), user("u3", true, false), {"name": "no id"}],
        "pageSize": 500, "pageNumber": 1, "total": 4, "pageCount": 2
    });
    let bulk = json!([{
        "userId": "u2",
        "presenceDefinition": {"id": "p-break", "systemPresence": "Break"},
        "modifiedDate": "2026-03-02T05:00:00.000Z"
    }]);
    let routing =
        json!({"userId": "u3", "status": "OFF_QUEUE", "startTime": "2026-03-02T04:00:00.000Z"});
    let (c, t, _) = client(vec![ok(page1), ok(bulk), ok(routing)], 300);
    let p = c
        .page(&Selection::All, Cursor::default(), far())
        .await
        .expect("page");
    assert_eq!(p.next, Some(Cursor { part: 0, page: 2 }));
    assert_eq!(p.agents.len(), 3);
    assert_eq!(p.problems.len(), 1, "the user without id is reported");
    assert!(
        p.agents
            .iter()
            .all(|a| a.presence.is_some() && a.routing.is_some())
    );
    assert_eq!(
        p.agents[1]
            .presence
            .as_ref()
            .map(|x| x.system_presence.as_str()),
        Some("Break")
    );
    assert_eq!(
        p.agents[2].routing.as_ref().map(|x| x.status.as_str()),
        Some("OFF_QUEUE")
    );
    let urls: Vec<String> = t.seen().into_iter().map(|s| s.0).collect();
    assert_eq!(
        urls,
        vec![
            "http://127.0.0.1:1/api/v2/users?pageSize=500&pageNumber=1&state=active&expand=presence,routingStatus",
            "http://127.0.0.1:1/api/v2/users/presences/purecloud/bulk?id=u2",
            "http://127.0.0.1:1/api/v2/users/u3/routingstatus",
        ]
    );
}

#[tokio::test]
async fn queue_members_take_presence_in_bulk_calls_of_50() {
    let members: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let id = format!("q{i:03}");
            json!({"id": id, "user": {"id": id},
                   "routingStatus": {"userId": id, "status": "INTERACTING", "startTime": "2026-03-02T06:00:00.000Z"}})
        })
        .collect();
    let bulk = |from: usize| {
        let items: Vec<serde_json::Value> = (from..from + 50)
            .map(|i| {
                json!({"userId": format!("q{i:03}"),
                            "presenceDefinition": {"id": "p-q", "systemPresence": "On Queue"},
                            "modifiedDate": "2026-03-02T06:00:00.000Z"})
            })
            .collect();
        ok(serde_json::Value::Array(items))
    };
    let listing = json!({"entities": members, "pageSize": 100, "pageNumber": 1,
                         "nextUri": "/api/v2/routing/queues/qa/members?pageSize=100&pageNumber=2"});
    let (c, t, _) = client(vec![ok(listing), bulk(0), bulk(50)], 300);
    let sel = Selection::Queues(vec!["qa".to_owned(), "qb".to_owned()]);
    let p = c.page(&sel, Cursor::default(), far()).await.expect("page");
    assert_eq!(p.agents.len(), 100);
    assert_eq!(p.next, Some(Cursor { part: 0, page: 2 }));
    let seen = t.seen();
    assert_eq!(seen.len(), 3, "1 listing + 2 bulk calls for 100 members");
    for (url, _, _) in &seen[1..] {
        let ids = url.split("id=").nth(1).expect("ids").split(',').count();
        assert_eq!(ids, BULK_PRESENCE_LIMIT);
    }

    // The last page of the first queue moves on to the next queue.
    let last = json!({"entities": [], "pageSize": 100, "pageNumber": 2, "nextUri": null});
    let (c, _, _) = client(vec![ok(last)], 300);
    let p = c
        .page(&sel, Cursor { part: 0, page: 2 }, far())
        .await
        .expect("page");
    assert_eq!(p.next, Some(Cursor { part: 1, page: 1 }));
}

#[test]
fn permissions_by_path() {
    for (path, perm) in [
        ("/api/v2/users", "directory:user:view"),
        (
            "/api/v2/users/presences/purecloud/bulk",
            "presence:userPresence:view",
        ),
        ("/api/v2/users/u1/routingstatus", "routing:agent:view"),
        ("/api/v2/groups/g/members", "directory:group:view"),
        (
            "/api/v2/routing/queues/q/members",
            "routing:queueMember:view",
        ),
    ] {
        assert_eq!(permission_for(path), perm, "{path}");
    }
}
