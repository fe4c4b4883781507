//! SQS requests (AWS JSON protocol): dispatch by operation, the refusals in AWS's error shape,
//! the queue attributes cache, and the send-side rules (character set, size, batch limits,
//! `DelaySeconds`). The visibility-side rules are in `sqs_visibility`.

use bytes::Bytes;
use hyper::HeaderMap;
use hyper::header::HeaderValue;
use hyper::http::request::Parts;
use serde_json::{Value, json};

use super::http::{self, Forwarded, Reply};
use super::{QueueAttrs, Shared, charset, lock, size, sqs_visibility};

/// Content type of the AWS JSON 1.0 protocol.
const JSON_1_0: &str = "application/x-amz-json-1.0";

/// A refusal: the smithy shape name (`__type` after `#`), the query-compatible error code (what
/// the SDK reports as the code and what a batch's `Failed` entry carries) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) shape: &'static str,
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl Refusal {
    pub(super) fn invalid_contents(message: String) -> Refusal {
        Refusal {
            shape: "InvalidMessageContents",
            code: "InvalidMessageContents",
            message,
        }
    }

    pub(super) fn invalid_parameter(message: String) -> Refusal {
        Refusal {
            shape: "InvalidParameterValue",
            code: "InvalidParameterValue",
            message,
        }
    }

    pub(super) fn receipt_handle_invalid(handle: &str) -> Refusal {
        Refusal {
            shape: "ReceiptHandleIsInvalid",
            code: "ReceiptHandleIsInvalid",
            message: format!(
                "The input receipt handle \"{handle}\" is not a valid receipt handle: its \
                 visibility timeout ran out."
            ),
        }
    }

    /// The whole-request error answer: HTTP 400 with `__type`, `message` and
    /// `x-amzn-query-error: <code>;Sender`, as SQS answers (and moto does for its own errors).
    pub(super) fn reply(&self) -> Reply {
        tracing::info!(code = self.code, message = %self.message, "aws-rules: request refused");
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static(JSON_1_0));
        if let Ok(v) = HeaderValue::from_str(&format!("{};Sender", self.code)) {
            headers.insert("x-amzn-query-error", v);
        }
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.shape));
        let body =
            json!({"__type": format!("com.amazonaws.sqs#{}", self.shape), "message": self.message});
        http::reply(400, &headers, body.to_string())
    }

    /// The batch answer's `Failed` entry for entry `id`.
    pub(super) fn failed_entry(&self, id: &Value) -> Value {
        tracing::info!(code = self.code, id = %id, message = %self.message, "aws-rules: batch entry refused");
        json!({"Id": id, "SenderFault": true, "Code": self.code, "Message": self.message})
    }
}

/// One SQS request.
pub(super) async fn handle(shared: &Shared, op: &str, parts: &Parts, body: Bytes) -> Reply {
    let Ok(req @ Value::Object(_)) = serde_json::from_slice::<Value>(&body) else {
        return super::forward(shared, parts, body).await;
    };
    match op {
        "SendMessage" => send_message(shared, parts, req).await,
        "SendMessageBatch" => send_message_batch(shared, parts, req).await,
        "ReceiveMessage" => sqs_visibility::receive(shared, parts, req).await,
        "DeleteMessage" => sqs_visibility::delete(shared, parts, req).await,
        "DeleteMessageBatch" => sqs_visibility::delete_batch(shared, parts, req).await,
        "ChangeMessageVisibility" => sqs_visibility::change(shared, parts, req).await,
        "ChangeMessageVisibilityBatch" => sqs_visibility::change_batch(shared, parts, req).await,
        "SetQueueAttributes" | "CreateQueue" | "DeleteQueue" | "PurgeQueue" => {
            let reply = super::forward(shared, parts, body).await;
            lock(&shared.queues).clear();
            if let (true, Some(url)) = (
                op == "DeleteQueue" || op == "PurgeQueue",
                req.get("QueueUrl").and_then(Value::as_str),
            ) {
                lock(&shared.tracker).forget_queue(&queue_key(url));
            }
            reply
        }
        _ => super::forward(shared, parts, body).await,
    }
}

