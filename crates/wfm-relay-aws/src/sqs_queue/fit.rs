//! Fitting an envelope to its queue's size limit (cases C12, C23): the queue's
//! `MaximumMessageSize`, read and cached, and the claim check of an event that does not fit
//! (the size rule is in the parent module's documentation).

use super::SqsQueue;
use crate::claim_check::ClaimCheck;
use crate::queues::QueueError;
use crate::sqs_limits::MIN_MESSAGE_BYTES;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use wfm_relay_core::envelope::{EnvelopeV1, S3Pointer};

/// An envelope made ready to send: its body, and the claim check it needed.
pub(super) struct Fitted {
    pub(super) body: String,
    pub(super) claim_check: Option<S3Pointer>,
}

impl SqsQueue {
    /// The queue's `MaximumMessageSize` in bytes, read once and cached; `None` when it cannot be
    /// read (read again next time).
    pub(crate) async fn max_message_bytes(&self) -> Option<usize> {
        let mut limit = self.limit.lock().await;
        if let Some(l) = *limit {
            return Some(l);
        }
        let read = self
            .aws
            .sqs()
            .await
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::MaximumMessageSize)
            .send()
            .await;
        *limit = match read {
            Ok(out) => out
                .attributes()
                .and_then(|a| a.get(&QueueAttributeName::MaximumMessageSize))
                .and_then(|v| v.parse().ok()),
            Err(e) => {
                tracing::warn!(queue = %self.url, error = %DisplayErrorContext(&e),
                    bound = MIN_MESSAGE_BYTES, "cannot read MaximumMessageSize; claim-checking what exceeds the smallest limit a queue can have");
                None
            }
        };
        *limit
    }

    /// Forgets the cached `MaximumMessageSize` (SQS refused a message as too long: the queue's
    /// attribute changed since it was read).
    pub(super) async fn forget_limit(&self) {
        *self.limit.lock().await = None;
    }

    /// The body to send for `env`: as it is when it fits the queue's limit; else with its event
    /// moved to the claim-check bucket (and, if even that is too long, without its excerpt and
    /// with `last_error` cut to 200 characters).
    pub(super) async fn fit(
        &self,
        claim: &ClaimCheck,
        env: &EnvelopeV1,
    ) -> Result<Fitted, QueueError> {
        let limit = self.max_message_bytes().await;
        let bound = limit.unwrap_or(MIN_MESSAGE_BYTES);
        let mut body = env.to_json();
        if body.len() <= bound {
            return Ok(Fitted {
                body,
                claim_check: None,
            });
        }
        let size = body.len();
        let mut env = env.clone();
        let mut claim_check = None;
        if let Some(bucket) = claim.bucket()
            && let Some(event) = env.event.take()
        {
            let pointer = claim.put(bucket, event.into_bytes()).await?;
            env.event_s3 = Some(pointer.clone());
            claim_check = Some(pointer);
            body = env.to_json();
        } else if env.event.is_some() && limit.is_some() {
            return Err(QueueError::Oversize {
                size,
                limit: bound,
                why: "no ARCHIVE_BUCKET is configured for claim checks".into(),
            });
        }
        if body.len() > bound {
            env.excerpt = None;
            env.last_error = env.last_error.map(|e| e.chars().take(200).collect());
            body = env.to_json();
        }
        match limit {
            Some(limit) if body.len() > limit => Err(QueueError::Oversize {
                size: body.len(),
                limit,
                why: "even the claim-check pointer does not fit".into(),
            }),
            _ => Ok(Fitted { body, claim_check }),
        }
    }
}
