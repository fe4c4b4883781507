//! One SQS queue, named by its URL: the calls wfm-relay makes on it. The typed handles of
//! [`crate::queues`] ([`crate::queues::RetryQueue`], [`crate::queues::DeadLetterQueue`]) expose
//! the ones each queue needs.
//!
//! Size rule (case C12): SQS refuses a message whose body plus message attributes (name, data
//! type and value bytes) exceed the queue's `MaximumMessageSize` attribute (1,024 to 1,048,576
//! bytes; Amazon SQS API Reference, SetQueueAttributes and SendMessage). wfm-relay sends no
//! message attributes, so the body's UTF-8 length is compared with the attribute read from the
//! queue itself (once per queue and process). An envelope that is too large has its event moved
//! to S3 byte for byte (claim check) and carries `event_s3` instead of `event`.

use crate::claim_check::ClaimCheck;
use crate::queues::{BatchEntry, BatchOutcome, Depth, QueueError, Received, Sent};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use tokio::sync::Mutex;
use wfm_relay_core::envelope::EnvelopeV1;

/// Size assumed when a queue's `MaximumMessageSize` cannot be read: 262,144 bytes, the historical
/// default and the smallest value a queue created before August 2025 may still have.
pub const FALLBACK_MAX_MESSAGE_BYTES: usize = 262_144;

/// One queue: the SQS client, the URL and its `MaximumMessageSize` once read.
#[derive(Debug)]
pub(crate) struct SqsQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
    limit: Mutex<Option<usize>>,
}

impl SqsQueue {
    pub(crate) fn new(sqs: aws_sdk_sqs::Client, url: String) -> Self {
        SqsQueue {
            sqs,
            url,
            limit: Mutex::new(None),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn call_error(&self, operation: &'static str, e: impl std::error::Error) -> QueueError {
        QueueError::Call {
            operation,
            queue: self.url.clone(),
            message: DisplayErrorContext(&e).to_string(),
        }
    }

    /// The queue's `MaximumMessageSize` in bytes, read once and cached;
    /// [`FALLBACK_MAX_MESSAGE_BYTES`] when it cannot be read (read again next time).
    pub(crate) async fn max_message_bytes(&self) -> usize {
        let mut limit = self.limit.lock().await;
        if let Some(l) = *limit {
            return l;
        }
        let read = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::MaximumMessageSize)
            .send()
            .await;
        let read = match read {
            Ok(out) => out
                .attributes()
                .and_then(|a| a.get(&QueueAttributeName::MaximumMessageSize))
                .and_then(|v| v.parse().ok()),
            Err(e) => {
                tracing::warn!(queue = %self.url, error = %DisplayErrorContext(&e), "cannot read MaximumMessageSize");
                None
            }
        };
        *limit = read;
        read.unwrap_or(FALLBACK_MAX_MESSAGE_BYTES)
    }

    /// Sends `env` with `DelaySeconds = delay_s` (0–900), moving the event to the claim-check
    /// bucket first when the message would be too large.
    pub(crate) async fn send(
        &self,
        claim: &ClaimCheck,
        env: &EnvelopeV1,
        delay_s: u32,
    ) -> Result<Sent, QueueError> {
        let limit = self.max_message_bytes().await;
        let mut env = env.clone();
        let mut body = env.to_json();
        let mut claim_check = None;
        if body.len() > limit {
            let size = body.len();
            let (Some(bucket), Some(event)) = (claim.bucket(), env.event.take()) else {
                return Err(QueueError::Oversize {
                    size,
                    limit,
                    why: "no ARCHIVE_BUCKET is configured for claim checks".into(),
                });
            };
            let pointer = claim.put(bucket, event.into_bytes()).await?;
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
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(i32::try_from(delay_s.min(900)).unwrap_or(900))
            .send()
            .await
            .map_err(|e| QueueError::Send {
                queue: self.url.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(Sent {
            message_id: out.message_id().unwrap_or_default().to_owned(),
            claim_check,
        })
    }

    /// Sets a received message's visibility timeout (seconds, 0–43,200).
    pub(crate) async fn change_visibility(
        &self,
        receipt_handle: &str,
        secs: u32,
    ) -> Result<(), QueueError> {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(secs.min(43_200)).unwrap_or(43_200))
            .send()
            .await
            .map_err(|e| self.call_error("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// SendMessageBatch in chunks of 10, reading the per-entry result (see
    /// [`crate::queues::RetryQueue::send_batch`]).
    pub(crate) async fn send_batch(&self, entries: Vec<BatchEntry>) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        for chunk in entries.chunks(10) {
            let mut pending: Vec<BatchEntry> = chunk.to_vec();
            for round in 0..2 {
                let (sent, failed, retryable) = self.batch_once(&pending).await;
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
        entries: &[BatchEntry],
    ) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
        let mut req = self.sqs.send_message_batch().queue_url(&self.url);
        for e in entries {
            match SendMessageBatchRequestEntry::builder()
                .id(&e.id)
                .message_body(&e.body)
                .delay_seconds(e.delay_s)
                .build()
            {
                Ok(entry) => req = req.entries(entry),
                Err(err) => {
                    let failed = entries
                        .iter()
                        .map(|x| (x.id.clone(), err.to_string()))
                        .collect();
                    return (Vec::new(), failed, Vec::new());
                }
            }
        }
        match req.send().await {
            Ok(out) => {
                // Only ids of this request count: a malformed answer naming others is ignored.
                let asked = |id: &str| entries.iter().any(|e| e.id == id);
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
                // An id listed as failed is not queued, even if the answer also calls it a
                // success; an entry in neither list is not known to be queued: failed too.
                let sent = out
                    .successful()
                    .iter()
                    .map(|s| s.id().to_owned())
                    .filter(|id| asked(id) && !failed.iter().any(|(f, _)| f == id))
                    .collect::<Vec<_>>();
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
                let failed = ids.iter().map(|id| (id.clone(), msg.clone())).collect();
                (Vec::new(), failed, ids)
            }
        }
    }

    /// ReceiveMessage: up to `max` (1–10) messages, hidden for `visibility_s` seconds, waiting up
    /// to `wait_s` seconds (long poll) when none is visible.
    pub(crate) async fn receive(
        &self,
        max: i32,
        visibility_s: i32,
        wait_s: i32,
    ) -> Result<Vec<Received>, QueueError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(visibility_s.clamp(0, 43_200))
            .wait_time_seconds(wait_s.clamp(0, 20))
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| self.call_error("ReceiveMessage", e))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                message_id: m.message_id().unwrap_or_default().to_owned(),
                receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                sent_at: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(|ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)),
            })
            .collect())
    }

