//! The forwarder Lambda binary: builds configuration and clients once, then serves invocations
//! through the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`).

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;
use std::sync::Arc;
use wfm_relay_aws::telemetry::init_tracing;
use wfm_relay_forwarder::Forwarder;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let forwarder = match Forwarder::from_env().await {
        Ok(f) => Arc::new(f),
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            return Err(e.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let forwarder = Arc::clone(&forwarder);
        async move {
            let deadline = event.context.deadline();
            forwarder
                .handle(event.payload.get().as_bytes(), deadline)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
