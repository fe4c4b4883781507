//! The scheduled snapshot Lambda, `wfm-relay-snapshot` (issue 12): invoked by its EventBridge
//! schedule (template.yaml `SnapshotSchedule`), by an operator with a snapshot request, or by
//! itself with a report's `next`; see [`wfm_relay_replayer::schedule`]. Builds its clients once,
//! then serves invocations through the Lambda Runtime API.

use lambda_runtime::{LambdaEvent, service_fn};
use std::sync::Arc;
use wfm_relay_replayer::init_tracing;
use wfm_relay_replayer::schedule::aws::AwsSchedule;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let schedule = match AwsSchedule::from_env().await {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            return Err(e.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let schedule = Arc::clone(&schedule);
        async move {
            let deadline = event.context.deadline();
            schedule
                .invoke(event.payload, deadline)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
