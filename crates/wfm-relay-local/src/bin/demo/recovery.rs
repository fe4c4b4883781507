//! The on-call part of the demo: the replayer Lambda invoked by hand once WFM is healthy again.

use anyhow::Context;
use std::collections::HashSet;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_local::harness::{invoke_raw, sibling_binary};
use wfm_relay_local::stack::depth;
use wfm_relay_local::{InvocationType, LocalStack, RuntimeApi, ScriptedWfm};

use crate::wfm_script::special_script;
use crate::{Args, INVOKE_TIMEOUT, display_path};

/// The on-call part: the replayer Lambda, invoked by hand with JSON requests, after WFM is
/// healthy again: stats, a dry run, the replay, and an archive of what is left. Returns how many
/// events are in none of delivered / retry queue / DLQ / archive afterwards.
pub async fn recover(
    args: &Args,
    forwarder_env: &[(String, String)],
    stack: &LocalStack,
    wfm: &ScriptedWfm,
    aws: &AwsClients,
    rejected: &[String],
    sent: usize,
) -> anyhow::Result<usize> {
    println!();
    println!("== recovery: the replayer as a Lambda process, invoked by hand");
    let replayer_bin = sibling_binary("wfm-relay-replayer", "infra/demo.sh")?;
    // WFM is healthy for every event now, except the one it rejects for good (HTTP 400).
    wfm.set_script(special_script(rejected, &[], 200));
    let api = RuntimeApi::start()
        .await
        .context("cannot start a second Runtime API")?;
    let log_path = args.log_dir.join("replayer.log");
    let _ = std::fs::remove_file(&log_path);
    let mut env = forwarder_env.to_vec();
    env.retain(|(k, _)| k != "FUNCTION_TIMEOUT_S");
    env.push(("FUNCTION_TIMEOUT_S".into(), "900".into()));
    let mut function = api
        .spawn_function(&replayer_bin, "wfm-relay-replayer", &env, Some(&log_path))
        .with_context(|| format!("cannot start {}", replayer_bin.display()))?;
    let requests = [
        r#"{"action":"stats"}"#,
        r#"{"action":"replay","dry_run":true}"#,
        r#"{"action":"replay"}"#,
        r#"{"action":"archive"}"#,
    ];
    let mut archived = 0u64;
    for req in requests {
        println!(
            "$ aws lambda invoke --function-name wfm-relay-replayer --cli-binary-format raw-in-base64-out --payload '{req}' report.json"
        );
        let raw = invoke_raw(
            &api,
            InvocationType::RequestResponse,
            req.as_bytes().to_vec(),
            INVOKE_TIMEOUT,
        )
        .await
        .map_err(|e| anyhow::anyhow!("replayer invocation failed: {e}"))?;
        let report: serde_json::Value =
            serde_json::from_slice(&raw).context("the replayer answered non-JSON")?;
        let n = |k: &str| report[k].as_u64().unwrap_or(0);
        println!(
            "  matched {} delivered {} failed {} unsendable {} archived {} remaining {}",
            n("matched"),
            n("delivered"),
            n("failed"),
            n("unsendable"),
            n("archived"),
            n("remaining")
        );
        if let Some(stats) = report.get("stats") {
            println!("  by reason {}", stats["by_reason"]);
            println!("  by status {}", stats["by_status"]);
        }
        if let Some(keys) = report["keys"].as_array().filter(|k| !k.is_empty()) {
            for k in keys {
                println!("  wrote s3://{}/{}", stack.bucket, k.as_str().unwrap_or(""));
            }
        }
        if report["action"] == "archive" {
            archived = n("archived");
        }
    }
    function.kill().await.context("stopping the replayer")?;
    api.shutdown().await;

    let delivered: HashSet<String> = wfm
        .requests()
        .iter()
        .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
        .filter_map(|r| r.header("x-event-id").map(str::to_owned))
        .collect();
    let retry = depth(&aws.sqs, &stack.retry_url).await?;
    let dlq = depth(&aws.sqs, &stack.dlq_url).await?;
    let total = delivered.len() + retry + dlq + usize::try_from(archived).unwrap_or(0);
    println!();
    println!(
        "after recovery: delivered {} + retry queue {retry} + DLQ {dlq} + archived {archived} = {total} of {sent} events (missing: {})",
        delivered.len(),
        sent.saturating_sub(total)
    );
    println!("replayer log: {}", display_path(&log_path));
    Ok(sent.saturating_sub(total))
}
