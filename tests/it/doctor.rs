//! `relayctl doctor` against a wired stack in moto (issue 14, item 4): every check passes on the
//! stack as template.yaml wires it, and breaking each setting in turn fails exactly that check
//! (exit 4). A missing resource is a fail, or a warn under `--local` (exit 5 with `--strict`).
//! Doctor runs with no secret and no profile in its environment; the stack is the one builder of
//! tests/it/support/doctor_stack.rs.

use crate::support::doctor_stack::{WiredStack, assert_only, doctor, redrive};
use crate::support::*;
use aws_sdk_sqs::types::QueueAttributeName;

const CHECKS: [&str; 5] = [
    "retry-queue.redrive",
    "retry-queue.visibility",
    "queues.retention",
    "bucket.encryption",
    "bucket.public-access",
];

#[tokio::test]
async fn doctor_passes_the_wired_stack_and_finds_each_broken_setting() {
    let s = WiredStack::create().await;
    let vars = s.vars();
    let r = doctor(&[], &vars);
    assert_only(&r, &CHECKS, &[], "pass", "the wired stack");
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The redrive policy: one receive short, then pointing at another queue.
    s.set(
        &s.retry_url,
        QueueAttributeName::RedrivePolicy,
        redrive(&s.dlq_arn, 13),
    )
    .await;
    let r = doctor(&[], &vars);
    assert_only(
        &r,
        &CHECKS,
        &["retry-queue.redrive"],
        "fail",
        "maxReceiveCount 13",
    );
    assert_eq!(r.code, 4);
    let detail = r.detail("retry-queue.redrive");
    assert!(
        detail.contains("maxReceiveCount 13") && detail.contains("= 14"),
        "{detail}"
    );
    s.set(
        &s.retry_url,
        QueueAttributeName::RedrivePolicy,
        redrive(&s.other_arn, 14),
    )
    .await;
    let r = doctor(&[], &vars);
    assert_only(
        &r,
        &CHECKS,
        &["retry-queue.redrive"],
        "fail",
        "target not the DLQ",
    );
    assert_eq!(r.code, 4);
    s.set(
        &s.retry_url,
        QueueAttributeName::RedrivePolicy,
        redrive(&s.dlq_arn, 14),
    )
    .await;

    // The visibility timeout below 6 x 60 s.
    s.set(
        &s.retry_url,
        QueueAttributeName::VisibilityTimeout,
        "359".into(),
    )
    .await;
    let r = doctor(&[], &vars);
    assert_only(
        &r,
        &CHECKS,
        &["retry-queue.visibility"],
        "fail",
        "visibility 359 s",
    );
    assert_eq!(r.code, 4);
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
    let r = doctor(&[], &vars);
    assert_only(
        &r,
        &CHECKS,
        &["queues.retention"],
        "fail",
        "equal retention",
    );
    assert_eq!(r.code, 4);
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
    let r = doctor(&[], &vars);
    assert_only(&r, &CHECKS, &["bucket.encryption"], "fail", "no encryption");
    assert_eq!(r.code, 4);
    s.encrypt().await;
    s.aws
        .s3
        .delete_public_access_block()
        .bucket(&s.bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeletePublicAccessBlock: {e:?}"));
    let r = doctor(&[], &vars);
    assert_only(
        &r,
        &CHECKS,
        &["bucket.public-access"],
        "fail",
        "no public-access block",
    );
    assert_eq!(r.code, 4);
    s.block_public_access().await;

    let r = doctor(&["--strict"], &vars);
    assert_only(&r, &CHECKS, &[], "pass", "repaired");
    assert_eq!(r.code, 0);
}

#[tokio::test]
async fn a_missing_resource_fails_or_warns_under_local() {
    let s = WiredStack::create().await;
    let mut vars = s.vars();
    for (k, v) in vars.iter_mut() {
        if *k == "ARCHIVE_BUCKET" {
            *v = unique("dr-not-deployed");
        }
    }
    let bucket_checks = ["bucket.encryption", "bucket.public-access"];
    let r = doctor(&[], &vars);
    assert_only(&r, &CHECKS, &bucket_checks, "fail", "bucket missing");
    assert_eq!(r.code, 4);
    let r = doctor(&["--local"], &vars);
    assert_only(
        &r,
        &CHECKS,
        &bucket_checks,
        "warn",
        "bucket missing, --local",
    );
    assert_eq!(r.code, 0, "warnings alone exit 0");
    let r = doctor(&["--local", "--strict"], &vars);
    assert_eq!(r.code, 5, "--strict: a warning exits 5");

    let gone = s.retry_url.replace("dr-retry", "dr-gone");
    let mut vars = s.vars();
    for (k, v) in vars.iter_mut() {
        if *k == "RETRY_QUEUE_URL" {
            *v = gone.clone();
        }
    }
    let r = doctor(&[], &vars);
    let mut failing = CHECKS[..3].to_vec();
    // The forwarder's event source mapping cannot be matched with a retry queue that is gone.
    failing.extend([
        "forwarder.event-source",
        "forwarder.batch-failures",
        "forwarder.concurrency",
    ]);
    assert_only(&r, &CHECKS, &failing, "fail", "retry queue missing");
    assert_eq!(r.code, 4);
}