/// Forwards `req` (possibly rewritten) as the body of the original request.
pub(super) async fn forward_json(
    shared: &Shared,
    parts: &Parts,
    req: &Value,
) -> Result<Forwarded, Reply> {
    let pq = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    shared
        .upstream
        .send(
            parts.method.clone(),
            pq,
            &parts.headers,
            Bytes::from(req.to_string()),
        )
        .await
        .map_err(|e| http::bad_gateway(&e))
}

/// A queue's key, `<account>/<name>`: the last two segments of its URL, whichever host it names.
pub(super) fn queue_key(url: &str) -> String {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let name = segments.next().unwrap_or_default();
    let account = segments.next().unwrap_or_default();
    format!("{account}/{name}")
}

/// The queue's `MaximumMessageSize` and `VisibilityTimeout`, from the cache or moto. `None`
/// when moto does not answer them (e.g. no such queue: moto then refuses the request itself).
pub(super) async fn queue_attrs(shared: &Shared, parts: &Parts, url: &str) -> Option<QueueAttrs> {
    let key = queue_key(url);
    if let Some(a) = lock(&shared.queues).get(&key) {
        return Some(*a);
    }
    let req =
        json!({"QueueUrl": url, "AttributeNames": ["MaximumMessageSize", "VisibilityTimeout"]});
    let answer = shared
        .upstream
        .sqs_call("GetQueueAttributes", &req, &parts.headers)
        .await
        .ok()?;
    if answer.status != 200 {
        return None;
    }
    let v: Value = serde_json::from_slice(&answer.body).ok()?;
    let attr = |name: &str| {
        v.get("Attributes")?
            .get(name)?
            .as_str()?
            .parse::<u64>()
            .ok()
    };
    let attrs = QueueAttrs {
        max_bytes: attr("MaximumMessageSize")?,
        visibility_s: attr("VisibilityTimeout")?,
    };
    lock(&shared.queues).insert(key, attrs);
    Some(attrs)
}

/// Checks one message (a SendMessage request or a SendMessageBatch entry) against the character
/// set, `DelaySeconds` 0–900 and `max_bytes` (when known).
pub(super) fn check_message(entry: &Value, max_bytes: Option<u64>) -> Result<(), Refusal> {
    if let Some(c) = entry
        .get("MessageBody")
        .and_then(Value::as_str)
        .and_then(charset::first_invalid)
    {
        return Err(Refusal::invalid_contents(charset::refusal_message(
            c,
            "message body",
        )));
    }
    if let Some(attrs) = entry.get("MessageAttributes").and_then(Value::as_object) {
        for (name, attr) in attrs {
            let data_type = attr.get("DataType").and_then(Value::as_str).unwrap_or("");
            if !(data_type.starts_with("String") || data_type.starts_with("Number")) {
                continue;
            }
            if let Some(c) = attr
                .get("StringValue")
                .and_then(Value::as_str)
                .and_then(charset::first_invalid)
            {
                let place = format!("value of message attribute '{name}'");
                return Err(Refusal::invalid_contents(charset::refusal_message(
                    c, &place,
                )));
            }
        }
    }
    if let Err(value) = size::check_delay(entry) {
        return Err(Refusal::invalid_parameter(format!(
            "Value {value} for parameter DelaySeconds is invalid. Reason: must be between 0 and \
             900, if provided."
        )));
    }
    let bytes = size::message_bytes(entry);
    match max_bytes {
        Some(max) if bytes > max => Err(Refusal::invalid_parameter(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max} \
             bytes (this one has {bytes}: body plus attribute names, types and values)."
        ))),
        _ => Ok(()),
    }
}

async fn send_message(shared: &Shared, parts: &Parts, req: Value) -> Reply {
    let url = req.get("QueueUrl").and_then(Value::as_str).unwrap_or("");
    let max = queue_attrs(shared, parts, url).await.map(|a| a.max_bytes);
    if let Err(refusal) = check_message(&req, max) {
        return refusal.reply();
    }
    forward_json(shared, parts, &req)
        .await
        .map_or_else(|r| r, http::relay)
}

