//! AWS errors a person can act on: one line that says what failed, which endpoint, region and
//! credentials source were used, and what to check (pure: the caller passes the error's text and
//! the settings). The full error chain is printed only with `RELAYCTL_LOG=debug`.

/// Where relayctl's AWS calls went, as the AWS SDK resolves it (AWS SDKs and Tools reference
/// guide, "Standardized credential providers" and "Service-specific endpoints").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// `AWS_ENDPOINT_URL_SQS` or `AWS_ENDPOINT_URL` when set (an emulator such as moto), else
    /// `None`: AWS's own endpoint for the region.
    pub endpoint: Option<String>,
    /// The region the SDK loaded (environment or profile), `None` when it found none.
    pub region: Option<String>,
    /// Which credentials source the SDK's default chain takes first, in words.
    pub credentials: String,
}

impl AwsSettings {
    /// Reads the variables the SDK's default chain reads first; `region` is the SDK's result.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>, region: Option<String>) -> Self {
        let set = |k: &str| var(k).filter(|v| !v.is_empty());
        let endpoint = set("AWS_ENDPOINT_URL_SQS").or_else(|| set("AWS_ENDPOINT_URL"));
        let credentials = if set("AWS_ACCESS_KEY_ID").is_some() {
            "AWS_ACCESS_KEY_ID from the environment".to_owned()
        } else if let Some(p) = set("AWS_PROFILE") {
            format!("profile {p} (AWS_PROFILE)")
        } else if set("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
            "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)".to_owned()
        } else {
            "the default chain (profile default in ~/.aws, SSO, container or instance role)"
                .to_owned()
        };
        AwsSettings {
            endpoint,
            region,
            credentials,
        }
    }
}

/// What kind of AWS failure an error chain shows, from its text (the SDK errors reach relayctl
/// as text inside the queue and archive errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsFailure {
    /// The connection was refused: nothing listens at the endpoint.
    Refused,
    /// The endpoint's host name does not resolve.
    NoSuchHost,
    /// No answer in time (connect or read timeout).
    Timeout,
    /// The SDK found no credentials.
    NoCredentials,
    /// AWS refused the credentials (unknown key, bad signature, expired token).
    BadCredentials,
    /// The identity may not make this call.
    AccessDenied,
    /// The queue does not exist (in this region, for this account).
    NoSuchQueue,
    /// The bucket or object does not exist.
    NoSuchBucket,
    /// Anything else.
    Other,
}

/// Classifies an error chain's text (`{:#}` or `{:?}` of the error, any case).
pub fn classify(chain: &str) -> AwsFailure {
    let t = chain.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| t.contains(n));
    if has(&["connection refused"]) {
        AwsFailure::Refused
    } else if has(&[
        "dns error",
        "failed to lookup address",
        "name or service not known",
    ]) {
        AwsFailure::NoSuchHost
    } else if has(&[
        "no credentials",
        "credentialsnotloaded",
        "credentials provider",
        "failed to load credentials",
        // The default chain's own error when its last provider (IMDS) fails too.
        "while loading credentials",
    ]) {
        AwsFailure::NoCredentials
    } else if has(&[
        "invalidclienttokenid",
        "signaturedoesnotmatch",
        "expiredtoken",
        "unrecognizedclient",
        "invalidaccesskeyid",
        "the security token included in the request is",
    ]) {
        AwsFailure::BadCredentials
    } else if has(&["accessdenied", "access denied", "not authorized"]) {
        AwsFailure::AccessDenied
    } else if has(&[
        "nonexistentqueue",
        "queuedoesnotexist",
        "queue does not exist",
    ]) {
        AwsFailure::NoSuchQueue
    } else if has(&["nosuchbucket", "nosuchkey", "bucket does not exist"]) {
        AwsFailure::NoSuchBucket
    } else if has(&["timed out", "timeout"]) {
        AwsFailure::Timeout
    } else {
        AwsFailure::Other
    }
}

