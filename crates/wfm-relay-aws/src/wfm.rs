//! The WFM HTTP client: one POST attempt per call, answers returned as data.
//!
//! What the request carries (PRODUCT.md §3): `Content-Type: application/json`,
//! `User-Agent: wfm-relay/<version>`, `Idempotency-Key`, `X-Event-Id`, `X-Event-Time`,
//! `X-Genesys-Topic`, `X-Attempt`, `X-Replay: true` for replays, `X-Snapshot: true` for
//! snapshot events, and the credentials of
//! `WFM_AUTH_MODE` (`Authorization: Bearer` for `bearer` and `oauth2`, the API-key header for
//! `api_key`, `Authorization: Basic` for `basic`, nothing for `none`; [`crate::auth`]).
//! With signing keys configured, also the Standard Webhooks headers `webhook-id` (= the
//! idempotency key), `webhook-timestamp` (the send time of this request, Unix seconds) and
//! `webhook-signature` (one `v1,` signature per key over the exact body bytes sent;
//! [`wfm_relay_core::signing`]).
//! Redirects are never followed (a 3xx is returned as such, and the policy rejects it).
//!
//! The bearer token and the signing keys come from a [`SecretStore`] (plain variables, or
//! Secrets Manager / SSM with a TTL); the credentials of `oauth2`, `api_key` and `basic` from a
//! [`WfmAuth`]. When no credentials can be had (the token endpoint is down, slow, answers
//! 5xx / 429, or refuses our client), no request is sent: the attempt is a transient
//! [`TransportKind::Credentials`] / [`TransportKind::CredentialsRefused`] (the latter logged as a
//! configuration error naming the variable). When WFM answers 401, the credentials are renewed
//! once (a new OAuth token, or the secrets read again from AWS) and, when that gave different
//! ones, the same attempt is sent once more at once (same `X-Attempt`, within the same
//! timeout); the second answer stands (a second 401 is `rejected`).

use crate::auth::{
    AuthError, AuthErrorKind, Authorization, SystemClock, WfmAuth, token_http_client,
};
use crate::secrets::{Credentials, SecretError, SecretStore};
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wfm_relay_core::attempt::{AttemptResult, Delivery, TransportKind};
use wfm_relay_core::auth::{AuthSettings, SecretSource};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::excerpt::excerpt;
use wfm_relay_core::redact::redacted_url;
use wfm_relay_core::signing::SigningKeys;

/// Largest response excerpt kept for a dead letter: 1 KiB ([`wfm_relay_core::excerpt`]).
pub use wfm_relay_core::excerpt::EXCERPT_MAX_BYTES;
/// How much of a response body is read to detect truncation before the rest is dropped (64 KiB).
const BODY_READ_MAX_BYTES: usize = 64 * 1024;

/// Settings of the HTTP client.
#[derive(Debug, Clone)]
pub struct WfmSettings {
    /// Endpoint URL (`WFM_URL`), shown redacted by `Debug`.
    pub url: wfm_relay_core::redact::SensitiveUrl,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Idle pooled connections are closed after this (`WFM_POOL_IDLE_MS`).
    pub pool_idle: Duration,
    /// The destination auth settings (`WFM_AUTH_MODE` and its mode's variables).
    pub auth: AuthSettings,
    /// Optional Standard Webhooks signing keys (`WFM_SIGNING_SECRETS`).
    pub signing_keys: Option<SigningKeys>,
}

impl From<&ForwarderConfig> for WfmSettings {
    fn from(c: &ForwarderConfig) -> Self {
        WfmSettings {
            url: c.wfm_url.clone(),
            connect_timeout: c.connect_timeout,
            pool_idle: c.pool_idle,
            auth: c.auth.clone(),
            signing_keys: c.signing_keys.clone(),
        }
    }
}

