//! IAM in the template: the replayer is least-privilege and has no event source, no policy
//! statement names every resource unless justified, and secrets and the metrics namespace are
//! scoped to the parameters.

use serde_json::{Value as Json, json};

use super::cfn::{json_str, param_default, resolve_u64, resource, resources_of_type, template};

/// The replayer is started by hand only, has the longest timeout, and its role reaches only the
/// DLQ, the retry queue, the archive prefix and its own log group (PRODUCT.md §6, §7).
#[test]
fn replayer_function_is_least_privilege_and_has_no_event_source() {
    let tpl = template();
    let meta = &tpl["Resources"]["ReplayerFunction"]["Metadata"];
    assert_eq!(meta["BuildMethod"], "rust-cargolambda");
    assert_eq!(meta["BuildProperties"]["Binary"], "wfm-relay-replayer");
    let function = resource(&tpl, "ReplayerFunction");
    assert_eq!(function["Runtime"], "provided.al2023");
    assert_eq!(
        function["Architectures"],
        json!([{ "Ref": "Architecture" }])
    );
    let timeout = resolve_u64(&tpl, &function["Timeout"], "ReplayerFunction.Timeout");
    assert_eq!(timeout, 900);
    assert!(
        function["Events"].is_null(),
        "the replayer must have no event source: {}",
        function["Events"]
    );
    let env = &function["Environment"]["Variables"];
    assert_eq!(
        resolve_u64(&tpl, &env["FUNCTION_TIMEOUT_S"], "FUNCTION_TIMEOUT_S"),
        timeout,
        "FUNCTION_TIMEOUT_S must equal Timeout"
    );
    assert_eq!(env["RETRY_QUEUE_URL"], json!({ "Ref": "RetryQueue" }));
    assert_eq!(env["DLQ_URL"], json!({ "Ref": "DeadLetterQueue" }));
    assert_eq!(env["ARCHIVE_BUCKET"], json!({ "Ref": "ArchiveBucket" }));
    assert_eq!(env["WFM_URL"], json!({ "Ref": "WfmUrl" }));

    // Its own role, with inline statements only (no managed policy with "*" resources).
    assert_eq!(
        function["Role"],
        json!({ "Fn::GetAtt": ["ReplayerRole", "Arn"] })
    );
    assert!(
        function["Policies"].is_null(),
        "no SAM policy templates: {}",
        function["Policies"]
    );
    let role = resource(&tpl, "ReplayerRole");
    assert!(
        role["ManagedPolicyArns"].is_null(),
        "no managed policies: {}",
        role["ManagedPolicyArns"]
    );
    let mut statements: Vec<&Json> = Vec::new();
    for policy in role["Policies"]
        .as_array()
        .expect("ReplayerRole has Policies")
    {
        for s in policy["PolicyDocument"]["Statement"]
            .as_array()
            .expect("a Statement list")
        {
            // `!If [HasAuthSecret, statement, NoValue]` (and HasSigningSecret): check the statement
            // it may add.
            match s.get("Fn::If").and_then(Json::as_array) {
                Some(branches) => statements.push(&branches[1]),
                None => statements.push(s),
            }
        }
    }

    let dlq_arn = json!({ "Fn::GetAtt": ["DeadLetterQueue", "Arn"] });
    let retry_arn = json!({ "Fn::GetAtt": ["RetryQueue", "Arn"] });
    let bucket_arn = json!({ "Fn::GetAtt": ["ArchiveBucket", "Arn"] });
    let objects_arn = json!({ "Fn::Sub": "${ArchiveBucket.Arn}/dead-letters/*" });
    let log_group_arn = json!({ "Fn::GetAtt": ["ReplayerLogGroup", "Arn"] });
    let secret = json!({ "Ref": "WfmAuthTokenSecretArn" });
    let signing_secret = json!({ "Ref": "WfmSigningSecretArn" });
    // The WFM profile's object or parameter and its mapping object: exactly the parameters'.
    let s3_object = |param: &str| {
        json!({ "Fn::Join": ["", [
            { "Fn::Sub": "arn:${AWS::Partition}:s3:::" },
            { "Fn::Select": [1, { "Fn::Split": ["s3://", { "Ref": param }] }] }
        ]] })
    };
    let profile_object = s3_object("WfmProfile");
    let mapping_object = s3_object("WfmProfileMapping");
    let user_fields_object = s3_object("WfmProfileUserFields");
    let profile_parameter = json!({ "Fn::Join": ["", [
        { "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/" },
        { "Fn::Select": [1, { "Fn::Split": ["ssm:/", { "Ref": "WfmProfile" }] }] }
    ]] });
    let oauth = json!({ "Ref": "WfmOAuthClientSecretArn" });
    let api_key = json!({ "Ref": "WfmApiKeySecretArn" });
    let user = json!({ "Ref": "WfmBasicUserSecretArn" });
    let pw = json!({ "Ref": "WfmBasicPasswordSecretArn" });
    // The snapshot action's Genesys Cloud OAuth client secret (issue 12).
    let genesys = json!({ "Ref": "GenesysClientSecretArn" });
    let actions_of = |s: &Json| -> Vec<String> {
        match &s["Action"] {
            Json::String(a) => vec![a.clone()],
            Json::Array(v) => v
                .iter()
                .map(|a| json_str(a, "Action").to_string())
                .collect(),
            other => panic!("Action is neither a string nor a list: {other}"),
        }
    };
    let mut granted: Vec<(String, Json)> = Vec::new();
    for s in &statements {
        assert_eq!(s["Effect"], "Allow", "{s}");
        assert!(
            s.get("NotAction").is_none() && s.get("NotResource").is_none(),
            "{s}"
        );
        let resources: Vec<Json> = match &s["Resource"] {
            Json::Array(v) => v.clone(),
            Json::Null => panic!("statement without Resource: {s}"),
            one => vec![one.clone()],
        };
        for action in actions_of(s) {
            assert!(!action.contains('*'), "wildcard action {action} in {s}");
            let service = action.split(':').next().unwrap_or("");
            for r in &resources {
                assert_ne!(r, &json!("*"), "`*` resource for {action}");
                let allowed: &[&Json] = match service {
                    "sqs" => &[&dlq_arn, &retry_arn],
                    "s3" => &[
                        &bucket_arn,
                        &objects_arn,
                        &profile_object,
                        &mapping_object,
                        &user_fields_object,
                    ],
                    "logs" => &[&log_group_arn],
                    "secretsmanager" => &[
                        &secret,
                        &signing_secret,
                        &oauth,
                        &api_key,
                        &user,
                        &pw,
                        &genesys,
                    ],
                    "ssm" => &[&profile_parameter],
                    other => panic!("unexpected service {other} in {s}"),
                };
                assert!(
                    allowed.contains(&r),
                    "{action} on {r}: only {allowed:?} are allowed"
                );
                granted.push((action.clone(), r.clone()));
            }
        }
    }

    // Exactly what the replayer calls (wfm-relay-aws's queues and archive), nothing more.
    let mut want: Vec<(String, Json)> = Vec::new();
    for a in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
    ] {
        want.push((a.into(), dlq_arn.clone()));
    }
    for a in ["sqs:SendMessage", "sqs:GetQueueAttributes"] {
        want.push((a.into(), retry_arn.clone()));
    }
    for a in ["s3:PutObject", "s3:GetObject"] {
        want.push((a.into(), objects_arn.clone()));
    }
    want.push(("s3:ListBucket".into(), bucket_arn.clone()));
    for a in ["logs:CreateLogStream", "logs:PutLogEvents"] {
        want.push((a.into(), log_group_arn.clone()));
    }
    want.push(("secretsmanager:GetSecretValue".into(), secret));
    want.push(("secretsmanager:GetSecretValue".into(), signing_secret));
    want.push(("s3:GetObject".into(), profile_object));
    want.push(("s3:GetObject".into(), mapping_object));
    want.push(("s3:GetObject".into(), user_fields_object));
    want.push(("ssm:GetParameter".into(), profile_parameter));
    for auth_secret in [oauth, api_key, user, pw, genesys] {
        want.push(("secretsmanager:GetSecretValue".into(), auth_secret));
    }
    let key = |p: &(String, Json)| format!("{} {}", p.0, p.1);
    granted.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(granted, want);

    // ListBucket only under the archive prefix.
    let list = statements
        .iter()
        .find(|s| actions_of(s) == ["s3:ListBucket"])
        .expect("a ListBucket statement");
    assert_eq!(
        list["Condition"]["StringLike"]["s3:prefix"],
        json!(["dead-letters/*"])
    );

    // Logs go to its own group, with a retention.
    assert_eq!(
        function["LoggingConfig"]["LogGroup"],
        json!({ "Ref": "ReplayerLogGroup" })
    );
    assert!(resource(&tpl, "ReplayerLogGroup")["RetentionInDays"].is_u64());
    assert_eq!(
        tpl["Outputs"]["ReplayerFunctionName"]["Value"],
        json!({ "Ref": "ReplayerFunction" })
    );
}

