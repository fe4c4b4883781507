//! The wired stack `relayctl doctor`'s tests check, built in moto as template.yaml wires it (the
//! ONE builder of doctor's tests: tests/it/doctor.rs, doctor_fn.rs and the stack / alarm checks
//! extend it here, never copy it):
//!
//! * the retry queue (retention 4 days, visibility 6 x 60 s, redrive to the DLQ after 9 default
//!   steps + 5 = 14 receives) and the DLQ (14 days), plus another queue to point things at;
//! * the archive bucket, encrypted, with all four public-access blocks;
//! * the forwarder function (a small zip, timeout 60 s, its environment with `WFM_URL` on the
//!   HTTPS stand-in of WFM and the default `RETRY_SCHEDULE`) and its IAM role;
//! * its event source mapping on the retry queue (batch 10, window 0, ReportBatchItemFailures,
//!   MaximumConcurrency 5, enabled: moto invokes a function only on SendMessage, and doctor's
//!   tests send none) and its async invoke config (2 retries, 6 h, on failure → the DLQ);
//! * the partner event bus, the rule on it (enabled) and its target, the forwarder;
//! * the alarms, the secret and the roles' policies naming it, the replayer function and the
//!   forwarder's profile ([`super::doctor_wiring`]).
//!
//! [`doctor`] runs the relayctl binary with only the variables given; [`assert_only`] checks a
//! report check by check.

use super::doctor_wiring::{Wiring, lambda_role};
use super::https::{HttpsWfm, tls_fixture};
use super::relayctl::{Relayctl, Run, aws_vars};
use super::{clients, endpoint, unique};
use aws_sdk_eventbridge::types::{RuleState, Target};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    DestinationConfig, Environment, FunctionCode, FunctionResponseType, OnFailure, Runtime,
    ScalingConfig,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_local::stack::queue_arn;
use wfm_relay_local::template_wiring::{block_public_access, encrypt_bucket};

/// The template's default `RetrySchedule` (9 steps: maxReceiveCount 14).
pub const SCHEDULE: &str = "30s,2m,10m,30m,1h,2h,4h,8h,8h";
/// The forwarder's `WFM_URL` path and query (the query must never be printed).
pub const WFM_PATH: &str = "/wfm/events?token=hunter2-in-the-query";

/// The Lambda, IAM and EventBridge clients against moto.
pub struct FnClients {
    /// AWS Lambda.
    pub lambda: aws_sdk_lambda::Client,
    /// AWS IAM.
    pub iam: aws_sdk_iam::Client,
    /// Amazon EventBridge.
    pub events: aws_sdk_eventbridge::Client,
}

/// The wired stack (see the module doc); every name is unique to one test.
pub struct WiredStack {
    /// SQS and S3 clients.
    pub aws: AwsClients,
    /// Lambda, IAM and EventBridge clients.
    pub fns: FnClients,
    /// The retry queue's URL.
    pub retry_url: String,
    /// The retry queue's ARN.
    pub retry_arn: String,
    /// The DLQ's URL.
    pub dlq_url: String,
    /// The DLQ's ARN.
    pub dlq_arn: String,
    /// Another queue's ARN (a wrong redrive target / destination).
    pub other_arn: String,
    /// The archive bucket.
    pub bucket: String,
    /// The forwarder's function name.
    pub forwarder: String,
    /// The forwarder's ARN.
    pub forwarder_arn: String,
    /// The forwarder's execution role's ARN.
    pub role_arn: String,
    /// The event source mapping's UUID.
    pub mapping: String,
    /// The partner event bus.
    pub bus: String,
    /// The rule on it.
    pub rule: String,
    /// The HTTPS stand-in of WFM the forwarder's `WFM_URL` names.
    pub wfm: HttpsWfm,
    /// The alarms, secrets, replayer and profile ([`super::doctor_wiring`]).
    pub wiring: Wiring,
}

async fn queue(aws: &AwsClients, name: &str, attrs: &[(QueueAttributeName, String)]) -> String {
    let mut req = aws.sqs.create_queue().queue_name(name);
    for (k, v) in attrs {
        req = req.attributes(k.clone(), v.clone());
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("CreateQueue {name}: {e:?}"))
        .queue_url
        .unwrap_or_else(|| panic!("CreateQueue {name}: no URL"))
}

async fn arn(aws: &AwsClients, url: &str) -> String {
    queue_arn(&aws.sqs, url)
        .await
        .unwrap_or_else(|e| panic!("{e}: {e:?}"))
}

/// A redrive policy to `target` after `count` receives.
pub fn redrive(target: &str, count: u32) -> String {
    serde_json::json!({"deadLetterTargetArn": target, "maxReceiveCount": count}).to_string()
}

