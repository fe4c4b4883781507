//! The final accounting: where each sent event ended up, from evidence outside the forwarder
//! (the WFM server's recorded requests, the queues' contents), not from the forwarder's own
//! answers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_local::Recorded;
use wfm_relay_local::stack::peek_bodies;

use crate::events::{DemoEvent, Special};

/// A message read from a queue at the end of the run.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    /// The decoded envelope, or `None` when the body is not an [`EnvelopeV1`].
    pub envelope: Option<EnvelopeV1>,
    /// The raw body.
    pub body: String,
}

/// The messages of `url` (up to `expected`, waiting at most `patience` for in-flight and delayed
/// ones to become visible), left in the queue: the demo only looks.
pub async fn read_queue(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    expected: usize,
    patience: Duration,
) -> anyhow::Result<Vec<QueuedMessage>> {
    let bodies = peek_bodies(sqs, url, expected, patience, crate::VISIBILITY_TIMEOUT_S).await?;
    Ok(bodies
        .into_iter()
        .map(|body| QueuedMessage {
            envelope: serde_json::from_str::<EnvelopeV1>(&body).ok(),
            body,
        })
        .collect())
}

/// Everything the demo collected, and the verdict per event.
pub struct Ledger<'a> {
    /// What was sent, in order.
    pub sent: &'a [DemoEvent],
    /// The invocation result per sent event (`delivered`, `queued`, a reason, or `error: …`).
    pub outcomes: &'a [String],
    /// Every request the WFM server read.
    pub requests: &'a [Recorded],
    /// Messages still in the retry queue.
    pub retry_left: &'a [QueuedMessage],
    /// Depth of the retry queue (visible + in flight + delayed) at the end.
    pub retry_depth: usize,
    /// Every message of the DLQ.
    pub dlq: &'a [QueuedMessage],
}

/// Where one event was found.
#[derive(Debug, Default, Clone, Copy)]
struct Places {
    delivered: bool,
    retry: bool,
    dlq: bool,
}

impl Places {
    fn count(self) -> usize {
        usize::from(self.delivered) + usize::from(self.retry) + usize::from(self.dlq)
    }
}

fn is_2xx(r: &Recorded) -> bool {
    r.answered.is_some_and(|s| (200..300).contains(&s))
}

/// The event id a queue message is about: the envelope's `event_id`, else the `id` of a raw
/// EventBridge event body.
fn message_event_id(m: &QueuedMessage) -> Option<String> {
    match &m.envelope {
        Some(env) => env.event_id.clone(),
        None => serde_json::from_str::<serde_json::Value>(&m.body)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned)),
    }
}

