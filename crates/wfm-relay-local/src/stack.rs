//! The queues and bucket of one local run in moto (or any SQS/S3 endpoint): a retry queue with a
//! RedrivePolicy to a dead-letter queue, the DLQ, and an archive bucket, created with the AWS
//! SDK; plus the queue reads the demo, the chaos run and the benchmarks need (ARN, depth, a
//! look at the messages that leaves them in the queue).
//!
//! Queue settings follow PRODUCT.md §4: the retry queue keeps messages 4 days and moves one to
//! the DLQ after `maxReceiveCount` receives (schedule steps + 5 in the callers); the DLQ keeps
//! messages 14 days, longer than the retry queue. Attribute names and limits: Amazon SQS API
//! Reference, `CreateQueue` and `GetQueueAttributes`.

use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, QueueAttributeName};
use std::time::{Duration, Instant};
use wfm_relay_aws::aws::AwsClients;

/// `MessageRetentionPeriod` of the DLQ, seconds (14 days, the SQS maximum).
pub const DLQ_RETENTION_S: u32 = 1_209_600;
/// `MessageRetentionPeriod` of the retry queue, seconds (4 days, the SQS default).
pub const RETRY_RETENTION_S: u32 = 345_600;

/// Why a stack call failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The first call, creating the DLQ, failed: typically nothing listens at
    /// `AWS_ENDPOINT_URL`.
    #[error("CreateQueue (DLQ) failed: is moto server running at AWS_ENDPOINT_URL?")]
    Unreachable {
        /// The SDK error.
        #[source]
        source: Box<aws_sdk_sqs::Error>,
    },
    /// Another SQS call failed.
    #[error("{call} failed")]
    Sqs {
        /// The call and its target, e.g. `GetQueueAttributes on <url>`.
        call: String,
        /// The SDK error.
        #[source]
        source: Box<aws_sdk_sqs::Error>,
    },
    /// `CreateBucket` failed.
    #[error("CreateBucket {bucket} failed")]
    CreateBucket {
        /// The bucket name.
        bucket: String,
        /// The SDK error.
        #[source]
        source: Box<aws_sdk_s3::Error>,
    },
    /// A response lacked a value the API always returns (`QueueUrl`, the `QueueArn` attribute).
    #[error("{0}")]
    Missing(String),
    /// A `ChangeMessageVisibilityBatch` entry could not be built.
    #[error("could not build a ChangeMessageVisibilityBatch entry")]
    Build(#[source] aws_sdk_sqs::error::BuildError),
}

fn sqs_error(call: String, e: impl Into<aws_sdk_sqs::Error>) -> StackError {
    StackError::Sqs {
        call,
        source: Box::new(e.into()),
    }
}

/// The settings of a stack that differ between callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackOptions {
    /// The retry queue's RedrivePolicy `maxReceiveCount`: receives before SQS moves a message to
    /// the DLQ (1–1000).
    pub max_receive_count: usize,
    /// The retry queue's `VisibilityTimeout`, seconds (0–43200): how long a received message
    /// stays hidden before the event source mapping may receive it again.
    pub retry_visibility_timeout_s: u32,
}

/// The queues and bucket of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStack {
    /// The retry queue's URL.
    pub retry_url: String,
    /// The retry queue's ARN (the event source mapping sends it as `eventSourceARN`).
    pub retry_arn: String,
    /// The dead-letter queue's URL.
    pub dlq_url: String,
    /// The archive bucket's name.
    pub bucket: String,
}

impl LocalStack {
    /// Creates, in this order, the DLQ `<prefix>-dlq-<run>` (retention [`DLQ_RETENTION_S`]),
    /// the retry queue `<prefix>-retry-<run>` (retention [`RETRY_RETENTION_S`], visibility
    /// timeout and RedrivePolicy to the DLQ from `options`) and the bucket `<prefix>-<run>`.
    /// `prefix` and `run` must keep the names valid for SQS (≤ 80 characters, alphanumerics,
    /// `-`, `_`) and S3 (3–63 characters, lower case).
    ///
    /// # Errors
    /// [`StackError::Unreachable`] when the first call fails (typically: moto is not running at
    /// `AWS_ENDPOINT_URL`); otherwise the failing call.
    pub async fn create(
        aws: &AwsClients,
        prefix: &str,
        run: &str,
        options: StackOptions,
    ) -> Result<LocalStack, StackError> {
        let dlq_url = aws
            .sqs
            .create_queue()
            .queue_name(format!("{prefix}-dlq-{run}"))
            .attributes(
                QueueAttributeName::MessageRetentionPeriod,
                DLQ_RETENTION_S.to_string(),
            )
            .send()
            .await
            .map_err(|e| StackError::Unreachable {
                source: Box::new(e.into()),
            })?
            .queue_url
            .ok_or_else(|| StackError::Missing("CreateQueue returned no QueueUrl".into()))?;
        let dlq_arn = queue_arn(&aws.sqs, &dlq_url).await?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": options.max_receive_count,
        });
        let retry_url = aws
            .sqs
            .create_queue()
            .queue_name(format!("{prefix}-retry-{run}"))
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                options.retry_visibility_timeout_s.to_string(),
            )
            .attributes(
                QueueAttributeName::MessageRetentionPeriod,
                RETRY_RETENTION_S.to_string(),
            )
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .map_err(|e| sqs_error("CreateQueue (retry queue)".into(), e))?
            .queue_url
            .ok_or_else(|| StackError::Missing("CreateQueue returned no QueueUrl".into()))?;
        let retry_arn = queue_arn(&aws.sqs, &retry_url).await?;
        let bucket = format!("{prefix}-{run}");
        aws.s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .map_err(|e| StackError::CreateBucket {
                bucket: bucket.clone(),
                source: Box::new(e.into()),
            })?;
        Ok(LocalStack {
            retry_url,
            retry_arn,
            dlq_url,
            bucket,
        })
    }

    /// The Lambda environment of the forwarder and the replayer for this stack and `wfm_url`
    /// (`WFM_URL`, `WFM_ALLOW_HTTP=true` because the WFM stand-in listens on plain-http
    /// loopback, `RETRY_QUEUE_URL`, `DLQ_URL`, `ARCHIVE_BUCKET`), followed by `extra`; a variable
    /// named in `extra` replaces an earlier one of the same name.
    pub fn lambda_env(&self, wfm_url: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("WFM_URL", wfm_url),
            ("WFM_ALLOW_HTTP", "true"),
            ("RETRY_QUEUE_URL", self.retry_url.as_str()),
            ("DLQ_URL", self.dlq_url.as_str()),
            ("ARCHIVE_BUCKET", self.bucket.as_str()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        env
    }

    /// Lambda's SQS event source mapping on this stack's retry queue, as the demo, the chaos run
    /// and the benchmarks play it: batches of 10, a 1 s long poll, `awsRegion` from `AWS_REGION`
    /// (default `us-east-1`).
    pub fn retry_esm(&self, sqs: &aws_sdk_sqs::Client) -> crate::SqsEventSourceMapping {
        crate::SqsEventSourceMapping {
            sqs: sqs.clone(),
            queue_url: self.retry_url.clone(),
            queue_arn: self.retry_arn.clone(),
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            batch_size: 10,
            wait_time_s: 1,
        }
    }
}

