//! AWS configuration and clients, built once per process.

use aws_config::BehaviorVersion;

/// The SQS and S3 clients of one process, built from one shared AWS configuration.
#[derive(Clone, Debug)]
pub struct AwsClients {
    /// Amazon SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// Amazon S3 client.
    pub s3: aws_sdk_s3::Client,
}

impl AwsClients {
    /// Loads the default AWS configuration (region, credentials, and `AWS_ENDPOINT_URL` /
    /// `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_S3` for emulators; AWS SDK developer guide,
    /// "Service-specific endpoints") and builds the clients.
    ///
    /// S3 uses path-style addressing when a custom endpoint is configured (emulators such as moto
    /// serve buckets by path) or when `S3_FORCE_PATH_STYLE=true`; virtual-hosted style otherwise,
    /// as AWS recommends.
    pub async fn from_env() -> Self {
        Self::from_sdk_config(&load_sdk_config().await)
    }

    /// Builds the clients from an already loaded configuration (see [`AwsClients::from_env`]
    /// for the S3 addressing rule).
    pub fn from_sdk_config(conf: &aws_config::SdkConfig) -> Self {
        AwsClients {
            sqs: aws_sdk_sqs::Client::new(conf),
            s3: Self::s3_from_sdk_config(conf),
        }
    }

    /// The S3 client alone, with the addressing rule of [`AwsClients::from_env`].
    pub fn s3_from_sdk_config(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let force_path =
            custom_endpoint || std::env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true");
        let s3_conf = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(force_path)
            .build();
        aws_sdk_s3::Client::from_conf(s3_conf)
    }
}

/// Loads the default AWS configuration once (region, credentials, endpoint overrides), with the
/// process's one HTTP client on the process's roots ([`crate::tls::sdk_http_client`]), so every
/// SDK client built from it (SQS, S3, Secrets Manager, SSM, and the credential providers) shares
/// them instead of loading the platform's roots again.
///
/// When the roots cannot be loaded this logs the error and leaves the SDK's default HTTP client
/// in place (which loads the native roots itself); the Lambdas fail start-up on the same error
/// before they get here ([`crate::relay::RelayParts::from_env`]).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    match crate::tls::sdk_http_client() {
        Ok(http) => loader.http_client(http).load().await,
        Err(e) => {
            tracing::error!(error = %e, "TLS roots: the AWS SDK uses its own");
            loader.load().await
        }
    }
}
