//! The archive bucket's settings as template.yaml sets them (`ArchiveBucket`:
//! `BucketEncryption` SSE-S3 and all four `PublicAccessBlockConfiguration` flags), for a bucket
//! made outside CloudFormation: the demo's kept stack (`--keep`) and the wired stack of
//! `relayctl doctor`'s tests both call these, so `relayctl doctor`'s `bucket.encryption` and
//! `bucket.public-access` checks pass on them.
//!
//! Source: Amazon S3 API Reference, "PutBucketEncryption" and "PutPublicAccessBlock".

use anyhow::Context;
use aws_sdk_s3::types::{
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

/// Turns on `bucket`'s default encryption (SSE-S3, `AES256`).
///
/// # Errors
/// When the configuration cannot be built or `PutBucketEncryption` fails.
pub async fn encrypt_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<()> {
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .context("encryption default")?,
        )
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .context("encryption configuration")?,
        )
        .send()
        .await
        .with_context(|| format!("PutBucketEncryption on {bucket}"))?;
    Ok(())
}

/// Turns on all four public-access blocks of `bucket` (BlockPublicAcls, IgnorePublicAcls,
/// BlockPublicPolicy, RestrictPublicBuckets).
///
/// # Errors
/// When `PutPublicAccessBlock` fails.
pub async fn block_public_access(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<()> {
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .with_context(|| format!("PutPublicAccessBlock on {bucket}"))?;
    Ok(())
}