/// Every policy statement of the template (role policies, queue and bucket policies), with its
/// resource's name; both branches of `Fn::If` count, `AWS::NoValue` does not.
fn policy_statements(tpl: &Json) -> Vec<(String, Json)> {
    fn collect(owner: &str, v: &Json, out: &mut Vec<(String, Json)>) {
        match v {
            Json::Object(o) => {
                if let Some(statement) = o.get("Statement") {
                    let list = match statement {
                        Json::Array(items) => items.clone(),
                        one => vec![one.clone()],
                    };
                    for s in list {
                        push_statement(owner, &s, out);
                    }
                }
                for (k, child) in o {
                    if k != "Statement" {
                        collect(owner, child, out);
                    }
                }
            }
            Json::Array(items) => items.iter().for_each(|i| collect(owner, i, out)),
            _ => {}
        }
    }
    fn push_statement(owner: &str, s: &Json, out: &mut Vec<(String, Json)>) {
        if let Some(branches) = s.get("Fn::If").and_then(Json::as_array) {
            for b in branches.iter().skip(1) {
                push_statement(owner, b, out);
            }
        } else if s != &json!({ "Ref": "AWS::NoValue" }) {
            out.push((owner.to_string(), s.clone()));
        }
    }
    let mut out = Vec::new();
    for (name, r) in tpl["Resources"].as_object().expect("Resources") {
        collect(name, &r["Properties"], &mut out);
    }
    out
}

