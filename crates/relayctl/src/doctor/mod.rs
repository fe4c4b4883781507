//! `relayctl doctor`: is the deployed stack wired the way the no-loss promise needs
//! (issue 14, item 4)? Each check reports pass / warn / fail with what to do.
//!
//! * [`targets`]: the stack's resource names from the environment (pure).
//! * [`queues`]: the retry queue's redrive policy, visibility timeout and the retention periods
//!   (pure evaluation of `GetQueueAttributes` results).
//! * [`bucket`]: the archive bucket's default encryption and public-access block (pure).
//! * [`function`]: the other AWS clients ([`function::DoctorClients`]) and a function's
//!   configuration (`GetFunctionConfiguration`), shared by the Lambda, IAM and secrets checks.
//! * [`gather`]: the AWS calls (SQS, S3) that feed the checks.
//! * [`deployed`]: what the queue checks compare with (the deployed forwarder's `RETRY_SCHEDULE`
//!   and `Timeout`, the mapping's batching window; local values only under `--local`) (pure).
//! * [`lambda`]: the forwarder's event source mapping and async invoke config (pure).
//! * [`events`]: the EventBridge bus, rule and target (pure).
//! * [`gather_fn`]: the AWS calls (Lambda, EventBridge, queue ARNs) that feed those.
//! * [`tls`]: WFM's URL answers TLS with a trusted chain (one `HEAD`, no event).
//! * [`stack_functions`]: the stack's functions, each read once (GetFunctionConfiguration), for
//!   the secret and profile checks.
//! * [`alarms`]: the template's alarms exist and notify (DescribeAlarms under `ALARM_PREFIX`).
//! * [`policy`]: does a role's policy documents allow an action on a resource (pure).
//! * [`secrets`] / [`secrets_gather`]: the functions' secret settings name secrets that exist
//!   and their roles may read (metadata only).
//! * [`profile`]: the forwarder's `WFM_PROFILE` and its agent tables exist (metadata only).
//! * [`stack`]: `--stack NAME`, the names from a CloudFormation stack.
//! * [`run`]: the run itself (environment, AWS, output, exit code).
//!
//! Doctor reads metadata only (never a secret's value nor a profile's content) and changes
//! nothing; WFM gets one `HEAD`.

pub mod alarms;
pub mod bucket;
pub mod deployed;
pub mod events;
pub mod function;
pub mod gather;
pub mod gather_fn;
pub mod lambda;
pub mod policy;
pub mod profile;
pub mod queues;
pub mod run;
pub mod secrets;
pub mod secrets_gather;
pub mod stack;
pub mod stack_functions;
pub mod targets;
pub mod tls;