async fn send_message_batch(shared: &Shared, parts: &Parts, mut req: Value) -> Reply {
    let url = req
        .get("QueueUrl")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let Some(entries) = req.get("Entries").and_then(Value::as_array).cloned() else {
        return forward_json(shared, parts, &req)
            .await
            .map_or_else(|r| r, http::relay);
    };
    if entries.len() > size::MAX_BATCH_ENTRIES {
        return Refusal {
            shape: "TooManyEntriesInBatchRequest",
            code: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            message: format!(
                "Maximum number of entries per request are 10. You have sent {}.",
                entries.len()
            ),
        }
        .reply();
    }
    let total: u64 = entries.iter().map(size::message_bytes).sum();
    if total > size::MAX_BATCH_BYTES {
        return Refusal {
            shape: "BatchRequestTooLong",
            code: "AWS.SimpleQueueService.BatchRequestTooLong",
            message: format!(
                "Batch requests cannot be longer than 1048576 bytes. You have sent {total} bytes."
            ),
        }
        .reply();
    }
    let max = queue_attrs(shared, parts, &url).await.map(|a| a.max_bytes);
    let mut passed = Vec::with_capacity(entries.len());
    let mut failed = Vec::new();
    for entry in entries {
        match check_message(&entry, max) {
            Ok(()) => passed.push(entry),
            Err(refusal) => {
                failed.push(refusal.failed_entry(entry.get("Id").unwrap_or(&Value::Null)))
            }
        }
    }
    if failed.is_empty() {
        return forward_json(shared, parts, &req)
            .await
            .map_or_else(|r| r, http::relay);
    }
    batch(shared, parts, &mut req, passed, failed)
        .await
        .map_or_else(|r| r, |answer| json_reply(&answer))
}

/// Sends the entries that passed and merges the layer's `Failed` entries into moto's answer;
/// `Err` is moto's whole-request answer (or a 502), relayed as is.
pub(super) async fn batch(
    shared: &Shared,
    parts: &Parts,
    req: &mut Value,
    passed: Vec<Value>,
    failed: Vec<Value>,
) -> Result<Value, Reply> {
    let mut answer = if passed.is_empty() {
        json!({"Successful": [], "Failed": []})
    } else {
        req["Entries"] = Value::Array(passed);
        let f = forward_json(shared, parts, req).await?;
        match serde_json::from_slice::<Value>(&f.body) {
            Ok(v @ Value::Object(_)) if f.status == 200 => v,
            _ => return Err(http::relay(f)),
        }
    };
    for key in ["Successful", "Failed"] {
        if !answer.get(key).is_some_and(Value::is_array) {
            answer[key] = json!([]);
        }
    }
    if let Some(list) = answer.get_mut("Failed").and_then(Value::as_array_mut) {
        list.extend(failed);
    }
    Ok(answer)
}

/// A 200 answer with a JSON body.
pub(super) fn json_reply(v: &Value) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static(JSON_1_0));
    http::reply(200, &headers, v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_ignore_the_host() {
        assert_eq!(
            queue_key("http://127.0.0.1:5000/123456789012/retry-1"),
            "123456789012/retry-1"
        );
        assert_eq!(
            queue_key("https://sqs.us-east-1.amazonaws.com/123456789012/retry-1/"),
            "123456789012/retry-1"
        );
    }

    #[test]
    fn check_message_by_rule() {
        let ok = json!({"MessageBody": "x\u{FFFD}", "DelaySeconds": 900});
        assert_eq!(check_message(&ok, Some(4)), Ok(()));
        let too_long = check_message(&ok, Some(3)).map_err(|r| r.code);
        assert_eq!(too_long, Err("InvalidParameterValue"));
        let bad_body = json!({"MessageBody": "x\u{FFFF}"});
        assert_eq!(
            check_message(&bad_body, None).map_err(|r| r.code),
            Err("InvalidMessageContents")
        );
        let bad_attr = json!({"MessageBody": "x", "MessageAttributes": {
            "a": {"DataType": "String", "StringValue": "\u{FFFE}"}}});
        assert_eq!(
            check_message(&bad_attr, None).map_err(|r| r.code),
            Err("InvalidMessageContents")
        );
        let binary = json!({"MessageBody": "x", "MessageAttributes": {
            "a": {"DataType": "Binary", "BinaryValue": "//8="}}});
        assert_eq!(check_message(&binary, None), Ok(()));
        let delay = json!({"MessageBody": "x", "DelaySeconds": 901});
        assert_eq!(
            check_message(&delay, None).map_err(|r| r.code),
            Err("InvalidParameterValue")
        );
    }
}
