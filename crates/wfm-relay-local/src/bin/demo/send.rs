//! The EventBridge side of the demo: every event as an invocation of the forwarder process, a
//! few queued at a time, and a progress line every few seconds.

use anyhow::Context;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use wfm_relay_local::harness::{Clock, invoke_raw, lock};
use wfm_relay_local::stack::depth;
use wfm_relay_local::{InvocationType, LocalStack, RuntimeApi, ScriptedWfm};

use crate::events::{DemoEvent, Special};
use crate::wfm_script::Phase;
use crate::{INVOKE_TIMEOUT, TICK};

/// Counters shared by the sender, the retry-queue poller and the progress ticker.
#[derive(Debug, Default)]
pub struct Progress {
    /// Invocations answered.
    pub sent: usize,
    /// Their outcomes (`delivered`, `queued`, a reason token, `error`).
    pub outcomes: BTreeMap<String, usize>,
    /// Retry-queue batches passed to the forwarder.
    pub batches: usize,
    /// Records in those batches.
    pub batch_records: usize,
    /// Records the forwarder listed for retry.
    pub batch_listed: usize,
}

/// Sends every event as an EventBridge invocation, `concurrency` queued at a time; returns the
/// invocation result per event (`delivered`, `queued`, a reason token, or `error: …`).
pub async fn send_all(
    api: RuntimeApi,
    events: Arc<Vec<DemoEvent>>,
    mut phase: watch::Receiver<Phase>,
    concurrency: usize,
    progress: Arc<Mutex<Progress>>,
) -> anyhow::Result<Vec<String>> {
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut running = JoinSet::new();
    for (i, ev) in events.iter().enumerate() {
        if matches!(ev.special, Special::Rejected | Special::Stuck) {
            phase
                .wait_for(|p| *p != Phase::Flaky)
                .await
                .context("phase channel closed")?;
        }
        let slot = Arc::clone(&slots).acquire_owned().await?;
        let api = api.clone();
        let payload = ev.bytes.clone();
        let progress = Arc::clone(&progress);
        running.spawn(async move {
            let outcome = invoke_event(&api, payload).await;
            drop(slot);
            let mut p = lock(&progress);
            p.sent += 1;
            let key = if outcome.starts_with("error") {
                "error".to_owned()
            } else {
                outcome.clone()
            };
            *p.outcomes.entry(key).or_default() += 1;
            (i, outcome)
        });
    }
    let mut outcomes = vec![String::new(); events.len()];
    while let Some(done) = running.join_next().await {
        let (i, outcome) = done.context("invocation task")?;
        outcomes[i] = outcome;
    }
    Ok(outcomes)
}

/// One EventBridge invocation; its `outcome`, or `error: …`.
async fn invoke_event(api: &RuntimeApi, payload: Vec<u8>) -> String {
    match invoke_raw(api, InvocationType::Event, payload, INVOKE_TIMEOUT).await {
        Ok(body) => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["outcome"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                format!(
                    "error: unexpected response {}",
                    String::from_utf8_lossy(&body)
                )
            }),
        Err(e) => format!("error: {e}"),
    }
}

/// Prints a progress line every [`TICK`](crate::TICK).
pub async fn tick(
    clock: Clock,
    sqs: aws_sdk_sqs::Client,
    stack: LocalStack,
    wfm: ScriptedWfm,
    progress: Arc<Mutex<Progress>>,
    total: usize,
) {
    loop {
        tokio::time::sleep(TICK).await;
        let retry = depth(&sqs, &stack.retry_url).await.unwrap_or(0);
        let dlq = depth(&sqs, &stack.dlq_url).await.unwrap_or(0);
        let requests = wfm.requests().len();
        let p = lock(&progress);
        let outcomes: Vec<String> = p.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{} sent {}/{total} ({}) | retry queue {retry}, {} batches ({} records, {} listed for retry) | DLQ {dlq} | WFM requests {requests}",
            clock.stamp(),
            p.sent,
            if outcomes.is_empty() {
                "-".to_owned()
            } else {
                outcomes.join(", ")
            },
            p.batches,
            p.batch_records,
            p.batch_listed
        );
    }
}
