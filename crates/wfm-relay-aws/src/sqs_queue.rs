//! One SQS queue, named by its URL: the calls wfm-relay makes on it. The typed handles of
//! [`crate::queues`] ([`crate::queues::RetryQueue`], [`crate::queues::DeadLetterQueue`]) expose
//! the ones each queue needs.
//!
//! Size rule (cases C12, C23): SQS refuses a message whose body plus message attributes (name,
//! data type and value bytes) exceed the queue's `MaximumMessageSize` attribute (1,024 to
//! 1,048,576 bytes; Amazon SQS API Reference, SetQueueAttributes and SendMessage). wfm-relay
//! sends no message attributes, so the body's UTF-8 length is compared with the attribute read
//! from the queue itself (GetQueueAttributes, once per queue and process; read again after SQS
//! refused a message as too long). An envelope that is too large has its event moved to S3 byte
//! for byte (claim check) and carries `event_s3` instead of `event`. While the limit cannot be
//! read, nothing is assumed about it: the bound is the smallest a queue can have (1,024 bytes),
//! so a larger envelope goes to the claim check (or, without a bucket, is sent for SQS to judge).
//! SendMessageBatch calls are cut at 10 entries and 1 MiB in total ([`crate::sqs_limits`]).

mod fit;

use crate::claim_check::ClaimCheck;
use crate::lazy_aws::LazyAws;
use crate::queues::{BatchEntry, BatchOutcome, Depth, EnvelopeEntry, QueueError, Received, Sent};
use crate::sqs_limits::{MAX_BATCH_BYTES, batch_ranges};
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use std::sync::Arc;
use tokio::sync::Mutex;
use wfm_relay_core::envelope::EnvelopeV1;

/// One queue: the SQS client, the URL and its `MaximumMessageSize` once read.
#[derive(Debug)]
pub(crate) struct SqsQueue {
    aws: Arc<LazyAws>,
    url: String,
    limit: Mutex<Option<usize>>,
}

