//! `relayctl doctor` reads each thing once (review of issue 14): the two queues' attributes once
//! each (one `GetQueueAttributes` serves the queue checks and the ARNs the Lambda checks compare
//! with) and each function's configuration once (one `GetFunctionConfiguration` serves the
//! queue checks' expected settings, the TLS check, the secrets, role-policy and profile checks).
//! Counted by the proxy of wfm-relay-local in front of moto (no fault set: it forwards every
//! call), on the wired stack of tests/it/support/doctor_stack.rs, where every check passes.

use crate::support::doctor_stack::{ALL_CHECKS, DoctorRun, WiredStack, assert_only};
use crate::support::endpoint;
use crate::support::relayctl::Relayctl;
use wfm_relay_local::FaultProxy;

/// Lambda's `GetFunctionConfiguration` of `function` (REST: `GET
/// /2015-03-31/functions/{FunctionName}/configuration`, AWS Lambda API Reference), as the
/// proxy's pseudo-target.
fn get_function_configuration(function: &str) -> String {
    format!("S3:GET /2015-03-31/functions/{function}/configuration")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reads_each_queue_and_each_function_once() {
    let s = WiredStack::create().await;
    let proxy = FaultProxy::start(endpoint()).await.expect("proxy");
    let vars: Vec<(&'static str, String)> = s
        .vars()
        .into_iter()
        .map(|(k, v)| match k {
            "AWS_ENDPOINT_URL" => (k, proxy.url()),
            _ => (k, v),
        })
        .collect();
    let run = DoctorRun::of(
        Relayctl::only(&["--json", "doctor"], vars)
            .run_off_runtime()
            .await,
    );
    assert_only(
        &run,
        &ALL_CHECKS,
        &[],
        "pass",
        "the wired stack, through the proxy",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);

    assert_eq!(
        proxy.count("AmazonSQS.GetQueueAttributes"),
        2,
        "one GetQueueAttributes per queue (retry queue, DLQ)"
    );
    assert_eq!(
        proxy.count(&get_function_configuration(&s.forwarder)),
        1,
        "the forwarder's configuration once"
    );
    assert_eq!(
        proxy.count(&get_function_configuration(&s.wiring.replayer)),
        1,
        "the replayer's configuration once"
    );
    proxy.shutdown().await;
}
