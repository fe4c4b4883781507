//! The real token endpoint: an OAuth 2.0 client credentials request (RFC 6749 §4.4) built by
//! the `oauth2` crate and sent by our reqwest client.
//!
//! `oauth2` is used without default features (which would pull reqwest 0.12 and a second TLS
//! stack); its async HTTP client is a closure over our reqwest 0.13 client, so the workspace
//! keeps one reqwest and one rustls configuration. The closure answers 5xx, 408 and 429 itself
//! (as [`AuthError::Unavailable`]) and hands every other response to `oauth2`, which parses the
//! token response (§5.1) or the error response (§5.2).
//!
//! Classification: transport failures, timeouts, 5xx, 408 and 429 are
//! [`AuthError::Unavailable`]; an error response (`invalid_client`, `unauthorized_client`,
//! `invalid_grant`, `invalid_scope`, …) or an answer that is no OAuth response is an
//! [`AuthError::Configuration`] naming the variable to fix. Response bodies never go into an
//! error (a body may hold a token).

use super::AuthError;
use super::token_cache::{IssuedToken, TokenEndpoint, TokenFuture};
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use std::fmt;
use std::sync::RwLock;
use std::time::Duration;
use wfm_relay_core::auth::{ClientAuth, OAuthSettings};
use wfm_relay_core::config::Secret;

/// Largest token endpoint response read: 64 KiB.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The longest error description quoted from a token endpoint (it is the server's text, not ours).
const MAX_DESCRIPTION_CHARS: usize = 200;

