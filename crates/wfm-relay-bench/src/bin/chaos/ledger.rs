//! The retry queue's ledger: every SQS call of the run (the forwarder processes', the event
//! source mapping's, the replayer's) goes through a [`FaultProxy`] in front of the AWS-rules
//! layer that faults nothing and only watches the retry queue's `SendMessage(Batch)`,
//! `ReceiveMessage` and `DeleteMessage(Batch)` answers. What SQS accepted and did not delete yet
//! is in the ledger with its body, so the run can read the `not_before` of messages that no
//! receive can show (delayed up to 900 s, or hidden until their `Retry-After`).
//!
//! The ledger only ever claims a message SQS answered with a `MessageId` (or returned in a
//! receive) and never saw deleted; the final accounting checks its claims against the queue's
//! depth (a ledger that claims more messages than the queue holds fails the run).

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use wfm_relay_core::timefmt::{format_rfc3339, parse_rfc3339};
use wfm_relay_local::harness::lock;
use wfm_relay_local::{Fault, FaultProxy};

/// The SQS operations the ledger reads (`X-Amz-Target` values, AWS JSON protocol).
const WATCHED: [&str; 7] = [
    "AmazonSQS.SendMessage",
    "AmazonSQS.SendMessageBatch",
    "AmazonSQS.ReceiveMessage",
    "AmazonSQS.DeleteMessage",
    "AmazonSQS.DeleteMessageBatch",
    "AmazonSQS.ChangeMessageVisibility",
    "AmazonSQS.ChangeMessageVisibilityBatch",
];

/// A visibility change counts as waiting for a `Retry-After` when it hides the message for
/// longer than this from now: the run's compressed schedule steps are seconds, SQS's
/// `DelaySeconds` at most 900 s; only a `Retry-After` hides a message longer.
pub const HIDDEN_WAIT: Duration = Duration::from_secs(900);

/// A retry-queue message waiting for a `Retry-After`: its envelope's `not_before` is still
/// ahead (the forwarder queued it so), or the consumer's ChangeMessageVisibility hides it for
/// longer than [`HIDDEN_WAIT`] (a `Retry-After` answered to a retry-queue attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The EventBridge id in its body, when it has one.
    pub event_id: Option<String>,
    /// Until when (RFC 3339) and how: `not_before <time>` or `hidden until <time>`.
    pub until: String,
}

/// The retry queue's messages as the SQS answers show them.
pub struct Ledger {
    /// The retry queue's name (last segment of its URL).
    queue: String,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Body by message id, for every message accepted or received and not deleted since.
    bodies: HashMap<String, String>,
    /// Message id by receipt handle.
    handles: HashMap<String, String>,
    /// Until when the last visibility change since the last receive hides a message.
    hidden_until: HashMap<String, SystemTime>,
}

