//! The retry queue and the dead-letter queue (Amazon SQS) as two typed handles, and the S3
//! claim check for events that do not fit a queue message ([`crate::claim_check`]).
//!
//! [`Queues::retry`] gives the [`RetryQueue`] (enqueue with a delay, set a received message's
//! visibility, SendMessageBatch for a redrive); [`Queues::dlq`] gives the [`DeadLetterQueue`]
//! (park, receive, delete, release, depth). Only the DLQ handle can park. The size rule and the
//! per-entry batch results are in `sqs_queue.rs`, the batch limits in [`crate::sqs_limits`].

use crate::claim_check::ClaimCheck;
use crate::lazy_aws::LazyAws;
use crate::sqs_queue::SqsQueue;
use std::sync::Arc;
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::envelope::{EnvelopeV1, S3Pointer};

/// Why a queue operation failed. An `Err` here means the event is NOT in the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// SendMessage failed (after the SDK's own retries): transport, throttling, service error.
    #[error("SendMessage to {queue} failed: {message}")]
    Send {
        /// Queue URL.
        queue: String,
        /// The SDK error with its sources.
        message: String,
    },
    /// The message is larger than the queue accepts and no claim check was possible.
    #[error(
        "message of {size} bytes exceeds the queue's MaximumMessageSize of {limit} bytes: {why}"
    )]
    Oversize {
        /// Body bytes.
        size: usize,
        /// The queue's limit, bytes.
        limit: usize,
        /// Why no claim check helped.
        why: String,
    },
    /// Storing or reading a claim-check object failed.
    #[error("S3 claim check s3://{bucket}/{key} failed: {message}")]
    ClaimCheck {
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
        /// The SDK error with its sources.
        message: String,
    },
    /// The claim-check object does not exist (S3 `NoSuchKey` or `NoSuchBucket`): the event
    /// cannot come back, so retrying is pointless.
    #[error("S3 claim check s3://{bucket}/{key} does not exist")]
    ClaimCheckMissing {
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// The envelope carries neither `event` nor `event_s3`: there is no event to read, now or
    /// ever (it is parked as `invalid_event`, never read as empty bytes).
    #[error("the envelope has neither `event` nor `event_s3`")]
    NoEvent,
    /// Another SQS call failed.
    #[error("{operation} on {queue} failed: {message}")]
    Call {
        /// API name, e.g. `ChangeMessageVisibility`.
        operation: &'static str,
        /// Queue URL.
        queue: String,
        /// The SDK error with its sources.
        message: String,
    },
}

impl QueueError {
    /// Whether retrying can never help: the claim-check object is gone, or there is no event at
    /// all. Such a letter is parked as `invalid_event` with its pointer.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            QueueError::ClaimCheckMissing { .. } | QueueError::NoEvent
        )
    }
}

/// A message accepted by SQS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// SQS `MessageId`.
    pub message_id: String,
    /// The event went to S3 and the message carries a pointer.
    pub claim_check: Option<S3Pointer>,
}

/// One entry of [`RetryQueue::send_batch`].
#[derive(Debug, Clone)]
pub struct BatchEntry {
    /// Caller's id for the entry (unique within the call; letters, digits, `-`, `_`, ≤ 80 chars).
    pub id: String,
    /// Message body.
    pub body: String,
    /// `DelaySeconds` (0–900).
    pub delay_s: i32,
}

/// One envelope for [`RetryQueue::send_envelopes`].
#[derive(Debug, Clone)]
pub struct EnvelopeEntry {
    /// Caller's id for the entry (unique within the call; letters, digits, `-`, `_`, ≤ 80 chars).
    pub id: String,
    /// The envelope to send (its event is claim-checked when the message would not fit).
    pub env: EnvelopeV1,
    /// `DelaySeconds` (0–900).
    pub delay_s: i32,
}

/// Per-entry result of [`RetryQueue::send_batch`]: SQS reports failures inside an HTTP 200
/// (Amazon SQS API Reference, SendMessageBatch: `Successful` and `Failed` lists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Ids SQS accepted.
    pub sent: Vec<String>,
    /// Ids that are not in the queue, with SQS's code (or the call's error).
    pub failed: Vec<(String, String)>,
}

