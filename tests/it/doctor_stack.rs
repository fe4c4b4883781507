//! `relayctl doctor`'s alarm, secret, role-policy and profile checks and `--stack` against the
//! wired stack in moto (issue 14, item 4): every check passes on the stack as template.yaml wires
//! it, breaking each setting in turn fails exactly its check (exit 4), and `--stack NAME` reads
//! the same names from a CloudFormation stack as the variables give. Doctor never reads a
//! secret's value: it has no `secretsmanager:GetSecretValue` to call (metadata only).

use crate::support::doctor_stack::{DoctorRun, WiredStack, assert_only, doctor};
use crate::support::doctor_wiring::{MAPPING_KEY, PROFILE_KEY};
use crate::support::relayctl::{Relayctl, Run, aws_vars};
use crate::support::*;

/// The checks of this file, each once in every report.
const KNOWN: [&str; 6] = [
    "alarms.exist",
    "alarms.actions",
    "secrets.exist",
    "secrets.role-policy",
    "profile",
    "profile.tables",
];

fn fix(run: &DoctorRun, check: &str) -> String {
    run.report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["check"] == check))
        .and_then(|c| c["fix"].as_str())
        .unwrap_or_else(|| panic!("no fix for {check} in {}", run.report))
        .to_owned()
}

#[tokio::test]
async fn doctor_finds_each_broken_alarm_secret_policy_and_profile() {
    let s = WiredStack::create().await;
    let w = &s.wiring;
    let vars = s.vars();
    let run = doctor(&[], &vars);
    assert_only(&run, &KNOWN, &[], "pass", "the wired stack");
    assert_eq!(run.code, 0, "{}", run.report);
    assert_eq!(
        run.detail("alarms.exist"),
        format!("all 10 template alarms under {}", w.alarm_prefix)
    );
    assert_eq!(
        run.detail("secrets.exist"),
        format!(
            "2 secret settings ({} WFM_AUTH_TOKEN_SECRET_ARN, {} WFM_AUTH_TOKEN_SECRET_ARN): each \
             exists (metadata only)",
            s.forwarder, w.replayer
        )
    );
    assert_eq!(
        run.detail("profile"),
        format!("WFM_PROFILE s3://{}/{PROFILE_KEY} exists", s.bucket)
    );

    // An alarm missing, then one that notifies nobody.
    w.delete_alarm("DlqDepthAlarm").await;
    let run = doctor(&[], &vars);
    assert_only(
        &run,
        &KNOWN,
        &["alarms.exist"],
        "fail",
        "DlqDepthAlarm missing",
    );
    assert_eq!(run.code, 4);
    assert_eq!(
        run.detail("alarms.exist"),
        format!(
            "1 of 10 template alarms missing under `{}`: DlqDepthAlarm",
            w.alarm_prefix
        )
    );
    w.put_alarm("DlqDepthAlarm", true).await;
    w.put_alarm("WfmGoneAlarm", false).await;
    let run = doctor(&[], &vars);
    assert_only(
        &run,
        &KNOWN,
        &["alarms.actions"],
        "fail",
        "actions disabled",
    );
    assert_eq!(run.code, 4);
    assert!(
        run.detail("alarms.actions").contains("WfmGoneAlarm"),
        "{}",
        run.detail("alarms.actions")
    );
    w.put_alarm("WfmGoneAlarm", true).await;

    // A secret ARN that does not exist (the replayer's managed policy's wildcard names it).
    let base = &w.secret_arn[..w.secret_arn.len() - "-AbCdEf".len()];
    let gone = format!("{base}-gone-ZyXwVu");
    w.set_function_vars(
        &s.fns,
        &w.replayer,
        &[("WFM_AUTH_TOKEN_SECRET_ARN", gone.clone())],
    )
    .await;
    let run = doctor(&[], &vars);
    assert_only(&run, &KNOWN, &["secrets.exist"], "fail", "secret gone");
    assert_eq!(run.code, 4);
    assert_eq!(
        run.detail("secrets.exist"),
        format!(
            "{} WFM_AUTH_TOKEN_SECRET_ARN secret {gone} does not exist",
            w.replayer
        )
    );
    w.set_function_vars(
        &s.fns,
        &w.replayer,
        &[("WFM_AUTH_TOKEN_SECRET_ARN", w.secret_arn.clone())],
    )
    .await;

    // The forwarder role's policy names another secret.
    w.name_secret_in_forwarder_policy(&format!("{base}-other-*"))
        .await;
    let run = doctor(&[], &vars);
    assert_only(&run, &KNOWN, &["secrets.role-policy"], "fail", "policy");
    assert_eq!(run.code, 4);
    assert_eq!(
        fix(&run, "secrets.role-policy"),
        format!(
            "add {{\"Effect\":\"Allow\",\"Action\":\"secretsmanager:GetSecretValue\",\"Resource\":\
             \"{}\"}} to {}'s role policy",
            w.secret_arn, s.forwarder
        )
    );
    w.name_secret_in_forwarder_policy(&w.secret_arn).await;

    // The S3 profile object missing, then the mapping table, then an unknown builtin.
    let delete = |key: &'static str| {
        let (aws, bucket) = (&s.aws, s.bucket.clone());
        async move {
            aws.s3
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("DeleteObject {key}: {e:?}"));
        }
    };
    delete(PROFILE_KEY).await;
    let run = doctor(&[], &vars);
    assert_only(&run, &KNOWN, &["profile"], "fail", "profile object gone");
    assert_eq!(run.code, 4);
    w.set_function_vars(
        &s.fns,
        &s.forwarder,
        &[("WFM_PROFILE", "builtin:agent-stat".to_owned())],
    )
    .await;
    let run = doctor(&[], &vars);
    assert_only(&run, &KNOWN, &["profile"], "fail", "unknown builtin");
    assert_eq!(run.code, 4);
    assert!(
        run.detail("profile")
            .starts_with("WFM_PROFILE builtin:agent-stat is not a shipped profile"),
        "{}",
        run.detail("profile")
    );
    w.set_function_vars(
        &s.fns,
        &s.forwarder,
        &[("WFM_PROFILE", "builtin:agent-state".to_owned())],
    )
    .await;
    delete(MAPPING_KEY).await;
    let run = doctor(&[], &vars);
    assert_only(&run, &KNOWN, &["profile.tables"], "fail", "mapping gone");
    assert_eq!(run.code, 4);
    assert_eq!(
        run.detail("profile.tables"),
        format!(
            "WFM_PROFILE_MAPPING s3://{}/{MAPPING_KEY} does not exist: the forwarder fails start-up",
            s.bucket
        )
    );
    s.aws
        .s3
        .put_object()
        .bucket(&s.bucket)
        .key(MAPPING_KEY)
        .body(b"genesys_user_id,wfm_agent_id\n".to_vec().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutObject: {e:?}"));

    let run = doctor(&["--strict"], &vars);
    assert_only(&run, &KNOWN, &[], "pass", "repaired");
    assert_eq!(run.code, 0);
}

