//! Destination authentication: the credentials every POST to WFM carries, per
//! [`wfm_relay_core::auth::AuthSettings`] (PRODUCT.md §3, §10).
//!
//! - [`WfmAuth`]: one provider per process for every mode (`none`, `bearer`, `oauth2`,
//!   `api_key`, `basic`): [`WfmAuth::authorization`] gives the header of the next POST,
//!   [`WfmAuth::renew_after_401`] renews once after WFM answered 401 (a token refresh, or a
//!   re-read of the secrets from AWS).
//! - [`TokenCache`]: the OAuth access token, cached per process, shared by concurrent POSTs,
//!   refreshed by one request at a time when no more than min(60 s, half its lifetime) is left
//!   ([`wfm_relay_core::auth::refresh_due`]).
//! - [`TokenEndpoint`]: the seam in front of the token endpoint; [`OAuth2Endpoint`] is the real
//!   one (the `oauth2` crate's client-credentials request, sent by our reqwest client).
//!
//! Errors ([`AuthError`]) are never a reason to send without credentials: the caller treats
//! both kinds as a transient attempt (the event waits in the retry queue). A
//! [`AuthError::Configuration`] additionally names the variable to fix (metric
//! `AuthConfigError`). Secrets and tokens appear in no error, log line or `Debug` output.
//!
//! Use in a POST (the shape `WfmClient::post` takes once wired): ask
//! `auth.authorization(left)` before the request (an `Err` makes the attempt transient, no
//! request is sent); set its `header()`; on a 401, `auth.renew_after_401(&used, left)`:
//! `Ok(true)` → one resend, same attempt, with a fresh `authorization(left)`; `Ok(false)` → the
//! 401 stands; `Err` → transient.

mod oauth2_endpoint;
mod provider;
mod static_auth;
mod token_cache;

pub use oauth2_endpoint::{OAuth2Endpoint, token_http_client};
pub use provider::{Authorization, WfmAuth};
pub use token_cache::{IssuedToken, TokenCache, TokenEndpoint, TokenFuture, TokenStats};

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest time one token request may take, whatever the caller's budget: 5 s (EventBridge API
/// destinations allow 5 s per request, FACTS.md §7.2).
pub const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Lifetime assumed for a token whose response has no `expires_in` (RFC 6749 §5.1 makes it
/// optional): 300 s, so it is replaced after 240 s.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// Why the credentials of a POST could not be had. Both kinds make the delivery attempt
/// transient; neither ever leads to a POST without credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint (or AWS, for a secret) is down, too slow, answered 5xx / 408 / 429,
    /// or the caller's budget left no time for the request.
    #[error("credentials unavailable: {message}")]
    Unavailable {
        /// What happened (never a secret or token).
        message: String,
    },
    /// Our credentials are refused or unusable (`invalid_client`, `unauthorized_client`,
    /// `invalid_grant`, `invalid_scope`, a token URL that answers no OAuth response, a secret
    /// that is not a valid header value…): someone must fix `variable`.
    #[error("configuration error, {variable}: {message}")]
    Configuration {
        /// The variable to fix.
        variable: &'static str,
        /// What is wrong (never a secret or token).
        message: String,
    },
}

/// The two kinds of [`AuthError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthErrorKind {
    /// [`AuthError::Unavailable`]: try again later.
    Transient,
    /// [`AuthError::Configuration`]: try again later, and alert (metric `AuthConfigError`).
    Configuration,
}

impl AuthError {
    /// The kind of this error.
    pub fn kind(&self) -> AuthErrorKind {
        match self {
            AuthError::Unavailable { .. } => AuthErrorKind::Transient,
            AuthError::Configuration { .. } => AuthErrorKind::Configuration,
        }
    }

    /// The variable to fix, for a configuration error.
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            AuthError::Unavailable { .. } => None,
            AuthError::Configuration { variable, .. } => Some(variable),
        }
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        AuthError::Unavailable {
            message: message.into(),
        }
    }

    pub(crate) fn configuration(variable: &'static str, message: impl Into<String>) -> Self {
        AuthError::Configuration {
            variable,
            message: message.into(),
        }
    }
}

/// The time source of the token cache; [`SystemClock`] in production, a settable clock in tests.
pub trait Clock: Send + Sync {
    /// Now, on a monotonic clock.
    fn now(&self) -> Instant;
}

/// [`Instant::now`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to ([`ManualClock::advance`]); for tests and simulations.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Instant) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
