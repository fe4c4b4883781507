//! `--keep`: after the forwarder's accounting the demo stops short of its own recovery (no
//! replay, no archive: the DLQ keeps the demo's dead letters) and keeps the stack running for a
//! recovery tried by hand with `relayctl`: moto (started by `infra/demo.sh`), the scripted WFM,
//! now healthy except for the event it always rejects, the forwarder process and its retry-queue
//! event source (so a `relayctl redrive` is consumed). It wires the retry queue and the bucket as
//! template.yaml does (so `relayctl doctor` reports no fail), writes an env file for `relayctl
//! --env-file` (with `RELAYCTL_DOCTOR_LOCAL=1`), prints the README's walk-through and stops
//! everything on Ctrl-C.

use anyhow::Context;
use std::path::{Path, PathBuf};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_local::harness::sibling_binary;
use wfm_relay_local::template_wiring::{block_public_access, encrypt_bucket};
use wfm_relay_local::{FunctionProcess, LocalStack, RuntimeApi, ScriptedWfm};

use crate::wfm_script::special_script;
use crate::{INVOKE_TIMEOUT, display_path};

/// What the kept stack is made of.
pub struct Kept<'a> {
    /// The queues and the bucket in moto.
    pub stack: &'a LocalStack,
    /// The scripted WFM.
    pub wfm: &'a ScriptedWfm,
    /// The forwarder's Runtime API.
    pub api: RuntimeApi,
    /// The forwarder process.
    pub function: FunctionProcess,
    /// The forwarder's environment (the replayer's too: `relayctl` reads the same variables).
    pub env: &'a [(String, String)],
    /// The SDK clients.
    pub aws: &'a AwsClients,
    /// Ids of the events WFM always rejects (400).
    pub rejected: &'a [String],
    /// Where the env file goes (`<dir>/relayctl.env`).
    pub dir: &'a Path,
}

/// The AWS variables of the env file, taken from this process's environment (`infra/moto.sh`
/// sets them).
const AWS_VARS: [&str; 5] = [
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
];

/// The relay variables of the env file (the rest of the forwarder's environment is its tuning).
/// `RETRY_SCHEDULE` and `FUNCTION_TIMEOUT_S` are what `relayctl doctor` compares the queues with
/// when no function is deployed.
const RELAY_VARS: [&str; 7] = [
    "WFM_URL",
    "WFM_ALLOW_HTTP",
    "RETRY_QUEUE_URL",
    "DLQ_URL",
    "ARCHIVE_BUCKET",
    "RETRY_SCHEDULE",
    "FUNCTION_TIMEOUT_S",
];

/// The names `relayctl doctor` reads that the local stack has no resource for (the forwarder
/// runs as a local process; no replayer function, bus, rule or alarms): named after the bucket
/// (`<bucket>-forwarder`, …), so doctor looks them up, finds none and, with
/// `RELAYCTL_DOCTOR_LOCAL=1`, warns "not deployed locally" instead of failing.
pub fn not_deployed_names(bucket: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FORWARDER_FUNCTION", format!("{bucket}-forwarder")),
        ("REPLAYER_FUNCTION", format!("{bucket}-replayer")),
        ("EVENT_BUS", format!("{bucket}-bus")),
        ("EVENT_RULE", format!("{bucket}-rule")),
        ("ALARM_PREFIX", format!("{bucket}-")),
    ]
}

