//! [`WfmAuth`]: the credentials provider of every POST to WFM, for all modes.
//!
//! Static modes (`bearer`, `api_key`, `basic`) build their header once from the secrets (read
//! from AWS at start-up when they live there) and read the AWS secrets again when they are older
//! than `SECRETS_TTL_S` ([`WfmAuth::with_secrets_ttl`]) and after a 401: a resend is worth it
//! only when a value changed. The `oauth2` mode asks the [`TokenCache`];
//! after a 401 it always gets a new token. When the token endpoint refuses the client secret
//! and the secret lives in AWS, the secret is read again (at most every
//! [`SECRET_REREAD_PAUSE`]) and, when it changed (a rotation), the token request is repeated.

use super::oauth2_endpoint::OAuth2Endpoint;
use super::static_auth::StaticAuth;
use super::token_cache::{TokenCache, TokenStats};
use super::{AuthError, Clock};
use crate::secrets::{SecretError, SecretFetch};
use base64::Engine;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use wfm_relay_core::auth::{AuthMode, AuthSettings, SecretSource};
use wfm_relay_core::config::{Secret, SecretRef};

/// Shortest time between two re-reads of the OAuth client secret after the token endpoint
/// refused it: 30 s.
pub const SECRET_REREAD_PAUSE: Duration = Duration::from_secs(30);

/// The credentials of one POST: a header (none in mode `none`) and the generation it belongs
/// to (passed back to [`WfmAuth::renew_after_401`]). `Debug` hides the value.
#[derive(Clone)]
pub struct Authorization {
    pub(super) header: Option<(HeaderName, HeaderValue)>,
    pub(super) generation: u64,
}

impl Authorization {
    /// The header to send, when the mode has credentials. The value is marked sensitive.
    pub fn header(&self) -> Option<(&HeaderName, &HeaderValue)> {
        self.header.as_ref().map(|(k, v)| (k, v))
    }

    /// Which credentials these are: +1 each time they are renewed.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("header", &self.header.as_ref().map(|(k, _)| k))
            .field("generation", &self.generation)
            .finish()
    }
}

struct OAuthAuth {
    cache: TokenCache,
    endpoint: Arc<OAuth2Endpoint>,
    /// The client secret's AWS source and the fetcher, when it lives in AWS.
    reread: Option<(SecretRef, Arc<dyn SecretFetch>)>,
    last_reread: Mutex<Option<Instant>>,
}

enum Inner {
    None,
    Static(StaticAuth),
    OAuth(OAuthAuth),
    /// A token cache in front of any endpoint (tests, benchmarks).
    Cache(TokenCache),
}

/// The credentials provider. One per process, shared by `Arc`; `Debug` shows the mode only.
pub struct WfmAuth {
    mode: AuthMode,
    inner: Inner,
}

impl fmt::Debug for WfmAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WfmAuth")
            .field("mode", &self.mode.as_str())
            .finish_non_exhaustive()
    }
}

impl WfmAuth {
    /// Mode `none`: POSTs carry no credentials.
    pub fn none() -> Self {
        WfmAuth {
            mode: AuthMode::None,
            inner: Inner::None,
        }
    }

    /// Mode `oauth2` over a given token cache (its endpoint may be any [`super::TokenEndpoint`]).
    pub fn with_token_cache(cache: TokenCache) -> Self {
        WfmAuth {
            mode: AuthMode::OAuth2,
            inner: Inner::Cache(cache),
        }
    }

    /// The provider of `settings`. Secrets kept in AWS are read now through `fetcher` (so a
    /// missing or unreadable secret fails start-up); the OAuth token is requested by the first
    /// POST, through `http` ([`super::token_http_client`]), with time from `clock`.
    ///
    /// # Errors
    /// [`AuthError`] naming the variable: a secret that cannot be read, is not a valid header
    /// value, or lives in AWS while `fetcher` is `None`.
    pub async fn from_settings(
        settings: &AuthSettings,
        fetcher: Option<Arc<dyn SecretFetch>>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        if let (Some(first), None) = (settings.aws_secrets().first(), &fetcher) {
            return Err(AuthError::configuration(
                first.variable(),
                "no AWS client to read the secret with",
            ));
        }
        let values = resolve_all(settings, fetcher.as_deref()).await?;
        Self::build(settings, &values, fetcher, http, clock)
    }

