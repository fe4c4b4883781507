//! The seams of the Genesys client: one GET with a bearer token, the clock and sleeping
//! ([`Transport`]), and the token endpoint ([`GenesysTokenEndpoint`], a
//! [`crate::auth::TokenEndpoint`] behind the shared [`crate::auth::TokenCache`]).

use crate::auth::{AuthError, IssuedToken, TokenEndpoint, TokenFuture};
use reqwest::header::HeaderValue;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use wfm_relay_core::config::Secret;

/// Largest Genesys answer read: 16 MiB (a users page of 500 with presence and routing status is
/// well below 1 MiB).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Longest wait for one API call: 30 s.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The raw `Retry-After` header, when present.
    pub retry_after: Option<String>,
    /// The body (JSON for every Genesys answer).
    pub body: Vec<u8>,
}

/// A boxed future of the seams.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the client needs from the outside world; [`HttpTransport`] in production, a scripted
/// fake with a virtual clock in unit tests.
pub trait Transport: Send + Sync {
    /// `GET url` with `Authorization: <authorization>`.
    ///
    /// # Errors
    /// A one-line description when no complete answer came (connect, timeout, reset).
    fn get<'a>(
        &'a self,
        url: &'a str,
        authorization: &'a HeaderValue,
    ) -> BoxFuture<'a, Result<Answer, String>>;

    /// Now, on a monotonic clock.
    fn now(&self) -> Instant;

    /// Waits `d`.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
}

/// The real transport: a reqwest client (rustls, no redirects) and tokio's timer.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    http: reqwest::Client,
}

impl HttpTransport {
    /// Over `http` (build it with [`crate::auth::token_http_client`]).
    pub fn new(http: reqwest::Client) -> Self {
        HttpTransport { http }
    }

    async fn fetch(&self, url: &str, authorization: &HeaderValue) -> Result<Answer, String> {
        let resp = self
            .http
            .get(url)
            .header(reqwest::header::AUTHORIZATION, authorization.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(describe)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(format!("answer larger than {MAX_BODY_BYTES} bytes"));
        }
        let body = resp.bytes().await.map_err(describe)?;
        Ok(Answer {
            status,
            retry_after,
            body: body.to_vec(),
        })
    }
}

fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // Without the URL: it may carry user ids, never secrets, but keep log lines short.
    format!("{kind}: {}", e.without_url())
}

impl Transport for HttpTransport {
    fn get<'a>(
        &'a self,
        url: &'a str,
        authorization: &'a HeaderValue,
    ) -> BoxFuture<'a, Result<Answer, String>> {
        Box::pin(self.fetch(url, authorization))
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The Genesys Cloud token endpoint: `POST <login>/oauth/token`, form
/// `grant_type=client_credentials`, HTTP Basic `client_id:client_secret` (FACTS.md §7.4;
/// developer.genesys.cloud, "Client credentials grant"). `Debug` hides the secret.
pub struct GenesysTokenEndpoint {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Secret,
}

impl std::fmt::Debug for GenesysTokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenesysTokenEndpoint")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl GenesysTokenEndpoint {
    /// The endpoint at `token_url` for this client.
    pub fn new(
        http: reqwest::Client,
        token_url: String,
        client_id: String,
        client_secret: Secret,
    ) -> Self {
        GenesysTokenEndpoint {
            http,
            token_url,
            client_id,
            client_secret,
        }
    }

    async fn exchange(&self, timeout: Duration) -> Result<IssuedToken, AuthError> {
        let resp = self
            .http
            .post(&self.token_url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("grant_type=client_credentials")
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| AuthError::Unavailable {
                message: format!("Genesys token endpoint: {}", describe(e)),
            })?;
        let status = resp.status().as_u16();
        if status >= 500 || status == 408 || status == 429 {
            return Err(AuthError::Unavailable {
                message: format!("Genesys token endpoint answered HTTP {status}"),
            });
        }
        if !(200..300).contains(&status) {
            return Err(AuthError::Configuration {
                variable: "GENESYS_CLIENT_SECRET",
                message: format!(
                    "the Genesys token endpoint refused client `{}` (HTTP {status}); check GENESYS_CLIENT_ID / GENESYS_CLIENT_SECRET and that the client's grant is Client Credentials",
                    self.client_id
                ),
            });
        }
        let bytes = resp.bytes().await.map_err(|e| AuthError::Unavailable {
            message: format!("Genesys token endpoint: {}", describe(e)),
        })?;
        let t: TokenAnswer =
            serde_json::from_slice(&bytes).map_err(|e| AuthError::Configuration {
                variable: "GENESYS_LOGIN_URL",
                message: format!("the answer is not a token response ({e})"),
            })?;
        Ok(IssuedToken {
            access_token: Secret::new(t.access_token),
            expires_in: t.expires_in.map(Duration::from_secs),
        })
    }
}

impl TokenEndpoint for GenesysTokenEndpoint {
    fn request(&self, timeout: Duration) -> TokenFuture<'_> {
        Box::pin(self.exchange(timeout))
    }
}
