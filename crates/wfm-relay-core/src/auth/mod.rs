//! Destination authentication settings (PRODUCT.md §3 and §10): which credentials every POST to
//! WFM carries, read once at start-up from environment-like lookups, and the OAuth token refresh
//! rule. Pure: values from AWS are named here by [`SecretRef`] and read by the adapters.
//!
//! Modes (`WFM_AUTH_MODE`):
//! - `none`: no credentials (the default when no `WFM_AUTH_TOKEN*` variable is set);
//! - `bearer`: `Authorization: Bearer <token>` from `WFM_AUTH_TOKEN` (local runs),
//!   `WFM_AUTH_TOKEN_ARN` (alias `WFM_AUTH_TOKEN_SECRET_ARN`, Secrets Manager) or
//!   `WFM_AUTH_TOKEN_PARAM` (SSM); the default when one of them is set;
//! - `oauth2`: OAuth 2.0 client credentials grant (RFC 6749 §4.4), `Authorization: Bearer
//!   <access token>`; the client secret from `WFM_OAUTH_CLIENT_SECRET_ARN` /
//!   `WFM_OAUTH_CLIENT_SECRET_PARAM` (plain `WFM_OAUTH_CLIENT_SECRET` only for local runs);
//! - `api_key`: `<WFM_API_KEY_HEADER>: <key>`;
//! - `basic`: `Authorization: Basic base64(user:password)` (RFC 7617; Assembled: the API key is
//!   the user and the password is empty).
//!
//! Every misconfiguration is a [`ConfigError`] naming the variable: an unknown mode, a missing
//! secret, a secret given two sources, a token URL that is not https outside loopback, or a
//! variable of a mode other than the chosen (or default) one (the message names both).

mod checks;

use crate::config::{ConfigError, Secret, SecretRef};
use checks::check_header_name;
pub use checks::check_token_url;
use std::time::Duration;

/// The value of `WFM_AUTH_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `none`: no credentials.
    None,
    /// `bearer`: a static bearer token.
    Bearer,
    /// `oauth2`: OAuth 2.0 client credentials.
    OAuth2,
    /// `api_key`: an API key in a header.
    ApiKey,
    /// `basic`: HTTP Basic.
    Basic,
}

impl AuthMode {
    /// Every mode, in the order of the documentation.
    pub const ALL: [AuthMode; 5] = [
        AuthMode::None,
        AuthMode::Bearer,
        AuthMode::OAuth2,
        AuthMode::ApiKey,
        AuthMode::Basic,
    ];

    /// The setting's spelling (`none`, `bearer`, `oauth2`, `api_key`, `basic`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Bearer => "bearer",
            AuthMode::OAuth2 => "oauth2",
            AuthMode::ApiKey => "api_key",
            AuthMode::Basic => "basic",
        }
    }

    /// The variables that belong to this mode (setting one of them in another mode fails
    /// start-up).
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            AuthMode::None => &[],
            AuthMode::Bearer => &[
                "WFM_AUTH_TOKEN",
                "WFM_AUTH_TOKEN_ARN",
                "WFM_AUTH_TOKEN_SECRET_ARN",
                "WFM_AUTH_TOKEN_PARAM",
            ],
            AuthMode::OAuth2 => &[
                "WFM_OAUTH_TOKEN_URL",
                "WFM_OAUTH_CLIENT_ID",
                "WFM_OAUTH_CLIENT_SECRET",
                "WFM_OAUTH_CLIENT_SECRET_ARN",
                "WFM_OAUTH_CLIENT_SECRET_PARAM",
                "WFM_OAUTH_SCOPE",
                "WFM_OAUTH_AUDIENCE",
                "WFM_OAUTH_CLIENT_AUTH",
            ],
            AuthMode::ApiKey => &[
                "WFM_API_KEY_HEADER",
                "WFM_API_KEY",
                "WFM_API_KEY_ARN",
                "WFM_API_KEY_PARAM",
            ],
            AuthMode::Basic => &[
                "WFM_BASIC_USER",
                "WFM_BASIC_USER_ARN",
                "WFM_BASIC_USER_PARAM",
                "WFM_BASIC_PASSWORD",
                "WFM_BASIC_PASSWORD_ARN",
                "WFM_BASIC_PASSWORD_PARAM",
            ],
        }
    }
}

