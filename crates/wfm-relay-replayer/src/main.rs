//! The replayer Lambda binary: invoked by hand with a JSON [`wfm_relay_replayer::Request`]
//! (`aws lambda invoke --payload '{"action":"stats"}' out.json`), answers a
//! [`wfm_relay_replayer::Report`].

use lambda_runtime::{LambdaEvent, service_fn};
use std::sync::Arc;
use wfm_relay_replayer::{Replayer, Request, init_tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let replayer = match Replayer::from_env().await {
        Ok(r) => Arc::new(r),
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            return Err(e.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let replayer = Arc::clone(&replayer);
        async move {
            let started = std::time::SystemTime::now();
            let deadline = wfm_relay_core::deadline::effective_deadline(
                event.context.deadline(),
                started,
                replayer.config().function_timeout,
            );
            let req: Request = serde_json::from_value(event.payload)
                .map_err(|e| lambda_runtime::Error::from(format!("invalid request: {e}")))?;
            let report = replayer.run(&req, Some(deadline), &|_| {}).await?;
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}
