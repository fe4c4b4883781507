//! The visibility-side SQS rules: the layer records every receipt handle of the ReceiveMessage
//! answers it forwards (receive time, visibility deadline, moto's `SentTimestamp`), refuses
//! expired handles with `ReceiptHandleIsInvalid` and visibility changes beyond 43,200 s since the
//! receive with `InvalidParameterValue`, and passes moto a visibility moto accepts
//! ([`visibility::moto_value`]). Handles the layer never saw are left to moto.

use hyper::http::request::Parts;
use serde_json::{Value, json};

use super::http::{self, Reply};
use super::sqs::{Refusal, batch, forward_json, json_reply, queue_attrs, queue_key};
use super::visibility::{self, HandleState, Received};
use super::{Shared, lock};

const SENT: &str = "SentTimestamp";

/// Whether the request asks for `SentTimestamp` (in `AttributeNames` or
/// `MessageSystemAttributeNames`, by name or as `All`).
fn asks_sent(req: &Value) -> bool {
    ["AttributeNames", "MessageSystemAttributeNames"]
        .iter()
        .any(|k| {
            req.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|names| names.iter().any(|n| n == "All" || n == SENT))
        })
}

/// ReceiveMessage: forwards (asking moto for `SentTimestamp`, removed again when the caller did
/// not ask), then records every handle of the answer.
pub(super) async fn receive(shared: &Shared, parts: &Parts, mut req: Value) -> Reply {
    let url = req
        .get("QueueUrl")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let asked = asks_sent(&req);
    if !asked {
        match req
            .get_mut("MessageSystemAttributeNames")
            .and_then(Value::as_array_mut)
        {
            Some(names) => names.push(json!(SENT)),
            None => req["MessageSystemAttributeNames"] = json!([SENT]),
        }
    }
    let visibility_s = match req.get("VisibilityTimeout").and_then(Value::as_u64) {
        Some(v) => Some(v),
        None => queue_attrs(shared, parts, &url)
            .await
            .map(|a| a.visibility_s),
    };
    let f = match forward_json(shared, parts, &req).await {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    if f.status != 200 {
        return http::relay(f);
    }
    let Ok(mut answer) = serde_json::from_slice::<Value>(&f.body) else {
        return http::relay(f);
    };
    let now = shared.opts.clock.now_ms();
    let queue = queue_key(&url);
    let mut tracker = lock(&shared.tracker);
    tracker.prune(now);
    for m in answer
        .get_mut("Messages")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let sent_ms = m
            .get("Attributes")
            .and_then(|a| a.get(SENT))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok());
        if let (Some(handle), Some(id), Some(vis)) = (
            m.get("ReceiptHandle").and_then(Value::as_str),
            m.get("MessageId").and_then(Value::as_str),
            visibility_s,
        ) {
            let received = Received {
                queue: queue.clone(),
                message_id: id.to_owned(),
                received_ms: now,
                deadline_ms: now.saturating_add(vis.saturating_mul(1000)),
                sent_ms,
            };
            tracker.received(handle.to_owned(), received);
        }
        if asked {
            continue;
        }
        if let Some(attrs) = m.get_mut("Attributes").and_then(Value::as_object_mut) {
            attrs.remove(SENT);
            if attrs.is_empty()
                && let Some(obj) = m.as_object_mut()
            {
                obj.remove("Attributes");
            }
        }
    }
    drop(tracker);
    json_reply(&answer)
}

fn handle_of(v: &Value) -> &str {
    v.get("ReceiptHandle").and_then(Value::as_str).unwrap_or("")
}

/// DeleteMessage: an expired handle is refused; a delete that moto accepted forgets the message.
pub(super) async fn delete(shared: &Shared, parts: &Parts, req: Value) -> Reply {
    let handle = handle_of(&req).to_owned();
    let now = shared.opts.clock.now_ms();
    if lock(&shared.tracker).state(&handle, now) == HandleState::Expired {
        return Refusal::receipt_handle_invalid(&handle).reply();
    }
    match forward_json(shared, parts, &req).await {
        Ok(f) => {
            if f.status == 200 {
                lock(&shared.tracker).deleted(&handle);
            }
            http::relay(f)
        }
        Err(reply) => reply,
    }
}

/// The refusal of a visibility change to `requested_s` with `handle` at `now`, or the value to
/// pass moto.
fn check_change(shared: &Shared, handle: &str, requested_s: u64, now: u64) -> Result<u64, Refusal> {
    match lock(&shared.tracker).state(handle, now) {
        HandleState::Unknown => Ok(requested_s),
        HandleState::Expired => Err(Refusal::receipt_handle_invalid(handle)),
        HandleState::Valid(r) => {
            if !visibility::change_allowed(r.received_ms, now, requested_s) {
                return Err(Refusal::invalid_parameter(format!(
                    "Value {requested_s} for parameter VisibilityTimeout is invalid. Reason: \
                     Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"
                )));
            }
            Ok(r.sent_ms.map_or(requested_s, |sent| {
                visibility::moto_value(sent, visibility::system_now_ms(), requested_s)
            }))
        }
    }
}

