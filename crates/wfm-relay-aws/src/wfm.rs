//! The WFM HTTP client: one POST attempt per call, answers returned as data.
//!
//! What the request carries (PRODUCT.md §3): `Content-Type: application/json`,
//! `User-Agent: wfm-relay/<version>`, `Idempotency-Key`, `X-Event-Id`, `X-Event-Time`,
//! `X-Genesys-Topic`, `X-Attempt`, `X-Replay: true` for replays, and the optional bearer token.
//! Redirects are never followed (a 3xx is returned as such, and the policy rejects it).

use bytes::Bytes;
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use std::time::{Duration, Instant};
use wfm_relay_core::config::{ForwarderConfig, Secret};

/// Largest response excerpt kept for a dead letter: 1 KiB.
pub const EXCERPT_MAX_BYTES: usize = 1024;
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
    /// Optional bearer token.
    pub auth_token: Option<Secret>,
}

impl From<&ForwarderConfig> for WfmSettings {
    fn from(c: &ForwarderConfig) -> Self {
        WfmSettings {
            url: c.wfm_url.clone(),
            connect_timeout: c.connect_timeout,
            pool_idle: c.pool_idle,
            auth_token: c.auth_token.clone(),
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
}

/// One delivery attempt's request metadata.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The exact bytes to POST.
    pub body: Bytes,
    /// `Idempotency-Key`.
    pub key: String,
    /// `X-Event-Id` (EventBridge `id`).
    pub event_id: String,
    /// `X-Event-Time` (RFC 3339 state time), when known.
    pub event_time: Option<String>,
    /// `X-Genesys-Topic` (`detail-type`).
    pub detail_type: String,
    /// `X-Attempt`, 1-based over the whole life of the event.
    pub attempt: u32,
    /// Adds `X-Replay: true`.
    pub replay: bool,
}

/// How a transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Could not connect (refused, DNS, TLS handshake).
    Connect,
    /// The attempt's timeout elapsed.
    Timeout,
    /// Connection reset or closed, truncated response, anything else.
    Other,
}

/// What one attempt produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// WFM answered with a complete response.
    Answered {
        /// HTTP status code.
        status: u16,
        /// The raw `Retry-After` header, if present.
        retry_after: Option<String>,
        /// Up to 1 KiB of the body, lossily decoded as UTF-8.
        excerpt: String,
        /// Time from sending to the end of the response, ms.
        latency_ms: u64,
    },
    /// No complete response.
    Transport {
        /// The failure's kind.
        kind: TransportKind,
        /// A one-line description (never contains the token).
        message: String,
        /// Time spent, ms.
        latency_ms: u64,
    },
}

/// HTTP client for the WFM endpoint. Build once per process; cheap to share by reference.
#[derive(Debug, Clone)]
pub struct WfmClient {
    url: reqwest::Url,
    pooled: reqwest::Client,
    fresh: reqwest::Client,
    auth: Option<HeaderValue>,
}

impl WfmClient {
    /// Builds the client: rustls, HTTP/1.1, no redirects, the configured connect timeout and
    /// pool idle timeout. A second client without a pool serves the at-once retry of a request
    /// that failed on a stale pooled connection.
    ///
    /// # Errors
    /// [`WfmClientError`] when the URL is invalid or the TLS back-end cannot start.
    pub fn new(s: &WfmSettings) -> Result<Self, WfmClientError> {
        let url = reqwest::Url::parse(&s.url).map_err(|e| WfmClientError::Invalid {
            variable: "WFM_URL",
            message: format!("`{}` is not a valid URL: {e}", s.url),
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
        let auth = match &s.auth_token {
            Some(t) => {
                let mut v =
                    HeaderValue::from_str(&format!("Bearer {}", t.expose())).map_err(|_| {
                        WfmClientError::Invalid {
                            variable: "WFM_AUTH_TOKEN",
                            message: "contains characters not allowed in an HTTP header".into(),
                        }
                    })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(WfmClient {
            url,
            pooled,
            fresh,
            auth,
        })
    }

    /// Makes one delivery attempt with a total timeout of `timeout`.
    ///
    /// A failure before any response byte that is neither a connect error nor a timeout (a
    /// pooled keep-alive connection the server closed while this Lambda was frozen: "connection
    /// closed before message completed", reset, broken pipe) is retried once at once on a fresh
    /// connection, as the same attempt (PRODUCT.md §3, case C07).
    pub async fn post(&self, d: &Delivery, timeout: Duration) -> AttemptResult {
        let started = Instant::now();
        match self.once(&self.pooled, d, timeout).await {
            Err(e) if !e.is_connect() && !e.is_timeout() && e.status().is_none() => {
                tracing::info!(
                    event_id = %d.event_id,
                    error = %error_chain(&e),
                    "request failed before a response, retrying at once on a fresh connection"
                );
                let left = timeout.saturating_sub(started.elapsed());
                let r = self.once(&self.fresh, d, left).await;
                finish(r, started).await
            }
            r => finish(r, started).await,
        }
    }

    async fn once(
        &self,
        client: &reqwest::Client,
        d: &Delivery,
        timeout: Duration,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = client
            .post(self.url.clone())
            .timeout(timeout)
            .header("Idempotency-Key", &d.key)
            .header("X-Event-Id", &d.event_id)
            .header("X-Genesys-Topic", &d.detail_type)
            .header("X-Attempt", d.attempt.to_string())
            .body(d.body.clone());
        if let Some(t) = &d.event_time {
            req = req.header("X-Event-Time", t);
        }
        if d.replay {
            req = req.header("X-Replay", "true");
        }
        if let Some(a) = &self.auth {
            req = req.header(AUTHORIZATION, a.clone());
        }
        req.send().await
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
    body.truncate(EXCERPT_MAX_BYTES);
    AttemptResult::Answered {
        status,
        retry_after,
        excerpt: String::from_utf8_lossy(&body).into_owned(),
        latency_ms: ms(started),
    }
}

/// The error and its sources on one line (`a: b: c`), without the URL's query string.
fn error_chain(e: &reqwest::Error) -> String {
    let mut s = e.without_url_ref().to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut s = self.to_string();
        if let Some(url) = self.url() {
            s = s.replace(url.as_str(), "WFM_URL");
        }
        s
    }
}
