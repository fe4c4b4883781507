//! The AWS configuration and the SQS and S3 clients of a Lambda process, each made at its first
//! use instead of at start-up (issue 14 item 5: build clients not needed for the first
//! invocation lazily).
//!
//! Why: in a release build, loading the default AWS configuration costs about 1.6–2.0 ms and
//! building the SQS and S3 clients another 1.6–2.7 ms (each SDK client builds its endpoint
//! resolver and runtime plugins anew), against about 1.5 ms for a whole minimal Rust runtime
//! (BENCHMARKS.md, "Cold start near the floor"). A forwarder whose first event is delivered never
//! needs either: SQS is used only for the retry queue and the DLQ, S3 only for claim checks,
//! archives and profiles kept in S3. So the Lambdas hold a [`LazyAws`] and ask it for a client
//! where they call AWS; what start-up itself reads from AWS (secrets, a profile in S3 or SSM)
//! loads the configuration then, as before.
//!
//! A client is made once per [`LazyAws`] (concurrent first callers wait for the one being made:
//! [`tokio::sync::OnceCell`]); clones share it through an `Arc`.

use crate::aws::{AwsClients, load_sdk_config};
use aws_config::SdkConfig;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The AWS configuration and the SQS and S3 clients, each made at its first use and then kept.
/// Cheap to share: hold it in an `Arc` (what [`crate::queues::Queues`] does).
#[derive(Debug, Default)]
pub struct LazyAws {
    conf: OnceCell<SdkConfig>,
    sqs: OnceCell<aws_sdk_sqs::Client>,
    s3: OnceCell<aws_sdk_s3::Client>,
}

impl LazyAws {
    /// Nothing made yet: the configuration comes from the environment at the first call that
    /// needs it ([`load_sdk_config`]: region, credentials, `AWS_ENDPOINT_URL*`, the process's TLS
    /// roots), the clients from it ([`AwsClients::from_sdk_config`], with its S3 addressing
    /// rule).
    pub fn from_env() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The configuration is `conf` (tests, tools that loaded their own); the clients are still
    /// made at their first use.
    pub fn with_config(conf: SdkConfig) -> Arc<Self> {
        Arc::new(LazyAws {
            conf: OnceCell::new_with(Some(conf)),
            ..Self::default()
        })
    }

    /// Both clients given (tests, tools that built their own); a call for the configuration
    /// itself (a secret or SSM read) still loads it from the environment.
    pub fn with_clients(sqs: aws_sdk_sqs::Client, s3: aws_sdk_s3::Client) -> Arc<Self> {
        Arc::new(LazyAws {
            sqs: OnceCell::new_with(Some(sqs)),
            s3: OnceCell::new_with(Some(s3)),
            ..Self::default()
        })
    }

    /// Only the S3 client given (an archive or a profile read by a tool); SQS, if ever asked
    /// for, comes from the environment's configuration.
    pub fn with_s3(s3: aws_sdk_s3::Client) -> Arc<Self> {
        Arc::new(LazyAws {
            s3: OnceCell::new_with(Some(s3)),
            ..Self::default()
        })
    }

    /// The AWS configuration, loaded at the first call. Loading it does no network I/O (the
    /// credentials are resolved at the first request).
    pub async fn sdk_config(&self) -> &SdkConfig {
        self.conf.get_or_init(load_sdk_config).await
    }

    /// The SQS client (the retry queue and the DLQ), made at the first call.
    pub async fn sqs(&self) -> &aws_sdk_sqs::Client {
        self.sqs
            .get_or_init(|| async { aws_sdk_sqs::Client::new(self.sdk_config().await) })
            .await
    }

    /// The S3 client (claim checks, archives, profiles and tables kept in S3), made at the first
    /// call, path-style under an emulator endpoint as [`AwsClients::from_sdk_config`] says.
    pub async fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3
            .get_or_init(|| async { AwsClients::s3_from_sdk_config(self.sdk_config().await) })
            .await
    }

    /// Whether the configuration or a client has been made yet: `(configuration, sqs, s3)`.
    /// For tests of what start-up builds.
    pub fn made(&self) -> (bool, bool, bool) {
        (
            self.conf.initialized(),
            self.sqs.initialized(),
            self.s3.initialized(),
        )
    }
}

/// An AWS configuration for unit tests: a region, no credentials, no endpoint (no call is made).
#[cfg(test)]
pub(crate) fn offline_conf() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nothing_is_made_before_it_is_asked_for() {
        let aws = LazyAws::with_config(offline_conf());
        assert_eq!(aws.made(), (true, false, false));
        let region = aws.s3().await.config().region().map(ToString::to_string);
        assert_eq!(region.as_deref(), Some("eu-west-1"));
        assert_eq!(aws.made(), (true, false, true));
        aws.sqs().await;
        assert_eq!(aws.made(), (true, true, true));
    }

    #[tokio::test]
    async fn from_env_makes_nothing_until_a_client_is_asked_for() {
        let aws = LazyAws::from_env();
        assert_eq!(aws.made(), (false, false, false));
    }

    #[tokio::test]
    async fn given_clients_are_the_ones_returned() {
        let conf = offline_conf();
        let s3 = aws_sdk_s3::Client::new(&conf);
        let sqs = aws_sdk_sqs::Client::new(&conf);
        let aws = LazyAws::with_clients(sqs, s3);
        assert_eq!(aws.made(), (false, true, true));
        assert_eq!(
            aws.sqs().await.config().region().map(ToString::to_string),
            Some("eu-west-1".to_owned())
        );
        assert_eq!(aws.made(), (false, true, true), "no configuration load");
    }
}