/// The env file's text: the AWS variables of `aws_env` and the relay variables of `relay_env`,
/// one `KEY=VALUE` per line (`relayctl --env-file` format), in the order of [`AWS_VARS`] and
/// [`RELAY_VARS`] (unset ones are left out), then `RELAYCTL_DOCTOR_LOCAL=1` (`relayctl doctor`
/// as with `--local`) and the `not_deployed` names.
pub fn env_file_text(
    aws_env: impl Fn(&str) -> Option<String>,
    relay_env: &[(String, String)],
    not_deployed: &[(&'static str, String)],
) -> String {
    let mut text = String::from(
        "# wfm-relay demo (infra/demo.sh --keep): relayctl --env-file <this file> stats\n",
    );
    let relay = |k: &str| {
        relay_env
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    for (k, v) in AWS_VARS
        .iter()
        .map(|k| (*k, aws_env(k)))
        .chain(RELAY_VARS.iter().map(|k| (*k, relay(k))))
    {
        if let Some(v) = v {
            text.push_str(&format!("{k}={v}\n"));
        }
    }
    text.push_str(
        "# relayctl doctor: a resource that does not exist is a warning (not deployed locally)\n\
         RELAYCTL_DOCTOR_LOCAL=1\n\
         # not deployed locally (the forwarder runs as a local process; no alarms, bus or rule)\n",
    );
    for (k, v) in not_deployed {
        text.push_str(&format!("{k}={v}\n"));
    }
    text
}

/// Wires the kept stack's retry queue and bucket as template.yaml wires them, so `relayctl
/// doctor` on the env file reports no fail: the retry queue's visibility timeout 6 x
/// `FUNCTION_TIMEOUT_S` (the demo's run uses a compressed 30 s; the kept stack only sees
/// `relayctl redrive`s), the bucket's default encryption (SSE-S3) and all four public-access
/// blocks.
///
/// # Errors
/// When an SQS or S3 call fails.
pub async fn wire_like_template(
    aws: &AwsClients,
    stack: &LocalStack,
    function_timeout_s: u32,
) -> anyhow::Result<()> {
    aws.sqs
        .set_queue_attributes()
        .queue_url(&stack.retry_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            (6 * function_timeout_s).to_string(),
        )
        .send()
        .await
        .context("SetQueueAttributes VisibilityTimeout on the retry queue")?;
    encrypt_bucket(&aws.s3, &stack.bucket).await?;
    block_public_access(&aws.s3, &stack.bucket).await?;
    Ok(())
}

/// The README's recovery walk-through against the kept stack, in the order that shows each
/// action at work on the demo's dead letters (`transient_exhausted`, one `rejected`, one
/// `invalid_event`): the redrive comes before the replay, so the running forwarder still finds
/// the `transient_exhausted` letters to take back; the replay then meets only what WFM keeps
/// refusing, and the archive empties the DLQ. Each line is a command with a `#` comment (a shell
/// ignores it, so the line can be pasted as it is).
pub fn walk_through(relayctl: &str, env_file: &str) -> Vec<String> {
    [
        ("doctor", "no fail: what the local stack does not deploy is a warn"),
        ("stats", "the DLQ: depth, counts by topic, reason, last status"),
        ("peek --limit 5", "a few decoded dead letters"),
        ("replay --dry-run", "what a replay would send; changes nothing"),
        (
            "redrive --reason transient_exhausted",
            "asks, then back on the retry queue: the forwarder above delivers them",
        ),
        (
            "replay",
            "asks; what is left: the rejected one fails again (exit 3), the invalid one is unsendable",
        ),
        ("archive", "asks; both go to S3, the DLQ is empty"),
        (
            "replay-archive --key dead-letters/",
            "asks; sends the archived letters again (the rejected one fails again)",
        ),
    ]
    .iter()
    .map(|(action, note)| format!("{relayctl} --env-file {env_file} {action}   # {note}"))
    .collect()
}

/// The line for one batch the kept forwarder took from the retry queue: `done` records were
/// delivered or parked (Lambda deletes them), `listed` came back in `batchItemFailures` and are
/// received again after their wait (e.g. behind the circuit breaker's probe, which the outage
/// may have left open) — not failures.
pub fn batch_line(received: usize, done: usize, listed: usize) -> String {
    format!(
        "retry queue: the forwarder took a batch of {received}: {done} done (delivered or \
         parked), {listed} listed for retry (received again after their wait)"
    )
}

/// Keeps the stack running until Ctrl-C, then stops the forwarder, its Runtime API and WFM
/// (moto is stopped by `infra/demo.sh`).
///
/// # Errors
/// When the env file cannot be written, or the retry queue cannot be polled.
pub async fn keep(kept: Kept<'_>) -> anyhow::Result<()> {
    let Kept {
        stack,
        wfm,
        api,
        mut function,
        env,
        aws,
        rejected,
        dir,
    } = kept;
    // WFM is healthy for every event now, except the one it rejects for good (HTTP 400).
    wfm.set_script(special_script(rejected, &[], 200));
    let env_path: PathBuf = dir.join("relayctl.env");
    let timeout_s = env
        .iter()
        .rev()
        .find(|(k, _)| k == "FUNCTION_TIMEOUT_S")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(60);
    wire_like_template(aws, stack, timeout_s).await?;
    let text = env_file_text(
        |k| std::env::var(k).ok(),
        env,
        &not_deployed_names(&stack.bucket),
    );
    std::fs::write(&env_path, text)
        .with_context(|| format!("cannot write {}", env_path.display()))?;
    let relayctl = sibling_binary("relayctl", "infra/demo.sh")?;
    let (relayctl, env_file) = (display_path(&relayctl), display_path(&env_path));
    println!();
    println!("== --keep: the demo's dead letters stay in the DLQ (no replay, no archive)");
    println!("moto, the scripted WFM (healthy now, except the event it always rejects with 400),");
    println!("the forwarder and its retry-queue event source keep running; Ctrl-C stops them all.");
    println!(
        "kept stack         wired as template.yaml for relayctl doctor: retry queue visibility \
         {} s (6 x FUNCTION_TIMEOUT_S), bucket encrypted, public access blocked",
        6 * timeout_s
    );
    println!("env file           {env_file}");
    println!("try the recovery (README, Recovery) in another terminal:");
    for line in walk_through(&relayctl, &env_file) {
        println!("  {line}");
    }
    println!();
    let esm = stack.retry_esm(&aws.sqs);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            r = &mut ctrl_c => {
                r.context("waiting for Ctrl-C")?;
                break;
            }
            report = esm.poll_function(&api, INVOKE_TIMEOUT) => {
                let report = report.context("polling the retry queue")?;
                if report.received > 0 {
                    println!(
                        "{}",
                        batch_line(report.received, report.deleted, report.failed_ids.len())
                    );
                }
            }
        }
    }
    println!();
    println!("== Ctrl-C: stopping the forwarder and the scripted WFM (infra/demo.sh stops moto)");
    function.kill().await.context("stopping the forwarder")?;
    api.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_file_holds_what_relayctl_reads() {
        let relay = vec![
            ("WFM_URL".to_owned(), "http://127.0.0.1:1/x".to_owned()),
            ("RUST_LOG".to_owned(), "info".to_owned()),
            ("DLQ_URL".to_owned(), "http://m/q/dlq".to_owned()),
            ("DLQ_URL".to_owned(), "http://m/q/dlq2".to_owned()),
        ];
        let aws = |k: &str| (k == "AWS_ENDPOINT_URL").then(|| "http://127.0.0.1:2".to_owned());
        let names = not_deployed_names("wfm-relay-demo-ab12");
        let text = env_file_text(aws, &relay, &names);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "AWS_ENDPOINT_URL=http://127.0.0.1:2",
                "WFM_URL=http://127.0.0.1:1/x",
                "DLQ_URL=http://m/q/dlq2",
                "RELAYCTL_DOCTOR_LOCAL=1",
                "FORWARDER_FUNCTION=wfm-relay-demo-ab12-forwarder",
                "REPLAYER_FUNCTION=wfm-relay-demo-ab12-replayer",
                "EVENT_BUS=wfm-relay-demo-ab12-bus",
                "EVENT_RULE=wfm-relay-demo-ab12-rule",
                "ALARM_PREFIX=wfm-relay-demo-ab12-",
            ]
        );
    }

    #[test]
    fn a_batch_line_tells_retries_from_failures() {
        assert_eq!(
            batch_line(4, 1, 3),
            "retry queue: the forwarder took a batch of 4: 1 done (delivered or parked), 3 \
             listed for retry (received again after their wait)"
        );
    }

    #[test]
    fn the_walk_through_names_the_env_file_in_each_command() {
        let lines = walk_through("target/debug/relayctl", ".demo/run-x/relayctl.env");
        let commands: Vec<&str> = lines
            .iter()
            .map(|l| l.split("   # ").next().unwrap_or(l))
            .collect();
        assert_eq!(
            commands,
            [
                "target/debug/relayctl --env-file .demo/run-x/relayctl.env doctor",
                "target/debug/relayctl --env-file .demo/run-x/relayctl.env stats",
                "target/debug/relayctl --env-file .demo/run-x/relayctl.env peek --limit 5",
                "target/debug/relayctl --env-file .demo/run-x/relayctl.env replay --dry-run",
                "target/debug/relayctl --env-file .demo/run-x/relayctl.env redrive --reason \
                 transient_exhausted",
                "target/debug/relayctl --env-file .demo/run-x/relayctl.env replay",
                "target/debug/relayctl --env-file .demo/run-x/relayctl.env archive",
                "target/debug/relayctl --env-file .demo/run-x/relayctl.env replay-archive --key \
                 dead-letters/",
            ]
        );
        // The redrive comes before the replay: after a replay no transient_exhausted letter is
        // left for the kept forwarder to take back.
        let at = |a: &str| commands.iter().position(|c| c.ends_with(a));
        assert!(at("redrive --reason transient_exhausted") < at(" replay"));
        assert!(lines.iter().all(|l| l.contains("   # ")), "{lines:?}");
    }
}