impl SqsQueue {
    /// The SQS client comes from `aws` at the queue's first call ([`LazyAws::sqs`]).
    pub(crate) fn new(aws: Arc<LazyAws>, url: String) -> Self {
        SqsQueue {
            aws,
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

    /// Sends `env` with `DelaySeconds = delay_s` (0–900), moving the event to the claim-check
    /// bucket first when the message would be too large. When SQS refuses the message as too
    /// long (its limit changed since it was read), the limit is read again and the message
    /// fitted and sent once more.
    pub(crate) async fn send(
        &self,
        claim: &ClaimCheck,
        env: &EnvelopeV1,
        delay_s: u32,
    ) -> Result<Sent, QueueError> {
        let mut fitted = self.fit(claim, env).await?;
        let delay = i32::try_from(delay_s.min(900)).unwrap_or(900);
        let mut again = true;
        loop {
            let out = self
                .aws
                .sqs()
                .await
                .send_message()
                .queue_url(&self.url)
                .message_body(&fitted.body)
                .delay_seconds(delay)
                .send()
                .await;
            match out {
                Ok(out) => {
                    return Ok(Sent {
                        message_id: out.message_id().unwrap_or_default().to_owned(),
                        claim_check: fitted.claim_check,
                    });
                }
                Err(e) if again && too_long(&e) => {
                    tracing::warn!(queue = %self.url, bytes = fitted.body.len(), error = %DisplayErrorContext(&e),
                        "SQS refused the message as too long; reading MaximumMessageSize again");
                    again = false;
                    self.forget_limit().await;
                    fitted = self.fit(claim, env).await?;
                }
                Err(e) => {
                    return Err(QueueError::Send {
                        queue: self.url.clone(),
                        message: DisplayErrorContext(&e).to_string(),
                    });
                }
            }
        }
    }

    /// Sends envelopes with SendMessageBatch, each fitted to the queue's limit first (claim
    /// check) as [`SqsQueue::send`] does; an envelope that cannot be fitted is failed with why.
    pub(crate) async fn send_envelopes(
        &self,
        claim: &ClaimCheck,
        entries: Vec<EnvelopeEntry>,
    ) -> BatchOutcome {
        let mut failed = Vec::new();
        let mut ready = Vec::with_capacity(entries.len());
        for e in entries {
            match self.fit(claim, &e.env).await {
                Ok(f) => ready.push(BatchEntry {
                    id: e.id,
                    body: f.body,
                    delay_s: e.delay_s,
                }),
                Err(err) => failed.push((e.id, err.to_string())),
            }
        }
        let mut outcome = self.send_batch(ready).await;
        outcome.failed.extend(failed);
        outcome
    }

    /// Sets a received message's visibility timeout (seconds, 0–43,200).
    pub(crate) async fn change_visibility(
        &self,
        receipt_handle: &str,
        secs: u32,
    ) -> Result<(), QueueError> {
        self.aws
            .sqs()
            .await
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(secs.min(43_200)).unwrap_or(43_200))
            .send()
            .await
            .map_err(|e| self.call_error("ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// SendMessageBatch in calls of at most 10 entries and 1 MiB in total ([`batch_ranges`]),
    /// reading the per-entry result (see [`crate::queues::RetryQueue::send_batch`]). A body
    /// over 1 MiB on its own is failed without a call.
    pub(crate) async fn send_batch(&self, entries: Vec<BatchEntry>) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        let sizes: Vec<usize> = entries.iter().map(|e| e.body.len()).collect();
        for range in batch_ranges(&sizes) {
            let chunk = &entries[range];
            if let [one] = chunk
                && one.body.len() > MAX_BATCH_BYTES
            {
                outcome.failed.push((
                    one.id.clone(),
                    format!(
                        "a body of {} bytes exceeds SendMessageBatch's {MAX_BATCH_BYTES}-byte total",
                        one.body.len()
                    ),
                ));
                continue;
            }
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
        let mut req = self
            .aws
            .sqs()
            .await
            .send_message_batch()
            .queue_url(&self.url);
        for e in entries {
            match SendMessageBatchRequestEntry::builder()
                .id(&e.id)
                .message_body(&e.body)
                .delay_seconds(e.delay_s.clamp(0, 900))
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
            .aws
            .sqs()
            .await
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
            let mut req = self
                .aws
                .sqs()
                .await
                .delete_message_batch()
                .queue_url(&self.url);
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
                .aws
                .sqs()
                .await
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
            .aws
            .sqs()
            .await
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

/// Whether SQS refused a SendMessage because the message is longer than the queue's
/// `MaximumMessageSize` (`InvalidParameterValue`, "Message must be shorter than N bytes").
fn too_long<E: ProvideErrorMetadata, R>(e: &aws_sdk_sqs::error::SdkError<E, R>) -> bool {
    e.as_service_error().is_some_and(|s| {
        s.code() == Some("InvalidParameterValue")
            && s.message().is_some_and(|m| m.contains("shorter than"))
    })
}

#[cfg(test)]
mod tests {
    //! Per-entry results of SendMessageBatch and DeleteMessageBatch, which moto cannot produce
    //! (it fails entries only for its own validation), answered by `aws-smithy-mocks` rules at
    //! the SDK's interceptor layer: the real client, the real request, a scripted answer.

    use crate::queues::{BatchEntry, QueueError, QueueSettings, Queues, Received};
    use aws_sdk_sqs::Client;
    use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_sqs::operation::delete_message_batch::{
        DeleteMessageBatchError, DeleteMessageBatchOutput,
    };
    use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
    use aws_sdk_sqs::types::error::QueueDoesNotExist;
    use aws_sdk_sqs::types::{
        BatchResultErrorEntry, DeleteMessageBatchResultEntry, SendMessageBatchResultEntry,
    };
    use aws_smithy_mocks::{
        MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
    };

    fn queues(rules: &[&Rule]) -> Queues {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
        for r in rules {
            interceptor = interceptor.with_rule(r);
        }
        let sqs = Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("eu-west-1"))
                .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("eu-west-1"))
                .build(),
        );
        Queues::new(
            sqs,
            s3,
            QueueSettings {
                retry_url: "https://sqs.eu-west-1.amazonaws.com/1/retry".into(),
                dlq_url: "https://sqs.eu-west-1.amazonaws.com/1/dlq".into(),
                claim_bucket: None,
                claim_prefix: "p".into(),
            },
        )
    }

    fn sent(id: &str) -> SendMessageBatchResultEntry {
        SendMessageBatchResultEntry::builder()
            .id(id)
            .message_id(format!("msg-{id}"))
            .md5_of_message_body("d41d8cd98f00b204e9800998ecf8427e")
            .build()
            .expect("entry")
    }

    fn failed(id: &str, sender_fault: bool) -> BatchResultErrorEntry {
        BatchResultErrorEntry::builder()
            .id(id)
            .sender_fault(sender_fault)
            .code(if sender_fault {
                "InvalidParameterValue"
            } else {
                "InternalError"
            })
            .message("fake")
            .build()
            .expect("entry")
    }

    fn entries(n: usize) -> Vec<BatchEntry> {
        (0..n)
            .map(|i| BatchEntry {
                id: i.to_string(),
                body: format!("{{\"n\":{i}}}"),
                delay_s: 0,
            })
            .collect()
    }

    fn ids(v: &[(String, String)]) -> Vec<&str> {
        v.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[tokio::test]
    async fn a_send_message_batch_entry_failure_is_never_reported_as_queued() {
        // 200 with entry 1 in Failed (no sender fault): it is sent once more, alone, and fails
        // again; entries 0 and 2 are sent.
        let first = mock!(Client::send_message_batch)
            .match_requests(|r| r.entries().len() == 3)
            .then_output(|| {
                SendMessageBatchOutput::builder()
                    .successful(sent("0"))
                    .successful(sent("2"))
                    .failed(failed("1", false))
                    .build()
                    .expect("output")
            });
        let again = mock!(Client::send_message_batch)
            .match_requests(|r| r.entries().len() == 1 && r.entries()[0].id() == "1")
            .then_output(|| {
                SendMessageBatchOutput::builder()
                    .set_successful(Some(Vec::new()))
                    .failed(failed("1", false))
                    .build()
                    .expect("output")
            });
        let q = queues(&[&first, &again]);
        let out = q.retry().send_batch(entries(3)).await;
        assert_eq!(out.sent, ["0", "2"]);
        assert_eq!(ids(&out.failed), ["1"]);
        assert_eq!(out.failed[0].1, "InternalError: fake");
        assert_eq!((first.num_calls(), again.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_sender_fault_is_not_resent_and_a_contradictory_answer_is_not_trusted() {
        // Entry 0 is listed both as a success and as a failure; entry 2 is in neither list;
        // entry 1 failed by sender fault (not resent). Only what SQS plainly accepted counts.
        let only = mock!(Client::send_message_batch).then_output(|| {
            SendMessageBatchOutput::builder()
                .successful(sent("0"))
                .successful(sent("3"))
                .failed(failed("0", true))
                .failed(failed("1", true))
                .build()
                .expect("output")
        });
        let q = queues(&[&only]);
        let out = q.retry().send_batch(entries(3)).await;
        assert!(out.sent.is_empty(), "{:?}", out.sent);
        let mut failed = ids(&out.failed);
        failed.sort_unstable();
        assert_eq!(failed, ["0", "1", "2"]);
        assert!(
            out.failed
                .iter()
                .any(|(id, why)| id == "2" && why == "missing from the SendMessageBatch result")
        );
        assert_eq!(only.num_calls(), 1);
    }

    fn received(n: usize) -> Vec<Received> {
        (0..n)
            .map(|i| Received {
                message_id: format!("m-{i}"),
                receipt_handle: format!("rh-{i}"),
                body: "{}".into(),
                sent_at: None,
            })
            .collect()
    }

    fn deleted(id: &str) -> DeleteMessageBatchResultEntry {
        DeleteMessageBatchResultEntry::builder()
            .id(id)
            .build()
            .expect("entry")
    }

    #[tokio::test]
    async fn a_dead_letter_whose_delete_entry_fails_is_not_counted_as_removed() {
        let rule = mock!(Client::delete_message_batch).then_output(|| {
            DeleteMessageBatchOutput::builder()
                .successful(deleted("0"))
                .successful(deleted("2"))
                .successful(deleted("3"))
                .failed(failed("1", false))
                .failed(failed("2", true))
                .build()
                .expect("output")
        });
        let q = queues(&[&rule]);
        let msgs = received(4);
        let refs: Vec<&Received> = msgs.iter().take(3).collect();
        // 1 failed, 2 is contradictory (both lists), "3" names no entry of this request.
        assert_eq!(q.dlq().delete_batch(&refs).await, ["m-0"]);
    }

    #[tokio::test]
    async fn a_failed_delete_call_removes_nothing() {
        let rule = mock!(Client::delete_message_batch)
            .sequence()
            .error(|| {
                DeleteMessageBatchError::QueueDoesNotExist(
                    QueueDoesNotExist::builder().message("gone").build(),
                )
            })
            .repeatedly()
            .build();
        let q = queues(&[&rule]);
        let msgs = received(12);
        let refs: Vec<&Received> = msgs.iter().collect();
        // Two chunks (10 + 2), two failed calls: nothing is counted as removed.
        assert!(q.dlq().delete_batch(&refs).await.is_empty());
        assert_eq!(rule.num_calls(), 2);
    }

    fn large_envelope() -> wfm_relay_core::envelope::EnvelopeV1 {
        let event = format!("{{\"pad\":\"{}\"}}", "x".repeat(2_000));
        wfm_relay_core::envelope::EnvelopeV1::new(event.as_bytes(), None)
    }

    #[tokio::test]
    async fn an_unreadable_limit_is_not_assumed_sqs_judges_the_message() {
        use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
        use aws_sdk_sqs::operation::send_message::SendMessageOutput;
        let attrs = mock!(Client::get_queue_attributes).then_error(|| {
            GetQueueAttributesError::QueueDoesNotExist(
                QueueDoesNotExist::builder().message("throttled").build(),
            )
        });
        let send = mock!(Client::send_message)
            .match_requests(|r| r.message_body().is_some_and(|b| b.len() > 2_000))
            .then_output(|| SendMessageOutput::builder().message_id("m-1").build());
        // No claim-check bucket: above the 1,024-byte bound, the message is sent for SQS to judge,
        // never refused on a guessed limit.
        let q = queues(&[&attrs, &send]);
        let sent = q.retry().enqueue(&large_envelope(), 0).await.expect("sent");
        assert_eq!((sent.message_id.as_str(), sent.claim_check), ("m-1", None));
        assert_eq!((attrs.num_calls(), send.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_limit_read_from_the_queue_decides_without_a_call() {
        use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
        use aws_sdk_sqs::types::QueueAttributeName;
        let attrs = mock!(Client::get_queue_attributes).then_output(|| {
            GetQueueAttributesOutput::builder()
                .attributes(QueueAttributeName::MaximumMessageSize, "1024")
                .build()
        });
        let q = queues(&[&attrs]);
        let err = q
            .retry()
            .enqueue(&large_envelope(), 0)
            .await
            .expect_err("no bucket for a claim check");
        assert!(
            matches!(err, QueueError::Oversize { limit: 1024, .. }),
            "{err}"
        );
    }
}