impl std::str::FromStr for AuthMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AuthMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not one of none, bearer, oauth2, api_key, basic"))
    }
}

/// Where one secret value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A plain environment variable (local runs only: the value sits in the function's
    /// configuration in clear).
    Plain {
        /// The variable that held it.
        variable: &'static str,
        /// The value (`Debug` redacted).
        value: Secret,
    },
    /// Secrets Manager or SSM Parameter Store, read by the adapters at start-up and again on a
    /// 401.
    Aws(SecretRef),
}

impl SecretSource {
    /// The variable that names or holds the secret (for error messages).
    pub fn variable(&self) -> &'static str {
        match self {
            SecretSource::Plain { variable, .. } => variable,
            SecretSource::Aws(r) => r.variable(),
        }
    }
}

/// How the client authenticates to the token endpoint (`WFM_OAUTH_CLIENT_AUTH`, RFC 6749
/// §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `basic` (default): `Authorization: Basic` with the form-encoded id and secret
    /// (`client_secret_basic`).
    Basic,
    /// `body`: `client_id` and `client_secret` in the form body (`client_secret_post`).
    Body,
}

/// The `oauth2` mode's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// `WFM_OAUTH_TOKEN_URL` (required): https, or http on a loopback host.
    pub token_url: String,
    /// `WFM_OAUTH_CLIENT_ID` (required; not secret).
    pub client_id: String,
    /// `WFM_OAUTH_CLIENT_SECRET_ARN` / `_PARAM` / plain `WFM_OAUTH_CLIENT_SECRET` (required).
    pub client_secret: SecretSource,
    /// `WFM_OAUTH_SCOPE` (optional): space-separated scopes, sent as `scope`.
    pub scope: Option<String>,
    /// `WFM_OAUTH_AUDIENCE` (optional): sent as the form parameter `audience` (Auth0, Okta,
    /// Genesys-style token endpoints).
    pub audience: Option<String>,
    /// `WFM_OAUTH_CLIENT_AUTH` (default `basic`).
    pub client_auth: ClientAuth,
}

/// The `api_key` mode's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySettings {
    /// `WFM_API_KEY_HEADER` (required): a valid header name (RFC 9110 token), not one of the
    /// headers the relay sets itself.
    pub header: String,
    /// `WFM_API_KEY_ARN` / `_PARAM` / plain `WFM_API_KEY` (required).
    pub key: SecretSource,
}

/// The `basic` mode's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicSettings {
    /// `WFM_BASIC_USER_ARN` / `_PARAM` / plain `WFM_BASIC_USER` (required).
    pub user: SecretSource,
    /// `WFM_BASIC_PASSWORD_ARN` / `_PARAM` / plain `WFM_BASIC_PASSWORD`; `None` = empty.
    pub password: Option<SecretSource>,
}

/// The credentials every POST to WFM carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSettings {
    /// `none`.
    None,
    /// `bearer`, with the token's source.
    Bearer(SecretSource),
    /// `oauth2`.
    OAuth2(OAuthSettings),
    /// `api_key`.
    ApiKey(ApiKeySettings),
    /// `basic`.
    Basic(BasicSettings),
}

impl AuthSettings {
    /// The mode of these settings.
    pub fn mode(&self) -> AuthMode {
        match self {
            AuthSettings::None => AuthMode::None,
            AuthSettings::Bearer(_) => AuthMode::Bearer,
            AuthSettings::OAuth2(_) => AuthMode::OAuth2,
            AuthSettings::ApiKey(_) => AuthMode::ApiKey,
            AuthSettings::Basic(_) => AuthMode::Basic,
        }
    }

