//! The S3 claim check: an event too large for a queue message is stored in S3 byte for byte,
//! and the envelope carries a pointer (`event_s3`) instead of the event (case C12).

use crate::lazy_aws::LazyAws;
use crate::queues::QueueError;
use aws_sdk_s3::error::DisplayErrorContext;
use std::sync::Arc;
use time::OffsetDateTime;
use wfm_relay_core::envelope::{EnvelopeV1, S3Pointer};

/// The claim-check bucket (`ARCHIVE_BUCKET`, optional) and its key prefix (`ARCHIVE_PREFIX`).
#[derive(Debug, Clone)]
pub struct ClaimCheck {
    aws: Arc<LazyAws>,
    bucket: Option<String>,
    prefix: String,
}

impl ClaimCheck {
    /// Claim checks go to `s3://<bucket>/<prefix>/claim-checks/YYYY/MM/DD/<uuid>.json`; without
    /// a bucket none can be made (an oversize event is then parked as `oversize`).
    /// The S3 client comes from `aws` at the first claim check ([`LazyAws::s3`]).
    pub fn new(aws: Arc<LazyAws>, bucket: Option<String>, prefix: String) -> Self {
        ClaimCheck {
            aws,
            bucket,
            prefix,
        }
    }

    /// The S3 client (for the archive), made at the first call.
    pub async fn s3(&self) -> &aws_sdk_s3::Client {
        self.aws.s3().await
    }

    /// The configured bucket, if any.
    pub fn bucket(&self) -> Option<&str> {
        self.bucket.as_deref()
    }

    /// Stores `bytes` under a new key of the bucket.
    ///
    /// # Errors
    /// [`QueueError::ClaimCheck`] when the PUT fails.
    pub(crate) async fn put(&self, bucket: &str, bytes: Vec<u8>) -> Result<S3Pointer, QueueError> {
        let now = OffsetDateTime::now_utc();
        let key = format!(
            "{}/claim-checks/{:04}/{:02}/{:02}/{}.json",
            self.prefix,
            now.year(),
            u8::from(now.month()),
            now.day(),
            uuid::Uuid::new_v4()
        );
        self.aws
            .s3()
            .await
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
    /// [`QueueError::NoEvent`] when the envelope has neither (never read as empty bytes);
    /// [`QueueError::ClaimCheckMissing`] when the object does not exist (it never will);
    /// [`QueueError::ClaimCheck`] when it cannot be read now.
    pub async fn event_bytes(&self, env: &EnvelopeV1) -> Result<Vec<u8>, QueueError> {
        if let Some(e) = &env.event {
            return Ok(e.clone().into_bytes());
        }
        let Some(p) = &env.event_s3 else {
            return Err(QueueError::NoEvent);
        };
        let fail = |message: String| QueueError::ClaimCheck {
            bucket: p.bucket.clone(),
            key: p.key.clone(),
            message,
        };
        let out = self
            .aws
            .s3()
            .await
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline_s3() -> aws_sdk_s3::Client {
        // No call is made: an envelope without an event is refused before any request.
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("eu-west-1"))
                .build(),
        )
    }

    #[tokio::test]
    async fn an_envelope_without_event_is_never_read_as_empty_bytes() {
        let cc = ClaimCheck::new(LazyAws::with_s3(offline_s3()), Some("b".into()), "p".into());
        let mut env = EnvelopeV1::new(b"{}", None);
        assert_eq!(cc.event_bytes(&env).await.expect("inline"), b"{}");
        env.event = None;
        let err = cc
            .event_bytes(&env)
            .await
            .expect_err("neither event nor event_s3");
        assert!(matches!(err, QueueError::NoEvent), "{err}");
        assert!(err.is_permanent());
    }
}