/// Statements allowed to name every resource (`"*"`), as (resource, Sid), each with its reason.
/// None today: X-Ray tracing is not enabled (it would need `xray:PutTraceSegments` on `*`), and
/// logs go to each function's own log group instead of AWSLambdaBasicExecutionRole's `*`.
const JUSTIFIED_WILDCARD_RESOURCES: &[(&str, &str)] = &[];

#[test]
fn no_policy_statement_names_every_resource_unless_justified() {
    let tpl = template();
    let statements = policy_statements(&tpl);
    // The walk finds the statements we know of (roles, queue policy, bucket policy).
    for (owner, sid) in [
        ("ForwarderRole", "RetryQueue"),
        ("ForwarderRole", "Logs"),
        ("ForwarderRole", "WfmSigningSecret"),
        ("ReplayerRole", "ArchiveList"),
        ("DeadLetterQueuePolicy", "PartnerRuleDeadLetters"),
        ("ArchiveBucketPolicy", "DenyInsecureTransport"),
    ] {
        assert!(
            statements
                .iter()
                .any(|(o, s)| o == owner && s["Sid"] == sid),
            "statement {owner}/{sid} not found"
        );
    }
    let mut wildcard: Vec<(String, String)> = Vec::new();
    for (owner, s) in &statements {
        assert!(
            s.get("NotResource").is_none(),
            "NotResource in {owner}: {s}"
        );
        let resources = match &s["Resource"] {
            Json::Array(v) => v.clone(),
            one => vec![one.clone()],
        };
        assert!(!resources.is_empty(), "{owner}: {s}");
        if resources
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r == "*" || r.ends_with(":*")))
        {
            wildcard.push((owner.clone(), s["Sid"].as_str().unwrap_or("").to_string()));
        }
    }
    let justified: Vec<(String, String)> = JUSTIFIED_WILDCARD_RESOURCES
        .iter()
        .map(|(o, s)| (o.to_string(), s.to_string()))
        .collect();
    assert_eq!(wildcard, justified);

    // No managed policies (AWS managed ones such as AWSLambdaBasicExecutionRole allow "*") and
    // no SAM policy templates on the functions.
    for role in resources_of_type(&tpl, "AWS::IAM::Role") {
        let p = resource(&tpl, &role);
        assert!(
            p["ManagedPolicyArns"].is_null(),
            "{role}: {}",
            p["ManagedPolicyArns"]
        );
    }
    for f in resources_of_type(&tpl, "AWS::Serverless::Function") {
        let p = resource(&tpl, &f);
        assert!(p["Policies"].is_null(), "{f}: {}", p["Policies"]);
        assert!(
            p["Role"]["Fn::GetAtt"].is_array(),
            "{f} needs an explicit role"
        );
    }
}

