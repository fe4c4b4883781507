//! One Genesys Cloud API call, made politely: paced under the per-token rate limit, the token
//! taken after the pacing wait (refreshed before it expires), 429 `Retry-After` honoured, 5xx
//! and transport failures retried with backoff, a 401 answered by one token refresh, a second
//! 401 or a 403 turned into a stop naming the permission.

use super::transport::{Answer, Transport};
use super::{GenesysError, permission_for};
use crate::auth::TokenCache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use wfm_relay_core::policy::parse_retry_after;

/// Attempts of one call that fails with 5xx or no answer: 4 (waits 1 s, 2 s, 4 s between).
pub const SERVER_ERROR_ATTEMPTS: u32 = 4;

/// First backoff after a 5xx or transport failure: 1 s, doubled each time.
pub const SERVER_ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Longest `Retry-After` honoured in one wait: 60 s (Genesys's window is one minute); a longer
/// one is waited in steps, each checked against the deadline.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// Most 429 answers one call accepts before it gives up: 10.
pub const MAX_429_PER_CALL: u32 = 10;

/// Counts of what the client did (report members `genesys_calls`, `genesys_429`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// API requests sent (token requests not included).
    pub calls: u64,
    /// Answers with 429.
    pub rate_limited: u64,
}

/// The API client: base URL, token cache, pacing. Share it by reference; calls are sequential.
pub struct GenesysClient {
    api_url: String,
    tokens: Arc<TokenCache>,
    transport: Arc<dyn Transport>,
    spacing: Duration,
    next_slot: Mutex<Option<Instant>>,
    calls: AtomicU64,
    rate_limited: AtomicU64,
}

impl std::fmt::Debug for GenesysClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenesysClient")
            .field("api_url", &self.api_url)
            .field("spacing", &self.spacing)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn backoff(attempt: u32) -> Duration {
    SERVER_ERROR_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(6))
}

impl GenesysClient {
    /// A client of `api_url` (no trailing `/`) with tokens from `tokens`, sending through
    /// `transport`, making at most `rate_per_minute` requests per minute (one request every
    /// 60 s / rate, measured from the previous request's start).
    pub fn new(
        api_url: String,
        tokens: Arc<TokenCache>,
        transport: Arc<dyn Transport>,
        rate_per_minute: u32,
    ) -> Self {
        GenesysClient {
            api_url,
            tokens,
            transport,
            spacing: Duration::from_secs(60) / rate_per_minute.max(1),
            next_slot: Mutex::new(None),
            calls: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }

    /// Calls and 429 answers so far.
    pub fn stats(&self) -> CallStats {
        CallStats {
            calls: self.calls.load(Ordering::SeqCst),
            rate_limited: self.rate_limited.load(Ordering::SeqCst),
        }
    }

    /// Now, on the transport's clock.
    pub fn now(&self) -> Instant {
        self.transport.now()
    }

    /// Waits until `d` has passed, unless that would end after `until`.
    async fn wait(&self, d: Duration, until: Instant) -> Result<(), GenesysError> {
        if self.transport.now() + d > until {
            return Err(GenesysError::OutOfTime);
        }
        if !d.is_zero() {
            self.transport.sleep(d).await;
        }
        Ok(())
    }

    /// Waits for the next request slot of the pacer and takes it.
    async fn pace(&self, until: Instant) -> Result<(), GenesysError> {
        let now = self.transport.now();
        let slot = self
            .next_slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or(now);
        self.wait(slot.saturating_duration_since(now), until)
            .await?;
        let start = self.transport.now().max(slot);
        *self
            .next_slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(start + self.spacing);
        Ok(())
    }

    /// `GET <api_url><path_and_query>`, parsed as JSON. `until` is the last moment a wait may
    /// end (the caller's deadline).
    ///
    /// # Errors
    /// [`GenesysError::Forbidden`] on a 403 or a second 401 (stop: a permission is missing),
    /// [`GenesysError::OutOfTime`] when a wait would pass `until`, [`GenesysError::Unavailable`]
    /// after [`SERVER_ERROR_ATTEMPTS`] 5xx / transport failures or [`MAX_429_PER_CALL`] 429s,
    /// [`GenesysError::Token`] when no token can be had, [`GenesysError::BadAnswer`] for a 4xx
    /// or a body that is not JSON.
    pub async fn get_json(
        &self,
        path_and_query: &str,
        until: Instant,
    ) -> Result<serde_json::Value, GenesysError> {
        let url = format!("{}{path_and_query}", self.api_url);
        let path = path_and_query.split('?').next().unwrap_or_default();
        let (mut failures, mut throttled, mut renewed) = (0u32, 0u32, false);
        loop {
            self.pace(until).await?;
            // The token is taken after the pacing wait, right before the request: one cached
            // before a wait of several seconds could expire during it. The cache refreshes it
            // before its expiry (min(60 s, half its lifetime) before, `refresh_due`).
            let left = until.saturating_duration_since(self.transport.now());
            let token = self.tokens.token(left).await.map_err(GenesysError::Token)?;
            self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = self.transport.get(&url, token.authorization()).await;
            let a = match answer {
                Ok(a) if (200..300).contains(&a.status) => {
                    return serde_json::from_slice(&a.body).map_err(|e| GenesysError::BadAnswer {
                        path: path.to_owned(),
                        message: format!("HTTP {} with a body that is not JSON: {e}", a.status),
                    });
                }
                Ok(a) => a,
                Err(message) => {
                    failures += 1;
                    if failures >= SERVER_ERROR_ATTEMPTS {
                        return Err(GenesysError::Unavailable {
                            path: path.to_owned(),
                            message,
                        });
                    }
                    self.wait(backoff(failures), until).await?;
                    continue;
                }
            };
            match a.status {
                401 if !renewed => {
                    renewed = true;
                    let left = until.saturating_duration_since(self.transport.now());
                    self.tokens
                        .renew(token.generation(), left)
                        .await
                        .map_err(GenesysError::Token)?;
                }
                401 | 403 => return Err(forbidden(path, &a)),
                429 => {
                    self.rate_limited.fetch_add(1, Ordering::SeqCst);
                    throttled += 1;
                    if throttled > MAX_429_PER_CALL {
                        return Err(GenesysError::Unavailable {
                            path: path.to_owned(),
                            message: format!("{throttled} answers 429 in a row"),
                        });
                    }
                    let wait = retry_after(&a).min(RETRY_AFTER_CAP);
                    self.wait(wait, until).await?;
                    // The pacer restarts after the wait.
                    *self
                        .next_slot
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = None;
                }
                s if s >= 500 || s == 408 => {
                    failures += 1;
                    if failures >= SERVER_ERROR_ATTEMPTS {
                        return Err(GenesysError::Unavailable {
                            path: path.to_owned(),
                            message: format!("HTTP {s} {SERVER_ERROR_ATTEMPTS} times"),
                        });
                    }
                    self.wait(backoff(failures), until).await?;
                }
                s => {
                    return Err(GenesysError::BadAnswer {
                        path: path.to_owned(),
                        message: format!("HTTP {s}: {}", excerpt(&a.body)),
                    });
                }
            }
        }
    }
}

/// `Retry-After` in seconds (or an HTTP date); 1 s when absent or unreadable.
fn retry_after(a: &Answer) -> Duration {
    a.retry_after
        .as_deref()
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()))
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(1))
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

