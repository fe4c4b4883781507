//! The Genesys Cloud client's settings (PRODUCT.md §10): hosts, OAuth client, org id, rate.

use wfm_relay_core::auth::{SecretSource, check_token_url};
use wfm_relay_core::config::{ConfigError, Secret, SecretRef};

/// Requests per minute one Genesys Cloud token may make: 300 (developer.genesys.cloud,
/// organization limits `client.credentials.token.rate.per.minute`; FACTS.md §7.4).
pub const GENESYS_RATE_PER_MINUTE: u32 = 300;

/// The Genesys Cloud API client's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesysSettings {
    /// Base URL of the API host, without a trailing `/`: `https://api.<GENESYS_DOMAIN>` or
    /// `GENESYS_API_URL`.
    pub api_url: String,
    /// Base URL of the login host, without a trailing `/`: `https://login.<GENESYS_DOMAIN>` or
    /// `GENESYS_LOGIN_URL`; the token endpoint is `<login_url>/oauth/token`.
    pub login_url: String,
    /// `GENESYS_CLIENT_ID`: the OAuth client (client credentials grant).
    pub client_id: String,
    /// `GENESYS_CLIENT_SECRET`, or `GENESYS_CLIENT_SECRET_ARN` / `_PARAM`.
    pub client_secret: SecretSource,
    /// `GENESYS_ORG_ID`, when set; else read once from `GET /api/v2/organizations/me`.
    pub org_id: Option<String>,
    /// Requests per minute the client allows itself per token (default
    /// [`GENESYS_RATE_PER_MINUTE`]; `GENESYS_RATE_PER_MINUTE` lowers it for an org that shares
    /// its limit with other integrations).
    pub rate_per_minute: u32,
}

