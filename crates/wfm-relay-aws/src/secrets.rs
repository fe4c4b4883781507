//! The WFM credentials (bearer token and Standard Webhooks signing keys), given in plain
//! variables for local runs or read from AWS Secrets Manager / SSM Parameter Store.
//!
//! Life cycle (one [`SecretStore`] per process, shared by every POST):
//! - read once at start-up, before the first invocation is served; a failure fails start-up
//!   with an error naming the variable (never the value);
//! - read again when older than `SECRETS_TTL_S` (default 300 s). Only one caller reads; the
//!   others keep using the current values meanwhile. A failed refresh keeps the current values
//!   and is tried again after `min(SECRETS_TTL_S, 30 s)`;
//! - read again at once after WFM answers 401 (the token may have been rotated). When the
//!   values changed, the WFM client retries that POST once at once with them
//!   ([`crate::wfm::WfmClient::post`]).
//!
//! Sources (AWS API references): Secrets Manager `GetSecretValue` returns the current version's
//! `SecretString`; SSM `GetParameter` with `WithDecryption=true` returns a `SecureString`
//! decrypted with its KMS key. Values are held in [`Secret`] / [`SigningKeys`], whose `Debug`
//! is redacted, and are never logged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use wfm_relay_core::auth::{AuthSettings, SecretSource};
use wfm_relay_core::config::{ForwarderConfig, Secret, SecretRef};

pub use crate::credentials::Credentials;
use wfm_relay_core::signing::SigningKeys;

/// Longest wait before a failed refresh is tried again: 30 s (or the TTL when shorter).
pub const REFRESH_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Reading or validating a secret failed. Messages name the variable and the secret's id, never
/// its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The AWS call failed (not found, access denied, network, …).
    #[error("{variable}: cannot read `{id}`: {message}")]
    Fetch {
        /// The configuration variable that names the secret.
        variable: &'static str,
        /// The secret's id, ARN or parameter name.
        id: String,
        /// The SDK error chain.
        message: String,
    },
    /// The value was read but cannot be used.
    #[error("{variable}: {message}")]
    Invalid {
        /// The configuration variable that names the secret (or holds it).
        variable: &'static str,
        /// What is wrong (never the value).
        message: String,
    },
}

/// Reads one secret's value. [`AwsSecretFetcher`] is the real one; tests may count calls.
pub trait SecretFetch: Send + Sync {
    /// The value of `secret` (a `SecretString` or a decrypted parameter).
    ///
    /// # Errors
    /// [`SecretError::Fetch`] naming `secret.variable()`.
    fn fetch<'a>(
        &'a self,
        secret: &'a SecretRef,
    ) -> Pin<Box<dyn Future<Output = Result<Secret, SecretError>> + Send + 'a>>;
}

/// Secrets Manager and SSM clients.
#[derive(Debug, Clone)]
pub struct AwsSecretFetcher {
    secrets_manager: aws_sdk_secretsmanager::Client,
    ssm: aws_sdk_ssm::Client,
}

impl AwsSecretFetcher {
    /// Builds the clients from an AWS configuration.
    pub fn new(conf: &aws_config::SdkConfig) -> Self {
        AwsSecretFetcher {
            secrets_manager: aws_sdk_secretsmanager::Client::new(conf),
            ssm: aws_sdk_ssm::Client::new(conf),
        }
    }
}