    /// The provider of `settings` whose secrets are all plain values (local runs, tests,
    /// benchmarks): no AWS call, otherwise as [`WfmAuth::from_settings`].
    ///
    /// # Errors
    /// [`AuthError::Configuration`] naming the variable: a secret kept in AWS (there is no
    /// client to read it with here), or a value that is not a valid header value.
    pub fn from_plain_settings(
        settings: &AuthSettings,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        let mut values = Values::new();
        for source in sources(settings) {
            match source {
                SecretSource::Plain { variable, value } => {
                    values.insert(variable, value.clone());
                }
                SecretSource::Aws(r) => {
                    return Err(AuthError::configuration(
                        r.variable(),
                        "no AWS client to read the secret with",
                    ));
                }
            }
        }
        Self::build(settings, &values, None, http, clock)
    }

    fn build(
        settings: &AuthSettings,
        values: &Values,
        fetcher: Option<Arc<dyn SecretFetch>>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        let inner = match settings {
            AuthSettings::None => Inner::None,
            AuthSettings::OAuth2(o) => {
                let secret = value(values, &o.client_secret)?;
                let endpoint = Arc::new(OAuth2Endpoint::new(o, secret, http)?);
                let reread = match (&o.client_secret, fetcher) {
                    (SecretSource::Aws(r), Some(f)) => Some((r.clone(), f)),
                    _ => None,
                };
                let cache = TokenCache::new(Arc::clone(&endpoint) as _, clock);
                Inner::OAuth(OAuthAuth {
                    cache,
                    endpoint,
                    reread,
                    last_reread: Mutex::new(None),
                })
            }
            _ => {
                let header = static_header(settings, values)?;
                Inner::Static(StaticAuth {
                    settings: settings.clone(),
                    fetcher,
                    current: RwLock::new(Authorization {
                        header,
                        generation: 1,
                    }),
                    renew: tokio::sync::Mutex::new(()),
                    ttl: Duration::MAX,
                    clock,
                    next_reread: Mutex::new(None),
                })
            }
        };
        Ok(WfmAuth {
            mode: settings.mode(),
            inner,
        })
    }

    /// Reads the AWS secrets of the static modes (`api_key`, `basic`, and `bearer` when built
    /// here) again once they are older than `ttl` (`SECRETS_TTL_S`, as
    /// [`crate::secrets::SecretStore`] does for the bearer token), not only after a 401. Only one
    /// POST reads; the others use the current values meanwhile. A failed read keeps the current
    /// values and is tried again after min(`ttl`, 30 s). No effect in modes `none` and `oauth2`
    /// or when no secret lives in AWS.
    pub fn with_secrets_ttl(mut self, ttl: Duration) -> Self {
        if let Inner::Static(s) = &mut self.inner {
            s.ttl = ttl;
            let next = s.clock.now().checked_add(ttl);
            *s.next_reread.get_mut().unwrap_or_else(|e| e.into_inner()) = next;
        }
        self
    }

    /// The mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The token cache's counters, in mode `oauth2`.
    pub fn token_stats(&self) -> Option<TokenStats> {
        match &self.inner {
            Inner::OAuth(o) => Some(o.cache.stats()),
            Inner::Cache(c) => Some(c.stats()),
            Inner::None | Inner::Static(_) => None,
        }
    }

