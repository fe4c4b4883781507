//! The forwarder's configuration (PRODUCT.md §10), read once at start-up from environment-like
//! lookups and validated against AWS limits. A misconfiguration fails start-up with a message
//! that names the variable.

use crate::auth::AuthSettings;
use crate::event::BodyMode;
use crate::guard::{MaxEventAge, SourceAllowList};
use crate::metrics::{DEFAULT_NAMESPACE, validate_namespace};
use crate::policy::{
    DEFAULT_RETRY_SCHEDULE, DEFAULT_TRANSIENT_STATUSES, RetrySchedule, TransientStatuses,
};
use crate::signing::SigningKeys;
use std::fmt;
use std::time::Duration;

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable's name.
    pub variable: &'static str,
    /// What is wrong.
    pub message: String,
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a secret is kept in AWS: its id, not its value (ids are not secret and may be logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An AWS Secrets Manager secret (name or ARN); the value is its `SecretString`
    /// (`GetSecretValue`, current version).
    SecretsManager {
        /// The variable that named it (for error messages).
        variable: &'static str,
        /// Secret name or ARN.
        id: String,
    },
    /// An SSM Parameter Store parameter, normally a `SecureString`, read with
    /// `WithDecryption=true` (`GetParameter`).
    Parameter {
        /// The variable that named it (for error messages).
        variable: &'static str,
        /// Parameter name (or ARN).
        name: String,
    },
}

impl SecretRef {
    /// The configuration variable that named this secret.
    pub fn variable(&self) -> &'static str {
        match self {
            SecretRef::SecretsManager { variable, .. } | SecretRef::Parameter { variable, .. } => {
                variable
            }
        }
    }
}