/// Where the queues are: their URLs and the claim-check bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// The retry queue's URL (`RETRY_QUEUE_URL`).
    pub retry_url: String,
    /// The dead-letter queue's URL (`DLQ_URL`).
    pub dlq_url: String,
    /// The claim-check bucket (`ARCHIVE_BUCKET`), if any.
    pub claim_bucket: Option<String>,
    /// Key prefix of claim checks (`ARCHIVE_PREFIX`).
    pub claim_prefix: String,
}

impl From<&ForwarderConfig> for QueueSettings {
    fn from(c: &ForwarderConfig) -> Self {
        QueueSettings {
            retry_url: c.retry_queue_url.clone(),
            dlq_url: c.dlq_url.clone(),
            claim_bucket: c.archive_bucket.clone(),
            claim_prefix: c.archive_prefix.clone(),
        }
    }
}

/// The retry queue, the DLQ and the claim-check bucket, built once per process.
#[derive(Debug)]
pub struct Queues {
    retry: SqsQueue,
    dlq: SqsQueue,
    claim: ClaimCheck,
    aws: Arc<LazyAws>,
}

impl Queues {
    /// Both queues share the SQS client; claim checks use `s3`.
    pub fn new(sqs: aws_sdk_sqs::Client, s3: aws_sdk_s3::Client, s: QueueSettings) -> Self {
        Self::lazy(LazyAws::with_clients(sqs, s3), s)
    }

    /// Both queues and the claim check take their clients from `aws`, each at its first call
    /// (the Lambdas: a forwarder whose events are delivered never builds them).
    pub fn lazy(aws: Arc<LazyAws>, s: QueueSettings) -> Self {
        Queues {
            retry: SqsQueue::new(Arc::clone(&aws), s.retry_url),
            dlq: SqsQueue::new(Arc::clone(&aws), s.dlq_url),
            claim: ClaimCheck::new(Arc::clone(&aws), s.claim_bucket, s.claim_prefix),
            aws,
        }
    }

    /// The retry queue.
    pub fn retry(&self) -> RetryQueue<'_> {
        RetryQueue {
            queue: &self.retry,
            claim: &self.claim,
        }
    }

    /// The dead-letter queue.
    pub fn dlq(&self) -> DeadLetterQueue<'_> {
        DeadLetterQueue {
            queue: &self.dlq,
            claim: &self.claim,
        }
    }

    /// The claim check (S3).
    pub fn claim_check(&self) -> &ClaimCheck {
        &self.claim
    }

    /// The original event bytes of `env` ([`ClaimCheck::event_bytes`]).
    ///
    /// # Errors
    /// See [`ClaimCheck::event_bytes`].
    pub async fn event_bytes(&self, env: &EnvelopeV1) -> Result<Vec<u8>, QueueError> {
        self.claim.event_bytes(env).await
    }

    /// The S3 client (for the archive), made at the first call.
    pub async fn s3(&self) -> &aws_sdk_s3::Client {
        self.aws.s3().await
    }

    /// The process's AWS configuration and clients, made at their first use (profiles, the
    /// archive and the secrets read at start-up take theirs from here).
    pub fn aws(&self) -> &Arc<LazyAws> {
        &self.aws
    }
}

/// The retry queue: where transient failures wait (PRODUCT.md §4).
#[derive(Debug, Clone, Copy)]
pub struct RetryQueue<'a> {
    queue: &'a SqsQueue,
    claim: &'a ClaimCheck,
}

