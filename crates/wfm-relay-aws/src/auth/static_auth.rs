//! The static modes' credentials (`bearer` when built by [`super::WfmAuth`], `api_key`,
//! `basic`): the header built from the secrets, read again from AWS when older than
//! `SECRETS_TTL_S` ([`super::WfmAuth::with_secrets_ttl`]) and after a 401.

use super::AuthError;
use super::Clock;
use super::provider::{Authorization, resolve_all, static_header};
use crate::secrets::SecretFetch;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use wfm_relay_core::auth::AuthSettings;

/// Longest wait before a failed read by age of the static modes' secrets is tried again: 30 s
/// (the secret store's `REFRESH_RETRY_AFTER`).
const STATIC_REREAD_RETRY: Duration = Duration::from_secs(30);

/// The provider of the static modes (`bearer`, `api_key`, `basic`): one header, renewed from
/// AWS by age and after a 401.
pub(super) struct StaticAuth {
    pub(super) settings: AuthSettings,
    pub(super) fetcher: Option<Arc<dyn SecretFetch>>,
    pub(super) current: RwLock<Authorization>,
    pub(super) renew: tokio::sync::Mutex<()>,
    /// How old the AWS secrets may get before a POST reads them again (`SECRETS_TTL_S`).
    pub(super) ttl: Duration,
    pub(super) clock: Arc<dyn Clock>,
    /// When the next read by age is due (`None`: never, the default).
    pub(super) next_reread: Mutex<Option<Instant>>,
}

impl StaticAuth {
    pub(super) fn current(&self) -> Authorization {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn due(&self, now: Instant) -> bool {
        let next = *self.next_reread.lock().unwrap_or_else(|e| e.into_inner());
        next.is_some_and(|t| now >= t)
    }

    fn schedule(&self, now: Instant, wait: Duration) {
        *self.next_reread.lock().unwrap_or_else(|e| e.into_inner()) = now.checked_add(wait);
    }

    /// The current credentials, read again from AWS first when they are older than the TTL and
    /// no other caller is reading them.
    pub(super) async fn current_by_age(&self) -> Authorization {
        let now = self.clock.now();
        if self.fetcher.is_none() || !self.due(now) {
            return self.current();
        }
        let Ok(_one) = self.renew.try_lock() else {
            return self.current();
        };
        if !self.due(now) {
            return self.current();
        }
        match self.reread(&self.current()).await {
            Ok(changed) => {
                tracing::info!(
                    reason = "age",
                    changed,
                    "WFM credentials read again from AWS"
                );
            }
            Err(e) => {
                let wait = self.ttl.min(STATIC_REREAD_RETRY);
                self.schedule(now, wait);
                tracing::warn!(reason = "age", error = %e, retry_in_s = wait.as_secs(),
                    "cannot read the WFM credentials again; keeping the current ones");
            }
        }
        self.current()
    }

    pub(super) async fn renew(&self, used: &Authorization) -> Result<bool, AuthError> {
        if self.fetcher.is_none() {
            return Ok(false);
        }
        let _one = self.renew.lock().await;
        let current = self.current();
        if current.generation != used.generation {
            return Ok(true);
        }
        let changed = self.reread(&current).await?;
        tracing::info!(changed, "WFM credentials read again from AWS after a 401");
        Ok(changed)
    }

    /// Reads the secrets from AWS; installs them (generation + 1) when the header changed from
    /// `current`. Schedules the next read by age. Call with `renew` held.
    async fn reread(&self, current: &Authorization) -> Result<bool, AuthError> {
        let values = resolve_all(&self.settings, self.fetcher.as_deref()).await?;
        let header = static_header(&self.settings, &values)?;
        self.schedule(self.clock.now(), self.ttl);
        let changed = header.as_ref().map(|(k, v)| (k, v.as_bytes()))
            != current.header.as_ref().map(|(k, v)| (k, v.as_bytes()));
        if changed {
            let mut c = self.current.write().unwrap_or_else(|e| e.into_inner());
            *c = Authorization {
                header,
                generation: current.generation + 1,
            };
        }
        Ok(changed)
    }
}