    /// The credentials of the next POST. `budget` is the time the caller can still spend (a
    /// token request fits inside it).
    ///
    /// # Errors
    /// [`AuthError`] when no token can be had: the attempt is transient, never sent without
    /// credentials.
    pub async fn authorization(&self, budget: Duration) -> Result<Authorization, AuthError> {
        let bearer = |t: Arc<super::token_cache::BearerToken>| Authorization {
            header: Some((AUTHORIZATION, t.authorization().clone())),
            generation: t.generation(),
        };
        match &self.inner {
            Inner::None => Ok(Authorization {
                header: None,
                generation: 0,
            }),
            Inner::Static(s) => Ok(s.current_by_age().await),
            Inner::Cache(c) => c.token(budget).await.map(bearer),
            Inner::OAuth(o) => {
                let started = Instant::now();
                match o.cache.token(budget).await {
                    Err(e) if o.secret_may_have_rotated(&e).await => {
                        let left = budget.saturating_sub(started.elapsed());
                        o.cache.token(left).await.map(bearer)
                    }
                    r => r.map(bearer),
                }
            }
        }
    }

    /// After WFM answered 401 to a POST sent with `used`: renews the credentials once (a new
    /// token, or the secrets read again from AWS). True when the POST is worth resending: the
    /// credentials now differ from `used` (a new token always does). False in mode `none`, with
    /// plain secrets, or when the secrets in AWS did not change: the 401 stands.
    ///
    /// # Errors
    /// [`AuthError`] when the renewal failed (the attempt is then transient).
    pub async fn renew_after_401(
        &self,
        used: &Authorization,
        budget: Duration,
    ) -> Result<bool, AuthError> {
        match &self.inner {
            Inner::None => Ok(false),
            Inner::Cache(c) => c.renew(used.generation, budget).await.map(|_| true),
            Inner::OAuth(o) => o.cache.renew(used.generation, budget).await.map(|_| true),
            Inner::Static(s) => s.renew(used).await,
        }
    }
}

impl OAuthAuth {
    /// After `e` from the token endpoint: when it refused the client secret and the secret lives
    /// in AWS, reads it again (at most every [`SECRET_REREAD_PAUSE`]); true when it changed.
    async fn secret_may_have_rotated(&self, e: &AuthError) -> bool {
        let Some((source, fetcher)) = &self.reread else {
            return false;
        };
        if e.variable() != Some(source.variable()) {
            return false;
        }
        {
            let mut last = self.last_reread.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < SECRET_REREAD_PAUSE) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match fetcher.fetch(source).await {
            Ok(secret) => {
                let changed = self.endpoint.set_client_secret(secret);
                tracing::info!(
                    changed,
                    variable = source.variable(),
                    "OAuth client secret read again"
                );
                changed
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the OAuth client secret again");
                false
            }
        }
    }
}

/// The value of one secret: plain, or read from AWS.
async fn resolve(
    source: &SecretSource,
    fetcher: Option<&dyn SecretFetch>,
) -> Result<Secret, AuthError> {
    match (source, fetcher) {
        (SecretSource::Plain { value, .. }, _) => Ok(value.clone()),
        (SecretSource::Aws(r), Some(f)) => f.fetch(r).await.map_err(|e| match e {
            SecretError::Fetch { .. } => AuthError::unavailable(e.to_string()),
            SecretError::Invalid { variable, message } => {
                AuthError::configuration(variable, message)
            }
        }),
        (SecretSource::Aws(r), None) => Err(AuthError::configuration(
            r.variable(),
            "no AWS client to read the secret with",
        )),
    }
}

/// The values of the secrets of some settings, by the variable that names or holds each.
type Values = HashMap<&'static str, Secret>;

/// The secret sources of `settings`, in a fixed order.
fn sources(settings: &AuthSettings) -> Vec<&SecretSource> {
    match settings {
        AuthSettings::None => vec![],
        AuthSettings::Bearer(s) => vec![s],
        AuthSettings::OAuth2(o) => vec![&o.client_secret],
        AuthSettings::ApiKey(a) => vec![&a.key],
        AuthSettings::Basic(b) => std::iter::once(&b.user).chain(&b.password).collect(),
    }
}

/// Every secret of `settings`, plain or read from AWS now.
pub(super) async fn resolve_all(
    settings: &AuthSettings,
    fetcher: Option<&dyn SecretFetch>,
) -> Result<Values, AuthError> {
    let mut values = Values::new();
    for source in sources(settings) {
        values.insert(source.variable(), resolve(source, fetcher).await?);
    }
    Ok(values)
}

