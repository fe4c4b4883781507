//! The retry queue and the dead-letter queue (Amazon SQS), and the S3 claim check for events
//! that do not fit a queue message.
//!
//! Size rule (case C12): SQS refuses a message whose body plus message attributes (name, data
//! type and value bytes) exceed the queue's `MaximumMessageSize` attribute (1,024 to 1,048,576
//! bytes; Amazon SQS API Reference, SetQueueAttributes and SendMessage). wfm-relay sends no
//! message attributes, so the body's UTF-8 length is compared with the attribute read from the
//! queue itself (once per queue and process). An envelope that is too large has its event moved
//! to S3 byte for byte (claim check) and carries `event_s3` instead of `event`.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use std::collections::HashMap;
use time::OffsetDateTime;
use tokio::sync::Mutex;
use wfm_relay_core::envelope::{EnvelopeV1, S3Pointer};

/// Size assumed when a queue's `MaximumMessageSize` cannot be read: 262,144 bytes, the historical
/// default and the smallest value a queue created before August 2025 may still have.
pub const FALLBACK_MAX_MESSAGE_BYTES: usize = 262_144;

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

/// A message accepted by SQS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// SQS `MessageId`.
    pub message_id: String,
    /// The event went to S3 and the message carries a pointer.
    pub claim_check: Option<S3Pointer>,
}

/// One entry of [`Queues::send_batch`].
#[derive(Debug, Clone)]
pub struct BatchEntry {
    /// Caller's id for the entry (unique within the call; letters, digits, `-`, `_`, ≤ 80 chars).
    pub id: String,
    /// Message body.
    pub body: String,
    /// `DelaySeconds` (0–900).
    pub delay_s: i32,
}

/// Per-entry result of [`Queues::send_batch`]: SQS reports failures inside an HTTP 200
/// (Amazon SQS API Reference, SendMessageBatch: `Successful` and `Failed` lists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Ids SQS accepted.
    pub sent: Vec<String>,
    /// Ids that are not in the queue, with SQS's code (or the call's error).
    pub failed: Vec<(String, String)>,
}

/// The two queues and the claim-check bucket.
#[derive(Debug)]
pub struct Queues {
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    bucket: Option<String>,
    prefix: String,
    limits: Mutex<HashMap<String, usize>>,
}