    /// Every secret kept in AWS (the adapters read them at start-up, and again on a 401).
    pub fn aws_secrets(&self) -> Vec<&SecretRef> {
        let sources: Vec<&SecretSource> = match self {
            AuthSettings::None => vec![],
            AuthSettings::Bearer(s) => vec![s],
            AuthSettings::OAuth2(o) => vec![&o.client_secret],
            AuthSettings::ApiKey(a) => vec![&a.key],
            AuthSettings::Basic(b) => std::iter::once(&b.user).chain(&b.password).collect(),
        };
        sources
            .into_iter()
            .filter_map(|s| match s {
                SecretSource::Aws(r) => Some(r),
                SecretSource::Plain { .. } => None,
            })
            .collect()
    }

    /// Reads the settings through `get` (normally `std::env::var(..).ok()`); blank values
    /// count as unset, except `WFM_BASIC_PASSWORD`, which may be empty.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable at fault.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let err = |variable: &'static str, message: String| ConfigError { variable, message };
        let token_set = AuthMode::Bearer
            .variables()
            .iter()
            .any(|v| var(v).is_some());
        let (mode, chosen) = match var("WFM_AUTH_MODE") {
            Some(m) => (m.parse().map_err(|m| err("WFM_AUTH_MODE", m))?, true),
            None if token_set => (AuthMode::Bearer, false),
            None => (AuthMode::None, false),
        };
        for other in AuthMode::ALL.into_iter().filter(|m| *m != mode) {
            if let Some(v) = other.variables().iter().find(|v| var(v).is_some()) {
                let how = if chosen { "" } else { " (the default)" };
                return Err(err(
                    v,
                    format!(
                        "is a setting of WFM_AUTH_MODE={}, but WFM_AUTH_MODE is {}{how}; \
                         remove it or set WFM_AUTH_MODE={}",
                        other.as_str(),
                        mode.as_str(),
                        other.as_str()
                    ),
                ));
            }
        }
        // A secret from one of its sources: plain, Secrets Manager (`arn`, with an optional
        // alias name), SSM (`param`).
        let secret = |plain: &'static str,
                      arns: &[&'static str],
                      param: &'static str|
         -> Result<Option<SecretSource>, ConfigError> {
            let mut found: Vec<(&'static str, SecretSource)> = Vec::new();
            if let Some(value) = var(plain) {
                let value = Secret::new(value);
                found.push((
                    plain,
                    SecretSource::Plain {
                        variable: plain,
                        value,
                    },
                ));
            }
            for &a in arns {
                if let Some(id) = var(a) {
                    let r = SecretRef::SecretsManager { variable: a, id };
                    found.push((a, SecretSource::Aws(r)));
                }
            }
            if let Some(name) = var(param) {
                let r = SecretRef::Parameter {
                    variable: param,
                    name,
                };
                found.push((param, SecretSource::Aws(r)));
            }
            match found.len() {
                0 => Ok(None),
                1 => Ok(found.pop().map(|(_, s)| s)),
                _ => Err(err(
                    found[1].0,
                    format!(
                        "is set together with {}; give the secret one source only",
                        found[0].0
                    ),
                )),
            }
        };
        let required = |s: Option<SecretSource>, name: &'static str, sources: &str| {
            s.ok_or_else(|| err(name, format!("is required in this mode ({sources})")))
        };
        Ok(match mode {
            AuthMode::None => AuthSettings::None,
            AuthMode::Bearer => {
                let s = secret(
                    "WFM_AUTH_TOKEN",
                    &["WFM_AUTH_TOKEN_ARN", "WFM_AUTH_TOKEN_SECRET_ARN"],
                    "WFM_AUTH_TOKEN_PARAM",
                )?;
                let sources = "or WFM_AUTH_TOKEN_PARAM, or WFM_AUTH_TOKEN for local runs";
                AuthSettings::Bearer(required(s, "WFM_AUTH_TOKEN_ARN", sources)?)
            }
            AuthMode::OAuth2 => {
                let token_url = var("WFM_OAUTH_TOKEN_URL").ok_or_else(|| {
                    err("WFM_OAUTH_TOKEN_URL", "is required in oauth2 mode".into())
                })?;
                check_token_url(&token_url).map_err(|m| err("WFM_OAUTH_TOKEN_URL", m))?;
                let client_id = var("WFM_OAUTH_CLIENT_ID").ok_or_else(|| {
                    err("WFM_OAUTH_CLIENT_ID", "is required in oauth2 mode".into())
                })?;
                let s = secret(
                    "WFM_OAUTH_CLIENT_SECRET",
                    &["WFM_OAUTH_CLIENT_SECRET_ARN"],
                    "WFM_OAUTH_CLIENT_SECRET_PARAM",
                )?;
                let sources =
                    "or WFM_OAUTH_CLIENT_SECRET_PARAM, or WFM_OAUTH_CLIENT_SECRET for local runs";
                let client_secret = required(s, "WFM_OAUTH_CLIENT_SECRET_ARN", sources)?;
                let client_auth = match var("WFM_OAUTH_CLIENT_AUTH").as_deref() {
                    None | Some("basic") => ClientAuth::Basic,
                    Some("body") => ClientAuth::Body,
                    Some(v) => {
                        let m = format!("`{v}` is not one of basic, body");
                        return Err(err("WFM_OAUTH_CLIENT_AUTH", m));
                    }
                };
                AuthSettings::OAuth2(OAuthSettings {
                    token_url,
                    client_id,
                    client_secret,
                    scope: var("WFM_OAUTH_SCOPE"),
                    audience: var("WFM_OAUTH_AUDIENCE"),
                    client_auth,
                })
            }
            AuthMode::ApiKey => {
                let header = var("WFM_API_KEY_HEADER").ok_or_else(|| {
                    err("WFM_API_KEY_HEADER", "is required in api_key mode".into())
                })?;
                check_header_name(&header).map_err(|m| err("WFM_API_KEY_HEADER", m))?;
                let s = secret("WFM_API_KEY", &["WFM_API_KEY_ARN"], "WFM_API_KEY_PARAM")?;
                let sources = "or WFM_API_KEY_PARAM, or WFM_API_KEY for local runs";
                AuthSettings::ApiKey(ApiKeySettings {
                    header,
                    key: required(s, "WFM_API_KEY_ARN", sources)?,
                })
            }
            AuthMode::Basic => {
                let s = secret(
                    "WFM_BASIC_USER",
                    &["WFM_BASIC_USER_ARN"],
                    "WFM_BASIC_USER_PARAM",
                )?;
                let sources = "or WFM_BASIC_USER_PARAM, or WFM_BASIC_USER for local runs";
                let user = required(s, "WFM_BASIC_USER_ARN", sources)?;
                let password = secret(
                    "WFM_BASIC_PASSWORD",
                    &["WFM_BASIC_PASSWORD_ARN"],
                    "WFM_BASIC_PASSWORD_PARAM",
                )?;
                AuthSettings::Basic(BasicSettings { user, password })
            }
        })
    }
}