/// The one line for an AWS error: `<what failed>: <why> (endpoint …, region …, credentials …).
/// Check <hint>. Full error: RELAYCTL_LOG=debug`. `headline` is the error's own message (only
/// its part before the first `": "` is kept: the rest is the SDK's chain).
pub fn one_line(headline: &str, chain: &str, aws: &AwsSettings) -> String {
    let what = headline.split(": ").next().unwrap_or(headline).trim();
    let failure = classify(chain);
    let endpoint = aws.endpoint.as_deref();
    let (why, hint) = match failure {
        AwsFailure::Refused | AwsFailure::NoSuchHost | AwsFailure::Timeout => {
            let why = match failure {
                AwsFailure::Refused => "connection refused",
                AwsFailure::NoSuchHost => "the host name does not resolve",
                _ => "no answer in time",
            };
            let hint = match endpoint {
                Some(_) => {
                    "AWS_ENDPOINT_URL: is the emulator (e.g. moto, infra/demo.sh --keep) running \
                     there? Unset it to use AWS"
                }
                None => "the network (HTTPS_PROXY) and the region",
            };
            (why, hint)
        }
        AwsFailure::NoCredentials => (
            "no AWS credentials found",
            "AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
        ),
        AwsFailure::BadCredentials => (
            "AWS refused the credentials",
            "that they are current (`aws sso login`) and belong to the stack's account",
        ),
        AwsFailure::AccessDenied => (
            "access denied",
            "the identity's IAM policy for this queue or bucket",
        ),
        AwsFailure::NoSuchQueue => (
            "the queue does not exist",
            "DLQ_URL / RETRY_QUEUE_URL (the stack outputs) and the region",
        ),
        AwsFailure::NoSuchBucket => (
            "the bucket or object does not exist",
            "ARCHIVE_BUCKET (the stack output ArchiveBucketName) and the region",
        ),
        AwsFailure::Other => (
            "AWS call failed",
            "the settings above; the full error names the cause",
        ),
    };
    // Without a region the SDK cannot sign for AWS: say so first (an emulator does not care).
    let region_hint = if aws.region.is_none() && endpoint.is_none() {
        "AWS_REGION (no region was found; e.g. AWS_REGION=eu-west-1), then "
    } else {
        ""
    };
    format!(
        "{what}: {why} (endpoint {}, region {}, credentials: {}). Check {region_hint}{hint}. \
         Full error: RELAYCTL_LOG=debug",
        endpoint.unwrap_or("AWS's for the region"),
        aws.region.as_deref().unwrap_or("none found"),
        aws.credentials,
    )
}

