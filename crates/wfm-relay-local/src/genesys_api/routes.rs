//! The stand-in's endpoints: one pure function from a request to an answer, given the state.
//!
//! Endpoints (Genesys Cloud Platform API v2, as the official Python SDK 269.0.0 defines them in
//! `PureCloudPlatformClientV2/apis/`):
//! - `POST /oauth/token` — client credentials (`ApiClient.get_client_credentials_token`: form
//!   `grant_type=client_credentials`, HTTP Basic `client_id:client_secret`); answers
//!   `{access_token, token_type: "bearer", expires_in}` (developer.genesys.cloud, "Client
//!   credentials grant").
//! - `GET /api/v2/users` — `UsersApi.get_users` (`pageSize`, `pageNumber`, `id`, `expand`,
//!   `state`) → `UserEntityListing`.
//! - `GET /api/v2/users/presences/purecloud/bulk` — `PresenceApi.get_users_presences_purecloud_bulk`
//!   (`id`: "A comma separated list of user IDs … Limit 50.") → `list[UcUserPresence]`.
//! - `GET /api/v2/users/{userId}/routingstatus` — `UsersApi.get_user_routingstatus` → `RoutingStatus`.
//! - `GET /api/v2/groups/{groupId}/members` — `GroupsApi.get_group_members` (`pageSize`,
//!   `pageNumber`, `expand`) → `UserEntityListing`; `GET /api/v2/groups/{groupId}/individuals` —
//!   `GroupsApi.get_group_individuals` → `UserEntityListing` (all at once).
//! - `GET /api/v2/routing/queues/{queueId}/members` — `RoutingApi.get_routing_queue_members`
//!   (`pageNumber`, `pageSize` "Max value is 100") → `QueueMemberEntityListing`.
//! - `GET /api/v2/organizations/me` — `OrganizationApi.get_organizations_me` → `Organization`.
//!
//! Errors carry the SDK's `ErrorBody` shape (`message`, `code`, `status`, `messageParams`,
//! `contextId`, `details`, `errors`); a 429 carries `Retry-After` and code
//! `too.many.requests.retry.after` (developer.genesys.cloud forum, "Normalized Platform API 429
//! responses"). The SDK joins list parameters with commas (`ApiClient.to_path_value`); repeated
//! parameters are accepted too.

use std::time::Instant;

use base64::Engine;
use serde_json::{Value, json};

use super::State;
use super::query::{expand_of, list, listing, one, page_of, paging, pairs};
use super::seed::{self, Expand};
use super::tokens::Refusal;

/// A request as the router sees it.
pub struct ApiRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path without the query.
    pub path: &'a str,
    /// The raw query string (after `?`), possibly empty.
    pub query: &'a str,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The request body.
    pub body: &'a [u8],
}

/// An answer: status, extra headers, JSON body.
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers besides `Content-Type: application/json`.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
}

fn ok(body: Value) -> ApiResponse {
    ApiResponse {
        status: 200,
        headers: Vec::new(),
        body,
    }
}

/// An `ErrorBody`.
pub fn error(status: u16, code: &str, message: &str) -> ApiResponse {
    ApiResponse {
        status,
        headers: Vec::new(),
        body: json!({
            "message": message,
            "code": code,
            "status": status,
            "messageParams": {},
            "contextId": uuid::Uuid::new_v4().to_string(),
            "details": [],
            "errors": [],
        }),
    }
}

/// The route name a request is counted under, e.g. `GET /api/v2/users/{userId}/routingstatus`.
pub fn route_name(method: &str, path: &str) -> String {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let templ = match segs.as_slice() {
        ["oauth", "token"] => "/oauth/token",
        ["api", "v2", "users"] => "/api/v2/users",
        ["api", "v2", "users", "presences", "purecloud", "bulk"] => {
            "/api/v2/users/presences/purecloud/bulk"
        }
        ["api", "v2", "users", _, "routingstatus"] => "/api/v2/users/{userId}/routingstatus",
        ["api", "v2", "groups", _, "members"] => "/api/v2/groups/{groupId}/members",
        ["api", "v2", "groups", _, "individuals"] => "/api/v2/groups/{groupId}/individuals",
        ["api", "v2", "routing", "queues", _, "members"] => {
            "/api/v2/routing/queues/{queueId}/members"
        }
        ["api", "v2", "organizations", "me"] => "/api/v2/organizations/me",
        _ => "(other)",
    };
    format!("{method} {templ}")
}