/// A reqwest client for token endpoints: the process's rustls configuration
/// ([`crate::tls::reqwest_builder`]), no redirects (a redirect would carry the client
/// credentials elsewhere), `connect_timeout`.
///
/// # Errors
/// When the process's TLS roots cannot be loaded or the TLS back-end cannot start.
pub fn token_http_client(
    connect_timeout: Duration,
) -> Result<reqwest::Client, crate::tls::HttpClientError> {
    Ok(crate::tls::reqwest_builder()?
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .user_agent(concat!("wfm-relay/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// The token endpoint of the `oauth2` mode. `Debug` shows the URL and client id, never the
/// secret.
pub struct OAuth2Endpoint {
    http: reqwest::Client,
    token_url: TokenUrl,
    client_id: String,
    client_secret: RwLock<Secret>,
    /// The variable the secret came from (named by configuration errors).
    secret_variable: &'static str,
    scope: Option<String>,
    audience: Option<String>,
    client_auth: ClientAuth,
}

impl fmt::Debug for OAuth2Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Endpoint")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("secret_variable", &self.secret_variable)
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl OAuth2Endpoint {
    /// The endpoint of `settings`, with the client secret already read (from its source,
    /// `settings.client_secret`), sending through `http` (see [`token_http_client`]).
    ///
    /// # Errors
    /// [`AuthError::Configuration`] naming `WFM_OAUTH_TOKEN_URL` when the URL does not parse.
    pub fn new(
        settings: &OAuthSettings,
        client_secret: Secret,
        http: reqwest::Client,
    ) -> Result<Self, AuthError> {
        let token_url = TokenUrl::new(settings.token_url.clone()).map_err(|e| {
            AuthError::configuration("WFM_OAUTH_TOKEN_URL", format!("not a valid URL: {e}"))
        })?;
        Ok(OAuth2Endpoint {
            http,
            token_url,
            client_id: settings.client_id.clone(),
            client_secret: RwLock::new(client_secret),
            secret_variable: settings.client_secret.variable(),
            scope: settings.scope.clone(),
            audience: settings.audience.clone(),
            client_auth: settings.client_auth,
        })
    }

    /// Replaces the client secret (after it was read again from AWS); true when it changed.
    pub fn set_client_secret(&self, secret: Secret) -> bool {
        let mut s = self
            .client_secret
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let changed = *s != secret;
        *s = secret;
        changed
    }

    async fn exchange(&self, timeout: Duration) -> Result<IssuedToken, AuthError> {
        let secret = self
            .client_secret
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .expose()
            .to_owned();
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(secret))
            .set_token_uri(self.token_url.clone())
            .set_auth_type(match self.client_auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::Body => AuthType::RequestBody,
            });
        let mut request = client.exchange_client_credentials();
        for s in self.scope.iter().flat_map(|s| s.split_whitespace()) {
            request = request.add_scope(Scope::new(s.to_owned()));
        }
        if let Some(a) = &self.audience {
            request = request.add_extra_param("audience", a.clone());
        }
        let http = ReqwestHttp {
            http: self.http.clone(),
            timeout,
        };
        let response = request
            .request_async(&http)
            .await
            .map_err(|e| self.classify(e))?;
        let bearer = match response.token_type() {
            BasicTokenType::Bearer => true,
            BasicTokenType::Extension(t) => t.eq_ignore_ascii_case("bearer"),
            BasicTokenType::Mac => false,
        };
        if !bearer {
            return Err(AuthError::configuration(
                "WFM_OAUTH_TOKEN_URL",
                format!(
                    "the token endpoint issued a `{}` token; only Bearer tokens are supported",
                    response.token_type().as_ref()
                ),
            ));
        }
        Ok(IssuedToken {
            access_token: Secret::new(response.access_token().secret().clone()),
            expires_in: response.expires_in(),
        })
    }

    fn classify(
        &self,
        e: RequestTokenError<HttpFailure, oauth2::basic::BasicErrorResponse>,
    ) -> AuthError {
        match e {
            RequestTokenError::Request(f) => AuthError::unavailable(f.to_string()),
            RequestTokenError::ServerResponse(r) => {
                let code = r.error().as_ref().to_owned();
                let variable = match r.error() {
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::InvalidGrant => self.secret_variable,
                    BasicErrorResponseType::UnauthorizedClient => "WFM_OAUTH_CLIENT_ID",
                    BasicErrorResponseType::InvalidScope => "WFM_OAUTH_SCOPE",
                    BasicErrorResponseType::Extension(x) if x == "invalid_target" => {
                        "WFM_OAUTH_AUDIENCE"
                    }
                    _ => "WFM_OAUTH_TOKEN_URL",
                };
                let description = r
                    .error_description()
                    .map(|d| {
                        let d: String = d.chars().take(MAX_DESCRIPTION_CHARS).collect();
                        format!(" ({d})")
                    })
                    .unwrap_or_default();
                AuthError::configuration(
                    variable,
                    format!(
                        "the token endpoint refused the request for client `{}`: {code}{description}",
                        self.client_id
                    ),
                )
            }
            RequestTokenError::Parse(e, _body) => AuthError::configuration(
                "WFM_OAUTH_TOKEN_URL",
                format!(
                    "the answer is not an OAuth 2.0 token response ({})",
                    e.path()
                ),
            ),
            RequestTokenError::Other(m) => AuthError::configuration(
                "WFM_OAUTH_TOKEN_URL",
                format!("the answer is not an OAuth 2.0 token response: {m}"),
            ),
        }
    }
}

impl TokenEndpoint for OAuth2Endpoint {
    fn request(&self, timeout: Duration) -> TokenFuture<'_> {
        Box::pin(self.exchange(timeout))
    }
}

/// A token request that got no usable HTTP answer.
#[derive(Debug, thiserror::Error)]
enum HttpFailure {
    #[error("cannot connect to the token endpoint: {0}")]
    Connect(String),
    #[error("the token endpoint did not answer within {0} ms")]
    Timeout(u128),
    #[error("the token endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the token request failed: {0}")]
    Other(String),
}

/// `oauth2`'s async HTTP client over our reqwest client (a named type rather than a closure, so
/// the future is `Send` for every lifetime).
struct ReqwestHttp {
    http: reqwest::Client,
    timeout: Duration,
}

impl<'c> oauth2::AsyncHttpClient<'c> for ReqwestHttp {
    type Error = HttpFailure;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpFailure>> + Send + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(&self.http, request, self.timeout))
    }
}

