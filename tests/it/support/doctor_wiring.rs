//! The parts of the wired stack ([`super::doctor_stack::WiredStack`]) that doctor's alarm,
//! secret, role-policy and profile checks read, added to the one builder (never a second one):
//!
//! * every alarm template.yaml defines (logical ids read from the template), named as
//!   CloudFormation names them, `<prefix><LogicalId>-<suffix>`, with its actions enabled and one
//!   alarm action (an SNS topic ARN; moto does not check it);
//! * a Secrets Manager secret (`WFM_AUTH_TOKEN_SECRET_ARN` of both functions), named in the
//!   forwarder role's inline policy (exact ARN) and the replayer role's attached managed policy
//!   (a `secret:<name>-*` wildcard, as a secret's random suffix needs);
//! * the replayer function and its role;
//! * the forwarder's profile `s3://<bucket>/profiles/agent-state.json` and its mapping table
//!   `s3://<bucket>/profiles/mapping.csv`.

use super::doctor_stack::{FnClients, create_function};
use super::unique;
use aws_sdk_lambda::types::Environment;
use wfm_relay_aws::aws::AwsClients;

/// The SNS topic every alarm notifies (the template's AlarmTopic).
pub const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:dr-AlarmTopic";
/// The key of the forwarder's profile in the archive bucket.
pub const PROFILE_KEY: &str = "profiles/agent-state.json";
/// The key of its mapping table.
pub const MAPPING_KEY: &str = "profiles/mapping.csv";
/// The forwarder role's inline policy naming the secret.
pub const SECRETS_POLICY: &str = "wfm-secrets";

/// The logical ids of template.yaml's unconditional `AWS::CloudWatch::Alarm` resources (the
/// three `Snapshot*` alarms exist only with the snapshot function).
pub fn template_alarms() -> Vec<String> {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let tpl = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines: Vec<&str> = tpl.lines().collect();
    let ids: Vec<String> = lines
        .windows(2)
        .filter(|w| w[1].trim() == "Type: AWS::CloudWatch::Alarm")
        .filter_map(|w| w[0].trim().strip_suffix(':').map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 13, "template.yaml's alarms: {ids:?}");
    // The stack of these tests has no snapshot function: its three conditional alarms are not
    // expected (relayctl doctor's alarms::expected(false)).
    ids.into_iter()
        .filter(|id| !id.starts_with("Snapshot"))
        .collect()
}

/// What [`Wiring::create`] made.
pub struct Wiring {
    /// CloudWatch.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// `ALARM_PREFIX` (`<stack>-`).
    pub alarm_prefix: String,
    /// The secret's ARN.
    pub secret_arn: String,
    /// The secret's name.
    pub secret_name: String,
    /// The forwarder role's name.
    pub forwarder_role: String,
    /// The replayer function's name.
    pub replayer: String,
}

/// The alarm of `logical_id` under `prefix`, as CloudFormation names it.
pub fn alarm_name(prefix: &str, logical_id: &str) -> String {
    format!("{prefix}{logical_id}-1A2B3C4D5E6F")
}

/// Creates the role `name` that Lambda may assume (the functions' execution role); its ARN.
pub async fn lambda_role(iam: &aws_sdk_iam::Client, name: &str) -> String {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateRole {name}: {e:?}"))
        .role
        .map(|r| r.arn)
        .unwrap_or_else(|| panic!("CreateRole {name}: no role"))
}

/// A policy document allowing `action` on `resource`.
pub fn allow(action: &str, resource: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ReadSecret", "Effect": "Allow", "Action": action, "Resource": resource}]
    })
    .to_string()
}

