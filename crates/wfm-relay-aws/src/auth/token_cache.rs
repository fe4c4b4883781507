//! The OAuth access token of the process: cached, shared by concurrent POSTs, refreshed by one
//! request at a time (single flight).
//!
//! Rules:
//! - a token is used as it is while more than min(60 s, half its lifetime) is left
//!   ([`wfm_relay_core::auth::refresh_due`]); its age counts from the moment the token request
//!   was sent, so the cache never believes a token younger than it is;
//! - once due, the first caller asks for a new one while the others keep using the still-valid
//!   token; a failed refresh is logged and tried again after [`FAILED_REFRESH_PAUSE`] (or at
//!   once, when the old token expires);
//! - with no valid token, callers queue behind one request; when it fails, every caller that
//!   was waiting for it gets its error (no request storm against a token endpoint that is down);
//! - [`TokenCache::renew`] after a 401 replaces the token the POST used, unless another caller
//!   already did.
//!
//! Every token request gets `min(budget, TOKEN_REQUEST_TIMEOUT)`, `budget` being what the
//! caller can still spend (the Lambda deadline minus the reserve to enqueue).

use super::{AuthError, Clock, DEFAULT_TOKEN_LIFETIME, TOKEN_REQUEST_TIMEOUT};
use reqwest::header::HeaderValue;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use wfm_relay_core::auth::refresh_due;
use wfm_relay_core::config::Secret;

/// How long a failed refresh of a still-valid token pauses further refreshes: 5 s.
pub const FAILED_REFRESH_PAUSE: Duration = Duration::from_secs(5);

/// What a token endpoint issued (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// `access_token` (`Debug` redacted).
    pub access_token: Secret,
    /// `expires_in`, when the response had it.
    pub expires_in: Option<Duration>,
}

/// The future of one token request.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<IssuedToken, AuthError>> + Send + 'a>>;

/// The token endpoint behind the cache: [`super::OAuth2Endpoint`] in production; tests count
/// calls and script answers.
pub trait TokenEndpoint: Send + Sync {
    /// Requests one new access token, giving up after `timeout`.
    ///
    /// # Errors
    /// [`AuthError::Unavailable`] when the endpoint is down, slow, or answers 5xx / 408 / 429;
    /// [`AuthError::Configuration`] when it refuses our credentials.
    fn request(&self, timeout: Duration) -> TokenFuture<'_>;
}

/// One cached token as POSTs use it: the `Authorization` value (marked sensitive) and the
/// token's generation (1 for the first token, +1 for each new one). `Debug` hides the value.
#[derive(Clone)]
pub struct BearerToken {
    authorization: HeaderValue,
    generation: u64,
}

impl BearerToken {
    /// `Bearer <access token>`.
    pub fn authorization(&self) -> &HeaderValue {
        &self.authorization
    }

    /// 1 for the first token of the process, then +1 for each new one.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerToken")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Counters of a [`TokenCache`] (for metrics, benchmarks and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenStats {
    /// Token requests sent.
    pub requests: u64,
    /// Token requests that failed.
    pub failures: u64,
}

struct Current {
    token: Arc<BearerToken>,
    obtained: Instant,
    lifetime: Duration,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    /// No refresh of a still-valid token before this (after a failed one).
    pause_until: Option<Instant>,
    /// The error of the last failed request.
    last_error: Option<AuthError>,
    /// The generation of the last token installed (0 before the first).
    generation: u64,
}