impl RetryQueue<'_> {
    /// The queue's URL.
    pub fn url(&self) -> &str {
        self.queue.url()
    }

    /// Sends `env` with `DelaySeconds = delay_s` (0–900), claim-checking its event first when
    /// the message would exceed the queue's `MaximumMessageSize`.
    ///
    /// # Errors
    /// [`QueueError`] when the message is not in the queue (SQS error after the SDK's retries,
    /// oversize without a bucket, S3 failure).
    pub async fn enqueue(&self, env: &EnvelopeV1, delay_s: u32) -> Result<Sent, QueueError> {
        self.queue.send(self.claim, env, delay_s).await
    }

    /// Sets a received message's visibility timeout (seconds, 0–43,200).
    ///
    /// # Errors
    /// [`QueueError::Call`] when SQS refuses (e.g. the receipt handle expired).
    pub async fn set_visibility(&self, receipt_handle: &str, secs: u32) -> Result<(), QueueError> {
        self.queue.change_visibility(receipt_handle, secs).await
    }

    /// Sends any number of entries with SendMessageBatch (calls of at most 10 entries and
    /// 1 MiB in total, [`crate::sqs_limits::batch_ranges`]), reading the per-entry result: an
    /// entry SQS lists in `Failed` (or in neither list) is never counted as sent (case C19).
    /// Entries that failed without sender fault are sent once more; what still fails is
    /// returned in `failed`. A call that fails as a whole marks all its entries failed. Bodies
    /// are sent as they are: use [`RetryQueue::send_envelopes`] for envelopes that may need a
    /// claim check.
    pub async fn send_batch(&self, entries: Vec<BatchEntry>) -> BatchOutcome {
        self.queue.send_batch(entries).await
    }

    /// Sends envelopes with SendMessageBatch as [`RetryQueue::send_batch`] does, each first
    /// fitted to the queue's `MaximumMessageSize` like [`RetryQueue::enqueue`] (its event moved
    /// to the claim check when the message would not fit; case C23). An envelope that cannot
    /// be fitted (no bucket, S3 failure) is in `failed` with the reason.
    pub async fn send_envelopes(&self, entries: Vec<EnvelopeEntry>) -> BatchOutcome {
        self.queue.send_envelopes(self.claim, entries).await
    }

    /// The queue's message counts.
    ///
    /// # Errors
    /// [`QueueError::Call`] when GetQueueAttributes fails.
    pub async fn depth(&self) -> Result<Depth, QueueError> {
        self.queue.depth().await
    }
}

/// The dead-letter queue: where events are parked with their reason (PRODUCT.md §5), and what
/// the replayer reads.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetterQueue<'a> {
    queue: &'a SqsQueue,
    claim: &'a ClaimCheck,
}

impl DeadLetterQueue<'_> {
    /// The queue's URL.
    pub fn url(&self) -> &str {
        self.queue.url()
    }

    /// Parks `env` (no delay), claim-checking its event when it would not fit.
    ///
    /// # Errors
    /// [`QueueError`] when the letter is not in the DLQ.
    pub async fn park(&self, env: &EnvelopeV1) -> Result<Sent, QueueError> {
        self.queue.send(self.claim, env, 0).await
    }

    /// ReceiveMessage: up to `max` (1–10) letters, hidden for `visibility_s` seconds, waiting up
    /// to `wait_s` seconds (long poll) when none is visible.
    ///
    /// # Errors
    /// [`QueueError::Call`] when the call fails.
    pub async fn receive(
        &self,
        max: i32,
        visibility_s: i32,
        wait_s: i32,
    ) -> Result<Vec<Received>, QueueError> {
        self.queue.receive(max, visibility_s, wait_s).await
    }

    /// DeleteMessageBatch in chunks of 10. Returns the message ids SQS confirmed deleted; the
    /// others stay in the queue (they come back when their visibility timeout ends).
    pub async fn delete_batch(&self, msgs: &[&Received]) -> Vec<String> {
        self.queue.delete_batch(msgs).await
    }

    /// Makes received letters visible again at once (ChangeMessageVisibilityBatch to 0), best
    /// effort: a letter whose change fails becomes visible when its timeout ends anyway.
    pub async fn release(&self, msgs: &[&Received]) {
        self.queue.release(msgs).await;
    }

    /// The queue's message counts.
    ///
    /// # Errors
    /// [`QueueError::Call`] when GetQueueAttributes fails.
    pub async fn depth(&self) -> Result<Depth, QueueError> {
        self.queue.depth().await
    }
}

/// A message received from a queue.
#[derive(Debug, Clone)]
pub struct Received {
    /// SQS `MessageId`.
    pub message_id: String,
    /// Receipt handle for delete / visibility calls.
    pub receipt_handle: String,
    /// Body text.
    pub body: String,
    /// `SentTimestamp` (when the message entered this queue; kept by a redrive).
    pub sent_at: Option<std::time::SystemTime>,
}

/// Message counts of a queue (`ApproximateNumberOf…` attributes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Depth {
    /// Visible messages.
    pub visible: usize,
    /// Received, not yet deleted nor visible again.
    pub in_flight: usize,
    /// Delayed messages.
    pub delayed: usize,
}

impl Depth {
    /// All messages in the queue.
    pub fn total(&self) -> usize {
        self.visible + self.in_flight + self.delayed
    }
}