impl Wiring {
    /// Adds the alarms, the secret and its policies, the replayer and the profile to the stack
    /// of `forwarder` (whose role is `forwarder_role_arn`) and `bucket`.
    pub async fn create(
        aws: &AwsClients,
        fns: &FnClients,
        forwarder: &str,
        forwarder_role_arn: &str,
        bucket: &str,
    ) -> Wiring {
        let conf = aws_config::load_from_env().await;
        let w = Wiring {
            cloudwatch: aws_sdk_cloudwatch::Client::new(&conf),
            secrets: aws_sdk_secretsmanager::Client::new(&conf),
            alarm_prefix: format!("{}-", unique("dr-stack")),
            secret_arn: String::new(),
            secret_name: unique("dr-token"),
            forwarder_role: forwarder_role_arn
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            replayer: unique("dr-replayer"),
        };
        for id in template_alarms() {
            w.put_alarm(&id, true).await;
        }
        let secret_arn = w
            .secrets
            .create_secret()
            .name(&w.secret_name)
            .secret_string("token-of-the-test")
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateSecret: {e:?}"))
            .arn
            .unwrap_or_else(|| panic!("CreateSecret: no ARN"));
        let w = Wiring { secret_arn, ..w };
        w.name_secret_in_forwarder_policy(&w.secret_arn).await;

        let replayer_role = unique("dr-replayer-role");
        let replayer_role_arn = lambda_role(&fns.iam, &replayer_role).await;
        let wildcard = format!("{}*", &w.secret_arn[..w.secret_arn.len() - "-AbCdEf".len()]);
        let managed = fns
            .iam
            .create_policy()
            .policy_name(unique("dr-replayer-secrets"))
            .policy_document(allow("secretsmanager:GetSecretValue", &wildcard))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreatePolicy: {e:?}"))
            .policy
            .and_then(|p| p.arn)
            .unwrap_or_else(|| panic!("CreatePolicy: no ARN"));
        fns.iam
            .attach_role_policy()
            .role_name(&replayer_role)
            .policy_arn(&managed)
            .send()
            .await
            .unwrap_or_else(|e| panic!("AttachRolePolicy: {e:?}"));
        create_function(
            fns,
            &w.replayer,
            &replayer_role_arn,
            900,
            Environment::builder()
                .variables("WFM_AUTH_TOKEN_SECRET_ARN", &w.secret_arn)
                .build(),
        )
        .await;

        for (key, body) in [
            (PROFILE_KEY, wfm_relay_profile_json()),
            (
                MAPPING_KEY,
                "genesys_user_id,wfm_agent_id\nu-1,a-1\n".to_owned(),
            ),
        ] {
            aws.s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body.into_bytes().into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
        }
        w.set_function_vars(
            fns,
            forwarder,
            &[
                ("WFM_AUTH_TOKEN_SECRET_ARN", w.secret_arn.clone()),
                ("WFM_PROFILE", format!("s3://{bucket}/{PROFILE_KEY}")),
                (
                    "WFM_PROFILE_MAPPING",
                    format!("s3://{bucket}/{MAPPING_KEY}"),
                ),
            ],
        )
        .await;
        w
    }

    /// Puts the alarm of `logical_id` (actions enabled or not, one alarm action).
    pub async fn put_alarm(&self, logical_id: &str, actions_enabled: bool) {
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(alarm_name(&self.alarm_prefix, logical_id))
            .namespace("AWS/SQS")
            .metric_name("ApproximateNumberOfMessagesVisible")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold,
            )
            .actions_enabled(actions_enabled)
            .alarm_actions(TOPIC)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutMetricAlarm {logical_id}: {e:?}"));
    }

    /// Deletes the alarm of `logical_id`.
    pub async fn delete_alarm(&self, logical_id: &str) {
        self.cloudwatch
            .delete_alarms()
            .alarm_names(alarm_name(&self.alarm_prefix, logical_id))
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteAlarms {logical_id}: {e:?}"));
    }

    /// Replaces the forwarder role's inline policy [`SECRETS_POLICY`]: GetSecretValue on
    /// `resource`.
    pub async fn name_secret_in_forwarder_policy(&self, resource: &str) {
        let conf = aws_config::load_from_env().await;
        aws_sdk_iam::Client::new(&conf)
            .put_role_policy()
            .role_name(&self.forwarder_role)
            .policy_name(SECRETS_POLICY)
            .policy_document(allow("secretsmanager:GetSecretValue", resource))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutRolePolicy: {e:?}"));
    }

    /// Sets `vars` in `function`'s environment, keeping the others.
    pub async fn set_function_vars(
        &self,
        fns: &FnClients,
        function: &str,
        vars: &[(&str, String)],
    ) {
        let mut env = fns
            .lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetFunctionConfiguration {function}: {e:?}"))
            .environment
            .and_then(|e| e.variables)
            .unwrap_or_default();
        for (k, v) in vars {
            env.insert((*k).to_owned(), v.clone());
        }
        fns.lambda
            .update_function_configuration()
            .function_name(function)
            .environment(Environment::builder().set_variables(Some(env)).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("UpdateFunctionConfiguration {function}: {e:?}"));
    }

    /// The variables doctor reads for these parts.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("REPLAYER_FUNCTION", self.replayer.clone()),
            ("ALARM_PREFIX", self.alarm_prefix.clone()),
        ]
    }
}

/// The shipped `agent-state` profile's JSON (the forwarder's profile object; doctor only asks
/// whether it exists).
fn wfm_relay_profile_json() -> String {
    let path = format!(
        "{}/../crates/wfm-relay-profile/profiles/agent-state.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