impl Ledger {
    /// An empty ledger of the queue at `queue_url`.
    pub fn new(queue_url: &str) -> Ledger {
        Ledger {
            queue: queue_name(queue_url).to_owned(),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Messages the ledger holds.
    pub fn live(&self) -> usize {
        lock(&self.inner).bodies.len()
    }

    /// The messages waiting for a `Retry-After` at `now` (see [`Waiting`]), earliest first.
    pub fn waiting(&self, now: SystemTime) -> Vec<Waiting> {
        let inner = lock(&self.inner);
        let mut out: Vec<(SystemTime, Waiting)> = inner
            .bodies
            .iter()
            .filter_map(|(id, body)| {
                // The retry-queue envelope (PRODUCT.md §5): `not_before` and `event_id` are
                // top-level strings.
                let env: Value = serde_json::from_str(body).ok()?;
                let event_id = env["event_id"].as_str().map(str::to_owned);
                let not_before = env["not_before"].as_str().and_then(parse_rfc3339);
                if let Some(t) = not_before.filter(|t| *t > now) {
                    let until = format!("not_before {}", format_rfc3339(t));
                    return Some((t, Waiting { event_id, until }));
                }
                let hidden = inner.hidden_until.get(id).copied()?;
                (hidden > now + HIDDEN_WAIT).then(|| {
                    let until = format!("hidden until {}", format_rfc3339(hidden));
                    (hidden, Waiting { event_id, until })
                })
            })
            .collect();
        out.sort_by_key(|(t, _)| *t);
        out.into_iter().map(|(_, w)| w).collect()
    }

    /// Reads one call of operation `target` (`AmazonSQS.*`): its request and upstream answer
    /// bodies. Calls on other queues and refused calls (an answer with `__type`) change nothing.
    pub fn observe(&self, target: &str, request: &[u8], answer: &[u8]) {
        // DeleteMessage and ChangeMessageVisibility answer an empty body.
        let answer: &[u8] = if answer.is_empty() { b"{}" } else { answer };
        let (Ok(req), Ok(ans)) = (
            serde_json::from_slice::<Value>(request),
            serde_json::from_slice::<Value>(answer),
        ) else {
            return;
        };
        if ans.get("__type").is_some() || queue_name(str_of(&req["QueueUrl"])) != self.queue {
            return;
        }
        let mut inner = lock(&self.inner);
        match target.strip_prefix("AmazonSQS.").unwrap_or(target) {
            "SendMessage" => {
                if let Some(id) = ans["MessageId"].as_str() {
                    let body = str_of(&req["MessageBody"]).to_owned();
                    inner.bodies.insert(id.to_owned(), body);
                }
            }
            "SendMessageBatch" => {
                let bodies: HashMap<&str, &str> = entries(&req)
                    .map(|e| (str_of(&e["Id"]), str_of(&e["MessageBody"])))
                    .collect();
                for ok in list(&ans["Successful"]) {
                    if let (Some(id), Some(body)) = (
                        ok["MessageId"].as_str(),
                        bodies.get(str_of(&ok["Id"])).copied(),
                    ) {
                        inner.bodies.insert(id.to_owned(), body.to_owned());
                    }
                }
            }
            "ReceiveMessage" => {
                for m in list(&ans["Messages"]) {
                    let id = str_of(&m["MessageId"]).to_owned();
                    inner
                        .handles
                        .insert(str_of(&m["ReceiptHandle"]).to_owned(), id.clone());
                    inner.hidden_until.remove(&id);
                    inner.bodies.insert(id, str_of(&m["Body"]).to_owned());
                }
            }
            "ChangeMessageVisibility" => {
                inner.hide(str_of(&req["ReceiptHandle"]), &req["VisibilityTimeout"]);
            }
            "ChangeMessageVisibilityBatch" => {
                let changes: HashMap<&str, &Value> =
                    entries(&req).map(|e| (str_of(&e["Id"]), e)).collect();
                for ok in list(&ans["Successful"]) {
                    if let Some(e) = changes.get(str_of(&ok["Id"])) {
                        inner.hide(str_of(&e["ReceiptHandle"]), &e["VisibilityTimeout"]);
                    }
                }
            }
            "DeleteMessage" => inner.delete(str_of(&req["ReceiptHandle"])),
            "DeleteMessageBatch" => {
                let handles: HashMap<&str, &str> = entries(&req)
                    .map(|e| (str_of(&e["Id"]), str_of(&e["ReceiptHandle"])))
                    .collect();
                for ok in list(&ans["Successful"]) {
                    if let Some(h) = handles.get(str_of(&ok["Id"])) {
                        inner.delete(h);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Inner {
    fn delete(&mut self, handle: &str) {
        if let Some(id) = self.handles.remove(handle) {
            self.bodies.remove(&id);
            self.hidden_until.remove(&id);
        }
    }

    /// A visibility change of `seconds` (a JSON number) from now on the message of `handle`.
    fn hide(&mut self, handle: &str, seconds: &Value) {
        if let (Some(id), Some(s)) = (self.handles.get(handle), seconds.as_u64()) {
            let until = SystemTime::now() + Duration::from_secs(s);
            self.hidden_until.insert(id.clone(), until);
        }
    }
}

/// Starts the watching proxy in front of `upstream` (the AWS-rules layer); every request passes
/// unchanged, the answers of [`WATCHED`] calls are read into `ledger`.
///
/// # Errors
/// When the proxy cannot be started.
pub async fn start(upstream: String, ledger: &Arc<Ledger>) -> std::io::Result<FaultProxy> {
    let proxy = FaultProxy::start(upstream).await?;
    for target in WATCHED {
        let ledger = Arc::clone(ledger);
        proxy.set_fault(
            target,
            Some(Fault::Decide(Arc::new(move |request: &[u8]| {
                let (ledger, request) = (Arc::clone(&ledger), request.to_vec());
                Some(Fault::Rewrite(Arc::new(move |answer: &[u8]| {
                    ledger.observe(target, &request, answer);
                    answer.to_vec()
                })))
            }))),
        );
    }
    Ok(proxy)
}

fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn list(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn entries(req: &Value) -> impl Iterator<Item = &Value> {
    list(&req["Entries"])
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "http://127.0.0.1:1/123456789012/retry";

    fn body(event_id: &str, not_before: &str) -> String {
        serde_json::json!({"v": 1, "event": "{}", "event_id": event_id, "not_before": not_before})
            .to_string()
    }

    #[tokio::test]
    async fn the_proxy_reads_answers_into_the_ledger() {
        let upstream =
            wfm_relay_local::ScriptedWfm::start(wfm_relay_local::Script::Sequence(vec![
                wfm_relay_local::Reply::status(200)
                    .header("content-type", "application/x-amz-json-1.0")
                    .body(r#"{"MessageId":"m-1","MD5OfMessageBody":"x"}"#),
            ]))
            .await
            .expect("upstream");
        let ledger = Arc::new(Ledger::new(Q));
        let proxy = start(format!("http://{}", upstream.addr()), &ledger)
            .await
            .expect("proxy");
        let later = "2099-01-15T08:00:00.000Z";
        let resp = reqwest::Client::new()
            .post(format!("{}/", proxy.url()))
            .header("X-Amz-Target", "AmazonSQS.SendMessage")
            .header("content-type", "application/x-amz-json-1.0")
            .body(serde_json::json!({"QueueUrl": Q, "MessageBody": body("e1", later)}).to_string())
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(
            resp.text().await.expect("body"),
            r#"{"MessageId":"m-1","MD5OfMessageBody":"x"}"#
        );
        assert_eq!(ledger.live(), 1);
        assert_eq!(ledger.waiting(SystemTime::now()).len(), 1);
    }

    #[test]
    fn sends_receives_and_deletes_of_the_retry_queue_are_followed() {
        let ledger = Ledger::new(Q);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = "2027-01-15T08:00:00.000Z";
        let req = serde_json::json!({"QueueUrl": Q, "MessageBody": body("e1", later)});
        ledger.observe(
            "AmazonSQS.SendMessage",
            req.to_string().as_bytes(),
            br#"{"MessageId":"m1"}"#,
        );
        let batch = serde_json::json!({"QueueUrl": Q, "Entries": [
            {"Id": "0", "MessageBody": body("e2", "2020-01-01T00:00:00Z")},
            {"Id": "1", "MessageBody": body("e3", later)},
        ]});
        ledger.observe(
            "AmazonSQS.SendMessageBatch",
            batch.to_string().as_bytes(),
            br#"{"Successful":[{"Id":"0","MessageId":"m2"}],"Failed":[{"Id":"1"}]}"#,
        );
        // Another queue and a refused call change nothing.
        let other =
            serde_json::json!({"QueueUrl": "http://h/1/dlq", "MessageBody": body("x", later)});
        ledger.observe(
            "AmazonSQS.SendMessage",
            other.to_string().as_bytes(),
            br#"{"MessageId":"m9"}"#,
        );
        ledger.observe(
            "AmazonSQS.SendMessage",
            req.to_string().as_bytes(),
            br#"{"__type":"com.amazonaws.sqs#InvalidMessageContents"}"#,
        );
        assert_eq!(ledger.live(), 2);
        assert_eq!(
            ledger.waiting(now),
            [Waiting {
                event_id: Some("e1".into()),
                until: format!("not_before {later}")
            }]
        );
        let recv = serde_json::json!({"QueueUrl": Q}).to_string();
        let got = serde_json::json!({"Messages": [
            {"MessageId": "m1", "ReceiptHandle": "h1", "Body": body("e1", later)},
            {"MessageId": "m2", "ReceiptHandle": "h2", "Body": body("e2", "2020-01-01T00:00:00Z")},
        ]});
        ledger.observe(
            "AmazonSQS.ReceiveMessage",
            recv.as_bytes(),
            got.to_string().as_bytes(),
        );
        let del = serde_json::json!({"QueueUrl": Q, "Entries": [
            {"Id": "a", "ReceiptHandle": "h2"}, {"Id": "b", "ReceiptHandle": "h1"}]});
        ledger.observe(
            "AmazonSQS.DeleteMessageBatch",
            del.to_string().as_bytes(),
            br#"{"Successful":[{"Id":"a"}],"Failed":[{"Id":"b","Code":"ReceiptHandleIsInvalid"}]}"#,
        );
        assert_eq!(ledger.live(), 1);
        let one = serde_json::json!({"QueueUrl": Q, "ReceiptHandle": "h1"}).to_string();
        ledger.observe("AmazonSQS.DeleteMessage", one.as_bytes(), b"");
        assert_eq!(ledger.live(), 0);
        assert_eq!(ledger.waiting(now), []);
    }
}