/// ChangeMessageVisibility by AWS's rules (see the module documentation).
pub(super) async fn change(shared: &Shared, parts: &Parts, mut req: Value) -> Reply {
    let handle = handle_of(&req).to_owned();
    let Some(requested) = req.get("VisibilityTimeout").and_then(Value::as_u64) else {
        return forward_json(shared, parts, &req)
            .await
            .map_or_else(|r| r, http::relay);
    };
    let now = shared.opts.clock.now_ms();
    match check_change(shared, &handle, requested, now) {
        Err(refusal) => refusal.reply(),
        Ok(moto_value) => {
            req["VisibilityTimeout"] = json!(moto_value);
            match forward_json(shared, parts, &req).await {
                Ok(f) => {
                    if f.status == 200 {
                        lock(&shared.tracker).changed(&handle, now, requested);
                    }
                    http::relay(f)
                }
                Err(reply) => reply,
            }
        }
    }
}

/// The `Id`s listed as `Successful` in a batch answer.
fn successful_ids(answer: &Value) -> Vec<Value> {
    answer
        .get("Successful")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(|e| e.get("Id").cloned()).collect())
        .unwrap_or_default()
}

fn entries(req: &Value) -> Vec<Value> {
    req.get("Entries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// DeleteMessageBatch: expired handles are per-entry `Failed` (`ReceiptHandleIsInvalid`).
pub(super) async fn delete_batch(shared: &Shared, parts: &Parts, mut req: Value) -> Reply {
    let now = shared.opts.clock.now_ms();
    let (mut passed, mut failed) = (Vec::new(), Vec::new());
    for entry in entries(&req) {
        let handle = handle_of(&entry);
        if lock(&shared.tracker).state(handle, now) == HandleState::Expired {
            let id = entry.get("Id").cloned().unwrap_or(Value::Null);
            failed.push(Refusal::receipt_handle_invalid(handle).failed_entry(&id));
        } else {
            passed.push(entry);
        }
    }
    let sent = passed.clone();
    match batch(shared, parts, &mut req, passed, failed).await {
        Err(reply) => reply,
        Ok(answer) => {
            let ok = successful_ids(&answer);
            let mut tracker = lock(&shared.tracker);
            for entry in sent
                .iter()
                .filter(|e| e.get("Id").is_some_and(|id| ok.contains(id)))
            {
                tracker.deleted(handle_of(entry));
            }
            drop(tracker);
            json_reply(&answer)
        }
    }
}

/// ChangeMessageVisibilityBatch: per-entry `Failed` for expired handles and changes beyond the
/// 43,200 s since the receive; the rest go to moto with values moto accepts.
pub(super) async fn change_batch(shared: &Shared, parts: &Parts, mut req: Value) -> Reply {
    let now = shared.opts.clock.now_ms();
    let (mut passed, mut failed, mut wanted) = (Vec::new(), Vec::new(), Vec::new());
    for mut entry in entries(&req) {
        let id = entry.get("Id").cloned().unwrap_or(Value::Null);
        let Some(requested) = entry.get("VisibilityTimeout").and_then(Value::as_u64) else {
            passed.push(entry);
            continue;
        };
        let handle = handle_of(&entry).to_owned();
        match check_change(shared, &handle, requested, now) {
            Err(refusal) => failed.push(refusal.failed_entry(&id)),
            Ok(moto_value) => {
                entry["VisibilityTimeout"] = json!(moto_value);
                wanted.push((id, handle, requested));
                passed.push(entry);
            }
        }
    }
    match batch(shared, parts, &mut req, passed, failed).await {
        Err(reply) => reply,
        Ok(answer) => {
            let ok = successful_ids(&answer);
            let mut tracker = lock(&shared.tracker);
            for (_, handle, requested) in wanted.iter().filter(|(id, _, _)| ok.contains(id)) {
                tracker.changed(handle, now, *requested);
            }
            drop(tracker);
            json_reply(&answer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_timestamp_is_asked_by_name_or_all() {
        assert!(!asks_sent(&json!({})));
        assert!(asks_sent(&json!({"AttributeNames": ["All"]})));
        assert!(asks_sent(
            &json!({"MessageSystemAttributeNames": ["SentTimestamp"]})
        ));
        assert!(!asks_sent(
            &json!({"MessageSystemAttributeNames": ["ApproximateReceiveCount"]})
        ));
    }
}
