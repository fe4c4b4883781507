//! A Genesys Cloud Platform API stand-in on `127.0.0.1:0`, written from the public API
//! definition (the official SDK `purecloudplatformclientv2` 269.0.0, its `apis/` and `models/`;
//! endpoint list in [`routes`]) and checked against that SDK by `infra/genesys/contract_check.py`.
//!
//! It serves a generated directory of agents ([`seed`]): client-credentials tokens with expiry,
//! users pages with `expand=presence,routingStatus`, bulk presence with the 50-id limit (400
//! above it), routing status per user, group and queue membership, `organizations/me`, and a
//! per-token rate limit answering 429 with `Retry-After` ([`tokens`]). It counts what clients
//! did ([`Counters`]) so tests can assert call budgets. One server answers both hosts: the
//! login host's `/oauth/token` and the API host's `/api/v2/…` (point `GENESYS_LOGIN_URL` and
//! `GENESYS_API_URL` at the same [`GenesysApi::url`]).

pub mod query;
pub mod routes;
pub mod seed;
pub mod tokens;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;

use crate::http_server::{self, Handler, HandlerFuture, Stopper};
pub use seed::{Agent, Directory};
pub use tokens::RateLimit;

/// How the stand-in is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesysApiOptions {
    /// The agents, groups, queues and divisions served.
    pub directory: Directory,
    /// The org id `GET /api/v2/organizations/me` answers.
    pub org_id: String,
    /// The OAuth client id the token endpoint accepts.
    pub client_id: String,
    /// The OAuth client secret the token endpoint accepts.
    pub client_secret: String,
    /// Lifetime of each issued token (`expires_in`, whole seconds).
    pub token_ttl: Duration,
    /// The per-token request limit ([`RateLimit::GENESYS`] is the real one).
    pub rate_limit: RateLimit,
    /// Most ids one bulk presence call may carry (Genesys: 50).
    pub bulk_limit: usize,
}

impl GenesysApiOptions {
    /// `agents` agents over 4 groups, 3 queues and 2 divisions, states anchored at
    /// 2026-03-02T06:00:00Z, client `standin-client` / `standin-secret`, tokens valid 24 h,
    /// Genesys's rate limit and bulk limit.
    pub fn new(agents: usize) -> Self {
        GenesysApiOptions {
            directory: Directory {
                agents,
                groups: 4,
                queues: 3,
                divisions: 2,
                epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(1_772_431_200),
            },
            org_id: "11111111-2222-3333-4444-555555555555".to_owned(),
            client_id: "standin-client".to_owned(),
            client_secret: "standin-secret".to_owned(),
            token_ttl: Duration::from_secs(86_400),
            rate_limit: RateLimit::GENESYS,
            bulk_limit: 50,
        }
    }
}

/// What clients did, as counted by the stand-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests per route, e.g. `GET /api/v2/users` or `GET /api/v2/users/{userId}/routingstatus`
    /// (every request, refused ones included; unknown paths count under `<METHOD> (other)`).
    pub requests: BTreeMap<String, u64>,
    /// Answers with 429.
    pub rate_limited: u64,
    /// Answers with 401 (token endpoint and API).
    pub unauthorized: u64,
    /// Bulk presence calls received (refused ones included).
    pub bulk_calls: u64,
    /// The most ids any bulk presence call carried (refused ones included).
    pub max_bulk_ids: usize,
    /// Tokens issued.
    pub tokens_issued: u64,
}

impl Counters {
    /// Requests counted under `route` (0 when none).
    pub fn of(&self, route: &str) -> u64 {
        self.requests.get(route).copied().unwrap_or(0)
    }

    /// All requests to `/api/v2/…` (the calls the rate limit counts, refused ones included).
    pub fn api_calls(&self) -> u64 {
        self.requests
            .iter()
            .filter(|(k, _)| k.contains("/api/v2/"))
            .map(|(_, n)| n)
            .sum()
    }
}

/// The stand-in's mutable state, shared by all connections.
pub struct State {
    options: GenesysApiOptions,
    directory: Directory,
    tokens: tokens::Tokens,
    counters: Counters,
    faults: VecDeque<u16>,
}