/// Answers one request and updates the counters.
pub fn handle(state: &mut State, req: &ApiRequest<'_>, now: Instant) -> ApiResponse {
    let name = route_name(req.method, req.path);
    *state.counters.requests.entry(name.clone()).or_insert(0) += 1;
    let resp = if name == "POST /oauth/token" {
        token(state, req, now)
    } else {
        api(state, req, &name, now)
    };
    match resp.status {
        401 => state.counters.unauthorized += 1,
        429 => state.counters.rate_limited += 1,
        _ => {}
    }
    resp
}

fn token(state: &mut State, req: &ApiRequest<'_>, now: Instant) -> ApiResponse {
    let oauth_error = |status: u16, err: &str, text: &str| ApiResponse {
        status,
        headers: Vec::new(),
        body: json!({ "error": err, "description": text, "error_description": text }),
    };
    let creds = req
        .authorization
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let expected = format!(
        "{}:{}",
        state.options.client_id, state.options.client_secret
    );
    if creds.as_deref() != Some(expected.as_str()) {
        return oauth_error(401, "invalid_client", "client not found or bad secret");
    }
    let form = pairs(&String::from_utf8_lossy(req.body));
    if one(&form, "grant_type") != Some("client_credentials") {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let ttl = state.options.token_ttl;
    let value = state.tokens.issue(now, ttl);
    ok(json!({
        "access_token": value,
        "token_type": "bearer",
        "expires_in": ttl.as_secs(),
    }))
}

fn api(state: &mut State, req: &ApiRequest<'_>, name: &str, now: Instant) -> ApiResponse {
    match state.tokens.admit(req.authorization, now) {
        Ok(()) => {}
        Err(Refusal::Missing) => {
            return error(
                401,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            );
        }
        Err(Refusal::Invalid) => {
            return error(401, "bad.credentials", "Invalid login credentials.");
        }
        Err(Refusal::RateLimited(secs)) => {
            let mut r = error(
                429,
                "too.many.requests.retry.after",
                &format!("Rate limit exceeded the maximum. Retry the request in [{secs}] seconds"),
            );
            r.headers.push(("Retry-After".to_owned(), secs.to_string()));
            return r;
        }
    }
    if let Some(status) = state.faults.pop_front() {
        return injected(status);
    }
    if req.method != "GET" || name.ends_with("(other)") {
        return error(
            404,
            "not.found",
            &format!("No resource at {} {}", req.method, req.path),
        );
    }
    let q = pairs(req.query);
    let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match name {
        "GET /api/v2/users" => users(state, &q),
        "GET /api/v2/users/presences/purecloud/bulk" => bulk_presence(state, &q),
        "GET /api/v2/users/{userId}/routingstatus" => match state.directory.index_of(segs[3]) {
            Some(i) => ok(seed::routing_status(&state.directory.agent(i))),
            None => error(404, "not.found", &format!("User {} not found", segs[3])),
        },
        "GET /api/v2/groups/{groupId}/members" | "GET /api/v2/groups/{groupId}/individuals" => {
            group(state, req.path, segs[3], segs[4] == "members", &q)
        }
        "GET /api/v2/routing/queues/{queueId}/members" => queue(state, req.path, segs[4], &q),
        _ => ok(seed::organization(&state.options.org_id)),
    }
}

/// An injected failure: an `ErrorBody` with the code Genesys uses for that status; a 429 also
/// carries `Retry-After: 1`.
fn injected(status: u16) -> ApiResponse {
    let code = match status {
        400 => "bad.request",
        401 => "bad.credentials",
        403 => "missing.any.permissions",
        404 => "not.found",
        429 => "too.many.requests.retry.after",
        500 => "internal.server.error",
        _ => "service.unavailable",
    };
    let mut r = error(status, code, "The stand-in was told to fail this call.");
    if status == 429 {
        r.headers.push(("Retry-After".to_owned(), "1".to_owned()));
    }
    r
}

/// `GET /api/v2/users`: `pageSize` 1–500, default 25; `state` defaults to `active`
/// (stitchflow.com, "Genesys Cloud user management API", a third-party summary; the SDK does not
/// state the bounds).
fn users(state: &State, q: &[(String, String)]) -> ApiResponse {
    let (size, number) = match paging(q, 25, 500) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let expand = expand_of(q);
    let ids = list(q, "id");
    // Every seeded user is active: `state=inactive` / `deleted` list nobody.
    let state_ok = matches!(one(q, "state"), None | Some("active") | Some("any"));
    let selected: Vec<usize> = if !state_ok {
        Vec::new()
    } else if ids.is_empty() {
        (0..state.directory.agents).collect()
    } else {
        ids.iter()
            .filter_map(|id| state.directory.index_of(id))
            .collect()
    };
    let page = users_of(state, &page_of(&selected, size, number), expand);
    ok(listing(
        "/api/v2/users",
        page,
        size,
        number,
        selected.len(),
        true,
    ))
}

fn users_of(state: &State, indices: &[usize], expand: Expand) -> Vec<Value> {
    indices
        .iter()
        .map(|i| seed::user(&state.directory.agent(*i), expand))
        .collect()
}

/// Indices of the agents whose membership `k` of `of` matches (`index % of == k`, as
/// [`seed::Directory::agent`] assigns groups and queues).
fn members(state: &State, k: usize, of: usize) -> Vec<usize> {
    (0..state.directory.agents)
        .filter(|i| i % of.max(1) == k)
        .collect()
}

fn bulk_presence(state: &mut State, q: &[(String, String)]) -> ApiResponse {
    let ids = list(q, "id");
    let c = &mut state.counters;
    c.bulk_calls += 1;
    c.max_bulk_ids = c.max_bulk_ids.max(ids.len());
    let limit = state.options.bulk_limit;
    if ids.is_empty() || ids.len() > limit {
        return error(
            400,
            "bad.request",
            &format!(
                "The id parameter must list between 1 and {limit} user ids; got {}",
                ids.len()
            ),
        );
    }
    let items = ids
        .iter()
        .filter_map(|id| state.directory.index_of(id))
        .map(|i| seed::uc_user_presence(&state.directory.agent(i)))
        .collect();
    ok(Value::Array(items))
}

fn group(
    state: &State,
    path: &str,
    group_id: &str,
    paged: bool,
    q: &[(String, String)],
) -> ApiResponse {
    let groups = state.directory.groups;
    let Some(k) = (0..groups).find(|k| seed::group_id(*k) == group_id) else {
        return error(404, "not.found", &format!("Group {group_id} not found"));
    };
    let all = members(state, k, groups);
    if !paged {
        let n = all.len().max(1);
        let entities = users_of(state, &all, Expand::default());
        return ok(listing(path, entities, n, 1, all.len(), true));
    }
    let (size, number) = match paging(q, 25, 500) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let page = users_of(state, &page_of(&all, size, number), expand_of(q));
    ok(listing(path, page, size, number, all.len(), true))
}

fn queue(state: &State, path: &str, queue_id: &str, q: &[(String, String)]) -> ApiResponse {
    let queues = state.directory.queues;
    let Some(k) = (0..queues).find(|k| seed::queue_id(*k) == queue_id) else {
        return error(404, "not.found", &format!("Queue {queue_id} not found"));
    };
    let (size, number) = match paging(q, 25, 100) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let all = members(state, k, queues);
    let page = page_of(&all, size, number)
        .iter()
        .map(|i| seed::queue_member(&state.directory.agent(*i)))
        .collect();
    // `QueueMemberEntityListing` has no `total` / `pageCount`.
    ok(listing(path, page, size, number, all.len(), false))
}

#[cfg(test)]
mod tests {
    use super::super::{GenesysApiOptions, RateLimit};
    use super::*;
    use std::time::Duration;

    const BASIC: &str = "Basic c3RhbmRpbi1jbGllbnQ6c3RhbmRpbi1zZWNyZXQ="; // standin-client:standin-secret

    fn state(agents: usize) -> State {
        State::new(GenesysApiOptions {
            rate_limit: RateLimit {
                requests: 20,
                per: Duration::from_secs(2),
            },
            token_ttl: Duration::from_secs(10),
            ..GenesysApiOptions::new(agents)
        })
    }

    fn get<'a>(path: &'a str, query: &'a str, auth: Option<&'a str>) -> ApiRequest<'a> {
        ApiRequest {
            method: "GET",
            path,
            query,
            authorization: auth,
            body: b"",
        }
    }

    fn token(s: &mut State, now: Instant) -> String {
        let req = ApiRequest {
            method: "POST",
            path: "/oauth/token",
            query: "",
            authorization: Some(BASIC),
            body: b"grant_type=client_credentials",
        };
        let r = handle(s, &req, now);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["token_type"], "bearer");
        assert_eq!(r.body["expires_in"], 10);
        format!("Bearer {}", r.body["access_token"].as_str().expect("token"))
    }

    #[test]
    fn token_endpoint_checks_client_and_grant() {
        let mut s = state(1);
        let t0 = Instant::now();
        let mut req = ApiRequest {
            method: "POST",
            path: "/oauth/token",
            query: "",
            authorization: Some("Basic c3RhbmRpbi1jbGllbnQ6d3Jvbmc="), // standin-client:wrong
            body: b"grant_type=client_credentials",
        };
        let r = handle(&mut s, &req, t0);
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (401, Some("invalid_client"))
        );
        req.authorization = Some(BASIC);
        req.body = b"grant_type=password";
        let r = handle(&mut s, &req, t0);
        assert_eq!(r.status, 400);
        assert_eq!(r.body["error"], "unsupported_grant_type");
        token(&mut s, t0);
        assert_eq!(s.tokens.issued(), 1);
        assert_eq!(s.counters.of("POST /oauth/token"), 3);
        assert_eq!(s.counters.unauthorized, 1);
    }

    #[test]
    fn users_paging_totals_and_uris() {
        let mut s = state(230);
        let t0 = Instant::now();
        let auth = token(&mut s, t0);
        let mut ids = Vec::new();
        for n in 1..=3 {
            let q =
                format!("pageSize=100&pageNumber={n}&expand=presence%2CroutingStatus&state=active");
            let r = handle(&mut s, &get("/api/v2/users", &q, Some(&auth)), t0);
            assert_eq!(r.status, 200);
            let b = &r.body;
            assert_eq!(
                (b["total"].as_u64(), b["pageCount"].as_u64()),
                (Some(230), Some(3))
            );
            assert_eq!(
                (b["pageSize"].as_u64(), b["pageNumber"].as_u64()),
                (Some(100), Some(n))
            );
            assert_eq!(b["nextUri"].is_string(), n < 3);
            assert_eq!(b["previousUri"].is_string(), n > 1);
            assert_eq!(b["lastUri"], "/api/v2/users?pageSize=100&pageNumber=3");
            let entities = b["entities"].as_array().expect("entities");
            assert_eq!(entities.len(), if n < 3 { 100 } else { 30 });
            for u in entities {
                assert!(u["presence"]["presenceDefinition"]["systemPresence"].is_string());
                assert!(u["routingStatus"]["startTime"].is_string());
                ids.push(u["id"].as_str().expect("id").to_owned());
            }
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 230);
        let r = handle(
            &mut s,
            &get("/api/v2/users", "pageSize=10&pageNumber=99", Some(&auth)),
            t0,
        );
        assert_eq!(r.body["entities"].as_array().map(Vec::len), Some(0));
        assert!(r.body.get("nextUri").is_none());
        let r = handle(
            &mut s,
            &get("/api/v2/users", "pageSize=501", Some(&auth)),
            t0,
        );
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("bad.request"))
        );
        let r = handle(
            &mut s,
            &get("/api/v2/users", "state=inactive", Some(&auth)),
            t0,
        );
        assert_eq!(r.body["total"], 0);
        // Without expand, no state.
        let r = handle(&mut s, &get("/api/v2/users", "pageSize=1", Some(&auth)), t0);
        assert!(r.body["entities"][0].get("presence").is_none());
        assert_eq!(s.counters.of("GET /api/v2/users"), 7);
    }

    #[test]
    fn bulk_presence_allows_50_ids_and_refuses_51() {
        let mut s = state(60);
        let t0 = Instant::now();
        let auth = token(&mut s, t0);
        let ids: Vec<String> = (0..51).map(|i| s.directory.agent(i).id).collect();
        let path = "/api/v2/users/presences/purecloud/bulk";
        let q50 = format!("id={}", ids[..50].join("%2C"));
        let r = handle(&mut s, &get(path, &q50, Some(&auth)), t0);
        assert_eq!(r.status, 200);
        let items = r.body.as_array().expect("a list");
        assert_eq!(items.len(), 50);
        assert_eq!(items[3]["userId"], ids[3]);
        assert_eq!(items[3]["modifiedDate"], s.directory.agent(3).modified_date);
        // Repeated parameters count the same as a comma-joined list.
        let q51: String = ids
            .iter()
            .map(|i| format!("id={i}"))
            .collect::<Vec<_>>()
            .join("&");
        let r = handle(&mut s, &get(path, &q51, Some(&auth)), t0);
        assert_eq!(r.status, 400);
        assert_eq!(r.body["code"], "bad.request");
        assert_eq!(r.body["status"], 400);
        assert!(r.body["message"].as_str().is_some_and(|m| m.contains("50")));
        assert_eq!((s.counters.bulk_calls, s.counters.max_bulk_ids), (2, 51));
    }

    #[test]
    fn rate_limit_answers_429_with_retry_after_per_token() {
        let mut s = state(1);
        let t0 = Instant::now();
        let a = token(&mut s, t0);
        let b = token(&mut s, t0);
        let me = "/api/v2/organizations/me";
        for _ in 0..20 {
            assert_eq!(handle(&mut s, &get(me, "", Some(&a)), t0).status, 200);
        }
        let r = handle(
            &mut s,
            &get(me, "", Some(&a)),
            t0 + Duration::from_millis(300),
        );
        assert_eq!(r.status, 429);
        assert_eq!(r.headers, vec![("Retry-After".to_owned(), "2".to_owned())]);
        assert_eq!(r.body["code"], "too.many.requests.retry.after");
        assert_eq!(
            handle(&mut s, &get(me, "", Some(&b)), t0).status,
            200,
            "own budget"
        );
        let r = handle(&mut s, &get(me, "", Some(&a)), t0 + Duration::from_secs(2));
        assert_eq!(r.status, 200, "next window");
        assert_eq!(s.counters.rate_limited, 1);
        assert_eq!(s.counters.of("GET /api/v2/organizations/me"), 23);
    }

    #[test]
    fn expired_or_unknown_tokens_get_401() {
        let mut s = state(3);
        let t0 = Instant::now();
        let auth = token(&mut s, t0);
        let id = s.directory.agent(2).id;
        let path = format!("/api/v2/users/{id}/routingstatus");
        let r = handle(&mut s, &get(&path, "", Some(&auth)), t0);
        assert_eq!(r.status, 200);
        assert_eq!(r.body["status"], "OFF_QUEUE");
        assert_eq!(r.body["userId"], id);
        let r = handle(
            &mut s,
            &get(&path, "", Some(&auth)),
            t0 + Duration::from_secs(10),
        );
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (401, Some("bad.credentials"))
        );
        let r = handle(&mut s, &get(&path, "", None), t0);
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (401, Some("authentication.required"))
        );
        let fresh = token(&mut s, t0);
        s.tokens.expire_all(t0);
        assert_eq!(
            handle(&mut s, &get(&path, "", Some(&fresh)), t0).status,
            401
        );
        assert_eq!(s.counters.unauthorized, 3);
        let fresh = token(&mut s, t0);
        let missing = "/api/v2/users/a9e70000-0000-4000-8000-000000000009/routingstatus";
        assert_eq!(
            handle(&mut s, &get(missing, "", Some(&fresh)), t0).status,
            404
        );
    }

    #[test]
    fn membership_pages_and_injected_faults() {
        let mut s = state(10);
        let t0 = Instant::now();
        let auth = token(&mut s, t0);
        let g = seed::group_id(1); // agents 1, 5, 9 of 10 with 4 groups
        let path = format!("/api/v2/groups/{g}/members");
        let r = handle(
            &mut s,
            &get(&path, "pageSize=2&expand=presence", Some(&auth)),
            t0,
        );
        assert_eq!(r.body["total"], 3);
        assert_eq!(r.body["pageCount"], 2);
        assert_eq!(r.body["entities"][1]["id"], s.directory.agent(5).id);
        assert!(r.body["entities"][1]["presence"].is_object());
        let path = format!("/api/v2/groups/{g}/individuals");
        let r = handle(&mut s, &get(&path, "", Some(&auth)), t0);
        assert_eq!(r.body["entities"].as_array().map(Vec::len), Some(3));
        let q = seed::queue_id(0); // agents 0, 3, 6, 9 with 3 queues
        let path = format!("/api/v2/routing/queues/{q}/members");
        let r = handle(&mut s, &get(&path, "pageSize=100", Some(&auth)), t0);
        let members = r.body["entities"].as_array().expect("entities");
        assert_eq!(members.len(), 4);
        assert_eq!(members[2]["user"]["id"], s.directory.agent(6).id);
        assert!(
            r.body.get("total").is_none(),
            "QueueMemberEntityListing has no total"
        );
        assert_eq!(
            handle(&mut s, &get(&path, "pageSize=101", Some(&auth)), t0).status,
            400
        );
        let unknown = "/api/v2/groups/nope/members";
        assert_eq!(
            handle(&mut s, &get(unknown, "", Some(&auth)), t0).status,
            404
        );
        s.faults.extend([503, 403, 429]);
        let me = "/api/v2/organizations/me";
        assert_eq!(handle(&mut s, &get(me, "", Some(&auth)), t0).status, 503);
        let r = handle(&mut s, &get(me, "", Some(&auth)), t0);
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (403, Some("missing.any.permissions"))
        );
        let r = handle(&mut s, &get(me, "", Some(&auth)), t0);
        assert_eq!(r.status, 429);
        assert_eq!(r.headers, vec![("Retry-After".to_owned(), "1".to_owned())]);
        let r = handle(&mut s, &get(me, "", Some(&auth)), t0);
        assert_eq!(r.body["id"], "11111111-2222-3333-4444-555555555555");
    }

    #[test]
    fn queries_decode() {
        assert_eq!(
            pairs("id=a%2Cb&expand=presence,routingStatus&x=%zz+y&flag"),
            vec![
                ("id".to_owned(), "a,b".to_owned()),
                ("expand".to_owned(), "presence,routingStatus".to_owned()),
                ("x".to_owned(), "%zz y".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        assert_eq!(
            route_name("GET", "/api/v2/users/abc/routingstatus"),
            "GET /api/v2/users/{userId}/routingstatus"
        );
        assert_eq!(route_name("DELETE", "/api/v2/nothing"), "DELETE (other)");
    }
}