impl Ledger<'_> {
    /// Prints the accounting and returns the number of sent events found nowhere.
    pub fn print(&self) -> usize {
        let delivered_ids: HashSet<&str> = self
            .requests
            .iter()
            .filter(|r| is_2xx(r))
            .filter_map(|r| r.header("x-event-id"))
            .collect();
        let retry_ids: HashSet<String> = self
            .retry_left
            .iter()
            .filter_map(message_event_id)
            .collect();
        let dlq_ids: HashSet<String> = self.dlq.iter().filter_map(message_event_id).collect();
        // A payload without an id is found by its bytes (the envelope keeps them exactly).
        let dlq_bodies: HashSet<&str> = self
            .dlq
            .iter()
            .filter_map(|m| m.envelope.as_ref().and_then(|e| e.event.as_deref()))
            .collect();

        let mut places = Vec::with_capacity(self.sent.len());
        for ev in self.sent {
            let p = match &ev.id {
                Some(id) => Places {
                    delivered: delivered_ids.contains(id.as_str()),
                    retry: retry_ids.contains(id),
                    dlq: dlq_ids.contains(id),
                },
                None => Places {
                    dlq: std::str::from_utf8(&ev.bytes).is_ok_and(|s| dlq_bodies.contains(s)),
                    ..Places::default()
                },
            };
            places.push(p);
        }

        // Invocation results, in a stable order.
        let mut by_outcome: BTreeMap<&str, usize> = BTreeMap::new();
        for o in self.outcomes {
            let key = if o.starts_with("error") {
                "error"
            } else {
                o.as_str()
            };
            *by_outcome.entry(key).or_default() += 1;
        }
        let mut inline = 0;
        let mut via_queue = 0;
        let mut delivered_other = 0;
        for (p, o) in places.iter().zip(self.outcomes) {
            if p.delivered {
                match o.as_str() {
                    "delivered" => inline += 1,
                    "queued" => via_queue += 1,
                    _ => delivered_other += 1,
                }
            }
        }
        let delivered = places.iter().filter(|p| p.delivered).count();
        let in_retry = places.iter().filter(|p| p.retry).count();
        let in_dlq = places.iter().filter(|p| p.dlq).count();
        let accounted = places.iter().filter(|p| p.count() > 0).count();
        let twice = places.iter().filter(|p| p.count() > 1).count();
        let missing: Vec<&DemoEvent> = self
            .sent
            .iter()
            .zip(&places)
            .filter(|(_, p)| p.count() == 0)
            .map(|(e, _)| e)
            .collect();

        let samples = self.sent.iter().filter(|e| e.sample).count();
        let invalid = self
            .sent
            .iter()
            .filter(|e| e.special == Special::Invalid)
            .count();
        let generated = self.sent.len() - samples - invalid;

        println!();
        println!("== accounting");
        row(
            "events sent",
            self.sent.len(),
            &format!("{samples} Genesys samples, {generated} generated, {invalid} invalid payload"),
        );
        let outcomes: Vec<String> = by_outcome.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{:<34}{}",
            "EventBridge invocations answered",
            outcomes.join(", ")
        );
        row("delivered to WFM (2xx)", delivered, "distinct X-Event-Id");
        row("  inline, in the invocation", inline, "");
        row("  from the retry queue", via_queue, "");
        if delivered_other > 0 {
            row("  after an invocation error", delivered_other, "");
        }
        row(
            "still in the retry queue",
            in_retry,
            &format!("queue depth {}", self.retry_depth),
        );
        row("in the dead-letter queue", in_dlq, "");
        for (reason, (n, example)) in self.dlq_by_reason() {
            row(&format!("  {reason}"), n, &example);
        }
        let undecodable = self.dlq.iter().filter(|m| m.envelope.is_none()).count();
        if undecodable > 0 {
            row("  (not an EnvelopeV1)", undecodable, "");
        }

        let mut keys: HashMap<&str, (usize, usize)> = HashMap::new();
        for r in self.requests {
            let key = r.header("idempotency-key").unwrap_or("");
            let e = keys.entry(key).or_default();
            e.0 += 1;
            e.1 += usize::from(is_2xx(r));
        }
        let repeated_requests: usize = keys.values().map(|(n, _)| n - 1).sum();
        let duplicate_deliveries: usize = keys.values().map(|(_, ok)| ok.saturating_sub(1)).sum();
        row(
            "WFM requests",
            self.requests.len(),
            &format!(
                "{} distinct Idempotency-Keys; {repeated_requests} repeated a key (retries, re-published events), {duplicate_deliveries} a 2xx for a key already accepted (duplicate delivery)",
                keys.len()
            ),
        );
        if twice > 0 {
            println!(
                "events found in more than one place: {twice} (at-least-once delivery; each counted once below)"
            );
        }
        for e in &missing {
            println!(
                "MISSING: {} (id {})",
                e.label,
                e.id.as_deref().unwrap_or("-")
            );
        }
        println!(
            "accounted: {accounted} of {} events (missing: {})",
            self.sent.len(),
            missing.len()
        );
        missing.len()
    }

    /// DLQ messages per reason, with one example each (event id / label and last error).
    fn dlq_by_reason(&self) -> BTreeMap<&'static str, (usize, String)> {
        let mut out: BTreeMap<&'static str, (usize, String)> = BTreeMap::new();
        for env in self.dlq.iter().filter_map(|m| m.envelope.as_ref()) {
            let entry = out
                .entry(env.effective_reason().as_str())
                .or_insert_with(|| (0, example(env)));
            entry.0 += 1;
        }
        out
    }
}

/// One line of the accounting: label, count, note.
fn row(label: &str, n: usize, note: &str) {
    if note.is_empty() {
        println!("{label:<34}{n:>5}");
    } else {
        println!("{label:<34}{n:>5}   {note}");
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max).collect();
    s.push('…');
    s
}

/// One dead letter, in a line: event id, attempts, last status, last error, WFM's excerpt.
fn example(env: &EnvelopeV1) -> String {
    let mut s = format!(
        "e.g. {}, attempts {}",
        env.event_id.as_deref().unwrap_or("(no event id)"),
        env.attempts
    );
    if let Some(err) = &env.last_error {
        s.push_str(&format!(": {}", short(err, 60)));
    }
    if let Some(ex) = env.excerpt.as_deref().filter(|e| !e.is_empty()) {
        s.push_str(&format!(", WFM said {}", short(ex, 50)));
    }
    s
}
