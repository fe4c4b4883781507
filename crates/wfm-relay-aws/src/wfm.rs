//! The WFM HTTP client: one POST attempt per call, answers returned as data.
//!
//! What the request carries (PRODUCT.md §3): `Content-Type: application/json`,
//! `User-Agent: wfm-relay/<version>`, `Idempotency-Key`, `X-Event-Id`, `X-Event-Time`,
//! `X-Genesys-Topic`, `X-Attempt`, `X-Replay: true` for replays, `X-Snapshot: true` for snapshot events, and the optional bearer token.
//! With signing keys configured, also the Standard Webhooks headers `webhook-id` (= the
//! idempotency key), `webhook-timestamp` (the send time of this request, Unix seconds) and
//! `webhook-signature` (one `v1,` signature per key over the exact body bytes sent;
//! [`wfm_relay_core::signing`]).
//! Redirects are never followed (a 3xx is returned as such, and the policy rejects it).
//!
//! Credentials come from a [`SecretStore`] (plain variables, or Secrets Manager / SSM with a TTL).
//! When WFM answers 401 and the store, read again, holds different credentials, the same attempt
//! is retried once at once with them (same `X-Attempt`); otherwise the 401 is returned as it is.

use crate::secrets::{Credentials, SecretError, SecretStore};
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wfm_relay_core::attempt::{AttemptResult, Delivery, TransportKind};
use wfm_relay_core::config::{ForwarderConfig, Secret};
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
    /// Endpoint URL.
    pub url: String,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Idle pooled connections are closed after this (`WFM_POOL_IDLE_MS`).
    pub pool_idle: Duration,
    /// Optional bearer token (`WFM_AUTH_TOKEN`).
    pub auth_token: Option<Secret>,
    /// Optional Standard Webhooks signing keys (`WFM_SIGNING_SECRETS`).
    pub signing_keys: Option<SigningKeys>,
}

impl From<&ForwarderConfig> for WfmSettings {
    fn from(c: &ForwarderConfig) -> Self {
        WfmSettings {
            url: c.wfm_url.clone(),
            connect_timeout: c.connect_timeout,
            pool_idle: c.pool_idle,
            auth_token: c.auth_token.clone(),
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
    /// A secret could not be read from AWS, or is invalid.
    #[error(transparent)]
    Secrets(#[from] SecretError),
}

/// HTTP client for the WFM endpoint. Build once per process; cheap to share by reference.
#[derive(Debug, Clone)]
pub struct WfmClient {
    url: reqwest::Url,
    pooled: reqwest::Client,
    fresh: reqwest::Client,
    secrets: Arc<SecretStore>,
}

impl WfmClient {
    /// Builds the client with the fixed credentials of `s` (plain variables; secrets kept in
    /// AWS come through [`crate::relay::RelayParts`], which uses [`WfmClient::with_secrets`]).
    ///
    /// # Errors
    /// [`WfmClientError`] when the URL is invalid, the token cannot be a header value, or the
    /// TLS back-end cannot start.
    pub fn new(s: &WfmSettings) -> Result<Self, WfmClientError> {
        let credentials =
            Credentials::new(s.auth_token.clone(), s.signing_keys.clone()).map_err(|message| {
                WfmClientError::Invalid {
                    variable: "WFM_AUTH_TOKEN",
                    message,
                }
            })?;
        Self::with_secrets(s, Arc::new(SecretStore::fixed(credentials)))
    }

    /// Builds the client: rustls, HTTP/1.1, no redirects, the configured connect timeout and
    /// pool idle timeout. A second client without a pool serves the at-once retry of a request
    /// that failed on a stale pooled connection. Credentials come from `secrets` (the
    /// `auth_token` and `signing_keys` of `s` are not used).
    ///
    /// # Errors
    /// [`WfmClientError`] when the URL is invalid or the TLS back-end cannot start.
    pub fn with_secrets(
        s: &WfmSettings,
        secrets: Arc<SecretStore>,
    ) -> Result<Self, WfmClientError> {
        let url = reqwest::Url::parse(&s.url).map_err(|e| WfmClientError::Invalid {
            variable: "WFM_URL",
            message: format!("`{}` is not a valid URL: {e}", redacted_url(&s.url)),
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("wfm-relay/", env!("CARGO_PKG_VERSION"))),
        );
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(s.connect_timeout)
                .default_headers(headers.clone())
                .http1_only()
        };
        let pooled = base().pool_idle_timeout(s.pool_idle).build()?;
        let fresh = base().pool_max_idle_per_host(0).build()?;
        Ok(WfmClient {
            url,
            pooled,
            fresh,
            secrets,
        })
    }

    /// Makes one delivery attempt with a total timeout of `timeout`.
    ///
    /// A failure before any response byte that is neither a connect error nor a timeout (a
    /// pooled keep-alive connection the server closed while this Lambda was frozen: "connection
    /// closed before message completed", reset, broken pipe) is retried once at once on a fresh
    /// connection, as the same attempt (PRODUCT.md §3, case C07).
    ///
    /// A 401 is retried once at once, as the same attempt and within the same `timeout`, when
    /// the credentials read again from AWS differ from those sent (a rotated token); the second
    /// answer is returned. With fixed credentials, or unchanged ones, the 401 is returned.
    pub async fn post(&self, d: &Delivery, timeout: Duration) -> AttemptResult {
        let started = Instant::now();
        let credentials = self.secrets.current().await;
        let r = self.post_with(&credentials, d, timeout, started).await;
        if !matches!(r, AttemptResult::Answered { status: 401, .. }) {
            return r;
        }
        let Some(fresh) = self.secrets.after_unauthorized(&credentials, started).await else {
            return r;
        };
        tracing::info!(
            event_id = %d.event_id,
            "WFM answered 401 and the credentials changed in AWS; retrying at once with them"
        );
        let left = timeout.saturating_sub(started.elapsed());
        self.post_with(&fresh, d, left, started).await
    }

    async fn post_with(
        &self,
        credentials: &Credentials,
        d: &Delivery,
        timeout: Duration,
        started: Instant,
    ) -> AttemptResult {
        match self.once(&self.pooled, credentials, d, timeout).await {
            Err(e) if !e.is_connect() && !e.is_timeout() && e.status().is_none() => {
                tracing::info!(
                    event_id = %d.event_id,
                    error = %error_chain(&e),
                    "request failed before a response, retrying at once on a fresh connection"
                );
                let left = timeout.saturating_sub(started.elapsed());
                let r = self.once(&self.fresh, credentials, d, left).await;
                finish(r, started).await
            }
            r => finish(r, started).await,
        }
    }

    async fn once(
        &self,
        client: &reqwest::Client,
        credentials: &Credentials,
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