    /// DeleteMessageBatch in chunks of 10: the message ids SQS confirmed deleted, and only
    /// those (an entry listed in `Failed`, or in neither list, stays in the queue).
    pub(crate) async fn delete_batch(&self, msgs: &[&Received]) -> Vec<String> {
        let mut deleted = Vec::new();
        for chunk in msgs.chunks(10) {
            let mut req = self.sqs.delete_message_batch().queue_url(&self.url);
            for (i, m) in chunk.iter().enumerate() {
                if let Ok(e) = DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .build()
                {
                    req = req.entries(e);
                }
            }
            match req.send().await {
                Ok(out) => {
                    let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
                    for f in out.failed() {
                        tracing::warn!(queue = %self.url, code = f.code(), "DeleteMessageBatch entry failed");
                    }
                    for s in out.successful() {
                        if failed.contains(&s.id()) {
                            continue;
                        }
                        if let Some(m) = s.id().parse::<usize>().ok().and_then(|i| chunk.get(i))
                            && !deleted.contains(&m.message_id)
                        {
                            deleted.push(m.message_id.clone());
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(queue = %self.url, error = %DisplayErrorContext(&e), "DeleteMessageBatch failed")
                }
            }
        }
        deleted
    }

    /// ChangeMessageVisibilityBatch to 0, best effort.
    pub(crate) async fn release(&self, msgs: &[&Received]) {
        for chunk in msgs.chunks(10) {
            let mut req = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(&self.url);
            for (i, m) in chunk.iter().enumerate() {
                if let Ok(e) = ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .visibility_timeout(0)
                    .build()
                {
                    req = req.entries(e);
                }
            }
            if let Err(e) = req.send().await {
                tracing::warn!(queue = %self.url, error = %DisplayErrorContext(&e), "ChangeMessageVisibilityBatch failed");
            }
        }
    }

    /// The queue's message counts.
    pub(crate) async fn depth(&self) -> Result<Depth, QueueError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| self.call_error("GetQueueAttributes", e))?;
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
}
