//! The retry-queue side: Lambda's SQS event source mapping, one poller per consumer lane, until
//! the retry queue holds nothing but messages waiting for a `Retry-After` (or the drain budget is
//! over).

use anyhow::Context;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinSet;
use wfm_relay_local::stack::depth;
use wfm_relay_local::{RuntimeApi, SqsEventSourceMapping};

use crate::args::INVOKE_TIMEOUT;
use crate::phases::{Phase, wait_for_phase};
use crate::run::Run;

/// Starts one event source mapping poller per consumer lane in `apis`.
pub fn start(run: &Arc<Run>, apis: Vec<RuntimeApi>) -> JoinSet<anyhow::Result<()>> {
    let mut consumers = JoinSet::new();
    for api in apis {
        let esm = run.stack.retry_esm(&run.sqs);
        consumers.spawn(consume(esm, api, Arc::clone(run)));
    }
    consumers
}

/// Lambda's SQS event source mapping with one poller, invoking one forwarder process, until
/// `run.stop_consumers`.
async fn consume(esm: SqsEventSourceMapping, api: RuntimeApi, run: Arc<Run>) -> anyhow::Result<()> {
    let counters = &run.counters;
    while !run.stop_consumers.load(Ordering::SeqCst) {
        let report = esm
            .poll_function(&api, INVOKE_TIMEOUT)
            .await
            .context("polling the retry queue")?;
        if report.received > 0 {
            counters.batches.fetch_add(1, Ordering::SeqCst);
            counters
                .batch_records
                .fetch_add(report.received, Ordering::SeqCst);
            counters
                .batch_listed
                .fetch_add(report.failed_ids.len(), Ordering::SeqCst);
        }
        if report.invoke_error.is_some() || report.invalid_response.is_some() {
            counters.batch_failed_whole.fetch_add(1, Ordering::SeqCst);
        }
    }
    Ok(())
}

/// After the sending: waits for the outage's end, then until what is left in the retry queue
/// is only messages waiting for a `Retry-After` (its depth equals the number of messages the
/// ledger shows with a `not_before` ahead, 0 included) twice in a row, 1 s apart (or
/// `--drain-budget-s` is over), and stops the pollers.
///
/// # Errors
/// When the depth cannot be read or a poller failed.
pub async fn drain(run: &Run, mut consumers: JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
    // The outage may outlast the sending: wait for its end before draining.
    wait_for_phase(run, |p| *p >= Phase::After).await;
    let drain_until = Instant::now() + Duration::from_secs(run.args.drain_budget_s);
    let (mut settled_in_a_row, mut left) = (0, 0);
    while settled_in_a_row < 2 {
        if Instant::now() >= drain_until {
            println!(
                "{} drain budget of {} s is over; stopping the event source mapping",
                run.clock.stamp(),
                run.args.drain_budget_s
            );
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        left = depth(&run.sqs, &run.stack.retry_url).await?;
        let waiting = run.ledger.waiting(SystemTime::now()).len();
        if left == waiting {
            settled_in_a_row += 1;
        } else {
            settled_in_a_row = 0;
        }
    }
    if settled_in_a_row >= 2 && left > 0 {
        println!(
            "{} the {left} messages left in the retry queue all have a not_before ahead (waiting for Retry-After; the ledger holds {} messages): not waiting for them",
            run.clock.stamp(),
            run.ledger.live()
        );
    }
    run.stop_consumers.store(true, Ordering::SeqCst);
    while let Some(done) = consumers.join_next().await {
        done.context("consumer task")??;
    }
    Ok(())
}
