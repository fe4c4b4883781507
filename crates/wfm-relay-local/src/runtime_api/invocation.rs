//! What the Lambda Invoke API checks before any function runs: the payload size allowed for the
//! invocation type.
//!
//! Facts (FACTS.md §7.1; AWS Compute Blog, "More room to build: serverless services now support
//! payloads up to 1 MB", 2026-01-29): an asynchronous (`Event`) invocation takes at most 1 MiB
//! (1,048,576 bytes) since 2026-01-29 (256 KiB before). A larger one is refused by the Invoke API
//! itself, before the function runs, with HTTP 413 and error code
//! `RequestEntityTooLargeException`, message `<n> byte payload is too large for the Event
//! invocation type (limit <limit> bytes)` (as the service answers it, quoted in aws/aws-pdk#771
//! and ASFHyP3/hyp3#2241; the Lambda API reference lists the 413 as `RequestTooLargeException`,
//! "The request payload exceeded the Invoke request body JSON input quota"). A synchronous
//! (`RequestResponse`) invocation takes up to 6 MB; that limit is not enforced here.

use std::fmt;

/// The largest payload of an asynchronous (`Event`) invocation, in bytes: 1 MiB.
pub const ASYNC_PAYLOAD_LIMIT: usize = 1_048_576;

/// The Invoke API's HTTP status for a payload over the limit.
pub const PAYLOAD_TOO_LARGE_STATUS: u16 = 413;

/// How the function is invoked (the Invoke API's `InvocationType`).
///
/// The local Runtime API always hands the function's outcome back to the caller: the harnesses
/// play Lambda's asynchronous machinery (retries, on-failure destination) themselves. The type
/// only decides which payload limit applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    /// Synchronous: the caller waits for the response (`aws lambda invoke`, the SQS event source
    /// mapping). Payload limit not enforced here (AWS: 6 MB).
    RequestResponse,
    /// Asynchronous: Lambda queues the event (EventBridge, S3, SNS, `--invocation-type Event`).
    /// At most [`ASYNC_PAYLOAD_LIMIT`] bytes.
    Event,
}

impl InvocationType {
    /// The largest payload this local Runtime API accepts for the type, in bytes; `None` when it
    /// does not check one.
    pub const fn payload_limit(self) -> Option<usize> {
        match self {
            InvocationType::RequestResponse => None,
            InvocationType::Event => Some(ASYNC_PAYLOAD_LIMIT),
        }
    }

    /// Refuses a payload of `size` bytes over the type's limit, as the Invoke API does.
    ///
    /// # Errors
    /// [`PayloadTooLarge`] when `size` exceeds [`InvocationType::payload_limit`].
    pub fn check(self, size: usize) -> Result<(), PayloadTooLarge> {
        match self.payload_limit() {
            Some(limit) if size > limit => Err(PayloadTooLarge {
                size,
                limit,
                invocation_type: self,
            }),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for InvocationType {
    /// The Invoke API's spelling: `RequestResponse` or `Event`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvocationType::RequestResponse => "RequestResponse",
            InvocationType::Event => "Event",
        })
    }
}

/// The Invoke API's refusal of an oversize payload (HTTP [`PAYLOAD_TOO_LARGE_STATUS`], error code
/// `RequestEntityTooLargeException`); displayed as `RequestEntityTooLargeException: <size> byte
/// payload is too large for the Event invocation type (limit <limit> bytes)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "RequestEntityTooLargeException: {size} byte payload is too large for the {invocation_type} \
     invocation type (limit {limit} bytes)"
)]
pub struct PayloadTooLarge {
    /// The payload's size, bytes.
    pub size: usize,
    /// The limit of the invocation type, bytes.
    pub limit: usize,
    /// The invocation type asked for.
    pub invocation_type: InvocationType,
}

impl PayloadTooLarge {
    /// The Invoke API's error code.
    pub const ERROR_CODE: &'static str = "RequestEntityTooLargeException";

    /// The HTTP status the Invoke API answers: 413.
    pub const fn status(&self) -> u16 {
        PAYLOAD_TOO_LARGE_STATUS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_payload_at_the_limit_passes_and_one_byte_more_is_refused() {
        assert_eq!(InvocationType::Event.check(1_048_576), Ok(()));
        let refused = InvocationType::Event
            .check(1_048_577)
            .expect_err("one byte past 1 MiB");
        assert_eq!(
            refused,
            PayloadTooLarge {
                size: 1_048_577,
                limit: 1_048_576,
                invocation_type: InvocationType::Event,
            }
        );
        assert_eq!(refused.status(), 413);
        assert_eq!(
            refused.to_string(),
            "RequestEntityTooLargeException: 1048577 byte payload is too large for the Event \
             invocation type (limit 1048576 bytes)"
        );
    }

    #[test]
    fn a_synchronous_payload_is_not_checked_here() {
        assert_eq!(InvocationType::RequestResponse.payload_limit(), None);
        assert_eq!(InvocationType::RequestResponse.check(6 * 1_048_576), Ok(()));
        assert_eq!(
            InvocationType::RequestResponse.to_string(),
            "RequestResponse"
        );
    }
}
