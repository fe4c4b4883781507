//! `--inject-loss N`, the simulated bug: half-way through the outage, N messages of the retry
//! queue whose event WFM has not accepted are deleted. The run must then fail and name them.

use anyhow::Context;
use std::collections::HashSet;
use std::time::Duration;
use wfm_relay_bench::events::EventFamily;
use wfm_relay_core::replay::decode_dead_letter;
use wfm_relay_local::ScriptedWfm;
use wfm_relay_local::stack::release;

use crate::phases::{Phase, wait_for_phase};
use crate::run::Run;

/// Deletes `--inject-loss` undelivered messages from the retry queue half-way through the
/// outage; returns their event indices.
///
/// # Errors
/// When a receive, delete or release call fails.
pub async fn inject_loss(run: std::sync::Arc<Run>) -> anyhow::Result<Vec<usize>> {
    let (sqs, retry_url, fam) = (&run.sqs, &run.stack.retry_url, &run.fam);
    let n = run.args.inject_loss;
    wait_for_phase(&run, |p| *p != Phase::Faults).await;
    tokio::time::sleep(Duration::from_millis(run.args.outage_s * 500)).await;
    let mut deleted = Vec::new();
    for _ in 0..30 {
        if deleted.len() >= n {
            break;
        }
        let accepted = accepted_indices(fam, &run.wfm);
        let got = sqs
            .receive_message()
            .queue_url(retry_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .send()
            .await
            .context("ReceiveMessage (inject-loss)")?;
        let mut keep = Vec::new();
        for m in got.messages() {
            let handle = m.receipt_handle().unwrap_or_default().to_owned();
            let index = decode_dead_letter(m.body().unwrap_or_default())
                .env
                .event_id
                .and_then(|id| fam.index_of(&id));
            match index {
                Some(i) if deleted.len() < n && !accepted.contains(&i) => {
                    sqs.delete_message()
                        .queue_url(retry_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .context("DeleteMessage (inject-loss)")?;
                    deleted.push(i);
                }
                _ => keep.push(handle),
            }
        }
        release(sqs, retry_url, &keep).await?;
    }
    println!(
        "{} INJECTED LOSS: deleted {} undelivered messages from the retry queue: events {:?}",
        run.clock.stamp(),
        deleted.len(),
        deleted
    );
    Ok(deleted)
}

/// The indices of the events WFM has answered 2xx so far.
fn accepted_indices(fam: &EventFamily, wfm: &ScriptedWfm) -> HashSet<usize> {
    wfm.requests()
        .iter()
        .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
        .filter_map(|r| r.header("x-event-id").and_then(|id| fam.index_of(id)))
        .collect()
}