impl Queues {
    /// `bucket` is the claim-check bucket (`ARCHIVE_BUCKET`), `prefix` its key prefix
    /// (`ARCHIVE_PREFIX`).
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        s3: aws_sdk_s3::Client,
        bucket: Option<String>,
        prefix: String,
    ) -> Self {
        Queues {
            sqs,
            s3,
            bucket,
            prefix,
            limits: Mutex::new(HashMap::new()),
        }
    }

    /// The queue's `MaximumMessageSize` in bytes, read once and cached;
    /// [`FALLBACK_MAX_MESSAGE_BYTES`] when it cannot be read.
    pub async fn max_message_bytes(&self, queue_url: &str) -> usize {
        let mut limits = self.limits.lock().await;
        if let Some(l) = limits.get(queue_url) {
            return *l;
        }
        let read = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::MaximumMessageSize)
            .send()
            .await;
        let limit = match read {
            Ok(out) => out
                .attributes()
                .and_then(|a| a.get(&QueueAttributeName::MaximumMessageSize))
                .and_then(|v| v.parse().ok()),
            Err(e) => {
                tracing::warn!(queue = queue_url, error = %DisplayErrorContext(&e), "cannot read MaximumMessageSize");
                None
            }
        };
        match limit {
            Some(l) => {
                limits.insert(queue_url.to_owned(), l);
                l
            }
            None => FALLBACK_MAX_MESSAGE_BYTES,
        }
    }

    /// Sends `env` to `queue_url` with `DelaySeconds = delay_s` (0–900), moving the event to the
    /// claim-check bucket first when the message would be too large.
    ///
    /// # Errors
    /// [`QueueError`] when the message is not in the queue (SQS error after the SDK's retries,
    /// oversize without a bucket, S3 failure).
    pub async fn send(
        &self,
        queue_url: &str,
        env: &EnvelopeV1,
        delay_s: u32,
    ) -> Result<Sent, QueueError> {
        let limit = self.max_message_bytes(queue_url).await;
        let mut env = env.clone();
        let mut body = env.to_json();
        let mut claim_check = None;
        if body.len() > limit {
            let size = body.len();
            let (Some(bucket), Some(event)) = (&self.bucket, env.event.take()) else {
                return Err(QueueError::Oversize {
                    size,
                    limit,
                    why: "no ARCHIVE_BUCKET is configured for claim checks".into(),
                });
            };
            let pointer = self.put_claim_check(bucket, event.into_bytes()).await?;
            env.event_s3 = Some(pointer.clone());
            claim_check = Some(pointer);
            body = env.to_json();
            if body.len() > limit {
                env.excerpt = None;
                env.last_error = env.last_error.map(|e| e.chars().take(200).collect());
                body = env.to_json();
            }
            if body.len() > limit {
                return Err(QueueError::Oversize {
                    size: body.len(),
                    limit,
                    why: "even the claim-check pointer does not fit".into(),
                });
            }
        }
        let out = self
            .sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .delay_seconds(i32::try_from(delay_s.min(900)).unwrap_or(900))
            .send()
            .await
            .map_err(|e| QueueError::Send {
                queue: queue_url.to_owned(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(Sent {
            message_id: out.message_id().unwrap_or_default().to_owned(),
            claim_check,
        })
    }

    async fn put_claim_check(&self, bucket: &str, bytes: Vec<u8>) -> Result<S3Pointer, QueueError> {
        let now = OffsetDateTime::now_utc();
        let key = format!(
            "{}/claim-checks/{:04}/{:02}/{:02}/{}.json",
            self.prefix,
            now.year(),
            u8::from(now.month()),
            now.day(),
            uuid::Uuid::new_v4()
        );
        self.s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/json")
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| QueueError::ClaimCheck {
                bucket: bucket.to_owned(),
                key: key.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(S3Pointer {
            bucket: bucket.to_owned(),
            key,
        })
    }

    /// The original event bytes of `env`: its `event`, or the claim-check object it points to.
    ///
    /// # Errors
    /// [`QueueError::ClaimCheckMissing`] when the object does not exist (it never will);
    /// [`QueueError::ClaimCheck`] when it cannot be read now.
    pub async fn event_bytes(&self, env: &EnvelopeV1) -> Result<Vec<u8>, QueueError> {
        if let Some(e) = &env.event {
            return Ok(e.clone().into_bytes());
        }
        let Some(p) = &env.event_s3 else {
            return Ok(Vec::new());
        };
        let fail = |message: String| QueueError::ClaimCheck {
            bucket: p.bucket.clone(),
            key: p.key.clone(),
            message,
        };
        let out = self
            .s3
            .get_object()
            .bucket(&p.bucket)
            .key(&p.key)
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_s3::error::ProvideErrorMetadata;
                let gone = e
                    .as_service_error()
                    .is_some_and(|s| s.is_no_such_key() || s.code() == Some("NoSuchBucket"));
                if gone {
                    QueueError::ClaimCheckMissing {
                        bucket: p.bucket.clone(),
                        key: p.key.clone(),
                    }
                } else {
                    fail(DisplayErrorContext(&e).to_string())
                }
            })?;
        let bytes = out.body.collect().await.map_err(|e| fail(e.to_string()))?;
        Ok(bytes.into_bytes().to_vec())
    }

    /// Sets a received message's visibility timeout (seconds, 0–43,200).
    ///
    /// # Errors
    /// [`QueueError::Call`] when SQS refuses (e.g. the receipt handle expired).
    pub async fn change_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        secs: u32,
    ) -> Result<(), QueueError> {
        self.sqs
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(secs.min(43_200)).unwrap_or(43_200))
            .send()
            .await
            .map_err(|e| QueueError::Call {
                operation: "ChangeMessageVisibility",
                queue: queue_url.to_owned(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(())
    }

    /// Sends up to any number of entries with SendMessageBatch (chunks of 10), reading the
    /// per-entry result: an entry SQS lists in `Failed` is never counted as sent (case C19).
    /// Entries that failed without sender fault are sent once more; what still fails is returned
    /// in `failed`. A call that fails as a whole marks all its entries failed.
    pub async fn send_batch(&self, queue_url: &str, entries: Vec<BatchEntry>) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        for chunk in entries.chunks(10) {
            let mut pending: Vec<BatchEntry> = chunk.to_vec();
            for round in 0..2 {
                let (sent, failed, retryable) = self.batch_once(queue_url, &pending).await;
                outcome.sent.extend(sent);
                if round == 0 && !retryable.is_empty() {
                    pending.retain(|e| retryable.contains(&e.id));
                    outcome
                        .failed
                        .extend(failed.into_iter().filter(|(id, _)| !retryable.contains(id)));
                } else {
                    outcome.failed.extend(failed);
                    break;
                }
            }
        }
        outcome
    }

    /// One SendMessageBatch: (sent ids, failed (id, code), ids worth one more try).
    async fn batch_once(
        &self,
        queue_url: &str,
        entries: &[BatchEntry],
    ) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
        let mut req = self.sqs.send_message_batch().queue_url(queue_url);
        for e in entries {
            match SendMessageBatchRequestEntry::builder()
                .id(&e.id)
                .message_body(&e.body)
                .delay_seconds(e.delay_s)
                .build()
            {
                Ok(entry) => req = req.entries(entry),
                Err(err) => {
                    return (
                        Vec::new(),
                        entries
                            .iter()
                            .map(|x| (x.id.clone(), err.to_string()))
                            .collect(),
                        Vec::new(),
                    );
                }
            }
        }
        match req.send().await {
            Ok(out) => {
                // Only ids of this request count: a malformed answer naming others is ignored.
                let asked = |id: &str| entries.iter().any(|e| e.id == id);
                let sent = out
                    .successful()
                    .iter()
                    .map(|s| s.id().to_owned())
                    .filter(|id| asked(id))
                    .collect::<Vec<_>>();
                let mut failed = Vec::new();
                let mut retryable = Vec::new();
                for f in out.failed().iter().filter(|f| asked(f.id())) {
                    failed.push((
                        f.id().to_owned(),
                        format!("{}: {}", f.code(), f.message().unwrap_or("")),
                    ));
                    if !f.sender_fault() {
                        retryable.push(f.id().to_owned());
                    }
                }
                // An entry in neither list is not known to be queued: count it failed.
                for e in entries {
                    if !sent.contains(&e.id) && !failed.iter().any(|(id, _)| id == &e.id) {
                        failed.push((
                            e.id.clone(),
                            "missing from the SendMessageBatch result".into(),
                        ));
                    }
                }
                (sent, failed, retryable)
            }
            Err(e) => {
                let msg = DisplayErrorContext(&e).to_string();
                let ids: Vec<String> = entries.iter().map(|x| x.id.clone()).collect();
                (
                    Vec::new(),
                    ids.iter().map(|id| (id.clone(), msg.clone())).collect(),
                    ids,
                )
            }
        }
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

impl Queues {
    fn call_error(operation: &'static str, queue: &str, e: impl std::error::Error) -> QueueError {
        QueueError::Call {
            operation,
            queue: queue.to_owned(),
            message: DisplayErrorContext(&e).to_string(),
        }
    }

    /// ReceiveMessage: up to `max` (1–10) messages, hidden for `visibility_s` seconds, waiting up
    /// to `wait_s` seconds (long poll) when none is visible.
    ///
    /// # Errors
    /// [`QueueError::Call`] when the call fails.
    pub async fn receive(
        &self,
        queue_url: &str,
        max: i32,
        visibility_s: i32,
        wait_s: i32,
    ) -> Result<Vec<Received>, QueueError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(visibility_s.clamp(0, 43_200))
            .wait_time_seconds(wait_s.clamp(0, 20))
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
            )
            .send()
            .await
            .map_err(|e| Self::call_error("ReceiveMessage", queue_url, e))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                sent_at: m
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
                    })
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(|ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)),
            })
            .collect())
    }

    /// DeleteMessageBatch in chunks of 10. Returns the message ids SQS confirmed deleted; the
    /// others stay in the queue (they come back when their visibility timeout ends).
    pub async fn delete_batch(&self, queue_url: &str, msgs: &[&Received]) -> Vec<String> {
        let mut deleted = Vec::new();
        for chunk in msgs.chunks(10) {
            let mut req = self.sqs.delete_message_batch().queue_url(queue_url);
            for (i, m) in chunk.iter().enumerate() {
                if let Ok(e) = aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .build()
                {
                    req = req.entries(e);
                }
            }
            match req.send().await {
                Ok(out) => {
                    for s in out.successful() {
                        if let Some(m) = s.id().parse::<usize>().ok().and_then(|i| chunk.get(i)) {
                            deleted.push(m.message_id.clone());
                        }
                    }
                    for f in out.failed() {
                        tracing::warn!(
                            queue = queue_url,
                            code = f.code(),
                            "DeleteMessageBatch entry failed"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(queue = queue_url, error = %DisplayErrorContext(&e), "DeleteMessageBatch failed")
                }
            }
        }
        deleted
    }

    /// Makes received messages visible again at once (ChangeMessageVisibilityBatch to 0), best
    /// effort: a message whose change fails becomes visible when its timeout ends anyway.
    pub async fn release(&self, queue_url: &str, msgs: &[&Received]) {
        for chunk in msgs.chunks(10) {
            let mut req = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(queue_url);
            for (i, m) in chunk.iter().enumerate() {
                if let Ok(e) =
                    aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt_handle)
                        .visibility_timeout(0)
                        .build()
                {
                    req = req.entries(e);
                }
            }
            if let Err(e) = req.send().await {
                tracing::warn!(queue = queue_url, error = %DisplayErrorContext(&e), "ChangeMessageVisibilityBatch failed");
            }
        }
    }

    /// The queue's message counts.
    ///
    /// # Errors
    /// [`QueueError::Call`] when GetQueueAttributes fails.
    pub async fn depth(&self, queue_url: &str) -> Result<Depth, QueueError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| Self::call_error("GetQueueAttributes", queue_url, e))?;
        let get = |a: QueueAttributeName| {
            out.attributes()
                .and_then(|m| m.get(&a))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(Depth {
            visible: get(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }

    /// The S3 client (for the archive).
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }
}
