//! The seams' fakes: a scripted [`Transport`] with a virtual clock (sleeping advances it), a
//! counting token endpoint, and the answers and users the tests script.

use super::super::*;
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

pub(crate) struct FakeTransport {
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
    pub(crate) fn seen(&self) -> Vec<(String, String, f64)> {
        self.script.lock().expect("lock").seen.clone()
    }
    pub(crate) fn slept(&self) -> Vec<Duration> {
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

pub(crate) struct CountingEndpoint {
    pub(crate) requests: AtomicU64,
    /// `expires_in` of every token issued.
    pub(crate) lifetime: Duration,
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

pub(crate) fn ok(body: serde_json::Value) -> Answer {
    Answer {
        status: 200,
        retry_after: None,
        body: serde_json::to_vec(&body).expect("json"),
    }
}

pub(crate) fn status(s: u16, retry_after: Option<&str>) -> Answer {
    Answer {
        status: s,
        retry_after: retry_after.map(str::to_owned),
        body: br#"{"message":"no","code":"x"}"#.to_vec(),
    }
}

pub(crate) fn client(
    answers: Vec<Answer>,
    rate: u32,
) -> (GenesysClient, Arc<FakeTransport>, Arc<CountingEndpoint>) {
    client_with_tokens(answers, rate, CountingEndpoint::default())
}

pub(crate) fn client_with_tokens(
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

pub(crate) fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

pub(crate) fn user(id: &str, presence: bool, routing: bool) -> serde_json::Value {
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
