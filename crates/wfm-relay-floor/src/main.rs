//! `wfm-relay-floor`: the floor of the cold-start benchmark (PRODUCT.md §9, "a minimal echo
//! runtime in the same harness"). The same runtime as our Lambdas (tokio's multi-threaded
//! runtime under `#[tokio::main]`, `lambda_runtime::run`), with a handler that answers each
//! invocation with its payload: it polls `GET /2018-06-01/runtime/invocation/next`, answers,
//! and does nothing else (no configuration, no HTTP or AWS client, no logging set-up).

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| async move {
        Ok::<_, lambda_runtime::Error>(event.payload)
    }))
    .await
}