/// How long before an OAuth access token expires it is refreshed: min(60 s, half its
/// lifetime). EventBridge API destination connections refresh within 60 s of expiry (FACTS.md
/// §7.2); half the lifetime keeps short-lived tokens (e.g. 5 s in tests) usable.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 2).min(Duration::from_secs(60))
}

/// True when a token of `lifetime`, obtained `age` ago, must be refreshed before use: no more
/// than [`refresh_margin`] is left (an expired token always). Counting the boundary as due makes
/// the schedule exact: a 600 s token is replaced at 540 s, 1080 s, …
pub fn refresh_due(lifetime: Duration, age: Duration) -> bool {
    lifetime.saturating_sub(age) <= refresh_margin(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Environment variables of one case.
    type Env<'a> = &'a [(&'a str, &'a str)];

    fn parse(pairs: Env) -> Result<AuthSettings, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuthSettings::from_lookup(|k| m.get(k).cloned())
    }

    fn plain(variable: &'static str, v: &str) -> SecretSource {
        SecretSource::Plain {
            variable,
            value: Secret::new(v),
        }
    }

    fn sm(variable: &'static str, id: &str) -> SecretSource {
        SecretSource::Aws(SecretRef::SecretsManager {
            variable,
            id: id.into(),
        })
    }

    fn ssm(variable: &'static str, name: &str) -> SecretSource {
        SecretSource::Aws(SecretRef::Parameter {
            variable,
            name: name.into(),
        })
    }

    const URL: (&str, &str) = (
        "WFM_OAUTH_TOKEN_URL",
        "https://login.example.com/oauth/token",
    );
    const ID: (&str, &str) = ("WFM_OAUTH_CLIENT_ID", "relay");

    #[test]
    fn valid_settings() {
        let oauth = |secret, scope: Option<&str>, audience: Option<&str>, client_auth| {
            AuthSettings::OAuth2(OAuthSettings {
                token_url: URL.1.into(),
                client_id: "relay".into(),
                client_secret: secret,
                scope: scope.map(Into::into),
                audience: audience.map(Into::into),
                client_auth,
            })
        };
        let table: Vec<(Env, AuthSettings)> = vec![
            (&[], AuthSettings::None),
            (&[("WFM_AUTH_MODE", "none")], AuthSettings::None),
            (
                &[("WFM_AUTH_TOKEN", " t0k ")],
                AuthSettings::Bearer(plain("WFM_AUTH_TOKEN", "t0k")),
            ),
            (
                &[("WFM_AUTH_TOKEN_ARN", "arn:tok")],
                AuthSettings::Bearer(sm("WFM_AUTH_TOKEN_ARN", "arn:tok")),
            ),
            (
                &[("WFM_AUTH_TOKEN_SECRET_ARN", "old-name")],
                AuthSettings::Bearer(sm("WFM_AUTH_TOKEN_SECRET_ARN", "old-name")),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "bearer"),
                    ("WFM_AUTH_TOKEN_PARAM", "/wfm/token"),
                ],
                AuthSettings::Bearer(ssm("WFM_AUTH_TOKEN_PARAM", "/wfm/token")),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "oauth2"),
                    URL,
                    ID,
                    ("WFM_OAUTH_CLIENT_SECRET_ARN", "arn:s"),
                ],
                oauth(
                    sm("WFM_OAUTH_CLIENT_SECRET_ARN", "arn:s"),
                    None,
                    None,
                    ClientAuth::Basic,
                ),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "oauth2"),
                    URL,
                    ID,
                    ("WFM_OAUTH_CLIENT_SECRET_PARAM", "/wfm/secret"),
                    ("WFM_OAUTH_SCOPE", "status:write agents:read"),
                    ("WFM_OAUTH_AUDIENCE", "https://wfm.example.com"),
                    ("WFM_OAUTH_CLIENT_AUTH", "body"),
                ],
                oauth(
                    ssm("WFM_OAUTH_CLIENT_SECRET_PARAM", "/wfm/secret"),
                    Some("status:write agents:read"),
                    Some("https://wfm.example.com"),
                    ClientAuth::Body,
                ),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "oauth2"),
                    ("WFM_OAUTH_TOKEN_URL", "http://127.0.0.1:4444/token"),
                    ID,
                    ("WFM_OAUTH_CLIENT_SECRET", "local"),
                    ("WFM_OAUTH_CLIENT_AUTH", "basic"),
                ],
                AuthSettings::OAuth2(OAuthSettings {
                    token_url: "http://127.0.0.1:4444/token".into(),
                    client_id: "relay".into(),
                    client_secret: plain("WFM_OAUTH_CLIENT_SECRET", "local"),
                    scope: None,
                    audience: None,
                    client_auth: ClientAuth::Basic,
                }),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "api_key"),
                    ("WFM_API_KEY_HEADER", "X-Api-Key"),
                    ("WFM_API_KEY_ARN", "arn:key"),
                ],
                AuthSettings::ApiKey(ApiKeySettings {
                    header: "X-Api-Key".into(),
                    key: sm("WFM_API_KEY_ARN", "arn:key"),
                }),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "basic"),
                    ("WFM_BASIC_USER_PARAM", "/assembled/key"),
                ],
                AuthSettings::Basic(BasicSettings {
                    user: ssm("WFM_BASIC_USER_PARAM", "/assembled/key"),
                    password: None,
                }),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "basic"),
                    ("WFM_BASIC_USER", "u"),
                    ("WFM_BASIC_PASSWORD", ""),
                ],
                AuthSettings::Basic(BasicSettings {
                    user: plain("WFM_BASIC_USER", "u"),
                    password: None,
                }),
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "basic"),
                    ("WFM_BASIC_USER", "u"),
                    ("WFM_BASIC_PASSWORD_ARN", "arn:pw"),
                ],
                AuthSettings::Basic(BasicSettings {
                    user: plain("WFM_BASIC_USER", "u"),
                    password: Some(sm("WFM_BASIC_PASSWORD_ARN", "arn:pw")),
                }),
            ),
        ];
        for (env, want) in table {
            let got = parse(env).unwrap_or_else(|e| panic!("{env:?}: {e}"));
            assert_eq!(got, want, "{env:?}");
            assert_eq!(got.mode(), want.mode());
        }
    }

    #[test]
    fn errors_name_the_variable() {
        let table: &[(Env, &str, &str)] = &[
            (
                &[("WFM_AUTH_MODE", "digest")],
                "WFM_AUTH_MODE",
                "`digest` is not one of",
            ),
            (
                &[("WFM_AUTH_MODE", "bearer")],
                "WFM_AUTH_TOKEN_ARN",
                "is required",
            ),
            (
                &[("WFM_AUTH_TOKEN", "a"), ("WFM_AUTH_TOKEN_ARN", "b")],
                "WFM_AUTH_TOKEN_ARN",
                "together with WFM_AUTH_TOKEN;",
            ),
            (
                &[
                    ("WFM_AUTH_TOKEN_ARN", "a"),
                    ("WFM_AUTH_TOKEN_SECRET_ARN", "b"),
                ],
                "WFM_AUTH_TOKEN_SECRET_ARN",
                "together with WFM_AUTH_TOKEN_ARN",
            ),
            (
                &[("WFM_AUTH_MODE", "oauth2"), ID],
                "WFM_OAUTH_TOKEN_URL",
                "required",
            ),
            (
                &[("WFM_AUTH_MODE", "oauth2"), URL],
                "WFM_OAUTH_CLIENT_ID",
                "required",
            ),
            (
                &[("WFM_AUTH_MODE", "oauth2"), URL, ID],
                "WFM_OAUTH_CLIENT_SECRET_ARN",
                "required",
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "oauth2"),
                    ("WFM_OAUTH_TOKEN_URL", "http://login.example.com/token"),
                    ID,
                    ("WFM_OAUTH_CLIENT_SECRET", "s"),
                ],
                "WFM_OAUTH_TOKEN_URL",
                "plain http is refused outside loopback",
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "oauth2"),
                    URL,
                    ID,
                    ("WFM_OAUTH_CLIENT_SECRET", "s"),
                    ("WFM_OAUTH_CLIENT_AUTH", "jwt"),
                ],
                "WFM_OAUTH_CLIENT_AUTH",
                "not one of basic, body",
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "oauth2"),
                    URL,
                    ID,
                    ("WFM_AUTH_TOKEN", "t"),
                ],
                "WFM_AUTH_TOKEN",
                "is a setting of WFM_AUTH_MODE=bearer, but WFM_AUTH_MODE is oauth2;",
            ),
            (
                &[URL],
                "WFM_OAUTH_TOKEN_URL",
                "WFM_AUTH_MODE is none (the default); remove it or set WFM_AUTH_MODE=oauth2",
            ),
            (
                &[("WFM_AUTH_TOKEN", "t"), ("WFM_API_KEY", "k")],
                "WFM_API_KEY",
                "WFM_AUTH_MODE is bearer (the default)",
            ),
            (
                &[("WFM_AUTH_MODE", "none"), ("WFM_BASIC_USER", "u")],
                "WFM_BASIC_USER",
                "WFM_AUTH_MODE=basic, but WFM_AUTH_MODE is none;",
            ),
            (
                &[("WFM_AUTH_MODE", "api_key"), ("WFM_API_KEY", "k")],
                "WFM_API_KEY_HEADER",
                "required",
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "api_key"),
                    ("WFM_API_KEY_HEADER", "X Key"),
                    ("WFM_API_KEY", "k"),
                ],
                "WFM_API_KEY_HEADER",
                "not a valid HTTP header name",
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "api_key"),
                    ("WFM_API_KEY_HEADER", "Idempotency-Key"),
                    ("WFM_API_KEY", "k"),
                ],
                "WFM_API_KEY_HEADER",
                "a header the relay sets itself",
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "api_key"),
                    ("WFM_API_KEY_HEADER", "X-Api-Key"),
                ],
                "WFM_API_KEY_ARN",
                "required",
            ),
            (
                &[("WFM_AUTH_MODE", "basic")],
                "WFM_BASIC_USER_ARN",
                "required",
            ),
            (
                &[
                    ("WFM_AUTH_MODE", "basic"),
                    ("WFM_BASIC_USER", "u"),
                    ("WFM_BASIC_PASSWORD", "p"),
                    ("WFM_BASIC_PASSWORD_PARAM", "/p"),
                ],
                "WFM_BASIC_PASSWORD_PARAM",
                "together with WFM_BASIC_PASSWORD;",
            ),
        ];
        for (env, variable, contains) in table {
            let e = parse(env).expect_err(&format!("{env:?} must fail"));
            assert_eq!(e.variable, *variable, "{env:?}: {e}");
            assert!(e.message.contains(contains), "{env:?}: {e}");
        }
    }

    #[test]
    fn debug_hides_plain_secrets() {
        let s = parse(&[
            ("WFM_AUTH_MODE", "oauth2"),
            URL,
            ID,
            ("WFM_OAUTH_CLIENT_SECRET", "hunter2"),
        ])
        .expect("valid");
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("WFM_OAUTH_CLIENT_SECRET"), "{d}");
    }

    #[test]
    fn aws_secrets_lists_what_the_adapters_read() {
        let s = parse(&[
            ("WFM_AUTH_MODE", "basic"),
            ("WFM_BASIC_USER_ARN", "arn:u"),
            ("WFM_BASIC_PASSWORD_PARAM", "/pw"),
        ])
        .expect("valid");
        let vars: Vec<&str> = s.aws_secrets().iter().map(|r| r.variable()).collect();
        assert_eq!(vars, ["WFM_BASIC_USER_ARN", "WFM_BASIC_PASSWORD_PARAM"]);
        assert!(
            parse(&[("WFM_AUTH_TOKEN", "t")])
                .expect("valid")
                .aws_secrets()
                .is_empty()
        );
    }

    #[test]
    fn token_urls() {
        let table = [
            ("https://login.example.com/oauth2/token", true),
            ("HTTPS://login.example.com", true),
            ("http://127.0.0.1:8080/token", true),
            ("http://127.1.2.3/token", true),
            ("http://localhost:9/token", true),
            ("http://[::1]:9/token", true),
            ("http://10.0.0.1/token", false),
            ("http://login.example.com/token", false),
            ("http://localhost.example.com/token", false),
            ("https://user:pw@login.example.com/token", false),
            ("ftp://login.example.com", false),
            ("login.example.com/token", false),
            ("https:///token", false),
        ];
        for (url, ok) in table {
            assert_eq!(
                check_token_url(url).is_ok(),
                ok,
                "{url}: {:?}",
                check_token_url(url)
            );
        }
    }

    #[test]
    fn refresh_rule() {
        let s = Duration::from_secs;
        // (lifetime, age, due)
        let table = [
            (s(600), s(0), false),
            (s(600), s(539), false),
            (s(600), Duration::from_millis(539_999), false),
            (s(600), s(540), true), // 60 s left: due
            (s(600), Duration::from_millis(540_001), true),
            (s(600), s(600), true),
            (s(600), s(10_000), true),
            (s(5), s(2), false),
            (s(5), Duration::from_millis(2_500), true), // half the lifetime left
            (s(100), s(49), false),
            (s(100), s(50), true),
            (s(0), s(0), true),
        ];
        for (lifetime, age, due) in table {
            assert_eq!(refresh_due(lifetime, age), due, "{lifetime:?} {age:?}");
        }
        assert_eq!(refresh_margin(s(3600)), s(60));
        assert_eq!(refresh_margin(s(30)), s(15));
    }

    #[test]
    fn mode_names_round_trip() {
        for m in AuthMode::ALL {
            assert_eq!(m.as_str().parse::<AuthMode>(), Ok(m));
        }
    }
}
