//! The AWS calls behind the checks (SQS `GetQueueAttributes`, S3 `HeadBucket`,
//! `GetBucketEncryption`, `GetPublicAccessBlock`): metadata only, nothing changed. A resource
//! that does not exist becomes a finding ([`Finding::missing`]); any other AWS error means
//! doctor could not run ([`Unreachable`]).

use super::bucket::{self, PublicAccessBlock};
use super::gather_fn::QueueArns;
use super::queues::{self, Attributes};
use super::targets::StackNames;
use super::{Finding, Status};
use crate::errors::{AwsFailure, classify};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_core::policy::{DEFAULT_RETRY_SCHEDULE, RetrySchedule};

/// The template's `MaximumBatchingWindowInSeconds` of the retry queue's event source (used when
/// no event source mapping was read).
pub const TEMPLATE_BATCHING_WINDOW_S: u64 = 0;

/// A setting the checks cannot compare with: what is missing and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// Why, e.g. `RETRY_SCHEDULE `soon`: …`.
    pub detail: String,
    /// What to do.
    pub fix: String,
}

/// The settings the queue checks compare against, each with where it came from (`local
/// RETRY_SCHEDULE …`, `deployed Timeout of …`): the deployed forwarder's when it is deployed
/// ([`super::deployed::expected`]), else the local variables under `--local` ([`Expected::from_lookup`]).
#[derive(Debug, Clone)]
pub struct Expected {
    /// Where the schedule came from, and the schedule.
    pub schedule: Result<(String, RetrySchedule), Unknown>,
    /// Where the function timeout came from, and the timeout in seconds.
    pub function_timeout_s: Result<(String, u64), Unknown>,
    /// Where the batching window came from, and the window in seconds.
    pub batching_window_s: (String, u64),
    /// A missing resource is a warn, not a fail (`--local`).
    pub local: bool,
}

impl Expected {
    /// The local settings: `RETRY_SCHEDULE` (default [`DEFAULT_RETRY_SCHEDULE`]),
    /// `FUNCTION_TIMEOUT_S` (default 60) through `var`, and the template's batching window.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>, local: bool) -> Self {
        let fix_schedule = || "fix RETRY_SCHEDULE".to_owned();
        let schedule = match var("RETRY_SCHEDULE").filter(|s| !s.trim().is_empty()) {
            Some(s) => s
                .parse::<RetrySchedule>()
                .map(|p| (format!("local RETRY_SCHEDULE {s}"), p))
                .map_err(|e| Unknown {
                    detail: format!("RETRY_SCHEDULE `{s}`: {e}"),
                    fix: fix_schedule(),
                }),
            None => DEFAULT_RETRY_SCHEDULE
                .parse::<RetrySchedule>()
                .map(|p| (format!("default {DEFAULT_RETRY_SCHEDULE}"), p))
                .map_err(|e| Unknown {
                    detail: format!("default schedule: {e}"),
                    fix: fix_schedule(),
                }),
        };
        let function_timeout_s = match var("FUNCTION_TIMEOUT_S").filter(|s| !s.trim().is_empty()) {
            Some(s) => match s.trim().parse::<u64>() {
                Ok(n) if (1..=900).contains(&n) => Ok((format!("local FUNCTION_TIMEOUT_S {n}"), n)),
                _ => Err(Unknown {
                    detail: format!("FUNCTION_TIMEOUT_S `{s}` is not 1-900 seconds"),
                    fix: "fix FUNCTION_TIMEOUT_S".to_owned(),
                }),
            },
            None => Ok(("default timeout 60 s".to_owned(), 60)),
        };
        Expected {
            schedule,
            function_timeout_s,
            batching_window_s: (
                "the template's batching window".to_owned(),
                TEMPLATE_BATCHING_WINDOW_S,
            ),
            local,
        }
    }
}

/// An AWS error that is not "this resource does not exist": doctor cannot tell anything.
#[derive(Debug)]
pub struct Unreachable {
    /// The call, e.g. `GetQueueAttributes (RETRY_QUEUE_URL)`.
    pub call: String,
    /// The SDK error's chain as text.
    pub chain: String,
}

