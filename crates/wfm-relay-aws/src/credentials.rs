//! The credentials of one POST to WFM: the bearer token, prepared as a sensitive
//! `Authorization` header, and the Standard Webhooks signing keys. Read from a
//! [`crate::secrets::SecretStore`].

use reqwest::header::HeaderValue;
use std::fmt;
use wfm_relay_core::config::Secret;
use wfm_relay_core::signing::SigningKeys;

/// The credentials of one POST: the `Authorization` header and the signing keys. `Debug` shows
/// only whether they are set.
#[derive(Clone)]
pub struct Credentials {
    pub(crate) token: Option<Secret>,
    authorization: Option<HeaderValue>,
    pub(crate) signing_keys: Option<SigningKeys>,
}

impl Credentials {
    /// Validates the token (it must fit an HTTP header value) and prepares
    /// `Authorization: Bearer <token>`, marked sensitive.
    ///
    /// # Errors
    /// A message (without the token) when the token holds characters not allowed in a header.
    pub fn new(token: Option<Secret>, signing_keys: Option<SigningKeys>) -> Result<Self, String> {
        let authorization = match &token {
            Some(t) => {
                let mut v =
                    HeaderValue::from_str(&format!("Bearer {}", t.expose())).map_err(|_| {
                        "the token contains characters not allowed in an HTTP header".to_owned()
                    })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(Credentials {
            token,
            authorization,
            signing_keys,
        })
    }

    /// `Bearer <token>`, when a token is configured.
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// The Standard Webhooks signing keys, when configured.
    pub fn signing_keys(&self) -> Option<&SigningKeys> {
        self.signing_keys.as_ref()
    }
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token && self.signing_keys == other.signing_keys
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token)
            .field("signing_keys", &self.signing_keys)
            .finish()
    }
}
