//! The EventBridge side: every event as an asynchronous Lambda invocation of a forwarder lane,
//! retried as Lambda's async invocation retries a function error, and Lambda's on-failure record
//! in the DLQ when every attempt failed.

use anyhow::Context;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use wfm_relay_core::timefmt::format_rfc3339;
use wfm_relay_local::harness::{invoke_raw, lock};
use wfm_relay_local::{InvocationType, RuntimeApi};

use crate::args::{ASYNC_INVOKES, ASYNC_RETRY_WAIT, INVOKE_TIMEOUT};
use crate::run::{Outcome, Run};

/// Sends every event as an EventBridge invocation, spread over the forwarder lanes `apis`: a
/// lane takes a new invocation as soon as one of its `--per-forwarder` slots is free.
///
/// # Errors
/// When an on-failure record cannot be written to the DLQ (the event would be lost).
pub async fn send_all(run: Arc<Run>, apis: Vec<RuntimeApi>) -> anyhow::Result<()> {
    let (free_tx, mut free_rx) = mpsc::unbounded_channel::<usize>();
    for lane in 0..apis.len() {
        for _ in 0..run.args.per_forwarder {
            let _ = free_tx.send(lane);
        }
    }
    let mut running = JoinSet::new();
    for i in 0..run.n() {
        let lane = free_rx.recv().await.context("lane channel closed")?;
        while let Some(done) = running.try_join_next() {
            done.context("invocation task")??;
        }
        run.counters.started.fetch_add(1, Ordering::SeqCst);
        let api = apis[lane].clone();
        let (run, free_tx) = (Arc::clone(&run), free_tx.clone());
        running.spawn(async move {
            let payload = wfm_relay_bench::hostile::event(&run.fam, i, run.args.hostile());
            let outcome = invoke_event(&run, &api, &payload).await?;
            lock(&run.outcomes)[i] = outcome;
            run.counters.completed.fetch_add(1, Ordering::SeqCst);
            let _ = free_tx.send(lane);
            anyhow::Ok(())
        });
    }
    while let Some(done) = running.join_next().await {
        done.context("invocation task")??;
    }
    Ok(())
}

/// One EventBridge event as Lambda's async invocation handles it: up to [`ASYNC_INVOKES`]
/// invocations, then Lambda's on-failure record in the DLQ (the forwarder's on-failure
/// destination).
async fn invoke_event(run: &Run, api: &RuntimeApi, payload: &[u8]) -> anyhow::Result<Outcome> {
    let mut last_error = String::new();
    for attempt in 1..=ASYNC_INVOKES {
        match invoke_raw(api, InvocationType::Event, payload.to_vec(), INVOKE_TIMEOUT).await {
            Ok(body) => {
                let outcome = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["outcome"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                return Ok(match outcome.as_str() {
                    "delivered" => Outcome::Delivered,
                    "queued" => Outcome::Queued,
                    _ => {
                        *lock(&run.counters.parked_inline)
                            .entry(outcome)
                            .or_default() += 1;
                        Outcome::Parked
                    }
                });
            }
            Err(e) => {
                run.counters.invoke_errors.fetch_add(1, Ordering::SeqCst);
                last_error = e;
                if attempt < ASYNC_INVOKES {
                    tokio::time::sleep(ASYNC_RETRY_WAIT).await;
                }
            }
        }
    }
    run.sqs
        .send_message()
        .queue_url(&run.stack.dlq_url)
        .message_body(on_failure_record(payload, &last_error).to_string())
        .send()
        .await
        .context("writing an on-failure record to the DLQ")?;
    run.counters
        .on_failure_records
        .fetch_add(1, Ordering::SeqCst);
    Ok(Outcome::Failed)
}

/// Lambda's on-failure record (AWS Lambda Developer Guide, "Capturing records of Lambda
/// asynchronous invocations"): the event is kept as `requestPayload`.
fn on_failure_record(payload: &[u8], last_error: &str) -> serde_json::Value {
    let request_payload: serde_json::Value =
        serde_json::from_slice(payload).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "version": "1.0",
        "timestamp": format_rfc3339(SystemTime::now()),
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:wfm-relay-forwarder:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": ASYNC_INVOKES,
        },
        "requestPayload": request_payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": last_error},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_on_failure_record_keeps_the_event_and_the_last_error() {
        let fam = wfm_relay_bench::events::EventFamily::new(7, SystemTime::UNIX_EPOCH);
        let record = on_failure_record(&fam.event(3), "Runtime.ExitError: boom");
        assert_eq!(record["requestPayload"]["id"], fam.id(3).as_str());
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(
            record["responsePayload"]["errorMessage"],
            "Runtime.ExitError: boom"
        );
        // The final accounting reads the event id back from the DLQ through the core's decoder.
        let letter = wfm_relay_core::replay::decode_dead_letter(&record.to_string());
        assert_eq!(letter.env.event_id, Some(fam.id(3)));
    }
}