fn unset(check: &'static str, variable: &str) -> Finding {
    Finding::bad(
        check,
        Status::Fail,
        format!("{variable} is not set"),
        format!(
            "set {variable} (the stack's output of the same name) in the environment or --env-file"
        ),
    )
}

/// `Ok(None)` when the queue does not exist.
async fn queue_attributes(
    aws: &AwsClients,
    url: &str,
    variable: &str,
) -> Result<Option<Attributes>, Unreachable> {
    match aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names("All".into())
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect(),
        )),
        Err(e) => {
            let chain = format!("{e:?}");
            if classify(&chain) == AwsFailure::NoSuchQueue {
                Ok(None)
            } else {
                Err(Unreachable {
                    call: format!("GetQueueAttributes ({variable} {url})"),
                    chain,
                })
            }
        }
    }
}

/// The two queues' attributes (`GetQueueAttributes` `All`), each read once and shared by the
/// queue checks ([`queue_checks`]) and the ARNs the Lambda checks compare with
/// ([`QueueFacts::arns`]). `None` when the URL is unset or the queue does not exist.
#[derive(Debug, Clone, Default)]
pub struct QueueFacts {
    /// The retry queue's attributes.
    pub retry: Option<Attributes>,
    /// The DLQ's attributes.
    pub dlq: Option<Attributes>,
}

impl QueueFacts {
    /// Reads the retry queue's and the DLQ's attributes, one call each.
    ///
    /// # Errors
    /// [`Unreachable`] for an AWS error other than "no such queue".
    pub async fn read(aws: &AwsClients, names: &StackNames) -> Result<Self, Unreachable> {
        let retry = match &names.retry_queue_url {
            Some(u) => queue_attributes(aws, u, "RETRY_QUEUE_URL").await?,
            None => None,
        };
        let dlq = match &names.dlq_url {
            Some(u) => queue_attributes(aws, u, "DLQ_URL").await?,
            None => None,
        };
        Ok(QueueFacts { retry, dlq })
    }

    /// The queues' `QueueArn` attributes (`None` for a queue not read or without one).
    pub fn arns(&self) -> QueueArns {
        let arn = |a: &Option<Attributes>| a.as_ref().and_then(|a| a.get("QueueArn").cloned());
        QueueArns {
            retry: arn(&self.retry),
            dlq: arn(&self.dlq),
        }
    }
}

/// The queue checks ([`queues`]) on the attributes read: redrive, visibility, retention.
pub fn queue_checks(names: &StackNames, queues: &QueueFacts, expected: &Expected) -> Vec<Finding> {
    let QueueFacts { retry, dlq } = queues;
    let missing = |check: &'static str, var: &str, url: &Option<String>| match url {
        None => unset(check, var),
        Some(u) => Finding::missing(
            check,
            &format!("queue {u}"),
            expected.local,
            &format!("deploy the stack, or fix {var}"),
        ),
    };
    let mut out = Vec::new();
    match (retry, dlq) {
        (Some(r), Some(d)) => {
            let dlq_arn = d.get("QueueArn").map_or("", String::as_str);
            out.push(match &expected.schedule {
                Ok((source, s)) => queues::redrive(r, dlq_arn, (source, s)),
                Err(u) => Finding::bad(
                    queues::REDRIVE,
                    Status::Fail,
                    u.detail.clone(),
                    u.fix.clone(),
                ),
            });
        }
        (None, _) => out.push(missing(
            queues::REDRIVE,
            "RETRY_QUEUE_URL",
            &names.retry_queue_url,
        )),
        (_, None) => out.push(missing(queues::REDRIVE, "DLQ_URL", &names.dlq_url)),
    }
    match (retry, &expected.function_timeout_s) {
        (Some(r), Ok((source, t))) => {
            let (window_source, w) = &expected.batching_window_s;
            out.push(queues::visibility(r, (source, *t), (window_source, *w)));
        }
        (Some(_), Err(u)) => out.push(Finding::bad(
            queues::VISIBILITY,
            Status::Fail,
            u.detail.clone(),
            u.fix.clone(),
        )),
        (None, _) => out.push(missing(
            queues::VISIBILITY,
            "RETRY_QUEUE_URL",
            &names.retry_queue_url,
        )),
    }
    match (retry, dlq) {
        (Some(r), Some(d)) => out.push(queues::retention(r, d)),
        (None, _) => out.push(missing(
            queues::RETENTION,
            "RETRY_QUEUE_URL",
            &names.retry_queue_url,
        )),
        (_, None) => out.push(missing(queues::RETENTION, "DLQ_URL", &names.dlq_url)),
    }
    out
}

