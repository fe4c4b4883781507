//! The queues and bucket of one run in moto (retry queue with a RedrivePolicy to the DLQ, DLQ,
//! archive bucket), created with the AWS SDK, and the queue reads the runs need.
//!
//! Queue settings follow PRODUCT.md §4: the retry queue's `maxReceiveCount` is the number of
//! schedule steps + 5, the DLQ keeps messages 14 days.

use anyhow::Context;
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, QueueAttributeName};
use std::time::{Duration, Instant};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_core::replay::decode_dead_letter;

/// The queues and bucket of one run.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The retry queue's URL.
    pub retry_url: String,
    /// Its ARN (the event source mapping sends it as `eventSourceARN`).
    pub retry_arn: String,
    /// The dead-letter queue's URL.
    pub dlq_url: String,
    /// The archive bucket.
    pub bucket: String,
}

impl Stack {
    /// Creates `<prefix>-dlq-<run>`, `<prefix>-retry-<run>` (visibility timeout 60 s,
    /// RedrivePolicy to the DLQ with `max_receive`) and the bucket `<prefix>-<run>`.
    ///
    /// # Errors
    /// When a call to moto fails (typically: moto is not running at `AWS_ENDPOINT_URL`).
    pub async fn create(
        aws: &AwsClients,
        prefix: &str,
        run: &str,
        max_receive: usize,
    ) -> anyhow::Result<Stack> {
        let dlq_url = aws
            .sqs
            .create_queue()
            .queue_name(format!("{prefix}-dlq-{run}"))
            .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
            .send()
            .await
            .context("CreateQueue (DLQ) failed: is moto server running at AWS_ENDPOINT_URL?")?
            .queue_url
            .context("CreateQueue returned no QueueUrl")?;
        let dlq_arn = queue_arn(&aws.sqs, &dlq_url).await?;
        let retry_url = aws
            .sqs
            .create_queue()
            .queue_name(format!("{prefix}-retry-{run}"))
            .attributes(QueueAttributeName::VisibilityTimeout, "60")
            .attributes(QueueAttributeName::MessageRetentionPeriod, "345600")
            .attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive })
                    .to_string(),
            )
            .send()
            .await
            .context("CreateQueue (retry queue) failed")?
            .queue_url
            .context("CreateQueue returned no QueueUrl")?;
        let retry_arn = queue_arn(&aws.sqs, &retry_url).await?;
        let bucket = format!("{prefix}-{run}");
        aws.s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .context("CreateBucket failed")?;
        Ok(Stack {
            retry_url,
            retry_arn,
            dlq_url,
            bucket,
        })
    }

    /// The Lambda environment of the forwarder and the replayer for this stack and `wfm_url`
    /// (plain http allowed: the WFM stand-in listens on loopback), followed by `extra`.
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
}

/// The `QueueArn` attribute of `url`.
///
/// # Errors
/// When the call fails or the attribute is missing.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("GetQueueAttributes on {url}"))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .with_context(|| format!("{url} has no QueueArn"))
}

/// Visible + in flight + delayed messages of `url`.
///
/// # Errors
/// When `GetQueueAttributes` fails.
pub async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<usize> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .with_context(|| format!("GetQueueAttributes on {url}"))?;
    Ok(out
        .attributes()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| v.parse::<usize>().ok())
        .sum())
}

/// The EventBridge ids of the messages of `url` (our envelope, Lambda's on-failure record or a
/// raw event; `None` for a body without an id), read by receiving up to `expected` messages
/// (waiting at most `patience` for in-flight and delayed ones) and making them visible again.
///
/// # Errors
/// When a receive or visibility call fails.
pub async fn peek_event_ids(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    expected: usize,
    patience: Duration,
) -> anyhow::Result<Vec<Option<String>>> {
    let until = Instant::now() + patience;
    let mut out = Vec::with_capacity(expected);
    let mut receipts = Vec::new();
    while out.len() < expected && Instant::now() < until {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(120)
            .wait_time_seconds(1)
            .send()
            .await
            .with_context(|| format!("ReceiveMessage on {url}"))?;
        for m in r.messages() {
            out.push(
                decode_dead_letter(m.body().unwrap_or_default())
                    .env
                    .event_id,
            );
            if let Some(h) = m.receipt_handle() {
                receipts.push(h.to_owned());
            }
        }
    }
    release(sqs, url, &receipts).await?;
    Ok(out)
}

/// Makes the received messages `receipts` of `url` visible again (visibility timeout 0).
///
/// # Errors
/// When a `ChangeMessageVisibilityBatch` call fails as a whole.
pub async fn release(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    receipts: &[String],
) -> anyhow::Result<()> {
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
            .collect::<Result<Vec<_>, _>>()?;
        sqs.change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .with_context(|| format!("ChangeMessageVisibilityBatch on {url}"))?;
    }
    Ok(())
}