/// Everything the forwarder reads from its environment. Durations are exact; the variable names
/// carry their unit (`_MS` milliseconds, `_S` seconds).
#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    /// `WFM_URL` (required): the endpoint POSTed to. `https://` only, unless `allow_http`.
    /// Shown redacted by `Debug` ([`crate::redact::SensitiveUrl`]).
    pub wfm_url: crate::redact::SensitiveUrl,
    /// `WFM_ALLOW_HTTP` (default false): allow a plain `http://` URL (loopback tests and demos).
    pub allow_http: bool,
    /// `WFM_BODY` (default `event`): `event`, `detail` or `eventBody`.
    pub body_mode: BodyMode,
    /// `WFM_CONNECT_TIMEOUT_MS` (default 2000).
    pub connect_timeout: Duration,
    /// `WFM_TIMEOUT_MS` (default 10000): total time of one attempt.
    pub timeout: Duration,
    /// `WFM_POOL_IDLE_MS` (default 15000): idle pooled connections are closed after this.
    pub pool_idle: Duration,
    /// `WFM_AUTH_MODE` and the settings of its mode (`none`, `bearer` from `WFM_AUTH_TOKEN` /
    /// `WFM_AUTH_TOKEN_ARN` (alias `WFM_AUTH_TOKEN_SECRET_ARN`) / `WFM_AUTH_TOKEN_PARAM`,
    /// `oauth2`, `api_key`, `basic`): the credentials every POST to WFM carries
    /// ([`AuthSettings::from_lookup`]).
    pub auth: AuthSettings,
    // --- signing and secrets
    /// `WFM_SIGNING_SECRETS` (optional): Standard Webhooks secrets (`whsec_<base64>`, separated
    /// by spaces or commas); each POST then carries `webhook-id`, `webhook-timestamp` and one
    /// `v1,` signature per secret in `webhook-signature`.
    pub signing_keys: Option<SigningKeys>,
    /// `WFM_SIGNING_SECRET_ARN` (Secrets Manager) or `WFM_SIGNING_SECRET_PARAM` (SSM): where the
    /// signing secrets list (same format as `WFM_SIGNING_SECRETS`) is read. Exclusive with
    /// `WFM_SIGNING_SECRETS`.
    pub signing_source: Option<SecretRef>,
    /// `SECRETS_TTL_S` (default 300, 1–86400): secrets read from AWS are read again when older.
    pub secrets_ttl: Duration,
    /// `WFM_TRANSIENT_STATUSES` (default `408,425,429,500,502-504,506-599`).
    pub transient: TransientStatuses,
    /// `INLINE_ATTEMPTS` (default 3, 1–10): attempts inside the EventBridge invocation.
    pub inline_attempts: u32,
    /// `BACKOFF_BASE_MS` (default 100).
    pub backoff_base: Duration,
    /// `BACKOFF_CAP_MS` (default 2000).
    pub backoff_cap: Duration,
    /// `INLINE_MAX_WAIT_MS` (default 5000): longer waits go to the queue.
    pub inline_max_wait: Duration,
    /// `DEADLINE_RESERVE_MS` (default 3000): kept free before the deadline to enqueue.
    pub deadline_reserve: Duration,
    /// `RETRY_AFTER_CAP_S` (default 43200 = 12 h).
    pub retry_after_cap: Duration,
    /// `RETRY_SCHEDULE` (default `30s,2m,10m,30m,1h,2h,4h,8h,8h`).
    pub schedule: RetrySchedule,
    /// `BATCH_CONCURRENCY` (default 10, 1–100): records of one SQS batch delivered at once.
    pub batch_concurrency: usize,
    /// `SQS_BATCHING_WINDOW_S` (default 0, 0–300): the retry queue's event source mapping
    /// `MaximumBatchingWindowInSeconds` (template.yaml sets 0); used to estimate when a record
    /// received more than once was received (PRODUCT.md §4).
    pub batching_window: Duration,
    /// `FUNCTION_TIMEOUT_S` (default 60): the function's timeout, used when the runtime's
    /// deadline is already past at the start (local emulators).
    pub function_timeout: Duration,
    /// `RETRY_QUEUE_URL` (required).
    pub retry_queue_url: String,
    /// `DLQ_URL` (required).
    pub dlq_url: String,
    /// `ARCHIVE_BUCKET` (optional): S3 bucket for claim checks of oversize events.
    pub archive_bucket: Option<String>,
    /// `ARCHIVE_PREFIX` (default `dead-letters`).
    pub archive_prefix: String,
    // --- guards, breaker, metrics
    /// `ALLOWED_SOURCES` (default empty = every source): comma list of EventBridge `source`
    /// values or Genesys Cloud organization ids; other events are parked as `unknown_source`.
    pub allowed_sources: SourceAllowList,
    /// `MAX_EVENT_AGE` (default off): `<topic glob>=<duration>` rules, first match wins, e.g.
    /// `v2.users.*.presence=15m,*=1h`; older events are parked as `expired`, not sent live.
    pub max_event_age: MaxEventAge,
    /// `BREAKER_FAILURES` (default 5, 0–1000; 0 = off): consecutive transient WFM failures that
    /// open the circuit breaker.
    pub breaker_failures: u32,
    /// `BREAKER_OPEN_MS` (default 30000, 1–3600000): how long the breaker stays open before one
    /// probe request goes through.
    pub breaker_open: Duration,
    /// `METRICS_NAMESPACE` (default `WfmRelay`): CloudWatch namespace of the EMF metrics.
    pub metrics_namespace: String,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): the `Function` dimension of the metrics. EMF
    /// lines are written to stdout only when it is set, i.e. inside a Lambda runtime (never from
    /// `relayctl` or in-process tests).
    pub function_name: Option<String>,
}

