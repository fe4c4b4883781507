//! What both Lambdas (and `relayctl`) build once at start-up: the configuration, the WFM client
//! with its secrets, and the queues. One AWS configuration load serves every client.

use crate::auth::{SystemClock, WfmAuth, token_http_client};
use crate::aws::{AwsClients, load_sdk_config};
use crate::queues::{QueueSettings, Queues};
use crate::secrets::{AwsSecretFetcher, SecretFetch, SecretStore};
use crate::tls::HttpClientError;
use crate::wfm::{WfmClient, WfmClientError, WfmSettings};
use aws_config::SdkConfig;
use std::sync::Arc;
use wfm_relay_core::auth::AuthMode;
use wfm_relay_core::config::{ConfigError, ForwarderConfig};

/// Start-up failure: a bad configuration, an unreadable secret, or an HTTP client that cannot be
/// built. Each names the variable at fault and never shows a secret.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration variable is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The WFM client (or a secret it needs) could not be set up.
    #[error(transparent)]
    Client(#[from] WfmClientError),
    /// The WFM output profile (`WFM_PROFILE`) or its agent table cannot be read or validated.
    #[error(transparent)]
    Profile(#[from] crate::profile_source::ProfileStartError),
}

/// The parts a wfm-relay Lambda is made of.
#[derive(Debug)]
pub struct RelayParts {
    /// The configuration (PRODUCT.md §10).
    pub cfg: ForwarderConfig,
    /// The WFM client, with the credentials of `WFM_AUTH_MODE` and the signing keys, read
    /// from AWS when configured.
    pub wfm: WfmClient,
    /// The retry queue, the DLQ and the claim-check bucket.
    pub queues: Queues,
}

impl RelayParts {
    /// Reads the environment, loads the AWS configuration once, reads the secrets that come
    /// from Secrets Manager or SSM (before the first invocation; then cached and refreshed by
    /// the client), and builds the clients.
    ///
    /// # Errors
    /// [`StartError`] naming the variable at fault.
    pub async fn from_env() -> Result<Self, StartError> {
        let cfg = ForwarderConfig::from_lookup(|k| std::env::var(k).ok())?;
        // The roots first (read once, shared by every client): a bad `SSL_CERT_FILE` fails
        // start-up here, before any client is built.
        crate::tls::shared().map_err(|e| WfmClientError::from(HttpClientError::from(e)))?;
        Self::build(cfg, &load_sdk_config().await).await
    }

    /// The same start-up path as [`RelayParts::from_env`], with the configuration read from
    /// `lookup` and the AWS configuration given (tests use it with their own variables).
    ///
    /// # Errors
    /// [`StartError`] naming the variable at fault.
    pub async fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        conf: &SdkConfig,
    ) -> Result<Self, StartError> {
        Self::build(ForwarderConfig::from_lookup(lookup)?, conf).await
    }

    async fn build(cfg: ForwarderConfig, conf: &SdkConfig) -> Result<Self, StartError> {
        let fetcher: Option<Arc<dyn SecretFetch>> =
            if !cfg.auth.aws_secrets().is_empty() || cfg.signing_source.is_some() {
                Some(Arc::new(AwsSecretFetcher::new(conf)))
            } else {
                None
            };
        let secrets = SecretStore::with_fetcher(&cfg, fetcher.clone())
            .await
            .map_err(WfmClientError::from)?;
        // The bearer token lives in the secret store (read by age too); the other modes' in
        // `WfmAuth` (their secrets read now, again by age, `SECRETS_TTL_S`, and after a 401).
        let auth = match cfg.auth.mode() {
            AuthMode::None | AuthMode::Bearer => WfmAuth::none(),
            _ => {
                let http = token_http_client(cfg.connect_timeout).map_err(WfmClientError::from)?;
                WfmAuth::from_settings(&cfg.auth, fetcher, http, Arc::new(SystemClock))
                    .await
                    .map_err(WfmClientError::from)?
                    .with_secrets_ttl(cfg.secrets_ttl)
            }
        };
        tracing::info!(mode = cfg.auth.mode().as_str(), "destination auth");
        let wfm =
            WfmClient::with_secrets(&WfmSettings::from(&cfg), Arc::new(secrets), Arc::new(auth))?;
        let aws = AwsClients::from_sdk_config(conf);
        let queues = Queues::new(aws.sqs, aws.s3, QueueSettings::from(&cfg));
        Ok(RelayParts { cfg, wfm, queues })
    }
}