/// A small template with the stack's queues and bucket under template.yaml's logical ids.
fn small_template() -> String {
    serde_json::json!({
        "Resources": {
            "DeadLetterQueue": {"Type": "AWS::SQS::Queue",
                "Properties": {"MessageRetentionPeriod": 1_209_600}},
            "RetryQueue": {"Type": "AWS::SQS::Queue", "Properties": {
                "MessageRetentionPeriod": 345_600,
                "VisibilityTimeout": 360,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                    "maxReceiveCount": 14
                }
            }},
            "ArchiveBucket": {"Type": "AWS::S3::Bucket"}
        },
        "Outputs": {"AlarmPrefix": {"Value": {"Fn::Sub": "${AWS::StackName}-"}}}
    })
    .to_string()
}

#[tokio::test]
async fn stack_gives_the_same_names_as_the_variables() {
    let conf = aws_config::load_from_env().await;
    let cf = aws_sdk_cloudformation::Client::new(&conf);
    let name = unique("dr-cfn");
    cf.create_stack()
        .stack_name(&name)
        .template_body(small_template())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateStack: {e:?}"));
    let resources = cf
        .describe_stack_resources()
        .stack_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeStackResources: {e:?}"));
    let physical = |logical: &str| {
        resources
            .stack_resources()
            .iter()
            .find(|r| r.logical_resource_id() == Some(logical))
            .and_then(|r| r.physical_resource_id())
            .unwrap_or_else(|| panic!("no {logical} in {resources:?}"))
            .to_owned()
    };
    let aws_only = aws_vars(&endpoint());
    let mut named = aws_only.clone();
    named.extend([
        ("RETRY_QUEUE_URL", physical("RetryQueue")),
        ("DLQ_URL", physical("DeadLetterQueue")),
        ("ARCHIVE_BUCKET", physical("ArchiveBucket")),
        ("ALARM_PREFIX", format!("{name}-")),
    ]);
    let by_vars = doctor(&[], &named);
    let by_stack = doctor(&["--stack", &name], &aws_only);
    assert_eq!(by_stack.report, by_vars.report);
    assert_eq!(by_stack.code, by_vars.code);
    assert_eq!(
        by_stack.detail("queues.retention"),
        "DLQ keeps 1209600 s > retry queue 345600 s"
    );
    assert!(
        by_stack
            .detail("bucket.encryption")
            .starts_with(&physical("ArchiveBucket")),
        "{}",
        by_stack.report
    );
    assert!(
        by_stack
            .detail("alarms.exist")
            .contains(&format!("missing under `{name}-`")),
        "{}",
        by_stack.report
    );

    // A variable that is set wins over the stack's value (and doctor says so).
    let other = s_queue(&unique("dr-cfn-other")).await;
    let mut overridden = aws_only.clone();
    overridden.push(("DLQ_URL", other));
    let run = doctor(&["--stack", &name], &overridden);
    assert!(
        run.stderr.contains(&format!(
            "DLQ_URL set in the environment, used instead of stack {name}'s"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.detail("queues.retention"),
        "DLQ keeps 345600 s, not more than the retry queue's 345600 s",
        "the environment's DLQ (SQS's default retention), not the stack's"
    );

    // A stack that does not exist: exit 1, one line.
    let Run {
        code,
        stdout,
        stderr,
    } = Relayctl::only(
        &["--json", "doctor", "--stack", "dr-no-such-stack"],
        aws_only,
    )
    .run();
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "relayctl doctor: stack dr-no-such-stack does not exist (DescribeStacks; check the name, \
         AWS_REGION and the account)\n"
    );
}

async fn s_queue(name: &str) -> String {
    clients()
        .await
        .sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateQueue {name}: {e:?}"))
        .queue_url
        .unwrap_or_else(|| panic!("CreateQueue {name}: no URL"))
}