/// Error building the client (invalid URL, TLS back-end failure).
#[derive(Debug, thiserror::Error)]
pub enum WfmClientError {
    /// The URL does not parse.
    #[error("{variable}: {message}")]
    Invalid {
        /// The configuration variable at fault.
        variable: &'static str,
        /// What is wrong (never the secret itself).
        message: String,
    },
    /// reqwest could not build a client.
    #[error("cannot build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
    /// The process's TLS roots could not be loaded, or a client on them not built
    /// ([`crate::tls`]).
    #[error(transparent)]
    Http(#[from] crate::tls::HttpClientError),
    /// A secret could not be read from AWS, or is invalid.
    #[error(transparent)]
    Secrets(#[from] SecretError),
    /// The destination auth could not be set up (a secret unreadable or unusable).
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// HTTP client for the WFM endpoint. Build once per process; cheap to share by reference.
/// `Debug` shows the URL redacted ([`redacted_url`]) and no credentials.
#[derive(Clone)]
pub struct WfmClient {
    url: reqwest::Url,
    pooled: reqwest::Client,
    fresh: reqwest::Client,
    secrets: Arc<SecretStore>,
    auth: Arc<WfmAuth>,
}

impl std::fmt::Debug for WfmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WfmClient")
            .field("url", &redacted_url(self.url.as_str()))
            .finish_non_exhaustive()
    }
}

impl WfmClient {
    /// Builds the client with the fixed credentials of `s` (plain variables; secrets kept in
    /// AWS come through [`crate::relay::RelayParts`], which uses [`WfmClient::with_secrets`]).
    ///
    /// # Errors
    /// [`WfmClientError`] when the URL is invalid, a secret is kept in AWS or cannot be a
    /// header value, or the TLS back-end cannot start.
    pub fn new(s: &WfmSettings) -> Result<Self, WfmClientError> {
        let (token, auth) = match &s.auth {
            AuthSettings::Bearer(SecretSource::Plain { value, .. }) => {
                (Some(value.clone()), WfmAuth::none())
            }
            AuthSettings::None => (None, WfmAuth::none()),
            other => {
                let http = token_http_client(s.connect_timeout)?;
                let auth = WfmAuth::from_plain_settings(other, http, Arc::new(SystemClock))?;
                (None, auth)
            }
        };
        let credentials = Credentials::new(token, s.signing_keys.clone()).map_err(|message| {
            WfmClientError::Invalid {
                variable: "WFM_AUTH_TOKEN",
                message,
            }
        })?;
        Self::with_secrets(s, Arc::new(SecretStore::fixed(credentials)), Arc::new(auth))
    }

    /// Builds the client: the process's rustls configuration ([`crate::tls`]), HTTP/1.1, no redirects, the configured connect timeout and
    /// pool idle timeout. A second client without a pool serves the at-once retry of a request
    /// that failed on a stale pooled connection. Credentials come from `secrets` (the bearer
    /// token and the signing keys) and `auth` (modes `oauth2`, `api_key`, `basic`; pass
    /// [`WfmAuth::none`] in modes `none` and `bearer`); the `auth` and `signing_keys` of `s` are
    /// not used.
    ///
    /// # Errors
    /// [`WfmClientError`] when the URL is invalid or the TLS back-end cannot start.
    pub fn with_secrets(
        s: &WfmSettings,
        secrets: Arc<SecretStore>,
        auth: Arc<WfmAuth>,
    ) -> Result<Self, WfmClientError> {
        let url = reqwest::Url::parse(s.url.expose()).map_err(|e| WfmClientError::Invalid {
            variable: "WFM_URL",
            message: format!("`{}` is not a valid URL: {e}", redacted_url(s.url.expose())),
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("wfm-relay/", env!("CARGO_PKG_VERSION"))),
        );
        let base = || {
            crate::tls::reqwest_builder().map(|b| {
                b.redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(s.connect_timeout)
                    .default_headers(headers.clone())
                    .http1_only()
            })
        };
        let tls = |e| WfmClientError::from(crate::tls::HttpClientError::from(e));
        let pooled = base()
            .map_err(tls)?
            .pool_idle_timeout(s.pool_idle)
            .build()?;
        let fresh = base().map_err(tls)?.pool_max_idle_per_host(0).build()?;
        Ok(WfmClient {
            url,
            pooled,
            fresh,
            secrets,
            auth,
        })
    }