/// The bucket checks ([`bucket`]): encryption and the public-access block.
pub async fn bucket_checks(
    aws: &AwsClients,
    names: &StackNames,
    expected: &Expected,
) -> Result<Vec<Finding>, Unreachable> {
    let Some(b) = &names.archive_bucket else {
        return Ok(vec![
            unset(bucket::ENCRYPTION, "ARCHIVE_BUCKET"),
            unset(bucket::PUBLIC_ACCESS, "ARCHIVE_BUCKET"),
        ]);
    };
    let unreachable = |call: &str, chain: String| Unreachable {
        call: format!("{call} (ARCHIVE_BUCKET {b})"),
        chain,
    };
    if let Err(e) = aws.s3.head_bucket().bucket(b).send().await {
        let chain = format!("{e:?}");
        let not_found = e.as_service_error().is_some_and(|s| s.is_not_found())
            || classify(&chain) == AwsFailure::NoSuchBucket;
        if !not_found {
            return Err(unreachable("HeadBucket", chain));
        }
        let fix = "deploy the stack, or fix ARCHIVE_BUCKET";
        let what = format!("bucket {b}");
        return Ok(vec![
            Finding::missing(bucket::ENCRYPTION, &what, expected.local, fix),
            Finding::missing(bucket::PUBLIC_ACCESS, &what, expected.local, fix),
        ]);
    }
    let algorithms = match aws.s3.get_bucket_encryption().bucket(b).send().await {
        Ok(out) => Some(
            out.server_side_encryption_configuration
                .map(|c| {
                    c.rules
                        .iter()
                        .filter_map(|r| r.apply_server_side_encryption_by_default.as_ref())
                        .map(|d| d.sse_algorithm.as_str().to_owned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        ),
        Err(e) => {
            let chain = format!("{e:?}");
            if chain.contains("ServerSideEncryptionConfigurationNotFound") {
                None
            } else {
                return Err(unreachable("GetBucketEncryption", chain));
            }
        }
    };
    let block = match aws.s3.get_public_access_block().bucket(b).send().await {
        Ok(out) => out
            .public_access_block_configuration
            .map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls.unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
                block_public_policy: c.block_public_policy.unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
            }),
        Err(e) => {
            let chain = format!("{e:?}");
            if chain.contains("NoSuchPublicAccessBlockConfiguration") {
                None
            } else {
                return Err(unreachable("GetPublicAccessBlock", chain));
            }
        }
    };
    Ok(vec![
        bucket::encryption(b, algorithms.as_deref()),
        bucket::public_access(b, block),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_settings_come_from_the_local_variables() {
        let none = Expected::from_lookup(|_| None, false);
        let (source, s) = none.schedule.expect("default parses");
        assert!(source.starts_with("default"), "{source}");
        assert_eq!(s.max_receive_count(), 14);
        assert_eq!(none.function_timeout_s.map(|t| t.1), Ok(60));
        assert_eq!(none.batching_window_s.1, 0);
        let set = Expected::from_lookup(
            |k| match k {
                "RETRY_SCHEDULE" => Some("30s,2m".to_owned()),
                "FUNCTION_TIMEOUT_S" => Some("30".to_owned()),
                _ => None,
            },
            true,
        );
        assert_eq!(set.schedule.expect("parses").1.max_receive_count(), 7);
        let (source, t) = set.function_timeout_s.expect("parses");
        assert_eq!((source.as_str(), t), ("local FUNCTION_TIMEOUT_S 30", 30));
        assert!(set.local);
        let bad = Expected::from_lookup(
            |k| match k {
                "RETRY_SCHEDULE" => Some("soon".to_owned()),
                "FUNCTION_TIMEOUT_S" => Some("0".to_owned()),
                _ => None,
            },
            false,
        );
        assert!(bad.schedule.is_err());
        assert!(bad.function_timeout_s.is_err());
    }
}
