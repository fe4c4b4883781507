//! Bearer token validation for the scripted WFM server: each POST's `Authorization: Bearer`
//! token is checked by token introspection (RFC 7662) at a real authorization server (the
//! tests' oidc-provider, `infra/oauth.sh`). A missing, unknown or expired token is answered
//! `401` before the script is consulted, and counted.
//!
//! "Expired" means the token was once introspected as active with an `exp` (Unix seconds) that
//! has passed; any other inactive token is "invalid".

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the check counted so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthCounts {
    /// POSTs whose token was active.
    pub accepted: u64,
    /// POSTs without an `Authorization: Bearer` header.
    pub without_authorization: u64,
    /// POSTs with a token seen active before whose `exp` has passed.
    pub expired: u64,
    /// POSTs with any other inactive token.
    pub invalid: u64,
    /// Introspection calls that failed (answered 401 too).
    pub introspection_errors: u64,
}

/// The introspection client of the scripted WFM. `Debug` hides the client secret.
pub struct TokenCheck {
    url: String,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    /// Token → `exp` of the tokens seen active.
    seen: Mutex<HashMap<String, u64>>,
    accepted: AtomicU64,
    without_authorization: AtomicU64,
    expired: AtomicU64,
    invalid: AtomicU64,
    introspection_errors: AtomicU64,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCheck")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Introspected {
    active: bool,
    exp: Option<u64>,
}

impl TokenCheck {
    /// Checks tokens at `url` (the introspection endpoint), authenticating as `client_id` /
    /// `client_secret` with HTTP Basic.
    pub fn new(url: &str, client_id: &str, client_secret: &str) -> Self {
        TokenCheck {
            url: url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            seen: Mutex::new(HashMap::new()),
            accepted: AtomicU64::new(0),
            without_authorization: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
            introspection_errors: AtomicU64::new(0),
        }
    }

    /// The check of the server `infra/oauth.sh` started: `OAUTH_INTROSPECTION_URL`,
    /// `OAUTH_INTROSPECTION_CLIENT_ID`, `OAUTH_INTROSPECTION_SECRET`; `None` when one is unset.
    pub fn from_env() -> Option<Self> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        Some(TokenCheck::new(
            &var("OAUTH_INTROSPECTION_URL")?,
            &var("OAUTH_INTROSPECTION_CLIENT_ID")?,
            &var("OAUTH_INTROSPECTION_SECRET")?,
        ))
    }

    /// The counts so far.
    pub fn counts(&self) -> AuthCounts {
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        AuthCounts {
            accepted: get(&self.accepted),
            without_authorization: get(&self.without_authorization),
            expired: get(&self.expired),
            invalid: get(&self.invalid),
            introspection_errors: get(&self.introspection_errors),
        }
    }

    /// True when the request with these headers (names lower-cased) carries an active bearer
    /// token; counts the outcome.
    pub async fn allows(&self, headers: &[(String, String)]) -> bool {
        let token = headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .and_then(|(_, v)| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            self.without_authorization.fetch_add(1, Ordering::SeqCst);
            return false;
        };
        let answer = self
            .http
            .post(&self.url)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "token={}&token_type_hint=access_token",
                form_encode(token)
            ))
            .send()
            .await;
        let introspected = match answer {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => serde_json::from_slice::<Introspected>(&b).ok(),
                Err(_) => None,
            },
            _ => None,
        };
        let Some(i) = introspected else {
            self.introspection_errors.fetch_add(1, Ordering::SeqCst);
            return false;
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if i.active {
            seen.insert(token.to_owned(), i.exp.unwrap_or(u64::MAX));
            self.accepted.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match seen.get(token) {
            Some(exp) if *exp <= now => self.expired.fetch_add(1, Ordering::SeqCst),
            _ => self.invalid.fetch_add(1, Ordering::SeqCst),
        };
        false
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (unreserved characters kept).
fn form_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
