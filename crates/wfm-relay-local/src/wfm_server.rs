//! A scripted WFM HTTP server: a real HTTP/1.1 server with keep-alive on `127.0.0.1:0` whose
//! replies (status, headers, body, delay, connection reset, hang) follow a [`Script`], and which
//! records every request it reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;

use crate::harness::lock;
use crate::http_server::{self, BoxError, ConnCtx, Handler, HandlerFuture, Stopper};
use crate::wfm_auth::TokenCheck;

/// The path [`ScriptedWfm::url`] points at.
pub const STATUS_PATH: &str = "/api/status/update";

/// The request header whose value selects the replies of [`Script::PerEvent`].
pub const EVENT_ID_HEADER: &str = "x-event-id";

/// What the server does with a request once it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// Answer with the reply's status, headers and body; the connection stays open (keep-alive).
    Answer,
    /// Close the connection without any response (the client sees "connection closed before
    /// message completed").
    Reset,
    /// Never answer; keep the connection open until the client gives up or the server stops.
    Hang,
}

/// One scripted reply. Built with [`Reply::status`], [`Reply::reset`] or [`Reply::hang`] and the
/// builder methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code (used by [`ReplyKind::Answer`] only).
    pub status: u16,
    /// Response headers, in order (used by [`ReplyKind::Answer`] only).
    pub headers: Vec<(String, String)>,
    /// Response body bytes (used by [`ReplyKind::Answer`] only).
    pub body: Vec<u8>,
    /// Wait this long after reading the request before answering / resetting.
    pub delay: Duration,
    /// Answer, reset or hang.
    pub kind: ReplyKind,
}

impl Reply {
    /// An answer with HTTP status `s`, no headers, an empty body and no delay.
    pub fn status(s: u16) -> Self {
        Reply {
            status: s,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            kind: ReplyKind::Answer,
        }
    }

    /// Adds the response header `k: v`.
    pub fn header(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    /// Sets the response body.
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }

    /// Delays the reply (answer or reset) by `d` after the request was fully read.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// Reads the request, then closes the connection without any response.
    pub fn reset() -> Self {
        Reply {
            kind: ReplyKind::Reset,
            ..Reply::status(0)
        }
    }

    /// Reads the request and never answers; the connection stays open until the client gives up
    /// or the server stops.
    pub fn hang() -> Self {
        Reply {
            kind: ReplyKind::Hang,
            ..Reply::status(0)
        }
    }
}

/// How the server picks the reply of each request. An empty list of replies answers `200` with
/// an empty body.
#[derive(Debug, Clone)]
pub enum Script {
    /// The n-th request overall gets the n-th reply; the last one repeats.
    Sequence(Vec<Reply>),
    /// Per value of the request header `X-Event-Id`: the n-th request carrying that id gets its
    /// n-th reply (the last repeats); ids not listed (and requests without the header, counted
    /// together) use `default` the same way.
    PerEvent {
        /// Replies per event id.
        by_event_id: HashMap<String, Vec<Reply>>,
        /// Replies for any other id.
        default: Vec<Reply>,
    },
    /// Each request independently: with probability `p_fail` (0..=1) one of `faults` chosen at
    /// random, else `ok`. The random numbers come from a xorshift64* generator seeded with `seed`,
    /// so a run is repeatable for the same order of requests.
    Random {
        /// Probability of a fault, 0..=1.
        p_fail: f64,
        /// Fault replies, picked uniformly; when empty `ok` is always used.
        faults: Vec<Reply>,
        /// The reply when no fault is drawn.
        ok: Reply,
        /// Seed of the generator (0 is replaced by a fixed non-zero constant).
        seed: u64,
    },
}