/// Every function gets the metrics namespace and the optional secrets; each role may read exactly
/// the secret ARNs given, only when given, and the forwarder logs to its own group.
#[test]
fn functions_get_secrets_and_metrics_namespace_scoped_to_the_parameters() {
    let tpl = template();
    assert_eq!(param_default(&tpl, "WfmAuthTokenSecretArn"), "");
    assert_eq!(param_default(&tpl, "WfmSigningSecretArn"), "");
    let secrets = [
        (
            "WfmAuthTokenSecretArn",
            "HasAuthSecret",
            "WFM_AUTH_TOKEN_SECRET_ARN",
            "WfmAuthToken",
        ),
        (
            "WfmSigningSecretArn",
            "HasSigningSecret",
            "WFM_SIGNING_SECRET_ARN",
            "WfmSigningSecret",
        ),
        // Destination auth (issue 11): each mode's secret, read only when its ARN is set.
        (
            "WfmOAuthClientSecretArn",
            "HasOAuthSecret",
            "WFM_OAUTH_CLIENT_SECRET_ARN",
            "WfmOAuthClientSecret",
        ),
        (
            "WfmApiKeySecretArn",
            "HasApiKeySecret",
            "WFM_API_KEY_ARN",
            "WfmApiKey",
        ),
        (
            "WfmBasicUserSecretArn",
            "HasBasicUserSecret",
            "WFM_BASIC_USER_ARN",
            "WfmBasicUser",
        ),
        (
            "WfmBasicPasswordSecretArn",
            "HasBasicPasswordSecret",
            "WFM_BASIC_PASSWORD_ARN",
            "WfmBasicPassword",
        ),
    ];
    for (param, condition, _, _) in secrets {
        assert_eq!(
            tpl["Conditions"][condition],
            json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": param }, ""] }] }),
            "{condition}"
        );
    }
    for (function, role) in [
        ("ForwarderFunction", "ForwarderRole"),
        ("ReplayerFunction", "ReplayerRole"),
        ("SnapshotFunction", "SnapshotRole"),
    ] {
        let env = &resource(&tpl, function)["Environment"]["Variables"];
        assert_eq!(
            env["METRICS_NAMESPACE"],
            json!({ "Ref": "MetricsNamespace" }),
            "{function}"
        );
        let statements: Vec<&Json> = resource(&tpl, role)["Policies"]
            .as_array()
            .expect("Policies")
            .iter()
            .flat_map(|p| {
                p["PolicyDocument"]["Statement"]
                    .as_array()
                    .expect("Statement")
            })
            .collect();
        for (param, condition, var, sid) in secrets {
            assert_eq!(
                env[var],
                json!({ "Fn::If": [condition, { "Ref": param }, { "Ref": "AWS::NoValue" }] }),
                "{function}.{var}"
            );
            let want = json!({ "Fn::If": [
                condition,
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": { "Ref": param }
                },
                { "Ref": "AWS::NoValue" }
            ] });
            assert_eq!(
                statements.iter().filter(|s| **s == &want).count(),
                1,
                "{role} must read {param} only when it is set"
            );
        }
        // The snapshot action's Genesys client secret: the replayer and the snapshot function.
        let genesys = json!({ "Fn::If": [
            "HasGenesysSecret",
            {
                "Sid": "GenesysClientSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": { "Ref": "GenesysClientSecretArn" }
            },
            { "Ref": "AWS::NoValue" }
        ] });
        let reads_genesys = usize::from(role != "ForwarderRole");
        assert_eq!(
            statements.iter().filter(|s| **s == &genesys).count(),
            reads_genesys,
            "{role}"
        );
        // No other statement reaches Secrets Manager.
        let secret_statements = statements
            .iter()
            .filter(|s| s.to_string().contains("secretsmanager"))
            .count();
        assert_eq!(secret_statements, secrets.len() + reads_genesys, "{role}");
    }

    // The forwarder logs to its own group, which its role alone may write.
    let forwarder = resource(&tpl, "ForwarderFunction");
    assert_eq!(
        forwarder["LoggingConfig"]["LogGroup"],
        json!({ "Ref": "ForwarderLogGroup" })
    );
    assert!(resource(&tpl, "ForwarderLogGroup")["RetentionInDays"].is_u64());
    let logs = policy_statements(&tpl)
        .into_iter()
        .find(|(o, s)| o == "ForwarderRole" && s["Sid"] == "Logs")
        .map(|(_, s)| s)
        .expect("ForwarderRole has a Logs statement");
    assert_eq!(
        logs["Resource"],
        json!({ "Fn::GetAtt": ["ForwarderLogGroup", "Arn"] })
    );
    assert_eq!(
        logs["Action"],
        json!(["logs:CreateLogStream", "logs:PutLogEvents"])
    );
}