fn forbidden(path: &str, a: &Answer) -> GenesysError {
    GenesysError::Forbidden {
        status: a.status,
        path: path.to_owned(),
        permission: permission_for(path),
        detail: excerpt(&a.body),
    }
}

impl GenesysClient {
    /// The production client of `settings`: the client secret read (plain, or through
    /// `fetcher` from Secrets Manager / SSM), the Genesys token endpoint behind a
    /// [`TokenCache`], reqwest (rustls, no redirects) as transport.
    ///
    /// # Errors
    /// [`GenesysError::Token`] with [`crate::auth::AuthError::Configuration`] naming the
    /// secret's variable when it cannot be read, or when the HTTP client cannot start.
    pub async fn connect(
        settings: &super::GenesysSettings,
        fetcher: Option<&dyn crate::secrets::SecretFetch>,
    ) -> Result<Self, GenesysError> {
        use crate::auth::{AuthError, SystemClock, token_http_client};
        use wfm_relay_core::auth::SecretSource;
        let config = |variable: &'static str, message: String| {
            GenesysError::Token(AuthError::Configuration { variable, message })
        };
        let secret = match &settings.client_secret {
            SecretSource::Plain { value, .. } => value.clone(),
            SecretSource::Aws(r) => match fetcher {
                Some(f) => f
                    .fetch(r)
                    .await
                    .map_err(|e| config(r.variable(), e.to_string()))?,
                None => return Err(config(r.variable(), "no AWS secret reader".to_owned())),
            },
        };
        let http = token_http_client(Duration::from_secs(5))
            .map_err(|e| config("GENESYS_API_URL", format!("HTTP client: {e}")))?;
        let endpoint = super::GenesysTokenEndpoint::new(
            http.clone(),
            settings.token_url(),
            settings.client_id.clone(),
            secret,
        );
        let tokens = TokenCache::new(Arc::new(endpoint), Arc::new(SystemClock));
        Ok(GenesysClient::new(
            settings.api_url.clone(),
            Arc::new(tokens),
            Arc::new(super::HttpTransport::new(http)),
            settings.rate_per_minute,
        ))
    }
}