use serde_json::{Value, json};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// The setting is as the no-loss promise needs.
    Pass,
    /// Not wrong, but worth a look (e.g. a resource not deployed locally under `--local`).
    Warn,
    /// The setting breaks the promise (or the resource is missing).
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail` (the JSON and text token).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable id of the check, e.g. `retry-queue.redrive`.
    pub check: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was found, e.g. `maxReceiveCount 14 = 9 schedule steps + 5`.
    pub detail: String,
    /// What to do (warn and fail only).
    pub fix: Option<String>,
}

impl Finding {
    /// A passing check.
    pub fn pass(check: &'static str, detail: impl Into<String>) -> Self {
        Finding {
            check,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A warn or fail with what to do.
    pub fn bad(
        check: &'static str,
        status: Status,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            check,
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A resource that is not there: a warn ("not deployed locally") under `--local`, else a fail.
    pub fn missing(check: &'static str, what: &str, local: bool, fix: &str) -> Self {
        if local {
            Finding::bad(
                check,
                Status::Warn,
                format!("{what}: not deployed locally"),
                fix,
            )
        } else {
            Finding::bad(check, Status::Fail, format!("{what}: not found"), fix)
        }
    }
}

/// The checks issue 14 item 4 lists that this doctor does not make yet (printed, so a clean
/// report does not read as "all of it checked").
pub const NOT_CHECKED: &[&str] = &[];

/// Doctor's exit codes (the same meanings as every relayctl command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoctorExit {
    /// 0: no check failed (warnings printed).
    Clean = 0,
    /// 1: doctor could not run (AWS unreachable, credentials, I/O).
    CouldNotRun = 1,
    /// 2: usage.
    Usage = 2,
    /// 4: at least one check failed.
    Failed = 4,
    /// 5: with `--strict`, no check failed but at least one warned.
    Warned = 5,
}

/// The exit code for `findings`: 4 when one failed, else 5 with `strict` and a warning, else 0.
pub fn exit_for(findings: &[Finding], strict: bool) -> DoctorExit {
    let worst = findings.iter().map(|f| f.status).max();
    match worst {
        Some(Status::Fail) => DoctorExit::Failed,
        Some(Status::Warn) if strict => DoctorExit::Warned,
        _ => DoctorExit::Clean,
    }
}

/// The human report: one line per check (`pass  retry-queue.redrive  …`), its fix indented
/// below, then the counts and the checks not made yet.
pub fn report_text(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        s.push_str(&format!(
            "{:<4}  {:<26}  {}\n",
            f.status.as_str(),
            f.check,
            f.detail
        ));
        if let Some(fix) = &f.fix {
            s.push_str(&format!("      -> {fix}\n"));
        }
    }
    let count = |st: Status| findings.iter().filter(|f| f.status == st).count();
    s.push_str(&format!(
        "\n{} pass, {} warn, {} fail\n",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail)
    ));
    if !NOT_CHECKED.is_empty() {
        s.push_str("Not checked yet:\n");
    }
    for n in NOT_CHECKED {
        s.push_str(&format!("  - {n}\n"));
    }
    s
}

/// The JSON report: `{"checks":[{"check","status","detail","fix"}],"pass":n,"warn":n,
/// "fail":n,"not_checked":[…]}`.
pub fn report_json(findings: &[Finding]) -> Value {
    let count = |st: Status| findings.iter().filter(|f| f.status == st).count();
    json!({
        "checks": findings.iter().map(|f| json!({
            "check": f.check,
            "status": f.status.as_str(),
            "detail": f.detail,
            "fix": f.fix,
        })).collect::<Vec<_>>(),
        "pass": count(Status::Pass),
        "warn": count(Status::Warn),
        "fail": count(Status::Fail),
        "not_checked": NOT_CHECKED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_worst_finding() {
        let pass = Finding::pass("a", "ok");
        let warn = Finding::missing("b", "queue x", true, "deploy it");
        let fail = Finding::missing("c", "queue x", false, "deploy it");
        assert_eq!(warn.status, Status::Warn);
        assert_eq!(fail.status, Status::Fail);
        assert_eq!(
            exit_for(std::slice::from_ref(&pass), true),
            DoctorExit::Clean
        );
        assert_eq!(
            exit_for(&[pass.clone(), warn.clone()], false),
            DoctorExit::Clean
        );
        assert_eq!(
            exit_for(&[pass.clone(), warn.clone()], true),
            DoctorExit::Warned
        );
        assert_eq!(exit_for(&[warn, fail.clone()], true), DoctorExit::Failed);
        assert_eq!(exit_for(&[fail], false) as u8, 4);
    }

    #[test]
    fn reports_name_each_check_and_its_fix() {
        let f = [
            Finding::pass("retry-queue.redrive", "maxReceiveCount 14"),
            Finding::bad("bucket.encryption", Status::Fail, "none", "turn on SSE"),
        ];
        let text = report_text(&f);
        assert!(text.contains("pass  retry-queue.redrive"), "{text}");
        assert!(text.contains("fail  bucket.encryption"), "{text}");
        assert!(text.contains("-> turn on SSE"), "{text}");
        assert!(text.contains("1 pass, 0 warn, 1 fail"), "{text}");
        let j = report_json(&f);
        assert_eq!(j["fail"], 1);
        assert_eq!(j["checks"][1]["fix"], "turn on SSE");
        assert_eq!(j["checks"][0]["fix"], Value::Null);
    }
}
