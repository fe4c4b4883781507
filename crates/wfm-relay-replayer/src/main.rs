//! The replayer Lambda binary: invoked by hand with a JSON [`wfm_relay_replayer::Request`]
//! (`aws lambda invoke --payload '{"action":"stats"}' out.json`), answers a
//! [`wfm_relay_replayer::Report`]. Builds configuration and clients once, then serves
//! invocations through the Lambda Runtime API; [`Replayer::handle`] does the rest. A payload
//! `{"action":"snapshot", …}` goes to the [`Snapshotter`], built at its first use (its
//! `GENESYS_*` settings are needed only then).

use lambda_runtime::{LambdaEvent, service_fn};
use std::sync::Arc;
use wfm_relay_replayer::{Replayer, Snapshotter, init_tracing};

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
    let snapshotter: Arc<tokio::sync::OnceCell<Snapshotter>> = Arc::default();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let replayer = Arc::clone(&replayer);
        let snapshotter = Arc::clone(&snapshotter);
        async move {
            let deadline = event.context.deadline();
            if event.payload.get("action").and_then(|a| a.as_str()) == Some("snapshot") {
                let s = snapshotter
                    .get_or_try_init(Snapshotter::from_env)
                    .await
                    .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
                return s
                    .handle(event.payload, deadline)
                    .await
                    .map_err(lambda_runtime::Error::from);
            }
            replayer
                .handle(event.payload, deadline)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