/// One request the server read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// When the request (head and body) was fully read.
    pub at: SystemTime,
    /// 1-based id of the TCP connection it arrived on.
    pub connection: u64,
    /// 1-based number of the request on its connection.
    pub nth_on_connection: u64,
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Request path (without the query).
    pub path: String,
    /// Request headers in order, names lower-cased; non-UTF-8 values are converted lossily.
    pub headers: Vec<(String, String)>,
    /// Request body bytes.
    pub body: Vec<u8>,
    /// The status the server chose to answer with; `None` for reset or hung requests.
    pub answered: Option<u16>,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The mutable script state: the script and its counters.
struct ScriptState {
    script: Script,
    sequence_count: usize,
    per_event_count: HashMap<Option<String>, usize>,
    rng: u64,
}

impl ScriptState {
    fn new(script: Script) -> Self {
        let rng = match &script {
            Script::Random { seed, .. } if *seed != 0 => *seed,
            _ => 0x9E37_79B9_7F4A_7C15,
        };
        ScriptState {
            script,
            sequence_count: 0,
            per_event_count: HashMap::new(),
            rng,
        }
    }

    /// xorshift64*: returns the next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform number in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        // 53 random bits: exactly representable in an f64.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick(&mut self, event_id: Option<&str>) -> Reply {
        fn nth(list: &[Reply], n: usize) -> Reply {
            match list.get(n).or_else(|| list.last()) {
                Some(reply) => reply.clone(),
                None => Reply::status(200),
            }
        }
        match &self.script {
            Script::Sequence(list) => {
                let n = self.sequence_count;
                self.sequence_count += 1;
                nth(list, n)
            }
            Script::PerEvent {
                by_event_id,
                default,
            } => {
                let listed = event_id.and_then(|id| by_event_id.get(id));
                let key = event_id.map(str::to_owned);
                let count = self.per_event_count.entry(key).or_insert(0);
                let n = *count;
                *count += 1;
                nth(listed.unwrap_or(default), n)
            }
            Script::Random {
                p_fail, faults, ok, ..
            } => {
                let (p_fail, faults, ok) = (*p_fail, faults.clone(), ok.clone());
                if faults.is_empty() || self.next_f64() >= p_fail {
                    ok
                } else {
                    let i = (self.next_u64() % faults.len() as u64) as usize;
                    faults[i].clone()
                }
            }
        }
    }
}

struct Shared {
    script: Mutex<ScriptState>,
    token_check: Mutex<Option<Arc<TokenCheck>>>,
    stale_reuse: AtomicBool,
    requests: Mutex<Vec<Recorded>>,
}

/// Handle to a running scripted WFM server. Clones share the server; it stops when the last
/// handle is dropped or on [`ScriptedWfm::shutdown`].
#[derive(Clone)]
pub struct ScriptedWfm {
    shared: Arc<Shared>,
    stopper: Arc<Stopper>,
    connections: Arc<std::sync::atomic::AtomicU64>,
    addr: std::net::SocketAddr,
}

impl std::fmt::Debug for ScriptedWfm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedWfm")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ScriptedWfm {
    /// Starts the server on `127.0.0.1:0` with `script`.
    ///
    /// # Errors
    /// When the listening socket cannot be bound.
    pub async fn start(script: Script) -> std::io::Result<ScriptedWfm> {
        let shared = Arc::new(Shared {
            script: Mutex::new(ScriptState::new(script)),
            token_check: Mutex::new(None),
            stale_reuse: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
        });
        let for_handler = Arc::clone(&shared);
        let handler: Handler = Arc::new(move |ctx, req| handle(Arc::clone(&for_handler), ctx, req));
        let server = http_server::serve(handler).await?;
        Ok(ScriptedWfm {
            shared,
            stopper: server.stopper,
            connections: server.connections,
            addr: server.addr,
        })
    }

    /// The status endpoint, `http://127.0.0.1:<port>/api/status/update`. The server answers any
    /// path the same way; the path is recorded.
    pub fn url(&self) -> String {
        format!("http://{}{STATUS_PATH}", self.addr)
    }

    /// The server's socket address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Replaces the script (e.g. to switch phases) and resets its counters and generator.
    /// Requests already in flight keep the reply they were given.
    pub fn set_script(&self, script: Script) {
        *lock(&self.shared.script) = ScriptState::new(script);
    }

    /// When on, every request that is not the first on its connection is read and then the
    /// connection is closed without a response (a keep-alive connection that died while a Lambda
    /// was frozen); first requests on a connection are answered by the script, and the reset ones
    /// do not advance the script's counters.
    pub fn set_stale_reuse(&self, on: bool) {
        self.shared.stale_reuse.store(on, Ordering::SeqCst);
    }

    /// From now on, answers `401` (without consulting the script) to every request whose bearer
    /// token `check` does not find active ([`crate::wfm_auth`]).
    pub fn set_token_check(&self, check: Arc<TokenCheck>) {
        *lock(&self.shared.token_check) = Some(check);
    }

    /// Every request read so far, in the order they were fully read.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Number of TCP connections accepted so far.
    pub fn connections_opened(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Stops accepting, closes every open connection (hung ones included) and waits for the
    /// accept loop to end.
    pub async fn shutdown(self) {
        self.stopper.stop().await;
    }
}