/// The process's OAuth access token. Share it by `Arc`. `Debug` shows counters only.
pub struct TokenCache {
    endpoint: Arc<dyn TokenEndpoint>,
    clock: Arc<dyn Clock>,
    max_timeout: Duration,
    state: RwLock<State>,
    flight: tokio::sync::Mutex<()>,
    requests: AtomicU64,
    failures: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// An empty cache in front of `endpoint`, with time from `clock`; token requests last at
    /// most [`TOKEN_REQUEST_TIMEOUT`].
    pub fn new(endpoint: Arc<dyn TokenEndpoint>, clock: Arc<dyn Clock>) -> Self {
        TokenCache {
            endpoint,
            clock,
            max_timeout: TOKEN_REQUEST_TIMEOUT,
            state: RwLock::new(State::default()),
            flight: tokio::sync::Mutex::new(()),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Sets the longest time of one token request (default [`TOKEN_REQUEST_TIMEOUT`]).
    pub fn with_max_timeout(mut self, max: Duration) -> Self {
        self.max_timeout = max;
        self
    }

    /// Token requests sent and failed so far.
    pub fn stats(&self) -> TokenStats {
        TokenStats {
            requests: self.requests.load(Ordering::SeqCst),
            failures: self.failures.load(Ordering::SeqCst),
        }
    }

    /// The token for the next POST, requesting a new one first when due (see the module docs).
    /// `budget` bounds the wait for a request in flight and the request itself.
    ///
    /// # Errors
    /// The [`AuthError`] of the token request when no valid token is left.
    pub async fn token(&self, budget: Duration) -> Result<Arc<BearerToken>, AuthError> {
        let started = Instant::now();
        let now = self.clock.now();
        let valid = {
            let s = self.read();
            match &s.current {
                Some(c) if !refresh_due(c.lifetime, age(c, now)) => {
                    return Ok(Arc::clone(&c.token));
                }
                Some(c) if age(c, now) < c.lifetime => Some((Arc::clone(&c.token), s.pause_until)),
                _ => None,
            }
        };
        if let Some((valid, pause_until)) = valid {
            if pause_until.is_some_and(|p| now < p) {
                return Ok(valid);
            }
            // One caller refreshes; the others keep the still-valid token.
            let Ok(_flight) = self.flight.try_lock() else {
                return Ok(valid);
            };
            if let Some(t) = self.fresh(self.clock.now()) {
                return Ok(t);
            }
            return match self.fetch(budget).await {
                Ok(t) => Ok(t),
                Err(e) => {
                    let pause = self.clock.now() + FAILED_REFRESH_PAUSE;
                    self.write().pause_until = Some(pause);
                    tracing::warn!(error = %e, "token refresh failed; the current token stays in use");
                    Ok(valid)
                }
            };
        }
        let failures_before = self.failures.load(Ordering::SeqCst);
        let _flight = tokio::time::timeout(budget, self.flight.lock())
            .await
            .map_err(|_| {
                AuthError::unavailable("no time left while a token request was in flight")
            })?;
        if let Some(t) = self.usable(self.clock.now()) {
            return Ok(t);
        }
        if self.failures.load(Ordering::SeqCst) != failures_before
            && let Some(e) = self.read().last_error.clone()
        {
            return Err(e);
        }
        self.fetch(budget.saturating_sub(started.elapsed())).await
    }

    /// After WFM answered 401 to a POST that used the token of generation `used`: a new token,
    /// unless another caller already replaced that one (then the current token is returned).
    ///
    /// # Errors
    /// The [`AuthError`] of the token request.
    pub async fn renew(&self, used: u64, budget: Duration) -> Result<Arc<BearerToken>, AuthError> {
        let started = Instant::now();
        let _flight = tokio::time::timeout(budget, self.flight.lock())
            .await
            .map_err(|_| {
                AuthError::unavailable("no time left while a token request was in flight")
            })?;
        if let Some(t) = self.usable(self.clock.now())
            && t.generation != used
        {
            return Ok(t);
        }
        // WFM refused this token: nobody uses it again, even when the renewal fails.
        self.write().current = None;
        self.fetch(budget.saturating_sub(started.elapsed())).await
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The current token when it is not due for refresh.
    fn fresh(&self, now: Instant) -> Option<Arc<BearerToken>> {
        let s = self.read();
        let c = s.current.as_ref()?;
        (!refresh_due(c.lifetime, age(c, now))).then(|| Arc::clone(&c.token))
    }

    /// The current token when it has not expired.
    fn usable(&self, now: Instant) -> Option<Arc<BearerToken>> {
        let s = self.read();
        let c = s.current.as_ref()?;
        (age(c, now) < c.lifetime).then(|| Arc::clone(&c.token))
    }

    /// Sends one token request (call with `flight` held) and installs its token.
    async fn fetch(&self, budget: Duration) -> Result<Arc<BearerToken>, AuthError> {
        let timeout = budget.min(self.max_timeout);
        let result = if timeout.is_zero() {
            Err(AuthError::unavailable(
                "no time left in the invocation for a token request",
            ))
        } else {
            let obtained = self.clock.now();
            self.requests.fetch_add(1, Ordering::SeqCst);
            let r = tokio::time::timeout(timeout, self.endpoint.request(timeout)).await;
            match r {
                Ok(Ok(issued)) => self.install(issued, obtained),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(AuthError::unavailable(format!(
                    "the token request took longer than {} ms",
                    timeout.as_millis()
                ))),
            }
        };
        if let Err(e) = &result {
            self.failures.fetch_add(1, Ordering::SeqCst);
            self.write().last_error = Some(e.clone());
        }
        result
    }

    fn install(
        &self,
        issued: IssuedToken,
        obtained: Instant,
    ) -> Result<Arc<BearerToken>, AuthError> {
        let value = format!("Bearer {}", issued.access_token.expose());
        let mut authorization = HeaderValue::from_str(&value).map_err(|_| {
            AuthError::configuration(
                "WFM_OAUTH_TOKEN_URL",
                "the access token holds characters not allowed in an HTTP header",
            )
        })?;
        authorization.set_sensitive(true);
        let mut s = self.write();
        s.generation += 1;
        let generation = s.generation;
        let token = Arc::new(BearerToken {
            authorization,
            generation,
        });
        s.current = Some(Current {
            token: Arc::clone(&token),
            obtained,
            lifetime: issued.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME),
        });
        s.pause_until = None;
        s.last_error = None;
        Ok(token)
    }
}

fn age(c: &Current, now: Instant) -> Duration {
    now.saturating_duration_since(c.obtained)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthErrorKind, ManualClock};
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// A scripted endpoint: answers from `script` (the last repeats; empty = a 600 s token),
    /// records the clock at each call, and may wait for `gate` first.
    struct Fake {
        clock: Arc<ManualClock>,
        start: Instant,
        calls: Mutex<Vec<Duration>>,
        script: Mutex<VecDeque<Result<Option<Duration>, AuthError>>>,
        gate: Option<tokio::sync::watch::Receiver<bool>>,
        hang: bool,
    }

    impl Fake {
        fn new(clock: &Arc<ManualClock>) -> Self {
            Fake {
                clock: Arc::clone(clock),
                start: clock.now(),
                calls: Mutex::new(Vec::new()),
                script: Mutex::new(VecDeque::new()),
                gate: None,
                hang: false,
            }
        }

        fn script(self, answers: Vec<Result<Option<Duration>, AuthError>>) -> Self {
            *self.script.lock().expect("lock") = answers.into();
            self
        }

        fn calls(&self) -> Vec<u64> {
            let calls = self.calls.lock().expect("lock");
            calls.iter().map(|d| d.as_secs()).collect()
        }
    }

    impl TokenEndpoint for Fake {
        fn request(&self, _timeout: Duration) -> TokenFuture<'_> {
            Box::pin(async move {
                let n = {
                    let mut calls = self.calls.lock().expect("lock");
                    calls.push(self.clock.now() - self.start);
                    calls.len()
                };
                if let Some(gate) = &self.gate {
                    let mut gate = gate.clone();
                    let _ = gate.wait_for(|open| *open).await;
                }
                if self.hang {
                    std::future::pending::<()>().await;
                }
                let answer = {
                    let mut script = self.script.lock().expect("lock");
                    if script.len() > 1 {
                        script.pop_front()
                    } else {
                        script.front().cloned()
                    }
                };
                match answer.unwrap_or(Ok(Some(Duration::from_secs(600)))) {
                    Ok(expires_in) => Ok(IssuedToken {
                        access_token: Secret::new(format!("token-{n}")),
                        expires_in,
                    }),
                    Err(e) => Err(e),
                }
            })
        }
    }