/// Sends `r` with `http` within `timeout`; 5xx, 408 and 429 are
/// failures here, every other answer goes back to `oauth2`.
async fn send(
    http: &reqwest::Client,
    r: oauth2::HttpRequest,
    timeout: Duration,
) -> Result<oauth2::HttpResponse, HttpFailure> {
    let mut request = reqwest::Request::try_from(r).map_err(|e| HttpFailure::Other(chain(&e)))?;
    *request.timeout_mut() = Some(timeout);
    let transport = |e: reqwest::Error| {
        if e.is_timeout() {
            HttpFailure::Timeout(timeout.as_millis())
        } else if e.is_connect() {
            HttpFailure::Connect(chain(&e))
        } else {
            HttpFailure::Other(chain(&e))
        }
    };
    let mut response = http.execute(request).await.map_err(transport)?;
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        return Err(HttpFailure::Status(status.as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(HttpFailure::Other(format!(
                "the response is larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
    }
    let mut out = oauth2::http::Response::builder().status(status);
    for (k, v) in response.headers() {
        out = out.header(k, v);
    }
    out.body(body)
        .map_err(|e| HttpFailure::Other(e.to_string()))
}

/// The error and its sources on one line, without URLs (a URL could carry a query string).
fn chain(e: &reqwest::Error) -> String {
    let mut s = e.without_url_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

trait WithoutUrl {
    fn without_url_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_string(&self) -> String {
        let mut s = self.to_string();
        if let Some(url) = self.url() {
            s = s.replace(url.as_str(), "WFM_OAUTH_TOKEN_URL");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthErrorKind;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wfm_relay_core::auth::SecretSource;
    use wfm_relay_core::config::SecretRef;

    /// A loopback server answering every request with `status`, `content_type` and `body`
    /// (after `delay`), recording the raw requests.
    async fn canned(
        status: u16,
        content_type: &'static str,
        body: &'static str,
        delay: Duration,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/token", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let complete = text.split_once("\r\n\r\n").is_some_and(|(head, rest)| {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        rest.len() >= len
                    });
                    if n == 0 || complete {
                        break;
                    }
                }
                record
                    .lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&buf).into_owned());
                tokio::time::sleep(delay).await;
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
            }
        });
        (url, seen)
    }

    fn settings(url: &str, client_auth: ClientAuth) -> OAuthSettings {
        OAuthSettings {
            token_url: url.to_owned(),
            client_id: "relay".into(),
            client_secret: SecretSource::Aws(SecretRef::SecretsManager {
                variable: "WFM_OAUTH_CLIENT_SECRET_ARN",
                id: "arn:secret".into(),
            }),
            scope: Some("status:write agents:read".into()),
            audience: Some("https://wfm.example.com".into()),
            client_auth,
        }
    }

    fn endpoint(url: &str, client_auth: ClientAuth) -> OAuth2Endpoint {
        let http = token_http_client(Duration::from_secs(2)).expect("client");
        OAuth2Endpoint::new(&settings(url, client_auth), Secret::new("s3cr3t"), http)
            .expect("endpoint")
    }

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_token_response_is_read_and_the_request_is_a_client_credentials_grant() {
        let ok = r#"{"access_token":"at-1","token_type":"Bearer","expires_in":600}"#;
        for (auth, in_header) in [(ClientAuth::Basic, true), (ClientAuth::Body, false)] {
            let (url, seen) = canned(200, "application/json", ok, Duration::ZERO).await;
            let issued = endpoint(&url, auth).request(TIMEOUT).await.expect("token");
            assert_eq!(issued.access_token.expose(), "at-1");
            assert_eq!(issued.expires_in, Some(Duration::from_secs(600)));
            let req = seen.lock().expect("lock")[0].clone();
            assert!(req.starts_with("POST /token "), "{req}");
            assert!(req.contains("grant_type=client_credentials"), "{req}");
            assert!(req.contains("scope=status%3Awrite+agents%3Aread"), "{req}");
            assert!(
                req.contains("audience=https%3A%2F%2Fwfm.example.com"),
                "{req}"
            );
            // base64("relay:s3cr3t")
            assert_eq!(
                req.contains("authorization: Basic cmVsYXk6czNjcjN0"),
                in_header,
                "{req}"
            );
            assert_eq!(req.contains("client_secret=s3cr3t"), !in_header, "{req}");
        }
    }

    #[tokio::test]
    async fn answers_are_classified() {
        let json = "application/json";
        let table: [(u16, &str, &str, AuthErrorKind, Option<&str>); 11] = [
            (
                500,
                json,
                r#"{"error":"server_error"}"#,
                AuthErrorKind::Transient,
                None,
            ),
            (
                503,
                "text/html",
                "<h1>down</h1>",
                AuthErrorKind::Transient,
                None,
            ),
            (429, json, "{}", AuthErrorKind::Transient, None),
            (408, json, "", AuthErrorKind::Transient, None),
            (
                401,
                json,
                r#"{"error":"invalid_client"}"#,
                AuthErrorKind::Configuration,
                Some("WFM_OAUTH_CLIENT_SECRET_ARN"),
            ),
            (
                400,
                json,
                r#"{"error":"invalid_grant"}"#,
                AuthErrorKind::Configuration,
                Some("WFM_OAUTH_CLIENT_SECRET_ARN"),
            ),
            (
                400,
                json,
                r#"{"error":"unauthorized_client"}"#,
                AuthErrorKind::Configuration,
                Some("WFM_OAUTH_CLIENT_ID"),
            ),
            (
                400,
                json,
                r#"{"error":"invalid_scope"}"#,
                AuthErrorKind::Configuration,
                Some("WFM_OAUTH_SCOPE"),
            ),
            (
                404,
                "text/html",
                "<h1>not found</h1>",
                AuthErrorKind::Configuration,
                Some("WFM_OAUTH_TOKEN_URL"),
            ),
            (
                200,
                "text/html",
                "<html>login</html>",
                AuthErrorKind::Configuration,
                Some("WFM_OAUTH_TOKEN_URL"),
            ),
            (
                200,
                json,
                r#"{"access_token":"at","token_type":"mac"}"#,
                AuthErrorKind::Configuration,
                Some("WFM_OAUTH_TOKEN_URL"),
            ),
        ];
        for (status, ct, body, kind, variable) in table {
            let (url, _) = canned(status, ct, body, Duration::ZERO).await;
            let e = endpoint(&url, ClientAuth::Basic)
                .request(TIMEOUT)
                .await
                .expect_err("must fail");
            assert_eq!(
                (e.kind(), e.variable()),
                (kind, variable),
                "{status} {body}: {e}"
            );
            assert!(!e.to_string().contains("s3cr3t"), "{e}");
        }
    }

    #[tokio::test]
    async fn down_and_slow_endpoints_are_transient() {
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let down = format!("http://127.0.0.1:{port}/token");
        let e = endpoint(&down, ClientAuth::Basic)
            .request(TIMEOUT)
            .await
            .expect_err("down");
        assert_eq!(e.kind(), AuthErrorKind::Transient, "{e}");
        assert!(e.to_string().contains("cannot connect"), "{e}");
        let ok = r#"{"access_token":"at","token_type":"Bearer"}"#;
        let (slow, _) = canned(200, "application/json", ok, Duration::from_secs(30)).await;
        let e = endpoint(&slow, ClientAuth::Basic)
            .request(Duration::from_millis(200))
            .await
            .expect_err("slow");
        assert_eq!(e.kind(), AuthErrorKind::Transient, "{e}");
        assert!(e.to_string().contains("within 200 ms"), "{e}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let e = endpoint("https://login.example.com/token", ClientAuth::Basic);
        let shown = format!("{e:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("login.example.com"), "{shown}");
    }
}