fn handle(shared: Arc<Shared>, ctx: ConnCtx, req: Request<Incoming>) -> HandlerFuture {
    Box::pin(async move {
        let (parts, body) = req.into_parts();
        let body = body.collect().await?.to_bytes().to_vec();
        let at = SystemTime::now();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let check = lock(&shared.token_check).clone();
        let denied = match check {
            Some(c) => !c.allows(&headers).await,
            None => false,
        };
        let reply = if denied {
            Reply::status(401).header("WWW-Authenticate", "Bearer error=\"invalid_token\"")
        } else if ctx.nth > 1 && shared.stale_reuse.load(Ordering::SeqCst) {
            Reply::reset()
        } else {
            let event_id = headers
                .iter()
                .find(|(k, _)| k == EVENT_ID_HEADER)
                .map(|(_, v)| v.as_str());
            lock(&shared.script).pick(event_id)
        };
        lock(&shared.requests).push(Recorded {
            at,
            connection: ctx.connection,
            nth_on_connection: ctx.nth,
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            headers,
            body,
            answered: (reply.kind == ReplyKind::Answer).then_some(reply.status),
        });
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        match reply.kind {
            ReplyKind::Answer => http_server::response(reply.status, &reply.headers, reply.body),
            ReplyKind::Reset => Err(BoxError::from("scripted reset")),
            ReplyKind::Hang => std::future::pending().await,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::harness::test_client as client;

    async fn post(
        c: &reqwest::Client,
        url: &str,
        event_id: Option<&str>,
    ) -> reqwest::Result<(u16, String)> {
        let mut rb = c.post(url).body("{}");
        if let Some(id) = event_id {
            rb = rb.header("X-Event-Id", id);
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    }

    #[tokio::test]
    async fn sequence_replies_in_order_and_repeats_the_last() {
        let wfm = ScriptedWfm::start(Script::Sequence(vec![
            Reply::status(503).body("busy"),
            Reply::status(429).header("Retry-After", "3"),
            Reply::status(200).body("ok"),
        ]))
        .await
        .expect("start");
        let c = client();
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(post(&c, &wfm.url(), None).await.expect("post").0);
        }
        assert_eq!(got, vec![503, 429, 200, 200, 200]);
        let reqs = wfm.requests();
        assert_eq!(reqs.len(), 5);
        assert_eq!(reqs[0].path, STATUS_PATH);
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(reqs[0].body, b"{}");
        assert_eq!(reqs[1].answered, Some(429));
        // One client, keep-alive: all on one connection, numbered 1..=5.
        assert_eq!(wfm.connections_opened(), 1);
        let nth: Vec<u64> = reqs.iter().map(|r| r.nth_on_connection).collect();
        assert_eq!(nth, vec![1, 2, 3, 4, 5]);

        wfm.set_script(Script::Sequence(vec![Reply::status(201)]));
        assert_eq!(post(&c, &wfm.url(), None).await.expect("post").0, 201);
        wfm.shutdown().await;
    }

    #[tokio::test]
    async fn per_event_counts_each_id_separately() {
        let mut by_event_id = HashMap::new();
        by_event_id.insert("a".to_owned(), vec![Reply::status(500), Reply::status(200)]);
        let wfm = ScriptedWfm::start(Script::PerEvent {
            by_event_id,
            default: vec![Reply::status(202), Reply::status(404)],
        })
        .await
        .expect("start");
        let c = client();
        let url = wfm.url();
        let mut got = Vec::new();
        for id in ["a", "b", "a", "b", "a", "c"] {
            got.push(post(&c, &url, Some(id)).await.expect("post").0);
        }
        assert_eq!(got, vec![500, 202, 200, 404, 200, 202]);
        assert_eq!(wfm.requests()[0].header("X-EVENT-ID"), Some("a"));
    }

    #[tokio::test]
    async fn reset_gives_a_client_error_and_is_recorded() {
        let wfm = ScriptedWfm::start(Script::Sequence(vec![Reply::reset(), Reply::status(200)]))
            .await
            .expect("start");
        let c = client();
        assert!(post(&c, &wfm.url(), None).await.is_err());
        assert_eq!(post(&c, &wfm.url(), None).await.expect("post").0, 200);
        let reqs = wfm.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].answered, None);
        assert_eq!(reqs[1].answered, Some(200));
        assert_eq!(wfm.connections_opened(), 2);
    }

    #[tokio::test]
    async fn hang_keeps_the_client_waiting_until_it_gives_up() {
        let wfm = ScriptedWfm::start(Script::Sequence(vec![Reply::hang()]))
            .await
            .expect("start");
        let c = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(300))
            .build()
            .expect("client");
        let err = post(&c, &wfm.url(), None).await.expect_err("must time out");
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(wfm.requests()[0].answered, None);
        wfm.shutdown().await;
    }

    #[tokio::test]
    async fn stale_reuse_closes_second_request_on_a_connection() {
        let wfm = ScriptedWfm::start(Script::Sequence(vec![Reply::status(200)]))
            .await
            .expect("start");
        wfm.set_stale_reuse(true);
        let c = client();
        assert_eq!(post(&c, &wfm.url(), None).await.expect("first").0, 200);
        // The pooled connection is reused and dies without a response.
        let err = post(&c, &wfm.url(), None).await.expect_err("stale");
        assert!(!err.is_timeout(), "{err:?}");
        // A fresh connection is answered.
        let fresh = client();
        assert_eq!(post(&fresh, &wfm.url(), None).await.expect("fresh").0, 200);
        let reqs = wfm.requests();
        assert_eq!(reqs.len(), 3);
        assert_eq!(
            reqs.iter()
                .map(|r| (r.connection, r.nth_on_connection, r.answered))
                .collect::<Vec<_>>(),
            vec![(1, 1, Some(200)), (1, 2, None), (2, 1, Some(200))]
        );
        assert_eq!(wfm.connections_opened(), 2);
    }

    #[tokio::test]
    async fn random_is_repeatable_for_a_seed() {
        async fn run(seed: u64) -> Vec<u16> {
            let wfm = ScriptedWfm::start(Script::Random {
                p_fail: 0.5,
                faults: vec![Reply::status(500), Reply::status(503)],
                ok: Reply::status(200),
                seed,
            })
            .await
            .expect("start");
            let c = client();
            let mut got = Vec::new();
            for _ in 0..40 {
                got.push(post(&c, &wfm.url(), None).await.expect("post").0);
            }
            got
        }
        let a = run(7).await;
        assert_eq!(a, run(7).await);
        let fails = a.iter().filter(|s| **s != 200).count();
        assert!((5..=35).contains(&fails), "{a:?}");
        assert!(a.contains(&500) && a.contains(&503), "{a:?}");
    }
}