/// A one-file zip (`bootstrap`, stored): the function's code, which moto keeps and never runs.
pub fn small_zip() -> Vec<u8> {
    let name = b"bootstrap";
    let data = b"#!/bin/sh\nexit 0\n";
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let crc = crc.sum();
    let size = u32::try_from(data.len()).expect("small");
    let mut z = Vec::new();
    let common = |z: &mut Vec<u8>| {
        z.extend_from_slice(&20u16.to_le_bytes()); // version needed
        z.extend_from_slice(&0u16.to_le_bytes()); // flags
        z.extend_from_slice(&0u16.to_le_bytes()); // stored
        z.extend_from_slice(&0u32.to_le_bytes()); // time, date
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&size.to_le_bytes());
        z.extend_from_slice(&size.to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes()); // extra
    };
    z.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    common(&mut z);
    z.extend_from_slice(name);
    z.extend_from_slice(data);
    let central = z.len();
    z.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    z.extend_from_slice(&0x031eu16.to_le_bytes()); // made by: unix
    common(&mut z);
    z.extend_from_slice(&[0u8; 8]); // comment length, disk, internal attributes
    z.extend_from_slice(&(0o100_755u32 << 16).to_le_bytes()); // external: -rwxr-xr-x
    z.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    z.extend_from_slice(name);
    let central_size = z.len() - central;
    z.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    z.extend_from_slice(&[0u8; 4]); // disk numbers
    z.extend_from_slice(&1u16.to_le_bytes());
    z.extend_from_slice(&1u16.to_le_bytes());
    z.extend_from_slice(&u32::try_from(central_size).expect("small").to_le_bytes());
    z.extend_from_slice(&u32::try_from(central).expect("small").to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

/// Creates the function `name` (provided.al2023, the [`small_zip`] code, role `role_arn`,
/// `timeout_s`, `environment`); its ARN.
pub async fn create_function(
    fns: &FnClients,
    name: &str,
    role_arn: &str,
    timeout_s: i32,
    environment: Environment,
) -> String {
    fns.lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role_arn)
        .timeout(timeout_s)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(small_zip()))
                .build(),
        )
        .environment(environment)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateFunction {name}: {e:?}"))
        .function_arn
        .unwrap_or_else(|| panic!("CreateFunction {name}: no ARN"))
}

/// The forwarder's environment as the template sets it (the parts doctor reads).
pub fn forwarder_environment(
    wfm_url: &str,
    retry_url: &str,
    dlq_url: &str,
    schedule: &str,
) -> Environment {
    Environment::builder()
        .variables("WFM_URL", wfm_url)
        .variables("RETRY_QUEUE_URL", retry_url)
        .variables("DLQ_URL", dlq_url)
        .variables("RETRY_SCHEDULE", schedule)
        .variables("FUNCTION_TIMEOUT_S", "60")
        .build()
}

impl WiredStack {
    /// Builds the whole stack (see the module doc).
    pub async fn create() -> WiredStack {
        let aws = clients().await;
        let conf = aws_config::load_from_env().await;
        let fns = FnClients {
            lambda: aws_sdk_lambda::Client::new(&conf),
            iam: aws_sdk_iam::Client::new(&conf),
            events: aws_sdk_eventbridge::Client::new(&conf),
        };
        let dlq_url = queue(
            &aws,
            &unique("dr-dlq"),
            &[(QueueAttributeName::MessageRetentionPeriod, "1209600".into())],
        )
        .await;
        let dlq_arn = arn(&aws, &dlq_url).await;
        let other_url = queue(&aws, &unique("dr-other"), &[]).await;
        let other_arn = arn(&aws, &other_url).await;
        let retry_url = queue(
            &aws,
            &unique("dr-retry"),
            &[
                (QueueAttributeName::MessageRetentionPeriod, "345600".into()),
                (QueueAttributeName::VisibilityTimeout, "360".into()),
                (QueueAttributeName::RedrivePolicy, redrive(&dlq_arn, 14)),
            ],
        )
        .await;
        let retry_arn = arn(&aws, &retry_url).await;
        let bucket = unique("dr-archive");
        aws.s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateBucket: {e:?}"));
        let wfm = HttpsWfm::start();
        let role_arn = lambda_role(&fns.iam, &unique("dr-forwarder-role")).await;
        let forwarder = unique("dr-forwarder");
        let forwarder_arn = create_function(
            &fns,
            &forwarder,
            &role_arn,
            60,
            forwarder_environment(&wfm.url(WFM_PATH), &retry_url, &dlq_url, SCHEDULE),
        )
        .await;
        let mapping = fns
            .lambda
            .create_event_source_mapping()
            .function_name(&forwarder)
            .event_source_arn(&retry_arn)
            .batch_size(10)
            .maximum_batching_window_in_seconds(0)
            .function_response_types(FunctionResponseType::ReportBatchItemFailures)
            .scaling_config(ScalingConfig::builder().maximum_concurrency(5).build())
            .enabled(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateEventSourceMapping: {e:?}"))
            .uuid
            .unwrap_or_else(|| panic!("CreateEventSourceMapping: no UUID"));
        let bus = unique("dr-partner-bus");
        fns.events
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateEventBus: {e:?}"));
        let rule = unique("dr-forwarder-rule");
        let wiring = Wiring::create(&aws, &fns, &forwarder, &role_arn, &bucket).await;
        let stack = WiredStack {
            aws,
            fns,
            retry_url,
            retry_arn,
            dlq_url,
            dlq_arn,
            other_arn,
            bucket,
            forwarder,
            forwarder_arn,
            role_arn,
            mapping,
            bus,
            rule,
            wfm,
            wiring,
        };
        stack.put_invoke_config(Some(&stack.dlq_arn), 21600).await;
        stack.put_rule(RuleState::Enabled).await;
        stack.put_target(&stack.forwarder_arn).await;
        stack.encrypt().await;
        stack.block_public_access().await;
        stack
    }

    /// The variables doctor reads for this stack (AWS settings for moto, the names, and the test
    /// CA as `SSL_CERT_FILE`).
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = aws_vars(&endpoint());
        vars.extend([
            ("RETRY_QUEUE_URL", self.retry_url.clone()),
            ("DLQ_URL", self.dlq_url.clone()),
            ("ARCHIVE_BUCKET", self.bucket.clone()),
            ("FORWARDER_FUNCTION", self.forwarder.clone()),
            ("EVENT_BUS", self.bus.clone()),
            ("EVENT_RULE", self.rule.clone()),
            (
                "SSL_CERT_FILE",
                tls_fixture("ca.pem").to_string_lossy().into_owned(),
            ),
        ]);
        vars.extend(self.wiring.vars());
        vars
    }