    fn setup(fake: impl FnOnce(Fake) -> Fake) -> (Arc<ManualClock>, Arc<Fake>, Arc<TokenCache>) {
        let clock = Arc::new(ManualClock::new(Instant::now()));
        let endpoint = Arc::new(fake(Fake::new(&clock)));
        let cache = TokenCache::new(Arc::clone(&endpoint) as _, Arc::clone(&clock) as _)
            .with_max_timeout(Duration::from_millis(200));
        (clock, endpoint, Arc::new(cache))
    }

    const BUDGET: Duration = Duration::from_secs(10);

    fn down() -> AuthError {
        AuthError::unavailable("the token endpoint answered HTTP 503")
    }

    #[tokio::test]
    async fn three_hundred_concurrent_callers_cause_one_token_request() {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let (_, endpoint, cache) = setup(|f| Fake {
            gate: Some(rx),
            ..f
        });
        let tasks: Vec<_> = (0..300)
            .map(|_| {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move { cache.token(BUDGET).await })
            })
            .collect();
        // Let every task run up to its first wait, then let the one request finish.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert_eq!(endpoint.calls().len(), 1);
        tx.send_replace(true);
        for t in tasks {
            let token = t.await.expect("task").expect("token");
            assert_eq!(token.generation(), 1);
            assert_eq!(token.authorization().as_bytes(), b"Bearer token-1");
            assert!(token.authorization().is_sensitive());
        }
        assert_eq!(
            cache.stats(),
            TokenStats {
                requests: 1,
                failures: 0
            }
        );
    }

    #[tokio::test]
    async fn six_hundred_second_tokens_over_an_hour_take_seven_requests() {
        let (clock, endpoint, cache) = setup(|f| f);
        for _ in 0..=3600 {
            cache.token(BUDGET).await.expect("token");
            clock.advance(Duration::from_secs(1));
        }
        assert_eq!(endpoint.calls(), [0, 540, 1080, 1620, 2160, 2700, 3240]);
        assert_eq!(cache.stats().requests, 7);
    }

    #[tokio::test]
    async fn short_tokens_are_refreshed_at_half_their_lifetime() {
        let (clock, endpoint, cache) = setup(|f| f.script(vec![Ok(Some(Duration::from_secs(10)))]));
        for _ in 0..=30 {
            cache.token(BUDGET).await.expect("token");
            clock.advance(Duration::from_secs(1));
        }
        assert_eq!(endpoint.calls(), [0, 5, 10, 15, 20, 25, 30]);
    }

    #[tokio::test]
    async fn a_token_without_expires_in_lives_the_default_lifetime() {
        let (clock, endpoint, cache) = setup(|f| f.script(vec![Ok(None)]));
        for _ in 0..=300 {
            cache.token(BUDGET).await.expect("token");
            clock.advance(Duration::from_secs(1));
        }
        assert_eq!(endpoint.calls(), [0, 240]);
    }

    #[tokio::test]
    async fn a_401_forces_one_renewal_shared_by_concurrent_callers() {
        let (_, endpoint, cache) = setup(|f| f);
        let first = cache.token(BUDGET).await.expect("token");
        let renewals: Vec<_> = (0..50)
            .map(|_| {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move { cache.renew(1, BUDGET).await })
            })
            .collect();
        for r in renewals {
            assert_eq!(r.await.expect("task").expect("renewed").generation(), 2);
        }
        assert_eq!(endpoint.calls().len(), 2);
        assert_eq!(first.generation(), 1);
        let now = cache.token(BUDGET).await.expect("token");
        assert_eq!(now.authorization().as_bytes(), b"Bearer token-2");
        // A renewal for the token already replaced asks for nothing.
        assert_eq!(
            cache.renew(1, BUDGET).await.expect("current").generation(),
            2
        );
        assert_eq!(cache.stats().requests, 2);
    }

    #[tokio::test]
    async fn a_refused_token_is_not_reused_when_its_renewal_fails() {
        let (_, endpoint, cache) =
            setup(|f| f.script(vec![Ok(Some(Duration::from_secs(600))), Err(down())]));
        cache.token(BUDGET).await.expect("token");
        let e = cache.renew(1, BUDGET).await.expect_err("endpoint down");
        assert_eq!(e.kind(), AuthErrorKind::Transient);
        assert!(cache.token(BUDGET).await.is_err());
        assert_eq!(endpoint.calls().len(), 3);
    }

    #[tokio::test]
    async fn errors_are_classified_and_shared_by_the_waiting_callers() {
        let refused = AuthError::configuration(
            "WFM_OAUTH_CLIENT_SECRET_ARN",
            "the token endpoint refused the request for client `relay`: invalid_client",
        );
        for (answer, kind) in [
            (down(), AuthErrorKind::Transient),
            (refused.clone(), AuthErrorKind::Configuration),
        ] {
            let (tx, rx) = tokio::sync::watch::channel(false);
            let (_, endpoint, cache) = setup(|f| Fake {
                gate: Some(rx),
                ..f.script(vec![Err(answer.clone())])
            });
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let cache = Arc::clone(&cache);
                    tokio::spawn(async move { cache.token(BUDGET).await })
                })
                .collect();
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            tx.send_replace(true);
            for t in tasks {
                let e = t.await.expect("task").expect_err("no token");
                assert_eq!(e, answer);
                assert_eq!(e.kind(), kind);
            }
            assert_eq!(endpoint.calls().len(), 1, "{answer}");
            assert_eq!(
                cache.stats(),
                TokenStats {
                    requests: 1,
                    failures: 1
                }
            );
        }
        assert_eq!(refused.variable(), Some("WFM_OAUTH_CLIENT_SECRET_ARN"));
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_valid_token_and_pauses() {
        let (clock, endpoint, cache) = setup(|f| {
            f.script(vec![
                Ok(Some(Duration::from_secs(600))),
                Err(down()),
                Err(down()),
                Ok(Some(Duration::from_secs(600))),
            ])
        });
        cache.token(BUDGET).await.expect("token");
        clock.advance(Duration::from_secs(541));
        let t = cache.token(BUDGET).await.expect("old token still valid");
        assert_eq!(t.generation(), 1);
        clock.advance(Duration::from_secs(4));
        assert_eq!(cache.token(BUDGET).await.expect("paused").generation(), 1);
        assert_eq!(endpoint.calls(), [0, 541]);
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            cache
                .token(BUDGET)
                .await
                .expect("failed again")
                .generation(),
            1
        );
        clock.advance(Duration::from_secs(5));
        assert_eq!(
            cache.token(BUDGET).await.expect("refreshed").generation(),
            2
        );
        assert_eq!(endpoint.calls(), [0, 541, 546, 551]);
    }

    #[tokio::test]
    async fn an_expired_token_is_never_handed_out() {
        let (clock, endpoint, cache) =
            setup(|f| f.script(vec![Ok(Some(Duration::from_secs(600))), Err(down())]));
        cache.token(BUDGET).await.expect("token");
        clock.advance(Duration::from_secs(600));
        let e = cache
            .token(BUDGET)
            .await
            .expect_err("expired, endpoint down");
        assert_eq!(e.kind(), AuthErrorKind::Transient);
        assert_eq!(endpoint.calls(), [0, 600]);
    }

    #[tokio::test]
    async fn the_request_fits_the_budget() {
        let (_, endpoint, cache) = setup(|f| f);
        let e = cache.token(Duration::ZERO).await.expect_err("no time");
        assert_eq!(e.kind(), AuthErrorKind::Transient);
        assert!(endpoint.calls().is_empty());
        // A token endpoint that never answers is given up after the cache's maximum (200 ms
        // here), however large the budget.
        let (_, endpoint, cache) = setup(|f| Fake { hang: true, ..f });
        let e = cache.token(BUDGET).await.expect_err("slow");
        assert!(e.to_string().contains("longer than 200 ms"), "{e}");
        assert_eq!(e.kind(), AuthErrorKind::Transient);
        assert_eq!(endpoint.calls().len(), 1);
    }

    #[tokio::test]
    async fn debug_shows_no_token() {
        let (_, _, cache) = setup(|f| f);
        let t = cache.token(BUDGET).await.expect("token");
        let shown = format!("{t:?} {cache:?}");
        assert!(!shown.contains("token-1"), "{shown}");
        let issued = IssuedToken {
            access_token: Secret::new("s3cr3t"),
            expires_in: None,
        };
        assert!(!format!("{issued:?}").contains("s3cr3t"));
    }
}