/// The `QueueArn` attribute of the queue at `url`.
///
/// # Errors
/// When `GetQueueAttributes` fails or returns no `QueueArn`.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, StackError> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sqs_error(format!("GetQueueAttributes on {url}"), e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| StackError::Missing(format!("{url} has no QueueArn")))
}

/// Messages of the queue at `url`: visible + in flight + delayed (SQS's approximate counts
/// `ApproximateNumberOfMessages`, `…NotVisible`, `…Delayed`).
///
/// # Errors
/// When `GetQueueAttributes` fails.
pub async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<usize, StackError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|e| sqs_error(format!("GetQueueAttributes on {url}"), e))?;
    Ok(out
        .attributes()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| v.parse::<usize>().ok())
        .sum())
}

/// The bodies of up to about `expected` messages of the queue at `url` (an empty string for a
/// message without a body), without consuming them: receives batches of 10 with a 1 s long
/// poll, each message hidden for `visibility_timeout_s` seconds, until `expected` bodies are in
/// or `patience` has passed (in-flight and delayed messages need time to become visible), then
/// makes every received message visible again with [`release`].
///
/// # Errors
/// When a `ReceiveMessage` or `ChangeMessageVisibilityBatch` call fails.
pub async fn peek_bodies(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    expected: usize,
    patience: Duration,
    visibility_timeout_s: u32,
) -> Result<Vec<String>, StackError> {
    // SQS allows 0–43200 s.
    let visibility_timeout_s = i32::try_from(visibility_timeout_s).unwrap_or(i32::MAX);
    let until = Instant::now() + patience;
    let mut bodies = Vec::with_capacity(expected);
    let mut receipts = Vec::new();
    while bodies.len() < expected && Instant::now() < until {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(visibility_timeout_s)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| sqs_error(format!("ReceiveMessage on {url}"), e))?;
        for m in r.messages() {
            bodies.push(m.body().unwrap_or_default().to_owned());
            if let Some(h) = m.receipt_handle() {
                receipts.push(h.to_owned());
            }
        }
    }
    release(sqs, url, &receipts).await?;
    Ok(bodies)
}

/// Makes the received messages `receipts` of the queue at `url` visible again (visibility
/// timeout 0), in `ChangeMessageVisibilityBatch` calls of 10 (the API's maximum).
///
/// # Errors
/// When a `ChangeMessageVisibilityBatch` call fails as a whole (per-entry failures, e.g. an
/// expired receipt handle, are ignored).
pub async fn release(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    receipts: &[String],
) -> Result<(), StackError> {
    for chunk in receipts.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, h)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(StackError::Build)?;
        sqs.change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sqs_error(format!("ChangeMessageVisibilityBatch on {url}"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_env_lists_the_stack_and_lets_extra_replace() {
        let stack = LocalStack {
            retry_url: "http://q/retry".into(),
            retry_arn: "arn:aws:sqs:us-east-1:123456789012:retry".into(),
            dlq_url: "http://q/dlq".into(),
            bucket: "b".into(),
        };
        let env = stack.lambda_env(
            "http://127.0.0.1:1/api",
            &[("WFM_ALLOW_HTTP", "false"), ("RUST_LOG", "info")],
        );
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("WFM_URL", "http://127.0.0.1:1/api"),
                ("RETRY_QUEUE_URL", "http://q/retry"),
                ("DLQ_URL", "http://q/dlq"),
                ("ARCHIVE_BUCKET", "b"),
                ("WFM_ALLOW_HTTP", "false"),
                ("RUST_LOG", "info"),
            ]
        );
    }
}