impl State {
    fn new(options: GenesysApiOptions) -> Self {
        State {
            directory: options.directory.clone(),
            tokens: tokens::Tokens::new(options.rate_limit),
            counters: Counters::default(),
            faults: VecDeque::new(),
            options,
        }
    }
}

use crate::harness::lock;

/// Handle to a running stand-in; clones share it; it stops when the last handle is dropped or
/// on [`GenesysApi::shutdown`].
#[derive(Clone)]
pub struct GenesysApi {
    state: Arc<Mutex<State>>,
    stopper: Arc<Stopper>,
    addr: std::net::SocketAddr,
}

impl std::fmt::Debug for GenesysApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenesysApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl GenesysApi {
    /// Starts the stand-in on `127.0.0.1:0`.
    ///
    /// # Errors
    /// When the listening socket cannot be bound.
    pub async fn start(options: GenesysApiOptions) -> std::io::Result<GenesysApi> {
        let state = Arc::new(Mutex::new(State::new(options)));
        let for_handler = Arc::clone(&state);
        let handler: Handler = Arc::new(move |_ctx, req| handle(Arc::clone(&for_handler), req));
        let server = http_server::serve(handler).await?;
        Ok(GenesysApi {
            state,
            stopper: server.stopper,
            addr: server.addr,
        })
    }

    /// `http://127.0.0.1:<port>`: the base URL of both the API and the login host.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Agent `index` as served (its id, presence, routing status, memberships).
    pub fn agent(&self, index: usize) -> Agent {
        lock(&self.state).directory.agent(index)
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        let s = lock(&self.state);
        Counters {
            tokens_issued: s.tokens.issued(),
            ..s.counters.clone()
        }
    }

    /// Makes every token issued so far expire now: the next API call with one gets 401.
    pub fn expire_tokens(&self) {
        lock(&self.state).tokens.expire_all(Instant::now());
    }

    /// The next `statuses.len()` authorised API calls answer these statuses (e.g. 503, 403) with
    /// an `ErrorBody` carrying Genesys's code for the status, in order, instead of their normal
    /// answer; an injected 429 carries `Retry-After: 1`.
    pub fn fail_next(&self, statuses: &[u16]) {
        lock(&self.state).faults.extend(statuses.iter().copied());
    }

    /// Stops accepting, closes every open connection and waits for the accept loop to end.
    pub async fn shutdown(self) {
        self.stopper.stop().await;
    }
}

fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> HandlerFuture {
    Box::pin(async move {
        let (parts, body) = req.into_parts();
        let body = body.collect().await?.to_bytes();
        let authorization = parts
            .headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let api_req = routes::ApiRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default(),
            authorization,
            body: &body,
        };
        let resp = routes::handle(&mut lock(&state), &api_req, Instant::now());
        let mut headers = resp.headers;
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        let bytes = serde_json::to_vec(&resp.body)?;
        http_server::response(resp.status, &headers, bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call(
        http: &reqwest::Client,
        url: String,
        auth: &str,
    ) -> (u16, Option<String>, String) {
        let r = http
            .get(url)
            .header("Authorization", auth)
            .send()
            .await
            .expect("answered");
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (r.status().as_u16(), retry, r.text().await.expect("body"))
    }

    #[tokio::test]
    async fn genesys_api_over_http_limits_and_token_expiry() {
        let api = GenesysApi::start(GenesysApiOptions {
            rate_limit: RateLimit {
                requests: 20,
                per: Duration::from_secs(600),
            },
            ..GenesysApiOptions::new(60)
        })
        .await
        .expect("stand-in");
        let http = reqwest::Client::new();
        let token: serde_json::Value = serde_json::from_slice(
            &http
                .post(format!("{}/oauth/token", api.url()))
                .header(
                    "Authorization",
                    "Basic c3RhbmRpbi1jbGllbnQ6c3RhbmRpbi1zZWNyZXQ=",
                )
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await
                .expect("token answered")
                .bytes()
                .await
                .expect("body"),
        )
        .expect("JSON");
        assert_eq!(token["expires_in"], 86_400);
        let auth = format!("Bearer {}", token["access_token"].as_str().expect("token"));

        let ids: Vec<String> = (0..51).map(|i| api.agent(i).id).collect();
        let bulk = |n: usize| {
            format!(
                "{}/api/v2/users/presences/purecloud/bulk?id={}",
                api.url(),
                ids[..n].join(",")
            )
        };
        let (status, _, body) = call(&http, bulk(50), &auth).await;
        assert_eq!(status, 200);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body)
                .expect("JSON")
                .as_array()
                .map(Vec::len),
            Some(50)
        );
        let (status, _, body) = call(&http, bulk(51), &auth).await;
        assert_eq!(status, 400, "{body}");

        let users = format!("{}/api/v2/users?pageSize=25&pageNumber=3", api.url());
        let (status, _, body) = call(&http, users.clone(), &auth).await;
        assert_eq!(status, 200);
        let page: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            (page["total"].as_u64(), page["pageCount"].as_u64()),
            (Some(60), Some(3))
        );
        assert_eq!(page["entities"].as_array().map(Vec::len), Some(10));

        for _ in 3..20 {
            assert_eq!(call(&http, users.clone(), &auth).await.0, 200);
        }
        let (status, retry, body) = call(&http, users.clone(), &auth).await;
        assert_eq!(status, 429, "{body}");
        let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
        assert!((1..=600).contains(&retry), "{retry}");

        api.expire_tokens();
        let (status, _, body) = call(&http, users, &auth).await;
        assert_eq!(status, 401, "{body}");
        let c = api.counters();
        assert_eq!((c.rate_limited, c.unauthorized, c.max_bulk_ids), (1, 1, 51));
        assert_eq!(c.api_calls(), 22);
        api.shutdown().await;
    }

    /// The stand-in's users pages, read over HTTP, become 2 live-shaped snapshot events per agent
    /// whose state times are the agents' own (core `snapshot` + `parse_event`).
    #[tokio::test]
    async fn genesys_api_users_pages_become_snapshot_events() {
        use wfm_relay_core::event::parse_event;
        use wfm_relay_core::snapshot::{AgentState, SnapshotContext, agent_events};
        use wfm_relay_core::timefmt::{format_rfc3339, parse_rfc3339};

        let api = GenesysApi::start(GenesysApiOptions::new(7))
            .await
            .expect("stand-in");
        let http = reqwest::Client::new();
        let token: serde_json::Value = serde_json::from_slice(
            &http
                .post(format!("{}/oauth/token", api.url()))
                .header(
                    "Authorization",
                    "Basic c3RhbmRpbi1jbGllbnQ6c3RhbmRpbi1zZWNyZXQ=",
                )
                .body("grant_type=client_credentials")
                .send()
                .await
                .expect("token answered")
                .bytes()
                .await
                .expect("body"),
        )
        .expect("JSON");
        let auth = format!("Bearer {}", token["access_token"].as_str().expect("token"));
        let ctx = SnapshotContext {
            org_id: "11111111-2222-3333-4444-555555555555".to_owned(),
            account: "123456789012".to_owned(),
            region: "eu-west-1".to_owned(),
            run_id: "run-7".to_owned(),
        };
        let read_at = parse_rfc3339("2026-03-02T12:00:00.000Z").expect("time");
        let mut events = Vec::new();
        for page in 1..=2 {
            let url = format!(
                "{}/api/v2/users?pageSize=4&pageNumber={page}&expand=presence,routingStatus&state=active",
                api.url()
            );
            let (status, _, body) = call(&http, url, &auth).await;
            assert_eq!(status, 200);
            let page: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            for u in page["entities"].as_array().expect("entities") {
                let a = AgentState::from_api_user(u).expect("a valid user");
                events.extend(agent_events(&ctx, &a, read_at));
            }
        }
        assert_eq!(events.len(), 14, "2 events per agent");
        for (n, e) in events.iter().enumerate() {
            let agent = api.agent(n / 2);
            let info = parse_event(&e.bytes).expect("parses");
            assert_eq!(info.user_id.as_deref(), Some(agent.id.as_str()));
            let (topic, start) = if n % 2 == 0 {
                ("presence", &agent.modified_date)
            } else {
                ("routingStatus", &agent.routing_start)
            };
            assert_eq!(info.topic(), format!("v2.users.{}.{topic}", agent.id));
            assert_eq!(info.state_time.map(format_rfc3339).as_ref(), Some(start));
            assert_eq!(info.published_time, Some(read_at));
        }
        api.shutdown().await;
    }
}