impl SecretFetch for AwsSecretFetcher {
    fn fetch<'a>(
        &'a self,
        secret: &'a SecretRef,
    ) -> Pin<Box<dyn Future<Output = Result<Secret, SecretError>> + Send + 'a>> {
        Box::pin(async move {
            let fetch_error = |id: &str, e: &dyn std::error::Error| SecretError::Fetch {
                variable: secret.variable(),
                id: id.to_owned(),
                // SDK errors carry the service's message (e.g. "Secrets Manager can't find
                // the specified secret."), never a secret's value.
                message: crate::telemetry::error_chain(e.to_string(), e.source()),
            };
            let value = match secret {
                SecretRef::SecretsManager { id, .. } => {
                    self.secrets_manager
                        .get_secret_value()
                        .secret_id(id)
                        .send()
                        .await
                        .map_err(|e| fetch_error(id, &e))?
                        .secret_string
                }
                SecretRef::Parameter { name, .. } => self
                    .ssm
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| fetch_error(name, &e))?
                    .parameter
                    .and_then(|p| p.value),
            };
            let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
            if value.is_empty() {
                return Err(SecretError::Invalid {
                    variable: secret.variable(),
                    message: "the secret has no string value (a binary secret, or empty)".into(),
                });
            }
            Ok(Secret::new(value))
        })
    }
}

struct State {
    current: Arc<Credentials>,
    /// When the values in `current` were last read from AWS (or built, for fixed ones).
    fetched_at: Instant,
    /// When the next read by age is due.
    next_refresh: Instant,
}

/// Where each credential comes from.
#[derive(Debug, Clone)]
struct Sources {
    token: Option<SecretRef>,
    plain_token: Option<Secret>,
    signing: Option<SecretRef>,
    plain_keys: Option<SigningKeys>,
}

impl Sources {
    fn any_in_aws(&self) -> bool {
        self.token.is_some() || self.signing.is_some()
    }
}