/// The profile's tables (issue 13 item 6): `WfmProfileMapping` and `WfmProfileUserFields`
/// (default empty = none) reach the forwarder, the replayer and the snapshot function as `WFM_PROFILE_MAPPING` /
/// `WFM_PROFILE_USER_FIELDS` only when set, and each role may `s3:GetObject` exactly that
/// object, only when set.
#[test]
fn profile_tables_are_wired_and_readable_exactly() {
    let tpl = template();
    for (param, condition, var, sid) in [
        (
            "WfmProfileMapping",
            "HasProfileMapping",
            "WFM_PROFILE_MAPPING",
            "WfmProfileMapping",
        ),
        (
            "WfmProfileUserFields",
            "HasProfileUserFields",
            "WFM_PROFILE_USER_FIELDS",
            "WfmProfileUserFields",
        ),
    ] {
        assert_eq!(param_default(&tpl, param), "");
        assert_eq!(
            tpl["Parameters"][param]["AllowedPattern"], "^(s3://[a-z0-9.-]+/.+)?$",
            "{param}"
        );
        assert_eq!(
            tpl["Conditions"][condition],
            json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": param }, ""] }] }),
            "{condition}"
        );
        let want = json!({ "Fn::If": [
            condition,
            {
                "Sid": sid,
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": { "Fn::Join": ["", [
                    { "Fn::Sub": "arn:${AWS::Partition}:s3:::" },
                    { "Fn::Select": [1, { "Fn::Split": ["s3://", { "Ref": param }] }] }
                ]] }
            },
            { "Ref": "AWS::NoValue" }
        ] });
        for (function, role) in [
            ("ForwarderFunction", "ForwarderRole"),
            ("ReplayerFunction", "ReplayerRole"),
            ("SnapshotFunction", "SnapshotRole"),
        ] {
            let env = &resource(&tpl, function)["Environment"]["Variables"];
            assert_eq!(
                env[var],
                json!({ "Fn::If": [condition, { "Ref": param }, { "Ref": "AWS::NoValue" }] }),
                "{function}.{var}"
            );
            let statements: Vec<&Json> = resource(&tpl, role)["Policies"]
                .as_array()
                .expect("Policies")
                .iter()
                .flat_map(|p| {
                    p["PolicyDocument"]["Statement"]
                        .as_array()
                        .expect("Statement")
                })
                .collect();
            assert_eq!(
                statements.iter().filter(|s| **s == &want).count(),
                1,
                "{role} must read {param}'s object only when it is set"
            );
        }
    }
}
