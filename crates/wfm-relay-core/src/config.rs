//! The forwarder's configuration (PRODUCT.md §10), read once at start-up from environment-like
//! lookups and validated against AWS limits. A misconfiguration fails start-up with a message
//! that names the variable.

use crate::event::BodyMode;
use crate::policy::{
    DEFAULT_RETRY_SCHEDULE, DEFAULT_TRANSIENT_STATUSES, RetrySchedule, TransientStatuses,
};
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

/// Everything the forwarder reads from its environment. Durations are exact; the variable names
/// carry their unit (`_MS` milliseconds, `_S` seconds).
#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    /// `WFM_URL` (required): the endpoint POSTed to. `https://` only, unless `allow_http`.
    pub wfm_url: String,
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
    /// `WFM_AUTH_TOKEN` (optional): sent as `Authorization: Bearer <token>`.
    pub auth_token: Option<Secret>,
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
        let required = |name: &'static str| {
            var(name).ok_or(ConfigError {
                variable: name,
                message: "is required".into(),
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
        let scheme_ok =
            wfm_url.starts_with("https://") || (allow_http && wfm_url.starts_with("http://"));
        if !scheme_ok {
            return Err(ConfigError {
                variable: "WFM_URL",
                message: if wfm_url.starts_with("http://") {
                    "plain http is refused; use https, or set WFM_ALLOW_HTTP=true for loopback tests".into()
                } else {
                    format!("`{wfm_url}` is not an https:// URL")
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
        let function_timeout = Duration::from_secs(num("FUNCTION_TIMEOUT_S", 60, 1, 900)?);
        let deadline_reserve = ms("DEADLINE_RESERVE_MS", 3000, 0, 60_000)?;
        if deadline_reserve >= function_timeout {
            return Err(ConfigError {
                variable: "DEADLINE_RESERVE_MS",
                message: "must be shorter than FUNCTION_TIMEOUT_S".into(),
            });
        }
        Ok(ForwarderConfig {
            wfm_url,
            allow_http,
            body_mode,
            connect_timeout: ms("WFM_CONNECT_TIMEOUT_MS", 2000, 1, 60_000)?,
            timeout: ms("WFM_TIMEOUT_MS", 10_000, 1, 900_000)?,
            pool_idle: ms("WFM_POOL_IDLE_MS", 15_000, 0, 3_600_000)?,
            auth_token: var("WFM_AUTH_TOKEN").map(Secret::new),
            transient,
            inline_attempts: u32::try_from(num("INLINE_ATTEMPTS", 3, 1, 10)?).unwrap_or(3),
            backoff_base: ms("BACKOFF_BASE_MS", 100, 1, 60_000)?,
            backoff_cap: ms("BACKOFF_CAP_MS", 2000, 1, 600_000)?,
            inline_max_wait: ms("INLINE_MAX_WAIT_MS", 5000, 0, 600_000)?,
            deadline_reserve,
            retry_after_cap: Duration::from_secs(num("RETRY_AFTER_CAP_S", 43_200, 0, 43_200)?),
            schedule,
            batch_concurrency: usize::try_from(num("BATCH_CONCURRENCY", 10, 1, 100)?).unwrap_or(10),
            function_timeout,
            retry_queue_url: required("RETRY_QUEUE_URL")?,
            dlq_url: required("DLQ_URL")?,
            archive_bucket: var("ARCHIVE_BUCKET"),
            archive_prefix: var("ARCHIVE_PREFIX").unwrap_or_else(|| "dead-letters".into()),
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
        assert_eq!(c.body_mode, BodyMode::Event);
        assert_eq!(c.archive_prefix, "dead-letters");
        assert!(c.auth_token.is_none());
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
    }

    #[test]
    fn secret_is_not_in_debug() {
        let c = cfg(&[("WFM_AUTH_TOKEN", "s3cr3t-token")]).expect("valid");
        assert!(!format!("{c:?}").contains("s3cr3t-token"));
        assert_eq!(
            c.auth_token.as_ref().map(Secret::expose),
            Some("s3cr3t-token")
        );
    }
}