/// Whether `RELAYCTL_LOG`'s value asks for the full error chain (`debug` or `trace` anywhere in
/// its directives).
pub fn wants_full_chain(log_var: Option<&str>) -> bool {
    log_var.is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        v.contains("debug") || v.contains("trace")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(endpoint: Option<&str>) -> AwsSettings {
        AwsSettings {
            endpoint: endpoint.map(str::to_owned),
            region: Some("eu-west-1".into()),
            credentials: "AWS_ACCESS_KEY_ID from the environment".into(),
        }
    }

    #[test]
    fn a_refused_connection_names_the_endpoint_and_aws_endpoint_url() {
        let chain = "ReceiveMessage from http://127.0.0.1:9/123/dlq failed: dispatch failure: io \
                     error: client error (Connect): tcp connect error: Connection refused (os \
                     error 111)";
        let line = one_line(chain, chain, &settings(Some("http://127.0.0.1:9")));
        assert_eq!(
            line,
            "ReceiveMessage from http://127.0.0.1:9/123/dlq failed: connection refused \
             (endpoint http://127.0.0.1:9, region eu-west-1, credentials: AWS_ACCESS_KEY_ID \
             from the environment). Check AWS_ENDPOINT_URL: is the emulator (e.g. moto, \
             infra/demo.sh --keep) running there? Unset it to use AWS. Full error: \
             RELAYCTL_LOG=debug"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn each_failure_is_recognised_from_the_sdk_text() {
        for (text, want) in [
            (
                "dns error: failed to lookup address information",
                AwsFailure::NoSuchHost,
            ),
            ("operation timed out", AwsFailure::Timeout),
            (
                "the credential provider was not enabled: no credentials in the chain",
                AwsFailure::NoCredentials,
            ),
            (
                "InvalidClientTokenId: The security token included in the request is invalid",
                AwsFailure::BadCredentials,
            ),
            ("AccessDenied: not allowed", AwsFailure::AccessDenied),
            (
                "AWS.SimpleQueueService.NonExistentQueue",
                AwsFailure::NoSuchQueue,
            ),
            ("QueueDoesNotExist", AwsFailure::NoSuchQueue),
            ("NoSuchBucket", AwsFailure::NoSuchBucket),
            (
                "dispatch failure: other: an error occurred while loading credentials: failed \
                 to load IMDS session token",
                AwsFailure::NoCredentials,
            ),
            ("something else", AwsFailure::Other),
        ] {
            assert_eq!(classify(text), want, "{text}");
        }
    }

    #[test]
    fn without_an_endpoint_the_hint_is_the_network_and_the_defaults_are_named() {
        let aws = AwsSettings::from_lookup(|_| None, None);
        assert_eq!(aws.endpoint, None);
        let line = one_line("GetQueueAttributes failed: x", "Connection refused", &aws);
        assert!(line.starts_with("GetQueueAttributes failed: connection refused (endpoint AWS's for the region, region none found, credentials: the default chain"), "{line}");
        assert!(
            line.contains(
                "Check AWS_REGION (no region was found; e.g. AWS_REGION=eu-west-1), then the \
                 network (HTTPS_PROXY) and the region."
            ),
            "{line}"
        );
        let with_region = AwsSettings::from_lookup(|_| None, Some("eu-west-1".into()));
        let chain = "ReceiveMessage on https://sqs.eu-west-1.amazonaws.com/1/dlq failed: dispatch \
                     failure: other: an error occurred while loading credentials: failed to load \
                     IMDS session token";
        assert_eq!(
            one_line(chain, chain, &with_region),
            "ReceiveMessage on https://sqs.eu-west-1.amazonaws.com/1/dlq failed: no AWS \
             credentials found (endpoint AWS's for the region, region eu-west-1, credentials: \
             the default chain (profile default in ~/.aws, SSO, container or instance role)). \
             Check AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID / \
             AWS_SECRET_ACCESS_KEY. Full error: RELAYCTL_LOG=debug"
        );
    }

    #[test]
    fn the_credentials_source_follows_the_sdk_chain_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let both = AwsSettings::from_lookup(
            env(&[("AWS_ACCESS_KEY_ID", "k"), ("AWS_PROFILE", "p")]),
            None,
        );
        assert_eq!(both.credentials, "AWS_ACCESS_KEY_ID from the environment");
        let profile = AwsSettings::from_lookup(
            env(&[("AWS_PROFILE", "oncall"), ("AWS_ENDPOINT_URL", "http://x")]),
            None,
        );
        assert_eq!(profile.credentials, "profile oncall (AWS_PROFILE)");
        assert_eq!(profile.endpoint.as_deref(), Some("http://x"));
        let sqs = AwsSettings::from_lookup(
            env(&[
                ("AWS_ENDPOINT_URL_SQS", "http://sqs"),
                ("AWS_ENDPOINT_URL", "http://x"),
            ]),
            None,
        );
        assert_eq!(sqs.endpoint.as_deref(), Some("http://sqs"));
    }

    #[test]
    fn only_debug_or_trace_asks_for_the_full_chain() {
        assert!(wants_full_chain(Some("debug")));
        assert!(wants_full_chain(Some("warn,relayctl=TRACE")));
        assert!(!wants_full_chain(Some("info")));
        assert!(!wants_full_chain(None));
    }
}