    /// The destination auth provider (its token counters, for tests and benchmarks).
    pub fn auth(&self) -> &WfmAuth {
        &self.auth
    }

    /// Makes one delivery attempt with a total timeout of `timeout`.
    ///
    /// A failure before any response byte that is neither a connect error nor a timeout (a
    /// pooled keep-alive connection the server closed while this Lambda was frozen: "connection
    /// closed before message completed", reset, broken pipe) is retried once at once on a fresh
    /// connection, as the same attempt (PRODUCT.md §3, case C07).
    ///
    /// The credentials are asked for first (a token request, when one is due, takes its time
    /// out of `timeout`); without them no request is sent and the attempt is transient.
    ///
    /// A 401 renews the credentials once (a new OAuth token; the secrets read again from AWS)
    /// and, when they changed, the same attempt is sent once more at once, within the same
    /// `timeout`; the second answer is returned. Otherwise the 401 is returned.
    pub async fn post(&self, d: &Delivery, timeout: Duration) -> AttemptResult {
        let started = Instant::now();
        let deadline = started + timeout;
        let credentials = self.secrets.current().await;
        let auth = match self.auth.authorization(left(deadline)).await {
            Ok(a) => a,
            Err(e) => return no_credentials(d, &e, started),
        };
        let r = self
            .post_with(&credentials, &auth, d, deadline, started)
            .await;
        if !matches!(r, AttemptResult::Answered { status: 401, .. }) {
            return r;
        }
        let renewed = match self.auth.renew_after_401(&auth, left(deadline)).await {
            Ok(renewed) => renewed,
            Err(e) => return no_credentials(d, &e, started),
        };
        let fresh = self.secrets.after_unauthorized(&credentials, started).await;
        if !renewed && fresh.is_none() {
            return r;
        }
        let auth = if renewed {
            match self.auth.authorization(left(deadline)).await {
                Ok(a) => a,
                Err(e) => return no_credentials(d, &e, started),
            }
        } else {
            auth
        };
        tracing::info!(
            event_id = %d.event_id,
            mode = self.auth.mode().as_str(),
            "WFM answered 401 and the credentials were renewed; sending the same attempt again"
        );
        let credentials = fresh.unwrap_or(credentials);
        self.post_with(&credentials, &auth, d, deadline, started)
            .await
    }

    async fn post_with(
        &self,
        credentials: &Credentials,
        auth: &Authorization,
        d: &Delivery,
        deadline: Instant,
        started: Instant,
    ) -> AttemptResult {
        let r = self
            .once(&self.pooled, credentials, auth, d, left(deadline))
            .await;
        match r {
            Err(e) if !e.is_connect() && !e.is_timeout() && e.status().is_none() => {
                tracing::info!(
                    event_id = %d.event_id,
                    error = %error_chain(&e),
                    "request failed before a response, retrying at once on a fresh connection"
                );
                let r = self
                    .once(&self.fresh, credentials, auth, d, left(deadline))
                    .await;
                finish(r, started).await
            }
            r => finish(r, started).await,
        }
    }