impl ForwarderConfig {
    /// Reads the configuration through `get` (normally `std::env::var(..).ok()`).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first missing or invalid variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        // All missing required variables are named at once, so an operator fixes them in one go.
        const REQUIRED: [&str; 3] = ["WFM_URL", "RETRY_QUEUE_URL", "DLQ_URL"];
        let missing: Vec<&str> = REQUIRED.into_iter().filter(|n| var(n).is_none()).collect();
        let required = |name: &'static str| {
            var(name).ok_or_else(|| ConfigError {
                variable: name,
                message: if missing.len() > 1 {
                    format!("is required (missing: {})", missing.join(", "))
                } else {
                    "is required".into()
                },
            })
        };
        let num =
            |name: &'static str, default: u64, min: u64, max: u64| -> Result<u64, ConfigError> {
                let Some(v) = var(name) else {
                    return Ok(default);
                };
                let n: u64 = v.parse().map_err(|_| ConfigError {
                    variable: name,
                    message: format!("`{v}` is not a whole number"),
                })?;
                if n < min || n > max {
                    return Err(ConfigError {
                        variable: name,
                        message: format!("{n} is outside {min}..={max}"),
                    });
                }
                Ok(n)
            };
        let ms = |name: &'static str, default: u64, min: u64, max: u64| {
            num(name, default, min, max).map(Duration::from_millis)
        };
        let allow_http = match var("WFM_ALLOW_HTTP").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(v) => {
                return Err(ConfigError {
                    variable: "WFM_ALLOW_HTTP",
                    message: format!("`{v}` is not true or false"),
                });
            }
        };
        let wfm_url = required("WFM_URL")?;
        let auth = AuthSettings::from_lookup(&get)?;
        let scheme_ok =
            wfm_url.starts_with("https://") || (allow_http && wfm_url.starts_with("http://"));
        if !scheme_ok {
            return Err(ConfigError {
                variable: "WFM_URL",
                message: if wfm_url.starts_with("http://") {
                    "plain http is refused; use https, or set WFM_ALLOW_HTTP=true for loopback tests".into()
                } else {
                    format!(
                        "`{}` is not an https:// URL",
                        crate::redact::redacted_url(&wfm_url)
                    )
                },
            });
        }
        let body_mode = match var("WFM_BODY").as_deref() {
            None | Some("event") => BodyMode::Event,
            Some("detail") => BodyMode::Detail,
            Some("eventBody") => BodyMode::EventBody,
            Some(v) => {
                return Err(ConfigError {
                    variable: "WFM_BODY",
                    message: format!("`{v}` is not one of event, detail, eventBody"),
                });
            }
        };
        let transient = var("WFM_TRANSIENT_STATUSES")
            .unwrap_or_else(|| DEFAULT_TRANSIENT_STATUSES.into())
            .parse()
            .map_err(|m| ConfigError {
                variable: "WFM_TRANSIENT_STATUSES",
                message: m,
            })?;
        let schedule: RetrySchedule = var("RETRY_SCHEDULE")
            .unwrap_or_else(|| DEFAULT_RETRY_SCHEDULE.into())
            .parse()
            .map_err(|m| ConfigError {
                variable: "RETRY_SCHEDULE",
                message: m,
            })?;
        // --- signing and secrets
        let aws_source = |arn_var: &'static str,
                          param_var: &'static str,
                          plain_var: &'static str|
         -> Result<Option<SecretRef>, ConfigError> {
            let source = match (var(arn_var), var(param_var)) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError {
                        variable: param_var,
                        message: format!("set either {arn_var} or {param_var}, not both"),
                    });
                }
                (Some(id), None) => Some(SecretRef::SecretsManager {
                    variable: arn_var,
                    id,
                }),
                (None, Some(name)) => Some(SecretRef::Parameter {
                    variable: param_var,
                    name,
                }),
                (None, None) => None,
            };
            if let (Some(s), Some(_)) = (&source, var(plain_var)) {
                return Err(ConfigError {
                    variable: plain_var,
                    message: format!(
                        "is set together with {}; give the secret one source only",
                        s.variable()
                    ),
                });
            }
            Ok(source)
        };
        let signing_source = aws_source(
            "WFM_SIGNING_SECRET_ARN",
            "WFM_SIGNING_SECRET_PARAM",
            "WFM_SIGNING_SECRETS",
        )?;
        let signing_keys = var("WFM_SIGNING_SECRETS")
            .map(|v| SigningKeys::parse(&v))
            .transpose()
            .map_err(|m| ConfigError {
                variable: "WFM_SIGNING_SECRETS",
                message: m,
            })?;
        let secrets_ttl = Duration::from_secs(num("SECRETS_TTL_S", 300, 1, 86_400)?);
        // --- end of signing and secrets
        let function_timeout = Duration::from_secs(num("FUNCTION_TIMEOUT_S", 60, 1, 900)?);
        let deadline_reserve = ms("DEADLINE_RESERVE_MS", 3000, 0, 60_000)?;
        if deadline_reserve >= function_timeout {
            return Err(ConfigError {
                variable: "DEADLINE_RESERVE_MS",
                message: "must be shorter than FUNCTION_TIMEOUT_S".into(),
            });
        }
        // --- guards, breaker, metrics
        let allowed_sources: SourceAllowList = var("ALLOWED_SOURCES")
            .unwrap_or_default()
            .parse()
            .map_err(|m| ConfigError {
            variable: "ALLOWED_SOURCES",
            message: m,
        })?;
        let max_event_age: MaxEventAge =
            var("MAX_EVENT_AGE")
                .unwrap_or_default()
                .parse()
                .map_err(|m| ConfigError {
                    variable: "MAX_EVENT_AGE",
                    message: m,
                })?;
        let breaker_failures = u32::try_from(num("BREAKER_FAILURES", 5, 0, 1000)?).unwrap_or(5);
        let breaker_open = ms("BREAKER_OPEN_MS", 30_000, 1, 3_600_000)?;
        let metrics_namespace =
            var("METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_NAMESPACE.into());
        validate_namespace(&metrics_namespace).map_err(|m| ConfigError {
            variable: "METRICS_NAMESPACE",
            message: m,
        })?;
        let function_name = var("AWS_LAMBDA_FUNCTION_NAME");
        // --- end of guards, breaker, metrics
        Ok(ForwarderConfig {
            wfm_url: crate::redact::SensitiveUrl::new(wfm_url),
            allow_http,
            body_mode,
            connect_timeout: ms("WFM_CONNECT_TIMEOUT_MS", 2000, 1, 60_000)?,
            timeout: ms("WFM_TIMEOUT_MS", 10_000, 1, 900_000)?,
            pool_idle: ms("WFM_POOL_IDLE_MS", 15_000, 0, 3_600_000)?,
            auth,
            signing_keys,
            signing_source,
            secrets_ttl,
            transient,
            inline_attempts: u32::try_from(num("INLINE_ATTEMPTS", 3, 1, 10)?).unwrap_or(3),
            backoff_base: ms("BACKOFF_BASE_MS", 100, 1, 60_000)?,
            backoff_cap: ms("BACKOFF_CAP_MS", 2000, 1, 600_000)?,
            inline_max_wait: ms("INLINE_MAX_WAIT_MS", 5000, 0, 600_000)?,
            deadline_reserve,
            retry_after_cap: Duration::from_secs(num("RETRY_AFTER_CAP_S", 43_200, 0, 43_200)?),
            schedule,
            batch_concurrency: usize::try_from(num("BATCH_CONCURRENCY", 10, 1, 100)?).unwrap_or(10),
            batching_window: Duration::from_secs(num("SQS_BATCHING_WINDOW_S", 0, 0, 300)?),
            function_timeout,
            retry_queue_url: required("RETRY_QUEUE_URL")?,
            dlq_url: required("DLQ_URL")?,
            archive_bucket: var("ARCHIVE_BUCKET"),
            archive_prefix: var("ARCHIVE_PREFIX").unwrap_or_else(|| "dead-letters".into()),
            // --- guards, breaker, metrics
            allowed_sources,
            max_event_age,
            breaker_failures,
            breaker_open,
            metrics_namespace,
            function_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ForwarderConfig, ConfigError> {
        let mut m: HashMap<String, String> = [
            ("WFM_URL", "https://wfm.example.com/api/status/update"),
            ("RETRY_QUEUE_URL", "http://q/retry"),
            ("DLQ_URL", "http://q/dlq"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            m.insert(k.to_string(), v.to_string());
        }
        ForwarderConfig::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_match_product_table() {
        let c = cfg(&[]).expect("valid");
        assert_eq!(c.connect_timeout, Duration::from_millis(2000));
        assert_eq!(c.timeout, Duration::from_millis(10_000));
        assert_eq!(c.pool_idle, Duration::from_millis(15_000));
        assert_eq!(c.inline_attempts, 3);
        assert_eq!(c.backoff_base, Duration::from_millis(100));
        assert_eq!(c.backoff_cap, Duration::from_millis(2000));
        assert_eq!(c.inline_max_wait, Duration::from_millis(5000));
        assert_eq!(c.deadline_reserve, Duration::from_millis(3000));
        assert_eq!(c.retry_after_cap, Duration::from_secs(43_200));
        assert_eq!(c.schedule.len(), 9);
        assert_eq!(c.batch_concurrency, 10);
        assert_eq!(c.batching_window, Duration::ZERO);
        assert_eq!(c.body_mode, BodyMode::Event);
        assert_eq!(c.archive_prefix, "dead-letters");
        assert_eq!(c.auth, AuthSettings::None);
    }

    #[test]
    fn errors_name_the_variable() {
        let table: &[(&[(&str, &str)], &str)] = &[
            (&[("WFM_URL", "http://wfm.example.com")], "WFM_URL"),
            (&[("WFM_URL", "ftp://x")], "WFM_URL"),
            (&[("WFM_BODY", "xml")], "WFM_BODY"),
            (&[("INLINE_ATTEMPTS", "0")], "INLINE_ATTEMPTS"),
            (&[("WFM_TIMEOUT_MS", "abc")], "WFM_TIMEOUT_MS"),
            (&[("RETRY_SCHEDULE", "30s,13h")], "RETRY_SCHEDULE"),
            (&[("WFM_ALLOW_HTTP", "yes")], "WFM_ALLOW_HTTP"),
            (&[("DLQ_URL", "")], "DLQ_URL"),
            (&[("DEADLINE_RESERVE_MS", "60000")], "DEADLINE_RESERVE_MS"),
        ];
        for (pairs, var) in table {
            let err = cfg(pairs).expect_err("invalid");
            assert_eq!(err.variable, *var, "{pairs:?}");
            assert!(err.to_string().contains(var));
        }
        let ok = cfg(&[
            ("WFM_URL", "http://127.0.0.1:9/x"),
            ("WFM_ALLOW_HTTP", "true"),
        ])
        .expect("ok");
        assert!(ok.allow_http);
        let none = ForwarderConfig::from_lookup(|_| None).expect_err("nothing set");
        assert_eq!(none.variable, "WFM_URL");
        assert!(
            none.to_string()
                .contains("missing: WFM_URL, RETRY_QUEUE_URL, DLQ_URL"),
            "{none}"
        );
    }

    #[test]
    fn secret_is_not_in_debug() {
        let c = cfg(&[("WFM_AUTH_TOKEN", "s3cr3t-token")]).expect("valid");
        assert!(!format!("{c:?}").contains("s3cr3t-token"));
        let AuthSettings::Bearer(crate::auth::SecretSource::Plain { value, .. }) = &c.auth else {
            panic!("bearer from WFM_AUTH_TOKEN: {:?}", c.auth);
        };
        assert_eq!(value.expose(), "s3cr3t-token");
    }

    #[test]
    fn signing_and_secret_sources() {
        let c = cfg(&[]).expect("valid");
        assert!(c.signing_keys.is_none() && c.signing_source.is_none());
        assert!(c.auth.aws_secrets().is_empty());
        assert_eq!(c.secrets_ttl, Duration::from_secs(300));

        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let c = cfg(&[
            (
                "WFM_SIGNING_SECRETS",
                &format!("{secret}, whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ),
            ("WFM_AUTH_TOKEN_PARAM", "/wfm/token"),
            ("SECRETS_TTL_S", "60"),
        ])
        .expect("valid");
        assert_eq!(c.signing_keys.as_ref().map(SigningKeys::len), Some(2));
        assert_eq!(
            c.auth.aws_secrets(),
            [&SecretRef::Parameter {
                variable: "WFM_AUTH_TOKEN_PARAM",
                name: "/wfm/token".into()
            }]
        );
        assert_eq!(c.secrets_ttl, Duration::from_secs(60));
        assert!(!format!("{c:?}").contains(&secret[6..]));

        let c = cfg(&[(
            "WFM_SIGNING_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:1:secret:s",
        )])
        .expect("valid");
        assert_eq!(
            c.signing_source.as_ref().map(SecretRef::variable),
            Some("WFM_SIGNING_SECRET_ARN")
        );

        let table: &[(&[(&str, &str)], &str)] = &[
            (
                &[("WFM_SIGNING_SECRETS", "whsec_not base64!")],
                "WFM_SIGNING_SECRETS",
            ),
            (
                &[(
                    "WFM_SIGNING_SECRETS",
                    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa$w",
                )],
                "WFM_SIGNING_SECRETS",
            ),
            (
                &[
                    ("WFM_AUTH_TOKEN", "t"),
                    ("WFM_AUTH_TOKEN_SECRET_ARN", "arn"),
                ],
                "WFM_AUTH_TOKEN_SECRET_ARN",
            ),
            (
                &[("WFM_AUTH_TOKEN", "t"), ("WFM_AUTH_TOKEN_PARAM", "/p")],
                "WFM_AUTH_TOKEN_PARAM",
            ),
            (
                &[
                    ("WFM_AUTH_TOKEN_SECRET_ARN", "arn"),
                    ("WFM_AUTH_TOKEN_PARAM", "/p"),
                ],
                "WFM_AUTH_TOKEN_PARAM",
            ),
            (
                &[
                    ("WFM_SIGNING_SECRETS", secret),
                    ("WFM_SIGNING_SECRET_PARAM", "/p"),
                ],
                "WFM_SIGNING_SECRETS",
            ),
            (
                &[
                    ("WFM_SIGNING_SECRET_ARN", "a"),
                    ("WFM_SIGNING_SECRET_PARAM", "/p"),
                ],
                "WFM_SIGNING_SECRET_PARAM",
            ),
            (&[("SECRETS_TTL_S", "0")], "SECRETS_TTL_S"),
        ];
        for (pairs, var) in table {
            let err = cfg(pairs).expect_err("invalid");
            assert_eq!(err.variable, *var, "{pairs:?}");
            let text = err.to_string();
            assert!(text.contains(var), "{text}");
            assert!(
                !text.contains("MfKQ9r8GKYqrTwjUPD8"),
                "{text} echoes a secret"
            );
            assert!(!text.contains("not base64!"), "{text} echoes a secret");
        }
    }

    #[test]
    fn guards_breaker_and_metrics_settings() {
        let c = cfg(&[]).expect("valid");
        assert!(c.allowed_sources.is_empty());
        assert!(c.max_event_age.is_empty());
        assert_eq!(c.breaker_failures, 5);
        assert_eq!(c.breaker_open, Duration::from_millis(30_000));
        assert_eq!(c.metrics_namespace, "WfmRelay");
        assert_eq!(c.function_name, None);

        let c = cfg(&[
            (
                "ALLOWED_SOURCES",
                "0f0f0f0f-0000-4000-8000-000000000001, my.app",
            ),
            ("MAX_EVENT_AGE", "v2.users.*.presence=15m,*=1h"),
            ("BREAKER_FAILURES", "0"),
            ("BREAKER_OPEN_MS", "500"),
            ("METRICS_NAMESPACE", "Team/WfmRelay"),
            ("AWS_LAMBDA_FUNCTION_NAME", "stack-Forwarder-1"),
        ])
        .expect("valid");
        assert!(c.allowed_sources.allows("my.app"));
        assert!(!c.allowed_sources.allows("other.app"));
        assert_eq!(
            c.max_event_age.to_string(),
            "v2.users.*.presence=900s,*=3600s"
        );
        assert_eq!(c.breaker_failures, 0);
        assert_eq!(c.breaker_open, Duration::from_millis(500));
        assert_eq!(c.metrics_namespace, "Team/WfmRelay");
        assert_eq!(c.function_name.as_deref(), Some("stack-Forwarder-1"));

        let table: &[(&[(&str, &str)], &str)] = &[
            (&[("ALLOWED_SOURCES", "a b")], "ALLOWED_SOURCES"),
            (&[("MAX_EVENT_AGE", "15m")], "MAX_EVENT_AGE"),
            (&[("MAX_EVENT_AGE", "*=0s")], "MAX_EVENT_AGE"),
            (&[("BREAKER_FAILURES", "-1")], "BREAKER_FAILURES"),
            (&[("BREAKER_OPEN_MS", "0")], "BREAKER_OPEN_MS"),
            (&[("METRICS_NAMESPACE", "AWS/Lambda")], "METRICS_NAMESPACE"),
        ];
        for (pairs, var) in table {
            let err = cfg(pairs).expect_err("invalid");
            assert_eq!(err.variable, *var, "{pairs:?}");
        }
    }
}