    /// Sets one queue attribute.
    pub async fn set(&self, url: &str, name: QueueAttributeName, value: String) {
        self.aws
            .sqs
            .set_queue_attributes()
            .queue_url(url)
            .attributes(name, value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SetQueueAttributes: {e:?}"));
    }

    /// Turns on the bucket's default encryption (SSE-S3), as the demo's kept stack does.
    pub async fn encrypt(&self) {
        encrypt_bucket(&self.aws.s3, &self.bucket)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// Turns on all four public-access blocks of the bucket, as the demo's kept stack does.
    pub async fn block_public_access(&self) {
        block_public_access(&self.aws.s3, &self.bucket)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// Replaces the forwarder's async invoke config: on failure → `destination` (none when
    /// `None`), maximum event age `max_age_s`, 2 retries (moto's Put appends, so the old one is
    /// deleted first).
    pub async fn put_invoke_config(&self, destination: Option<&str>, max_age_s: i32) {
        let _ = self
            .fns
            .lambda
            .delete_function_event_invoke_config()
            .function_name(&self.forwarder)
            .send()
            .await;
        let mut req = self
            .fns
            .lambda
            .put_function_event_invoke_config()
            .function_name(&self.forwarder)
            .maximum_retry_attempts(2)
            .maximum_event_age_in_seconds(max_age_s);
        if let Some(d) = destination {
            req = req.destination_config(
                DestinationConfig::builder()
                    .on_failure(OnFailure::builder().destination(d).build())
                    .build(),
            );
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("PutFunctionEventInvokeConfig: {e:?}"));
    }

    /// Deletes the forwarder's async invoke config.
    pub async fn delete_invoke_config(&self) {
        self.fns
            .lambda
            .delete_function_event_invoke_config()
            .function_name(&self.forwarder)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteFunctionEventInvokeConfig: {e:?}"));
    }

    /// Puts the rule on the bus (the template's pattern) in `state`.
    pub async fn put_rule(&self, state: RuleState) {
        self.fns
            .events
            .put_rule()
            .name(&self.rule)
            .event_bus_name(&self.bus)
            .event_pattern(r#"{"detail-type":[{"prefix":"v2."}]}"#)
            .state(state)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutRule: {e:?}"));
    }

    /// Enables or disables the rule (EnableRule / DisableRule).
    pub async fn set_rule_enabled(&self, enabled: bool) {
        let ev = &self.fns.events;
        let done = if enabled {
            ev.enable_rule()
                .name(&self.rule)
                .event_bus_name(&self.bus)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        } else {
            ev.disable_rule()
                .name(&self.rule)
                .event_bus_name(&self.bus)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        };
        done.unwrap_or_else(|e| panic!("Enable/DisableRule: {e}"));
    }

    /// Adds `arn` as the rule's target `Forwarder`.
    pub async fn put_target(&self, arn: &str) {
        self.fns
            .events
            .put_targets()
            .rule(&self.rule)
            .event_bus_name(&self.bus)
            .targets(
                Target::builder()
                    .id("Forwarder")
                    .arn(arn)
                    .build()
                    .expect("valid target"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutTargets: {e:?}"));
    }

    /// Removes the rule's target `Forwarder`.
    pub async fn remove_target(&self) {
        self.fns
            .events
            .remove_targets()
            .rule(&self.rule)
            .event_bus_name(&self.bus)
            .ids("Forwarder")
            .send()
            .await
            .unwrap_or_else(|e| panic!("RemoveTargets: {e:?}"));
    }

    /// Sets the forwarder's environment (`WFM_URL` on the stand-in) with `schedule`, and its
    /// timeout.
    pub async fn configure_forwarder(&self, schedule: &str, timeout_s: i32) {
        self.fns
            .lambda
            .update_function_configuration()
            .function_name(&self.forwarder)
            .timeout(timeout_s)
            .environment(forwarder_environment(
                &self.wfm.url(WFM_PATH),
                &self.retry_url,
                &self.dlq_url,
                schedule,
            ))
            .send()
            .await
            .unwrap_or_else(|e| panic!("UpdateFunctionConfiguration: {e:?}"));
    }

    /// Updates the event source mapping with `f` (e.g. `|u| u.enabled(false)`).
    pub async fn update_mapping(
        &self,
        f: impl FnOnce(
            aws_sdk_lambda::operation::update_event_source_mapping::builders::UpdateEventSourceMappingFluentBuilder,
        ) -> aws_sdk_lambda::operation::update_event_source_mapping::builders::UpdateEventSourceMappingFluentBuilder,
    ) {
        f(self
            .fns
            .lambda
            .update_event_source_mapping()
            .uuid(&self.mapping))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateEventSourceMapping: {e:?}"));
    }

    /// The wired mapping settings again (enabled, ReportBatchItemFailures, MaximumConcurrency 5).
    pub async fn rewire_mapping(&self) {
        self.update_mapping(|u| {
            u.enabled(true)
                .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                .scaling_config(ScalingConfig::builder().maximum_concurrency(5).build())
        })
        .await;
    }
}

/// One doctor run: its exit code, each check's (id, status) and the whole JSON report.
pub struct DoctorRun {
    /// The exit code.
    pub code: i32,
    /// `(check, status)` in report order.
    pub checks: Vec<(String, String)>,
    /// The JSON report.
    pub report: Value,
    /// stderr.
    pub stderr: String,
}

impl DoctorRun {
    /// The run's report, each check's (id, status) and its exit code (-1 when killed).
    pub fn of(run: Run) -> DoctorRun {
        let report = run.report();
        let checks = report["checks"]
            .as_array()
            .unwrap_or_else(|| panic!("no checks: {report}"))
            .iter()
            .map(|c| {
                (
                    c["check"].as_str().unwrap_or_default().to_owned(),
                    c["status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        DoctorRun {
            code: run.code.unwrap_or(-1),
            checks,
            report,
            stderr: run.stderr,
        }
    }

    /// The detail of `check` (panics when absent).
    pub fn detail(&self, check: &str) -> String {
        self.report["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["check"] == check))
            .and_then(|c| c["detail"].as_str())
            .unwrap_or_else(|| panic!("no check {check} in {}", self.report))
            .to_owned()
    }
}

/// Runs `relayctl --json doctor extra…` with only `vars` (and PATH).
pub fn doctor(extra: &[&str], vars: &[(&'static str, String)]) -> DoctorRun {
    let args: Vec<&str> = ["--json", "doctor"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    DoctorRun::of(Relayctl::only(&args, vars.iter().cloned()).run())
}

/// The ids of every check doctor makes on this stack today, in report order (extend it when
/// doctor gains a check).
pub const ALL_CHECKS: [&str; 14] = [
    "retry-queue.redrive",
    "retry-queue.visibility",
    "queues.retention",
    "bucket.encryption",
    "bucket.public-access",
    "forwarder.event-source",
    "forwarder.batch-failures",
    "forwarder.concurrency",
    "forwarder.on-failure",
    "forwarder.event-age",
    "eventbridge.bus",
    "eventbridge.rule",
    "eventbridge.target",
    "wfm.tls",
];

/// Each of `known` appears once; every check passes except `failing`, which has `status`.
pub fn assert_only(run: &DoctorRun, known: &[&str], failing: &[&str], status: &str, what: &str) {
    let checks = &run.checks;
    for k in known {
        let n = checks.iter().filter(|(c, _)| c == k).count();
        assert_eq!(n, 1, "{what}: {k} once in {checks:?}");
    }
    for (check, got) in checks {
        let want = if failing.contains(&check.as_str()) {
            status
        } else {
            "pass"
        };
        assert_eq!(got, want, "{what}: {check} in {}", run.report);
    }
}