/// The value of `source` among `values`.
fn value(values: &Values, source: &SecretSource) -> Result<Secret, AuthError> {
    values
        .get(source.variable())
        .cloned()
        .ok_or_else(|| AuthError::configuration(source.variable(), "the secret was not read"))
}

/// The header of a static mode (`bearer`, `api_key`, `basic`) from the secrets' `values`.
pub(super) fn static_header(
    settings: &AuthSettings,
    values: &Values,
) -> Result<Option<(HeaderName, HeaderValue)>, AuthError> {
    let (name, value, variable) = match settings {
        AuthSettings::None | AuthSettings::OAuth2(_) => return Ok(None),
        AuthSettings::Bearer(s) => {
            let token = value(values, s)?;
            (
                AUTHORIZATION,
                format!("Bearer {}", token.expose()),
                s.variable(),
            )
        }
        AuthSettings::ApiKey(a) => {
            let name = HeaderName::from_bytes(a.header.as_bytes()).map_err(|_| {
                AuthError::configuration("WFM_API_KEY_HEADER", "not a valid HTTP header name")
            })?;
            let key = value(values, &a.key)?;
            (name, key.expose().to_owned(), a.key.variable())
        }
        AuthSettings::Basic(b) => {
            let user = value(values, &b.user)?;
            let password = match &b.password {
                Some(p) => value(values, p)?,
                None => Secret::new(""),
            };
            if user.expose().contains(':') {
                return Err(AuthError::configuration(
                    b.user.variable(),
                    "a Basic user name may not contain `:` (RFC 7617)",
                ));
            }
            let pair = format!("{}:{}", user.expose(), password.expose());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            (AUTHORIZATION, format!("Basic {encoded}"), b.user.variable())
        }
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| {
        AuthError::configuration(
            variable,
            "the secret holds characters not allowed in an HTTP header",
        )
    })?;
    value.set_sensitive(true);
    Ok(Some((name, value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthErrorKind, ManualClock, SystemClock};
    use std::collections::HashMap;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Secrets by id; counts reads.
    #[derive(Default)]
    struct Fake {
        values: Mutex<HashMap<String, String>>,
        reads: AtomicU64,
    }

    impl Fake {
        fn set(&self, id: &str, v: &str) {
            let mut values = self.values.lock().expect("lock");
            values.insert(id.into(), v.into());
        }
    }

    impl SecretFetch for Fake {
        fn fetch<'a>(
            &'a self,
            secret: &'a SecretRef,
        ) -> Pin<Box<dyn Future<Output = Result<Secret, SecretError>> + Send + 'a>> {
            Box::pin(async move {
                self.reads.fetch_add(1, Ordering::SeqCst);
                let id = match secret {
                    SecretRef::SecretsManager { id, .. } => id,
                    SecretRef::Parameter { name, .. } => name,
                };
                let v = self.values.lock().expect("lock").get(id).cloned();
                v.map(Secret::new).ok_or_else(|| SecretError::Fetch {
                    variable: secret.variable(),
                    id: id.clone(),
                    message: "not found".into(),
                })
            })
        }
    }

    /// Environment variables of one case.
    type Env<'a> = &'a [(&'a str, &'a str)];

    fn settings(pairs: Env) -> AuthSettings {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuthSettings::from_lookup(|k| m.get(k).cloned()).expect("valid settings")
    }

    async fn build(pairs: Env<'_>, fake: &Arc<Fake>) -> Result<WfmAuth, AuthError> {
        build_at(pairs, fake, Arc::new(SystemClock)).await
    }

    /// [`build`] with the clock the test drives.
    async fn build_at(
        pairs: Env<'_>,
        fake: &Arc<Fake>,
        clock: Arc<dyn crate::auth::Clock>,
    ) -> Result<WfmAuth, AuthError> {
        let http = reqwest::Client::new();
        let fetcher: Arc<dyn SecretFetch> = Arc::clone(fake) as _;
        WfmAuth::from_settings(&settings(pairs), Some(fetcher), http, clock).await
    }

    const BUDGET: Duration = Duration::from_secs(5);

    /// The header value `auth` sends now.
    async fn sent(auth: &WfmAuth) -> String {
        let a = auth.authorization(BUDGET).await.expect("credentials");
        let (_, v) = a.header().expect("a header");
        v.to_str().expect("ascii").to_owned()
    }

    #[tokio::test]
    async fn api_key_and_basic_secrets_are_read_again_by_age() {
        let ttl = Duration::from_secs(300);
        let cases: [(Env, &str, [&str; 2]); 2] = [
            (
                &[
                    ("WFM_AUTH_MODE", "api_key"),
                    ("WFM_API_KEY_HEADER", "X-Api-Key"),
                    ("WFM_API_KEY_ARN", "arn:s"),
                ],
                // What the secret holds, then the header value sent.
                "k-old",
                ["k-old", "k-new"],
            ),
            (
                &[("WFM_AUTH_MODE", "basic"), ("WFM_BASIC_USER_ARN", "arn:s")],
                "old",
                // base64("old:"), base64("k-new:").
                ["Basic b2xkOg==", "Basic ay1uZXc6"],
            ),
        ];
        for (env, first, [before, after]) in cases {
            let fake = Arc::new(Fake::default());
            fake.set("arn:s", first);
            let clock = Arc::new(ManualClock::new(Instant::now()));
            let auth = build_at(env, &fake, Arc::clone(&clock) as _)
                .await
                .expect("provider")
                .with_secrets_ttl(ttl);
            let reads = || fake.reads.load(Ordering::SeqCst);
            assert_eq!(
                (sent(&auth).await, reads()),
                (before.to_owned(), 1),
                "{env:?}"
            );
            fake.set("arn:s", "k-new");
            clock.advance(ttl - Duration::from_secs(1));
            assert_eq!(
                (sent(&auth).await, reads()),
                (before.to_owned(), 1),
                "young: no read"
            );
            clock.advance(Duration::from_secs(1));
            assert_eq!(
                (sent(&auth).await, reads()),
                (after.to_owned(), 2),
                "{env:?}"
            );
            assert_eq!(sent(&auth).await, after, "read once per TTL");
            assert_eq!(reads(), 2);
            // A failed read keeps the current value and is tried again after 30 s.
            fake.values.lock().expect("lock").clear();
            clock.advance(ttl);
            assert_eq!((sent(&auth).await, reads()), (after.to_owned(), 3), "kept");
            clock.advance(Duration::from_secs(29));
            assert_eq!(reads_after(&auth, &fake).await, 3, "not before 30 s");
            clock.advance(Duration::from_secs(1));
            assert_eq!(reads_after(&auth, &fake).await, 4, "tried again");
        }
    }

    /// The fetcher's reads after one more POST's credentials.
    async fn reads_after(auth: &WfmAuth, fake: &Fake) -> u64 {
        auth.authorization(BUDGET).await.expect("credentials");
        fake.reads.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn without_a_ttl_static_secrets_are_read_only_after_a_401() {
        let fake = Arc::new(Fake::default());
        fake.set("arn:key", "k-1");
        let env: Env = &[
            ("WFM_AUTH_MODE", "api_key"),
            ("WFM_API_KEY_HEADER", "X-Api-Key"),
            ("WFM_API_KEY_ARN", "arn:key"),
        ];
        let clock = Arc::new(ManualClock::new(Instant::now()));
        let auth = build_at(env, &fake, Arc::clone(&clock) as _)
            .await
            .expect("provider");
        fake.set("arn:key", "k-2");
        clock.advance(Duration::from_secs(86_400));
        assert_eq!(sent(&auth).await, "k-1");
        assert_eq!(fake.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn each_static_mode_sends_its_header() {
        let fake = Arc::new(Fake::default());
        fake.set("arn:key", "k-123");
        let table: [(Env, Option<(&str, &str)>); 6] = [
            (&[], None),
            (
                &[("WFM_AUTH_TOKEN", "t0k")],
                Some(("authorization", "Bearer t0k")),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "api_key"),
                    ("WFM_API_KEY_HEADER", "X-Api-Key"),
                    ("WFM_API_KEY_ARN", "arn:key"),
                ],
                Some(("x-api-key", "k-123")),
            ),
            // Assembled: the API key as the user, an empty password; base64("key:").
            (
                &[("WFM_AUTH_MODE", "basic"), ("WFM_BASIC_USER", "key")],
                Some(("authorization", "Basic a2V5Og==")),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "basic"),
                    ("WFM_BASIC_USER", "u"),
                    ("WFM_BASIC_PASSWORD", "p"),
                ],
                Some(("authorization", "Basic dTpw")),
            ),
            (&[("WFM_AUTH_MODE", "none")], None),
        ];
        for (env, want) in table {
            let auth = build(env, &fake).await.expect("provider");
            let a = auth.authorization(BUDGET).await.expect("credentials");
            let got = a
                .header()
                .map(|(k, v)| (k.as_str(), v.to_str().expect("ascii")));
            assert_eq!(got, want, "{env:?}");
            if let Some((_, v)) = a.header() {
                assert!(v.is_sensitive());
                let shown = format!("{a:?} {auth:?}");
                assert!(!shown.contains(v.to_str().expect("ascii")), "{shown}");
            }
        }
    }

    #[tokio::test]
    async fn a_401_rereads_aws_secrets_and_resends_only_when_they_changed() {
        let fake = Arc::new(Fake::default());
        fake.set("arn:tok", "old");
        let auth = build(&[("WFM_AUTH_TOKEN_ARN", "arn:tok")], &fake)
            .await
            .expect("provider");
        let used = auth.authorization(BUDGET).await.expect("credentials");
        assert!(!auth.renew_after_401(&used, BUDGET).await.expect("read"));
        fake.set("arn:tok", "new");
        assert!(auth.renew_after_401(&used, BUDGET).await.expect("read"));
        // A second POST that used the old value: already renewed, no read.
        let reads = fake.reads.load(Ordering::SeqCst);
        assert!(auth.renew_after_401(&used, BUDGET).await.expect("renewed"));
        assert_eq!(fake.reads.load(Ordering::SeqCst), reads);
        let now = auth.authorization(BUDGET).await.expect("credentials");
        assert_eq!(
            now.header().map(|(_, v)| v.as_bytes()),
            Some(&b"Bearer new"[..])
        );
        assert_eq!(now.generation(), 2);
        // Plain values never change: the 401 stands.
        let plain = build(&[("WFM_AUTH_TOKEN", "t")], &fake)
            .await
            .expect("provider");
        let used = plain.authorization(BUDGET).await.expect("credentials");
        assert!(
            !plain
                .renew_after_401(&used, BUDGET)
                .await
                .expect("nothing to read")
        );
        assert!(
            !WfmAuth::none()
                .renew_after_401(&used, BUDGET)
                .await
                .expect("none")
        );
    }

    #[tokio::test]
    async fn start_up_fails_naming_the_variable() {
        let fake = Arc::new(Fake::default());
        let e = build(&[("WFM_AUTH_TOKEN_PARAM", "/missing")], &fake)
            .await
            .expect_err("missing");
        assert!(e.to_string().contains("WFM_AUTH_TOKEN_PARAM"), "{e}");
        let e = build(&[("WFM_AUTH_TOKEN", "bad\nvalue")], &fake)
            .await
            .expect_err("newline");
        assert_eq!(e.kind(), AuthErrorKind::Configuration);
        assert_eq!(e.variable(), Some("WFM_AUTH_TOKEN"));
        let no_fetcher = WfmAuth::from_settings(
            &settings(&[("WFM_AUTH_TOKEN_ARN", "arn:tok")]),
            None,
            reqwest::Client::new(),
            Arc::new(SystemClock),
        )
        .await
        .expect_err("no AWS client");
        assert_eq!(no_fetcher.variable(), Some("WFM_AUTH_TOKEN_ARN"));
    }
}