/// The process's current WFM credentials, refreshed from AWS as described in the module docs.
/// Share it by `Arc`; `Debug` shows the sources, never the values.
pub struct SecretStore {
    sources: Sources,
    ttl: Duration,
    fetcher: Option<Arc<dyn SecretFetch>>,
    state: RwLock<State>,
    refresh: tokio::sync::Mutex<()>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("token_source", &self.sources.token)
            .field("signing_source", &self.sources.signing)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    /// Fixed credentials (plain variables): never refreshed.
    pub fn fixed(credentials: Credentials) -> Self {
        let now = Instant::now();
        SecretStore {
            sources: Sources {
                token: None,
                plain_token: credentials.token.clone(),
                signing: None,
                plain_keys: credentials.signing_keys.clone(),
            },
            ttl: Duration::MAX,
            fetcher: None,
            state: RwLock::new(State {
                current: Arc::new(credentials),
                fetched_at: now,
                next_refresh: now,
            }),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Builds the store from the configuration (the bearer token in mode `bearer`, and the
    /// signing keys). When a secret comes from AWS (`WFM_AUTH_TOKEN_ARN`,
    /// `WFM_AUTH_TOKEN_SECRET_ARN`, `WFM_AUTH_TOKEN_PARAM`, `WFM_SIGNING_SECRET_ARN`,
    /// `WFM_SIGNING_SECRET_PARAM`) it is read now through `fetcher` (the Lambdas pass an
    /// [`AwsSecretFetcher`] built by [`crate::relay::RelayParts`]; tests count its calls);
    /// otherwise no AWS call is made.
    ///
    /// # Errors
    /// [`SecretError`] naming the variable; also when a secret comes from AWS and `fetcher` is
    /// `None`.
    pub async fn with_fetcher(
        cfg: &ForwarderConfig,
        fetcher: Option<Arc<dyn SecretFetch>>,
    ) -> Result<Self, SecretError> {
        // The bearer token lives here (read by age as well as after a 401); the credentials of
        // the other modes live in [`crate::auth::WfmAuth`].
        let (token, plain_token) = match &cfg.auth {
            AuthSettings::Bearer(SecretSource::Aws(r)) => (Some(r.clone()), None),
            AuthSettings::Bearer(SecretSource::Plain { value, .. }) => (None, Some(value.clone())),
            _ => (None, None),
        };
        let sources = Sources {
            token,
            plain_token,
            signing: cfg.signing_source.clone(),
            plain_keys: cfg.signing_keys.clone(),
        };
        let fetcher = match (sources.any_in_aws(), fetcher) {
            (true, None) => {
                let variable = sources
                    .token
                    .as_ref()
                    .or(sources.signing.as_ref())
                    .map_or("WFM_AUTH_TOKEN_SECRET_ARN", SecretRef::variable);
                return Err(SecretError::Invalid {
                    variable,
                    message: "no AWS client to read the secret with".into(),
                });
            }
            (true, f) => f,
            (false, _) => None,
        };
        let credentials = read(&sources, fetcher.as_deref()).await?;
        let now = Instant::now();
        Ok(SecretStore {
            sources,
            ttl: cfg.secrets_ttl,
            fetcher,
            state: RwLock::new(State {
                current: Arc::new(credentials),
                fetched_at: now,
                next_refresh: now.checked_add(cfg.secrets_ttl).unwrap_or(now),
            }),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// True when some credential comes from AWS (and so may change).
    pub fn refreshable(&self) -> bool {
        self.fetcher.is_some()
    }

    fn snapshot(&self) -> (Arc<Credentials>, Instant, Instant) {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        (Arc::clone(&s.current), s.fetched_at, s.next_refresh)
    }

    /// The credentials to use now. Reads them again from AWS first when they are older than
    /// `SECRETS_TTL_S` and no other caller is already doing so.
    pub async fn current(&self) -> Arc<Credentials> {
        self.current_at(Instant::now()).await
    }

    async fn current_at(&self, now: Instant) -> Arc<Credentials> {
        let (current, _, next_refresh) = self.snapshot();
        if !self.refreshable() || now < next_refresh {
            return current;
        }
        let Ok(_guard) = self.refresh.try_lock() else {
            return current;
        };
        let (current, _, next_refresh) = self.snapshot();
        if now < next_refresh {
            return current;
        }
        self.reload(now, "age").await.unwrap_or(current)
    }

    /// Called after WFM answered 401 to a request sent at `sent_at` with `used`. Reads the
    /// credentials again (unless they were already read after `sent_at`) and returns them when
    /// they differ from `used`; `None` when they did not change, the store is fixed, or the
    /// read failed.
    pub async fn after_unauthorized(
        &self,
        used: &Arc<Credentials>,
        sent_at: Instant,
    ) -> Option<Arc<Credentials>> {
        if !self.refreshable() {
            return None;
        }
        let _guard = self.refresh.lock().await;
        let (current, fetched_at, _) = self.snapshot();
        if *current != **used {
            return Some(current);
        }
        if fetched_at > sent_at {
            return None;
        }
        let fresh = self.reload(Instant::now(), "unauthorized").await?;
        (*fresh != **used).then_some(fresh)
    }

    /// Reads every AWS-sourced credential; on success installs and returns them, on failure
    /// keeps the current ones and schedules another try. Call with `refresh` held.
    async fn reload(&self, now: Instant, why: &'static str) -> Option<Arc<Credentials>> {
        match read(&self.sources, self.fetcher.as_deref()).await {
            Ok(c) => {
                let c = Arc::new(c);
                let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
                let changed = *s.current != *c;
                s.current = Arc::clone(&c);
                s.fetched_at = Instant::now();
                s.next_refresh = s.fetched_at.checked_add(self.ttl).unwrap_or(s.fetched_at);
                tracing::info!(reason = why, changed, "WFM credentials read again from AWS");
                Some(c)
            }
            Err(e) => {
                let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
                let wait = self.ttl.min(REFRESH_RETRY_AFTER);
                s.next_refresh = now.checked_add(wait).unwrap_or(now);
                tracing::warn!(
                    reason = why,
                    error = %e,
                    retry_in_s = wait.as_secs(),
                    "cannot read the WFM credentials again; keeping the current ones"
                );
                None
            }
        }
    }
}

/// Reads the AWS-sourced values and combines them with the plain ones.
async fn read(
    sources: &Sources,
    fetcher: Option<&dyn SecretFetch>,
) -> Result<Credentials, SecretError> {
    let fetch = |r: &SecretRef| {
        let r = r.clone();
        async move {
            match fetcher {
                Some(f) => f.fetch(&r).await,
                None => Err(SecretError::Invalid {
                    variable: r.variable(),
                    message: "no AWS client to read the secret with".into(),
                }),
            }
        }
    };
    let (token, token_var) = match &sources.token {
        Some(r) => (Some(fetch(r).await?), r.variable()),
        None => (sources.plain_token.clone(), "WFM_AUTH_TOKEN"),
    };
    let signing_keys = match &sources.signing {
        Some(r) => {
            let list = fetch(r).await?;
            Some(
                SigningKeys::parse(list.expose()).map_err(|message| SecretError::Invalid {
                    variable: r.variable(),
                    message,
                })?,
            )
        }
        None => sources.plain_keys.clone(),
    };
    Credentials::new(token, signing_keys).map_err(|message| SecretError::Invalid {
        variable: token_var,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An in-memory secret store that counts reads.
    #[derive(Default)]
    struct Fake {
        values: Mutex<HashMap<String, String>>,
        reads: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    impl Fake {
        fn set(&self, id: &str, v: &str) {
            self.values
                .lock()
                .expect("lock")
                .insert(id.into(), v.into());
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
                match v {
                    Some(v) if !self.fail.load(Ordering::SeqCst) => Ok(Secret::new(v)),
                    _ => Err(SecretError::Fetch {
                        variable: secret.variable(),
                        id: id.clone(),
                        message: "not found".into(),
                    }),
                }
            })
        }
    }

    fn cfg(pairs: &[(&str, &str)]) -> ForwarderConfig {
        let mut m: HashMap<&str, &str> = [
            ("WFM_URL", "https://wfm.example.com/x"),
            ("RETRY_QUEUE_URL", "http://q/r"),
            ("DLQ_URL", "http://q/d"),
        ]
        .into_iter()
        .collect();
        m.extend(pairs.iter().copied());
        ForwarderConfig::from_lookup(|k| m.get(k).map(|v| (*v).to_owned())).expect("config")
    }

    fn bearer(c: &Credentials) -> Option<String> {
        c.authorization()
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[tokio::test]
    async fn plain_values_need_no_aws() {
        let c = cfg(&[
            ("WFM_AUTH_TOKEN", "plain"),
            (
                "WFM_SIGNING_SECRETS",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
        ]);
        let store = SecretStore::with_fetcher(&c, None).await.expect("store");
        assert!(!store.refreshable());
        let cur = store.current().await;
        assert_eq!(bearer(&cur).as_deref(), Some("Bearer plain"));
        assert_eq!(cur.signing_keys().map(SigningKeys::len), Some(1));
        assert!(
            store
                .after_unauthorized(&cur, Instant::now())
                .await
                .is_none()
        );
        let dbg = format!("{store:?} {cur:?}");
        assert!(!dbg.contains("plain") && !dbg.contains("MfKQ9"), "{dbg}");
    }

    #[tokio::test]
    async fn ttl_refresh_and_401_refresh() {
        let fake = Arc::new(Fake::default());
        fake.set("tok", "one");
        fake.set("/sig", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let c = cfg(&[
            ("WFM_AUTH_TOKEN_SECRET_ARN", "tok"),
            ("WFM_SIGNING_SECRET_PARAM", "/sig"),
            ("SECRETS_TTL_S", "300"),
        ]);
        let store = SecretStore::with_fetcher(&c, Some(fake.clone() as Arc<dyn SecretFetch>))
            .await
            .expect("store");
        assert_eq!(
            fake.reads.load(Ordering::SeqCst),
            2,
            "token and keys read once"
        );
        let start = Instant::now();

        // Within the TTL: no read.
        fake.set("tok", "two");
        let cur = store.current_at(start + Duration::from_secs(299)).await;
        assert_eq!(bearer(&cur).as_deref(), Some("Bearer one"));
        assert_eq!(fake.reads.load(Ordering::SeqCst), 2);

        // Past the TTL: read again.
        let cur = store.current_at(start + Duration::from_secs(301)).await;
        assert_eq!(bearer(&cur).as_deref(), Some("Bearer two"));
        assert_eq!(fake.reads.load(Ordering::SeqCst), 4);

        // A 401 for a request sent before the last read: no new read, nothing new.
        let sent = Instant::now();
        assert!(store.after_unauthorized(&cur, start).await.is_none());
        assert_eq!(fake.reads.load(Ordering::SeqCst), 4);
        // A 401 for a request sent after it, the token rotated meanwhile: new credentials.
        fake.set("tok", "three");
        let fresh = store.after_unauthorized(&cur, sent).await.expect("changed");
        assert_eq!(bearer(&fresh).as_deref(), Some("Bearer three"));
        // A request still holding the old ones gets the new ones without another read.
        let reads = fake.reads.load(Ordering::SeqCst);
        let again = store.after_unauthorized(&cur, sent).await.expect("newer");
        assert!(Arc::ptr_eq(&again, &fresh));
        assert_eq!(fake.reads.load(Ordering::SeqCst), reads);
        // A 401 with an unchanged token: read, but nothing to retry with.
        let sent = Instant::now();
        assert!(store.after_unauthorized(&fresh, sent).await.is_none());
        assert_eq!(fake.reads.load(Ordering::SeqCst), reads + 2);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_values_and_waits_before_the_next_try() {
        let fake = Arc::new(Fake::default());
        fake.set("tok", "one");
        let c = cfg(&[("WFM_AUTH_TOKEN_PARAM", "tok"), ("SECRETS_TTL_S", "600")]);
        let store = SecretStore::with_fetcher(&c, Some(fake.clone() as Arc<dyn SecretFetch>))
            .await
            .expect("store");
        let t = Instant::now() + Duration::from_secs(601);
        fake.fail.store(true, Ordering::SeqCst);
        let cur = store.current_at(t).await;
        assert_eq!(bearer(&cur).as_deref(), Some("Bearer one"));
        assert_eq!(fake.reads.load(Ordering::SeqCst), 2);
        // Tried again only after 30 s, not on every POST.
        store.current_at(t + Duration::from_secs(29)).await;
        assert_eq!(fake.reads.load(Ordering::SeqCst), 2);
        fake.fail.store(false, Ordering::SeqCst);
        fake.set("tok", "two");
        let cur = store.current_at(t + Duration::from_secs(31)).await;
        assert_eq!(bearer(&cur).as_deref(), Some("Bearer two"));
    }

    #[tokio::test]
    async fn start_up_errors_name_the_variable_and_not_the_value() {
        let fake = Arc::new(Fake::default());
        fake.set(
            "/sig",
            "whsec_c2VjcmV0LXZhbHVlLXRoYXQtaXMtdG9vLXNob3J0LWZvci0$",
        );
        fake.set("tok", "bad\ntoken");
        let table: &[(&[(&str, &str)], &str)] = &[
            (
                &[("WFM_SIGNING_SECRET_PARAM", "/sig")],
                "WFM_SIGNING_SECRET_PARAM",
            ),
            (
                &[("WFM_AUTH_TOKEN_SECRET_ARN", "missing")],
                "WFM_AUTH_TOKEN_SECRET_ARN",
            ),
            (&[("WFM_AUTH_TOKEN_PARAM", "tok")], "WFM_AUTH_TOKEN_PARAM"),
        ];
        for (pairs, var) in table {
            let err =
                SecretStore::with_fetcher(&cfg(pairs), Some(fake.clone() as Arc<dyn SecretFetch>))
                    .await
                    .expect_err("invalid");
            let text = err.to_string();
            assert!(text.starts_with(var), "{text}");
            assert!(
                !text.contains("c2VjcmV0") && !text.contains("bad"),
                "{text}"
            );
        }
        let err = SecretStore::with_fetcher(&cfg(&[("WFM_AUTH_TOKEN_PARAM", "tok")]), None)
            .await
            .expect_err("no client");
        assert!(err.to_string().starts_with("WFM_AUTH_TOKEN_PARAM"));
    }
}
