//! `relayctl doctor` against a wired stack in moto (issue 14, item 4): every check passes on the
//! stack as template.yaml wires it, and breaking each setting in turn fails exactly that check
//! (exit 4). A missing resource is a fail, or a warn under `--local` (exit 5 with `--strict`).
//! Doctor runs with no `WFM_URL`, no secret and no profile in its environment.

use crate::lambda_process::forwarder_binary;
use crate::support::*;
use aws_sdk_s3::types::{
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use std::process::{Command, Stdio};
use wfm_relay_aws::aws::AwsClients;

/// The wired stack: queues as template.yaml sets them (retention 4 and 14 days, visibility
/// 6 x 60 s, maxReceiveCount 9 default steps + 5) and an encrypted, non-public bucket.
struct Wired {
    aws: AwsClients,
    retry_url: String,
    dlq_url: String,
    dlq_arn: String,
    other_arn: String,
    bucket: String,
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
    aws.sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetQueueAttributes {url}: {e:?}"))
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_else(|| panic!("{url} has no ARN"))
}

fn redrive(target: &str, count: u32) -> String {
    serde_json::json!({"deadLetterTargetArn": target, "maxReceiveCount": count}).to_string()
}

impl Wired {
    async fn create() -> Wired {
        let aws = clients().await;
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
        let bucket = unique("dr-archive");
        aws.s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateBucket: {e:?}"));
        let wired = Wired {
            aws,
            retry_url,
            dlq_url,
            dlq_arn,
            other_arn,
            bucket,
        };
        wired.encrypt().await;
        wired.block_public_access().await;
        wired
    }

    async fn set(&self, url: &str, name: QueueAttributeName, value: String) {
        self.aws
            .sqs
            .set_queue_attributes()
            .queue_url(url)
            .attributes(name, value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SetQueueAttributes: {e:?}"));
    }

    async fn encrypt(&self) {
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .expect("valid default"),
            )
            .build();
        self.aws
            .s3
            .put_bucket_encryption()
            .bucket(&self.bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .expect("valid configuration"),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutBucketEncryption: {e:?}"));
    }

    async fn block_public_access(&self) {
        self.aws
            .s3
            .put_public_access_block()
            .bucket(&self.bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutPublicAccessBlock: {e:?}"));
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", endpoint()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_MAX_ATTEMPTS", "1".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("RETRY_QUEUE_URL", self.retry_url.clone()),
            ("DLQ_URL", self.dlq_url.clone()),
            ("ARCHIVE_BUCKET", self.bucket.clone()),
        ]
    }
}

/// Runs `relayctl --json doctor extra…` with only `vars` (and PATH); returns the exit code and
/// each check's status by id.
fn doctor(extra: &[&str], vars: &[(&'static str, String)]) -> (i32, Vec<(String, String)>) {
    let bin = forwarder_binary().with_file_name("relayctl");
    let o = Command::new(&bin)
        .args(["--json", "doctor"])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "doctor prints JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
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
    (o.status.code().unwrap_or(-1), checks)
}

const CHECKS: [&str; 5] = [
    "retry-queue.redrive",
    "retry-queue.visibility",
    "queues.retention",
    "bucket.encryption",
    "bucket.public-access",
];

/// Every check passes except `failing`, which has `status`.
fn assert_only(checks: &[(String, String)], failing: &[&str], status: &str, what: &str) {
    let ids: Vec<&str> = checks.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(ids, CHECKS, "{what}");
    for (check, got) in checks {
        let want = if failing.contains(&check.as_str()) {
            status
        } else {
            "pass"
        };
        assert_eq!(got, want, "{what}: {check} in {checks:?}");
    }
}

#[tokio::test]
async fn doctor_passes_the_wired_stack_and_finds_each_broken_setting() {
    let s = Wired::create().await;
    let vars = s.vars();
    let (code, checks) = doctor(&[], &vars);
    assert_only(&checks, &[], "pass", "the wired stack");
    assert_eq!(code, 0);

    // The redrive policy: one receive short, then pointing at another queue.
    s.set(
        &s.retry_url,
        QueueAttributeName::RedrivePolicy,
        redrive(&s.dlq_arn, 13),
    )
    .await;
    let (code, checks) = doctor(&[], &vars);
    assert_only(
        &checks,
        &["retry-queue.redrive"],
        "fail",
        "maxReceiveCount 13",
    );
    assert_eq!(code, 4);
    s.set(
        &s.retry_url,
        QueueAttributeName::RedrivePolicy,
        redrive(&s.other_arn, 14),
    )
    .await;
    let (code, checks) = doctor(&[], &vars);
    assert_only(
        &checks,
        &["retry-queue.redrive"],
        "fail",
        "target not the DLQ",
    );
    assert_eq!(code, 4);
    s.set(
        &s.retry_url,
        QueueAttributeName::RedrivePolicy,
        redrive(&s.dlq_arn, 14),
    )
    .await;

    // A schedule of 3 steps disagrees with maxReceiveCount 14.
    let mut short = vars.clone();
    short.push(("RETRY_SCHEDULE", "30s,2m,10m".to_owned()));
    let (code, checks) = doctor(&[], &short);
    assert_only(
        &checks,
        &["retry-queue.redrive"],
        "fail",
        "RETRY_SCHEDULE of 3 steps",
    );
    assert_eq!(code, 4);

    // The visibility timeout below 6 x 60 s.
    s.set(
        &s.retry_url,
        QueueAttributeName::VisibilityTimeout,
        "359".into(),
    )
    .await;
    let (code, checks) = doctor(&[], &vars);
    assert_only(
        &checks,
        &["retry-queue.visibility"],
        "fail",
        "visibility 359 s",
    );
    assert_eq!(code, 4);
    s.set(
        &s.retry_url,
        QueueAttributeName::VisibilityTimeout,
        "360".into(),
    )
    .await;

    // The DLQ keeps letters no longer than the retry queue.
    s.set(
        &s.dlq_url,
        QueueAttributeName::MessageRetentionPeriod,
        "345600".into(),
    )
    .await;
    let (code, checks) = doctor(&[], &vars);
    assert_only(&checks, &["queues.retention"], "fail", "equal retention");
    assert_eq!(code, 4);
    s.set(
        &s.dlq_url,
        QueueAttributeName::MessageRetentionPeriod,
        "1209600".into(),
    )
    .await;

    // The bucket without default encryption, then without its public-access block.
    s.aws
        .s3
        .delete_bucket_encryption()
        .bucket(&s.bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteBucketEncryption: {e:?}"));
    let (code, checks) = doctor(&[], &vars);
    assert_only(&checks, &["bucket.encryption"], "fail", "no encryption");
    assert_eq!(code, 4);
    s.encrypt().await;
    s.aws
        .s3
        .delete_public_access_block()
        .bucket(&s.bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeletePublicAccessBlock: {e:?}"));
    let (code, checks) = doctor(&[], &vars);
    assert_only(
        &checks,
        &["bucket.public-access"],
        "fail",
        "no public-access block",
    );
    assert_eq!(code, 4);
    s.block_public_access().await;

    let (code, checks) = doctor(&["--strict"], &vars);
    assert_only(&checks, &[], "pass", "repaired");
    assert_eq!(code, 0);
}

#[tokio::test]
async fn a_missing_resource_fails_or_warns_under_local() {
    let s = Wired::create().await;
    let mut vars = s.vars();
    for (k, v) in vars.iter_mut() {
        if *k == "ARCHIVE_BUCKET" {
            *v = unique("dr-not-deployed");
        }
    }
    let bucket_checks = ["bucket.encryption", "bucket.public-access"];
    let (code, checks) = doctor(&[], &vars);
    assert_only(&checks, &bucket_checks, "fail", "bucket missing");
    assert_eq!(code, 4);
    let (code, checks) = doctor(&["--local"], &vars);
    assert_only(&checks, &bucket_checks, "warn", "bucket missing, --local");
    assert_eq!(code, 0, "warnings alone exit 0");
    let (code, _) = doctor(&["--local", "--strict"], &vars);
    assert_eq!(code, 5, "--strict: a warning exits 5");

    let gone = s.retry_url.replace("dr-retry", "dr-gone");
    let mut vars = s.vars();
    for (k, v) in vars.iter_mut() {
        if *k == "RETRY_QUEUE_URL" {
            *v = gone.clone();
        }
    }
    let (code, checks) = doctor(&[], &vars);
    assert_only(&checks, &CHECKS[..3], "fail", "retry queue missing");
    assert_eq!(code, 4);
}
