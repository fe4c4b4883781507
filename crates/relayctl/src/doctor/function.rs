//! The deployed functions' configuration (Lambda `GetFunctionConfiguration`, metadata only: the
//! environment's values are read, never a secret's value), shared by the checks that compare the
//! stack with the forwarder's own settings (retry schedule, timeout, WFM URL, secret ARNs, role).
//!
//! Source: AWS Lambda API Reference, "GetFunctionConfiguration" (returns `Timeout` in seconds,
//! `Role` as an ARN, `Environment.Variables`, `FunctionArn`).

use super::gather::Unreachable;
use std::collections::BTreeMap;

/// The AWS clients doctor needs beyond SQS and S3 (built from one `SdkConfig`, so endpoint,
/// region and credentials agree with the SQS / S3 clients).
#[derive(Debug, Clone)]
pub struct DoctorClients {
    /// AWS Lambda (function configuration, event source mappings, async invoke config).
    pub lambda: aws_sdk_lambda::Client,
    /// Amazon EventBridge (bus, rule, targets).
    pub events: aws_sdk_eventbridge::Client,
    /// Amazon CloudWatch (alarms).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// AWS IAM (the function roles' policies).
    pub iam: aws_sdk_iam::Client,
    /// AWS CloudFormation (`--stack`: DescribeStackResources).
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// AWS Secrets Manager (DescribeSecret: metadata only).
    pub secrets: aws_sdk_secretsmanager::Client,
    /// AWS Systems Manager Parameter Store (DescribeParameters: metadata only).
    pub ssm: aws_sdk_ssm::Client,
}

impl DoctorClients {
    /// Builds every client from `conf` (`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` apply
    /// as for the SQS and S3 clients; AWS SDK developer guide, "Service-specific endpoints").
    pub fn from_sdk_config(conf: &aws_config::SdkConfig) -> Self {
        DoctorClients {
            lambda: aws_sdk_lambda::Client::new(conf),
            events: aws_sdk_eventbridge::Client::new(conf),
            cloudwatch: aws_sdk_cloudwatch::Client::new(conf),
            iam: aws_sdk_iam::Client::new(conf),
            cloudformation: aws_sdk_cloudformation::Client::new(conf),
            secrets: aws_sdk_secretsmanager::Client::new(conf),
            ssm: aws_sdk_ssm::Client::new(conf),
        }
    }
}

/// What `GetFunctionConfiguration` says of one function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionFacts {
    /// The function's name.
    pub name: String,
    /// Its ARN (`FunctionArn`).
    pub arn: String,
    /// Its execution role's ARN (`Role`).
    pub role_arn: String,
    /// Its timeout in seconds (`Timeout`).
    pub timeout_s: u64,
    /// Its environment variables (`Environment.Variables`; empty when it has none).
    pub environment: BTreeMap<String, String>,
}

impl FunctionFacts {
    /// The value of one environment variable, `None` when unset or blank.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.environment
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The role's name: the last path segment of [`FunctionFacts::role_arn`]
    /// (`arn:aws:iam::123456789012:role/path/name` → `name`).
    pub fn role_name(&self) -> &str {
        self.role_arn.rsplit('/').next().unwrap_or(&self.role_arn)
    }
}

/// Reads one function's configuration; `Ok(None)` when the function does not exist.
///
/// # Errors
/// [`Unreachable`] for any other AWS error (`variable` names the setting that named the function).
pub async fn function_facts(
    clients: &DoctorClients,
    name: &str,
    variable: &str,
) -> Result<Option<FunctionFacts>, Unreachable> {
    match clients
        .lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(FunctionFacts {
            name: out.function_name.unwrap_or_else(|| name.to_owned()),
            arn: out.function_arn.unwrap_or_default(),
            role_arn: out.role.unwrap_or_default(),
            timeout_s: out.timeout.map_or(0, |t| u64::try_from(t).unwrap_or(0)),
            environment: out
                .environment
                .and_then(|e| e.variables)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })),
        Err(e) => {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                Ok(None)
            } else {
                Err(Unreachable {
                    call: format!("GetFunctionConfiguration ({variable} {name})"),
                    chain: format!("{e:?}"),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_name_and_blank_variables() {
        let f = FunctionFacts {
            role_arn: "arn:aws:iam::123456789012:role/service/wfm-relay-ForwarderRole-AB"
                .to_owned(),
            environment: [
                ("WFM_URL".to_owned(), " https://wfm.example/x ".to_owned()),
                ("RETRY_SCHEDULE".to_owned(), "  ".to_owned()),
            ]
            .into_iter()
            .collect(),
            ..FunctionFacts::default()
        };
        assert_eq!(f.role_name(), "wfm-relay-ForwarderRole-AB");
        assert_eq!(f.var("WFM_URL"), Some("https://wfm.example/x"));
        assert_eq!(f.var("RETRY_SCHEDULE"), None);
        assert_eq!(f.var("ABSENT"), None);
    }
}