    async fn once(
        &self,
        client: &reqwest::Client,
        credentials: &Credentials,
        auth: &Authorization,
        d: &Delivery,
        timeout: Duration,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = client
            .post(target_url(&self.url, d.path.as_deref()))
            .timeout(timeout)
            .header("Idempotency-Key", &d.key)
            .header("X-Event-Id", &d.event_id)
            .header("X-Genesys-Topic", &d.detail_type)
            .header("X-Attempt", d.attempt.to_string())
            .body(d.body.clone());
        if let Some(t) = &d.event_time {
            req = req.header("X-Event-Time", t);
        }
        if let Some(t) = &d.published_time {
            req = req.header("X-Genesys-Timestamp", t);
        }
        if d.replay {
            req = req.header("X-Replay", "true");
        }
        if d.snapshot {
            req = req.header("X-Snapshot", "true");
        }
        // A WFM output profile's extra headers (never one set above: the profile refuses those).
        for (name, value) in &d.headers {
            req = req.header(name, value);
        }
        if let Some(a) = credentials.authorization() {
            req = req.header(AUTHORIZATION, a.clone());
        }
        if let Some((name, value)) = auth.header() {
            req = req.header(name.clone(), value.clone());
        }
        if let Some(keys) = credentials.signing_keys() {
            // A clock before 1970 cannot happen on Lambda; 0 would simply fail verification.
            let ts = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            req = req
                .header("webhook-id", &d.key)
                .header("webhook-timestamp", ts.to_string())
                .header(
                    "webhook-signature",
                    keys.signature_header(&d.key, ts, &d.body),
                );
        }
        req.send().await
    }
}

/// `WFM_URL` with a WFM output profile's `path` appended to its path (the query and fragment
/// stay; [`wfm_relay_profile::join_url`] is the same rule on text), or `WFM_URL` itself.
fn target_url(base: &reqwest::Url, path: Option<&str>) -> reqwest::Url {
    let mut url = base.clone();
    if let Some(p) = path {
        let joined = format!("{}{p}", base.path().trim_end_matches('/'));
        url.set_path(&joined);
    }
    url
}

/// The time left until `deadline`.
fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// The attempt that could not be sent for want of credentials: transient; a configuration
/// error is logged naming the variable (the forwarder counts `AuthConfigError`).
fn no_credentials(d: &Delivery, e: &AuthError, started: Instant) -> AttemptResult {
    let kind = match e.kind() {
        AuthErrorKind::Transient => {
            tracing::warn!(event_id = %d.event_id, error = %e, "no WFM credentials; the attempt is not sent");
            TransportKind::Credentials
        }
        AuthErrorKind::Configuration => {
            tracing::error!(
                event_id = %d.event_id,
                variable = e.variable().unwrap_or_default(),
                error = %e,
                outcome = "auth_config_error",
                "destination auth configuration error; the event waits in the retry queue until the variable is fixed"
            );
            TransportKind::CredentialsRefused
        }
    };
    AttemptResult::Transport {
        kind,
        message: format!("not sent: {e}"),
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

async fn finish(r: Result<reqwest::Response, reqwest::Error>, started: Instant) -> AttemptResult {
    let ms = |s: Instant| u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut resp = match r {
        Ok(resp) => resp,
        Err(e) => {
            let kind = if e.is_timeout() {
                TransportKind::Timeout
            } else if e.is_connect() {
                TransportKind::Connect
            } else {
                TransportKind::Other
            };
            return AttemptResult::Transport {
                kind,
                message: error_chain(&e),
                latency_ms: ms(started),
            };
        }
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() >= BODY_READ_MAX_BYTES {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let kind = if e.is_timeout() {
                    TransportKind::Timeout
                } else {
                    TransportKind::Other
                };
                return AttemptResult::Transport {
                    kind,
                    message: format!("HTTP {status}, truncated response: {}", error_chain(&e)),
                    latency_ms: ms(started),
                };
            }
        }
    }
    AttemptResult::Answered {
        status,
        retry_after,
        excerpt: excerpt(&body),
        latency_ms: ms(started),
    }
}

/// The error and its sources on one line (`a: b: c`), the URL shown with its query redacted
/// ([`redacted_url`]; case C27).
fn error_chain(e: &reqwest::Error) -> String {
    crate::telemetry::error_chain(e.without_url_ref(), std::error::Error::source(e))
}

trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut s = self.to_string();
        if let Some(url) = self.url() {
            s = s.replace(url.as_str(), &redacted_url(url.as_str()));
        }
        s
    }
}
