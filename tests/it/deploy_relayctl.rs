//! `relayctl` as a new user meets it (issue 14, item 7): the read-only actions run with only the
//! queue settings (no `WFM_URL`, no secrets, no profile read), and an AWS error is one line that
//! names the endpoint, region and credentials source and says what to check; the full chain only
//! with `RELAYCTL_LOG=debug`.

use crate::support::relayctl::{Relayctl, Run, aws_vars};
use crate::support::*;
use serde_json::Value;
use wfm_relay_core::envelope::Reason;

/// `relayctl args` with nothing but `vars` (and PATH) in its environment, stdin closed.
fn relayctl(args: &[&str], vars: &[(&str, String)]) -> Run {
    Relayctl::only(args, vars.iter().cloned()).run()
}

#[tokio::test]
async fn stats_and_peek_run_with_only_the_queue_settings() {
    let stack = Stack::create(StackOptions::default()).await;
    stack
        .park(
            &fixture("presence-break.json"),
            Reason::TransientExhausted,
            3,
        )
        .await;
    stack
        .park(&fixture("activity.json"), Reason::Rejected, 1)
        .await;
    let mut vars = aws_vars(&endpoint());
    vars.push(("DLQ_URL", stack.dlq_url.clone()));
    vars.push(("RETRY_QUEUE_URL", stack.retry_url.clone()));
    // A secret that does not exist: a read-only action must not try to read it.
    vars.push((
        "WFM_AUTH_TOKEN_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:not-there-AbCdEf".to_owned(),
    ));

    let o = relayctl(&["--json", "stats"], &vars);
    let stderr = &o.stderr;
    assert_eq!(o.code, Some(0), "stderr: {stderr}");
    let report: Value = serde_json::from_str(&o.stdout).expect("a JSON report");
    assert_eq!(report["matched"], 2, "{report}");
    assert_eq!(report["stats"]["depth"], 2, "{report}");
    assert_eq!(
        report["stats"]["by_reason"],
        serde_json::json!({"rejected": 1, "transient_exhausted": 1})
    );

    let o = relayctl(&["--json", "peek", "--limit", "5"], &vars);
    assert_eq!(o.code, Some(0), "{}", &o.stderr);
    let report: Value = serde_json::from_str(&o.stdout).expect("a JSON report");
    assert_eq!(report["matched"], 2, "{report}");

    // A replay does need WFM: without WFM_URL it says so.
    let o = relayctl(&["replay", "--dry-run"], &vars[..vars.len() - 1]);
    assert_eq!(o.code, Some(1));
    assert!(&o.stderr.contains("WFM_URL"), "{}", &o.stderr);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_one_line_with_a_hint() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let closed = format!("http://127.0.0.1:{port}");
    let mut vars = aws_vars(&closed);
    vars.push(("DLQ_URL", format!("{closed}/123456789012/dlq")));
    vars.push(("RETRY_QUEUE_URL", format!("{closed}/123456789012/retry")));

    let o = relayctl(&["stats"], &vars);
    let stderr = o.stderr.clone();
    assert_eq!(o.code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line:\n{stderr}");
    let line = stderr.trim_end();
    assert!(line.starts_with("relayctl: "), "{line}");
    assert!(
        line.ends_with(&format!(
            ": connection refused (endpoint {closed}, region us-east-1, credentials: \
             AWS_ACCESS_KEY_ID from the environment). Check AWS_ENDPOINT_URL: is the emulator \
             (e.g. moto, infra/demo.sh --keep) running there? Unset it to use AWS. Full error: \
             RELAYCTL_LOG=debug"
        )),
        "{line}"
    );
    assert!(!line.contains("DispatchFailure"), "{line}");

    // With RELAYCTL_LOG=debug the chain follows on its own line.
    vars.push(("RELAYCTL_LOG", "debug".to_owned()));
    let o = relayctl(&["stats"], &vars);
    let stderr = &o.stderr;
    assert_eq!(o.code, Some(1), "{stderr}");
    let full = stderr
        .lines()
        .find(|l| l.starts_with("relayctl: full error: "))
        .unwrap_or_else(|| panic!("no full error line:\n{stderr}"));
    assert!(
        full.to_ascii_lowercase().contains("connection refused"),
        "{full}"
    );
}
