//! A local stand-in for Lambda's SQS event source mapping (moto does not run Lambda): receive a
//! batch, build the Lambda SQS event, invoke, and delete what the partial batch response reports
//! as processed.
//!
//! Sources of the rules: "Using Lambda with Amazon SQS" and "Handling errors for an SQS event
//! source in Lambda" (partial batch responses, `ReportBatchItemFailures`) in the AWS Lambda
//! Developer Guide.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageAttributeValue, MessageSystemAttributeName,
};
use serde_json::{Map, Value, json};

/// Why a poll could not be carried out (invocation failures are not errors: see
/// [`BatchReport::invoke_error`]).
#[derive(Debug, thiserror::Error)]
pub enum EsmError {
    /// `ReceiveMessage` failed.
    #[error("ReceiveMessage on {queue_url} failed")]
    Receive {
        /// The queue polled.
        queue_url: String,
        /// The SDK error.
        #[source]
        source: Box<aws_sdk_sqs::Error>,
    },
    /// `DeleteMessageBatch` failed as a whole (per-entry failures are counted, not errors).
    #[error("DeleteMessageBatch on {queue_url} failed")]
    Delete {
        /// The queue polled.
        queue_url: String,
        /// The SDK error.
        #[source]
        source: Box<aws_sdk_sqs::Error>,
    },
    /// A received message lacked a field SQS always returns (`MessageId`, `ReceiptHandle`).
    #[error("received message without {0}")]
    Malformed(&'static str),
    /// A delete entry could not be built.
    #[error("could not build a DeleteMessageBatch entry")]
    Build(#[source] aws_sdk_sqs::error::BuildError),
}

/// The outcome of one [`SqsEventSourceMapping::poll_once`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Messages received (and passed to the function) in this poll.
    pub received: usize,
    /// Message ids not deleted because the function reported them failed, or every id of the
    /// batch when the whole batch counts as failed (invoke error or invalid response).
    pub failed_ids: Vec<String>,
    /// Messages deleted successfully.
    pub deleted: usize,
    /// The error string the invoke function returned, if it failed.
    pub invoke_error: Option<String>,
    /// Why the function's response was rejected as a partial batch response (the whole batch then
    /// counts as failed), if it was.
    pub invalid_response: Option<String>,
}

/// Polls one SQS queue like Lambda's event source mapping with `ReportBatchItemFailures` on.
#[derive(Debug, Clone)]
pub struct SqsEventSourceMapping {
    /// The SQS client (e.g. pointed at moto through `AWS_ENDPOINT_URL`).
    pub sqs: aws_sdk_sqs::Client,
    /// The queue URL to receive from.
    pub queue_url: String,
    /// The queue ARN, sent as `eventSourceARN`.
    pub queue_arn: String,
    /// The region, sent as `awsRegion`.
    pub region: String,
    /// Maximum messages per batch, 1..=10 (values outside are clamped).
    pub batch_size: i32,
    /// Long-poll wait of `ReceiveMessage`, in s (0..=20).
    pub wait_time_s: i32,
}

impl SqsEventSourceMapping {
    /// One poll: `ReceiveMessage` (up to `batch_size` messages, `WaitTimeSeconds = wait_time_s`,
    /// all system and message attributes); with no message returns a report with `received: 0`
    /// without invoking. Otherwise builds the Lambda SQS event JSON
    /// (`{"Records":[{messageId, receiptHandle, body, attributes, messageAttributes, md5OfBody,
    /// eventSource: "aws:sqs", eventSourceARN, awsRegion}]}`), calls `invoke` with it and then:
    /// - `Ok(body)`: parses the partial batch response `{"batchItemFailures":[{"itemIdentifier":
    ///   "..."}]}`; an empty body, `null`, `{}` or an empty/null `batchItemFailures` mean all
    ///   succeeded. Invalid JSON, a non-object, an item without a non-empty string
    ///   `itemIdentifier`, or an identifier that is not a message id of the batch make the WHOLE
    ///   batch failed (AWS rule): nothing is deleted. Otherwise every record not listed is deleted
    ///   with `DeleteMessageBatch`; only successful entries are counted.
    /// - `Err(e)`: nothing is deleted; every id is reported failed and `e` is kept.
    ///
    /// # Errors
    /// When `ReceiveMessage` or `DeleteMessageBatch` fails as a call.
    pub async fn poll_once<F, Fut>(&self, invoke: F) -> Result<BatchReport, EsmError>
    where
        F: FnOnce(Vec<u8>) -> Fut,
        Fut: Future<Output = Result<Vec<u8>, String>>,
    {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size.clamp(1, 10))
            .wait_time_seconds(self.wait_time_s.clamp(0, 20))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| EsmError::Receive {
                queue_url: self.queue_url.clone(),
                source: Box::new(e.into()),
            })?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(BatchReport::default());
        }
        let mut ids = Vec::with_capacity(messages.len());
        let mut records = Vec::with_capacity(messages.len());
        for m in messages {
            ids.push(
                m.message_id()
                    .ok_or(EsmError::Malformed("MessageId"))?
                    .to_owned(),
            );
            records.push(self.record(m)?);
        }
        let event = json!({ "Records": records }).to_string().into_bytes();
        let mut report = BatchReport {
            received: messages.len(),
            ..BatchReport::default()
        };
        let response = match invoke(event).await {
            Ok(response) => response,
            Err(e) => {
                report.invoke_error = Some(e);
                report.failed_ids = ids;
                return Ok(report);
            }
        };
        let failed = match parse_batch_response(&response, &ids) {
            Ok(failed) => failed,
            Err(why) => {
                report.invalid_response = Some(why);
                report.failed_ids = ids;
                return Ok(report);
            }
        };
        let mut entries = Vec::new();
        for (i, (m, id)) in messages.iter().zip(&ids).enumerate() {
            if failed.contains(id.as_str()) {
                continue;
            }
            let handle = m
                .receipt_handle()
                .ok_or(EsmError::Malformed("ReceiptHandle"))?;
            entries.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(handle)
                    .build()
                    .map_err(EsmError::Build)?,
            );
        }
        // Keep the batch's order for failed ids.
        report.failed_ids = ids
            .iter()
            .filter(|id| failed.contains(id.as_str()))
            .cloned()
            .collect();
        if !entries.is_empty() {
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| EsmError::Delete {
                    queue_url: self.queue_url.clone(),
                    source: Box::new(e.into()),
                })?;
            report.deleted = out.successful().len();
        }
        Ok(report)
    }

    /// [`SqsEventSourceMapping::poll_once`] with the batch handed to the function behind `api`
    /// as a synchronous (`RequestResponse`) invocation that may take up to `timeout`, as Lambda's
    /// event source mapping invokes its function.
    ///
    /// # Errors
    /// As [`SqsEventSourceMapping::poll_once`].
    pub async fn poll_function(
        &self,
        api: &crate::RuntimeApi,
        timeout: std::time::Duration,
    ) -> Result<BatchReport, EsmError> {
        self.poll_once(|payload| async move {
            crate::harness::invoke_raw(
                api,
                crate::InvocationType::RequestResponse,
                payload,
                timeout,
            )
            .await
        })
        .await
    }

    /// One record of the Lambda SQS event, as Lambda shapes it.
    fn record(&self, m: &Message) -> Result<Value, EsmError> {
        let attributes: Map<String, Value> = m
            .attributes()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
            .collect();
        let message_attributes: Map<String, Value> = m
            .message_attributes()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), message_attribute(v)))
            .collect();
        Ok(json!({
            "messageId": m.message_id().ok_or(EsmError::Malformed("MessageId"))?,
            "receiptHandle": m.receipt_handle().ok_or(EsmError::Malformed("ReceiptHandle"))?,
            "body": m.body().unwrap_or_default(),
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": m.md5_of_body().unwrap_or_default(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }))
    }
}

/// A message attribute as Lambda shapes it: `stringValue` / `binaryValue` (base64) only when set,
/// list values always present.
fn message_attribute(v: &MessageAttributeValue) -> Value {
    let mut out = Map::new();
    if let Some(s) = v.string_value() {
        out.insert("stringValue".to_owned(), Value::String(s.to_owned()));
    }
    if let Some(b) = v.binary_value() {
        out.insert(
            "binaryValue".to_owned(),
            Value::String(aws_smithy_types::base64::encode(b.as_ref())),
        );
    }
    out.insert(
        "stringListValues".to_owned(),
        v.string_list_values()
            .iter()
            .map(|s| Value::String(s.clone()))
            .collect(),
    );
    out.insert(
        "binaryListValues".to_owned(),
        v.binary_list_values()
            .iter()
            .map(|b| Value::String(aws_smithy_types::base64::encode(b.as_ref())))
            .collect(),
    );
    out.insert(
        "dataType".to_owned(),
        Value::String(v.data_type().to_owned()),
    );
    Value::Object(out)
}

/// Parses a partial batch response against the batch's message ids. `Ok(set)` holds the ids
/// reported failed (empty: all succeeded); `Err(reason)` means the whole batch failed.
fn parse_batch_response<'a>(body: &[u8], ids: &'a [String]) -> Result<HashSet<&'a str>, String> {
    let mut failed = HashSet::new();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(failed);
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("response is not valid JSON: {e}"))?;
    let object = match value {
        Value::Null => return Ok(failed),
        Value::Object(object) => object,
        other => return Err(format!("response is not a JSON object: {other}")),
    };
    let items = match object.get("batchItemFailures") {
        None | Some(Value::Null) => return Ok(failed),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("batchItemFailures is not an array: {other}")),
    };
    let known: HashMap<&str, &'a str> = ids.iter().map(|id| (id.as_str(), id.as_str())).collect();
    for item in items {
        let id = item
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| format!("batch item failure without itemIdentifier: {item}"))?;
        let id = known
            .get(id)
            .ok_or_else(|| format!("itemIdentifier {id:?} is not a message id of the batch"))?;
        failed.insert(*id);
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]
    }

    #[test]
    fn partial_batch_responses_follow_the_aws_rules() {
        let ids = ids();
        let ok = |body: &str| -> Option<Vec<&str>> {
            parse_batch_response(body.as_bytes(), &ids).ok().map(|set| {
                let mut v: Vec<&str> = set.into_iter().collect();
                v.sort_unstable();
                v
            })
        };
        // (body, Some(failed ids) | None = whole batch failed)
        let cases: &[(&str, Option<Vec<&str>>)] = &[
            ("", Some(vec![])),
            ("  ", Some(vec![])),
            ("null", Some(vec![])),
            ("{}", Some(vec![])),
            (r#"{"batchItemFailures":[]}"#, Some(vec![])),
            (r#"{"batchItemFailures":null}"#, Some(vec![])),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#,
                Some(vec!["b"]),
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":"c"},{"itemIdentifier":"a"}]}"#,
                Some(vec!["a", "c"]),
            ),
            ("{not json", None),
            (r#""ok""#, None),
            (r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#, None),
            (r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#, None),
            (r#"{"batchItemFailures":[{"id":"a"}]}"#, None),
            (r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#, None),
            (r#"{"batchItemFailures":{}}"#, None),
        ];
        for (body, expected) in cases {
            assert_eq!(&ok(body), expected, "body {body:?}");
        }
    }

    #[test]
    fn message_attributes_are_shaped_like_lambda() {
        let v = MessageAttributeValue::builder()
            .data_type("Binary")
            .binary_value(aws_smithy_types::Blob::new(b"hi".to_vec()))
            .build()
            .expect("attribute");
        assert_eq!(
            message_attribute(&v),
            json!({"binaryValue":"aGk=","stringListValues":[],"binaryListValues":[],"dataType":"Binary"})
        );
    }
}