fn err(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

fn base_url(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    host: &str,
    domain: Option<&str>,
) -> Result<String, ConfigError> {
    let url = match get(variable).filter(|v| !v.trim().is_empty()) {
        Some(u) => u.trim().trim_end_matches('/').to_owned(),
        None => {
            let d = domain.ok_or_else(|| {
                err(
                    "GENESYS_DOMAIN",
                    format!("required (e.g. `mypurecloud.ie`) unless {variable} is set"),
                )
            })?;
            format!("https://{host}.{d}")
        }
    };
    check_token_url(&url).map_err(|m| err(variable, m))?;
    Ok(url)
}

fn secret(get: &impl Fn(&str) -> Option<String>) -> Result<SecretSource, ConfigError> {
    let plain = get("GENESYS_CLIENT_SECRET").filter(|v| !v.is_empty());
    let arn = get("GENESYS_CLIENT_SECRET_ARN").filter(|v| !v.is_empty());
    let param = get("GENESYS_CLIENT_SECRET_PARAM").filter(|v| !v.is_empty());
    match (plain, arn, param) {
        (Some(v), None, None) => Ok(SecretSource::Plain {
            variable: "GENESYS_CLIENT_SECRET",
            value: Secret::new(v),
        }),
        (None, Some(id), None) => Ok(SecretSource::Aws(SecretRef::SecretsManager {
            variable: "GENESYS_CLIENT_SECRET_ARN",
            id,
        })),
        (None, None, Some(name)) => Ok(SecretSource::Aws(SecretRef::Parameter {
            variable: "GENESYS_CLIENT_SECRET_PARAM",
            name,
        })),
        (None, None, None) => Err(err(
            "GENESYS_CLIENT_SECRET",
            "required for snapshots (or GENESYS_CLIENT_SECRET_ARN / _PARAM)",
        )),
        _ => Err(err(
            "GENESYS_CLIENT_SECRET",
            "set only one of GENESYS_CLIENT_SECRET, GENESYS_CLIENT_SECRET_ARN, GENESYS_CLIENT_SECRET_PARAM",
        )),
    }
}

impl GenesysSettings {
    /// Reads the settings through `get` (an environment lookup).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable: no `GENESYS_DOMAIN` and no override, an override
    /// that is not https outside loopback, no client id or secret, a secret given twice, a bad
    /// rate.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let domain = get("GENESYS_DOMAIN")
            .map(|d| d.trim().trim_matches('.').to_owned())
            .filter(|d| !d.is_empty());
        if let Some(d) = &domain
            && (d.contains('/') || d.contains(':') || !d.contains('.'))
        {
            return Err(err(
                "GENESYS_DOMAIN",
                format!("`{d}` is not a region domain such as `mypurecloud.ie`"),
            ));
        }
        let api_url = base_url(&get, "GENESYS_API_URL", "api", domain.as_deref())?;
        let login_url = base_url(&get, "GENESYS_LOGIN_URL", "login", domain.as_deref())?;
        let client_id = get("GENESYS_CLIENT_ID")
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| err("GENESYS_CLIENT_ID", "required for snapshots"))?;
        let rate_per_minute = match get("GENESYS_RATE_PER_MINUTE").filter(|v| !v.is_empty()) {
            None => GENESYS_RATE_PER_MINUTE,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=GENESYS_RATE_PER_MINUTE).contains(n))
                .ok_or_else(|| {
                    err(
                        "GENESYS_RATE_PER_MINUTE",
                        format!("`{v}` is not a whole number from 1 to {GENESYS_RATE_PER_MINUTE}"),
                    )
                })?,
        };
        Ok(GenesysSettings {
            api_url,
            login_url,
            client_id,
            client_secret: secret(&get)?,
            org_id: get("GENESYS_ORG_ID")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            rate_per_minute,
        })
    }

    /// `<login_url>/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.login_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<GenesysSettings, ConfigError> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        GenesysSettings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn domain_gives_both_hosts_and_overrides_win() {
        let s = read(&[
            ("GENESYS_DOMAIN", "mypurecloud.ie"),
            ("GENESYS_CLIENT_ID", "c"),
            ("GENESYS_CLIENT_SECRET", "s"),
        ])
        .expect("valid");
        assert_eq!(s.api_url, "https://api.mypurecloud.ie");
        assert_eq!(s.token_url(), "https://login.mypurecloud.ie/oauth/token");
        assert_eq!((s.org_id, s.rate_per_minute), (None, 300));

        let s = read(&[
            ("GENESYS_API_URL", "http://127.0.0.1:8080/"),
            ("GENESYS_LOGIN_URL", "http://localhost:9"),
            ("GENESYS_CLIENT_ID", "c"),
            ("GENESYS_CLIENT_SECRET_ARN", "arn:x"),
            ("GENESYS_ORG_ID", "org-1"),
            ("GENESYS_RATE_PER_MINUTE", "120"),
        ])
        .expect("valid");
        assert_eq!(s.api_url, "http://127.0.0.1:8080");
        assert_eq!(s.token_url(), "http://localhost:9/oauth/token");
        assert_eq!(s.client_secret.variable(), "GENESYS_CLIENT_SECRET_ARN");
        assert_eq!(
            (s.org_id.as_deref(), s.rate_per_minute),
            (Some("org-1"), 120)
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (
                &[("GENESYS_CLIENT_ID", "c"), ("GENESYS_CLIENT_SECRET", "s")],
                "GENESYS_DOMAIN",
            ),
            (
                &[
                    ("GENESYS_DOMAIN", "mypurecloud.ie"),
                    ("GENESYS_API_URL", "http://api.example.com"),
                    ("GENESYS_CLIENT_ID", "c"),
                    ("GENESYS_CLIENT_SECRET", "s"),
                ],
                "GENESYS_API_URL",
            ),
            (
                &[
                    ("GENESYS_DOMAIN", "mypurecloud.ie"),
                    ("GENESYS_CLIENT_SECRET", "s"),
                ],
                "GENESYS_CLIENT_ID",
            ),
            (
                &[
                    ("GENESYS_DOMAIN", "mypurecloud.ie"),
                    ("GENESYS_CLIENT_ID", "c"),
                ],
                "GENESYS_CLIENT_SECRET",
            ),
            (
                &[
                    ("GENESYS_DOMAIN", "mypurecloud.ie"),
                    ("GENESYS_CLIENT_ID", "c"),
                    ("GENESYS_CLIENT_SECRET", "s"),
                    ("GENESYS_CLIENT_SECRET_PARAM", "/p"),
                ],
                "GENESYS_CLIENT_SECRET",
            ),
            (
                &[
                    ("GENESYS_DOMAIN", "mypurecloud.ie"),
                    ("GENESYS_CLIENT_ID", "c"),
                    ("GENESYS_CLIENT_SECRET", "s"),
                    ("GENESYS_RATE_PER_MINUTE", "301"),
                ],
                "GENESYS_RATE_PER_MINUTE",
            ),
        ];
        for (vars, variable) in cases {
            assert_eq!(
                read(vars).expect_err("invalid").variable,
                variable,
                "{vars:?}"
            );
        }
    }
}
