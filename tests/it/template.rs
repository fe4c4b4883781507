//! C06 — the deployment settings of the SQS retry consumer (cases/README.md, PRODUCT.md §4, §7).
//!
//! `check_sqs_consumer` is a pure checker of the settings that decide whether a failed retry is
//! kept or silently lost. It must reject the bad configuration of `cases/C06.json`, and the
//! shipped `template.yaml` must pass it (plus a few checks of the DLQ wiring).

use serde_json::{Value as Json, json};
use serde_yaml::Value as Yaml;
use wfm_relay_core::policy::{DEFAULT_RETRY_SCHEDULE, RetrySchedule};

/// The settings of the retry queue, its event source mapping and the consumer function.
#[derive(Debug, Clone)]
struct ConsumerSettings {
    function_timeout_s: u64,
    visibility_timeout_s: u64,
    max_receive_count: u64,
    batching_window_s: u64,
    function_response_types: Vec<String>,
    schedule_steps: usize,
}

/// Floor for `maxReceiveCount` (AWS guidance: at least 5, so throttling does not dead-letter).
const MIN_MAX_RECEIVE_COUNT: u64 = 5;

/// One message per violated rule; empty when the settings are safe.
fn check_sqs_consumer(s: &ConsumerSettings) -> Vec<String> {
    let mut violations = Vec::new();
    // Without it Lambda ignores `batchItemFailures` (AWS Lambda developer guide, "Using Lambda
    // with Amazon SQS", partial batch responses).
    if !s
        .function_response_types
        .iter()
        .any(|t| t == "ReportBatchItemFailures")
    {
        violations.push(
            "FunctionResponseTypes lacks ReportBatchItemFailures (batchItemFailures would be \
             ignored: whole batch treated as success -> failed messages deleted)"
                .to_string(),
        );
    }
    // Visibility timeout >= 6 x function timeout + batching window (same guide).
    let min_visibility = 6 * s.function_timeout_s + s.batching_window_s;
    if s.visibility_timeout_s < min_visibility {
        violations.push(format!(
            "VisibilityTimeout {} < 6 x {} + {} = {}",
            s.visibility_timeout_s, s.function_timeout_s, s.batching_window_s, min_visibility
        ));
    }
    if s.max_receive_count < MIN_MAX_RECEIVE_COUNT {
        violations.push(format!(
            "maxReceiveCount {} (< {MIN_MAX_RECEIVE_COUNT}) dead-letters messages after a single \
             throttle or timeout",
            s.max_receive_count
        ));
    }
    // PRODUCT.md §4: maxReceiveCount = schedule steps + 5.
    let wanted = s.schedule_steps as u64 + 5;
    if s.max_receive_count != wanted {
        violations.push(format!(
            "maxReceiveCount {} != schedule steps {} + 5 = {wanted}",
            s.max_receive_count, s.schedule_steps
        ));
    }
    violations
}

fn json_u64(v: &Json, what: &str) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{what} is not a non-negative integer: {v}"))
}

fn json_str<'a>(v: &'a Json, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

#[test]
fn c06_bad_config_is_rejected() {
    let case: Json =
        serde_json::from_str(include_str!("../cases/C06.json")).expect("C06.json is JSON");
    let bad = &case["bad_config"];
    let esm = &bad["event_source_mapping"];
    let settings = ConsumerSettings {
        function_timeout_s: json_u64(
            &bad["retry_consumer_function_timeout_s"],
            "retry_consumer_function_timeout_s",
        ),
        visibility_timeout_s: json_u64(
            &bad["retry_queue"]["VisibilityTimeout"],
            "VisibilityTimeout",
        ),
        max_receive_count: json_u64(
            &bad["retry_queue"]["RedrivePolicy"]["maxReceiveCount"],
            "maxReceiveCount",
        ),
        batching_window_s: json_u64(
            &esm["MaximumBatchingWindowInSeconds"],
            "MaximumBatchingWindowInSeconds",
        ),
        function_response_types: esm["FunctionResponseTypes"]
            .as_array()
            .expect("FunctionResponseTypes is an array")
            .iter()
            .map(|t| json_str(t, "FunctionResponseTypes item").to_string())
            .collect(),
        // The case names no schedule: the product's default one.
        schedule_steps: DEFAULT_RETRY_SCHEDULE
            .parse::<RetrySchedule>()
            .expect("default schedule parses")
            .len(),
    };

    let violations = check_sqs_consumer(&settings);

    let expected: Vec<&str> = case["expect"]["bad_config_rejected_for"]
        .as_array()
        .expect("expect.bad_config_rejected_for is an array")
        .iter()
        .map(|m| json_str(m, "expected message"))
        .collect();
    assert_eq!(expected.len(), 3, "C06 lists three reasons");
    for want in &expected {
        assert!(
            violations.iter().any(|v| v == want),
            "missing violation {want:?}; got {violations:#?}"
        );
    }
    // The fourth: 1 is not the default schedule's 9 steps + 5.
    assert!(
        violations.contains(&"maxReceiveCount 1 != schedule steps 9 + 5 = 14".to_string()),
        "missing the steps + 5 violation; got {violations:#?}"
    );
    assert_eq!(violations.len(), 4, "{violations:#?}");
}

#[test]
fn c06_checker_accepts_the_boundary_and_reports_each_rule_alone() {
    let ok = ConsumerSettings {
        function_timeout_s: 60,
        visibility_timeout_s: 365,
        max_receive_count: 14,
        batching_window_s: 5,
        function_response_types: vec!["ReportBatchItemFailures".into()],
        schedule_steps: 9,
    };
    assert_eq!(check_sqs_consumer(&ok), Vec::<String>::new());

    let short = ConsumerSettings {
        visibility_timeout_s: 364,
        ..ok.clone()
    };
    assert_eq!(
        check_sqs_consumer(&short),
        vec!["VisibilityTimeout 364 < 6 x 60 + 5 = 365".to_string()]
    );

    let off_by_one = ConsumerSettings {
        max_receive_count: 13,
        ..ok.clone()
    };
    assert_eq!(
        check_sqs_consumer(&off_by_one),
        vec!["maxReceiveCount 13 != schedule steps 9 + 5 = 14".to_string()]
    );

    let no_partial = ConsumerSettings {
        function_response_types: vec![],
        ..ok
    };
    let v = check_sqs_consumer(&no_partial);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].contains("ReportBatchItemFailures"), "{v:#?}");
}

// ------------------------------------------------------------------ the shipped template

/// Turns YAML into JSON, writing CloudFormation short tags in their long form
/// (`!Ref X` -> `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`,
/// `!Sub s` -> `{"Fn::Sub": s}`, ...), so the template can be compared with `json!` values.
fn yaml_to_json(v: &Yaml) -> Json {
    match v {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(u) = n.as_u64() {
                json!(u)
            } else if let Some(i) = n.as_i64() {
                json!(i)
            } else {
                json!(n.as_f64())
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(m) => Json::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .expect("key serialises")
                            .trim()
                            .to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = yaml_to_json(&t.value);
            match name {
                "Ref" | "Condition" => json!({ name: inner }),
                "GetAtt" => match inner {
                    Json::String(s) => {
                        let (res, attr) = s.split_once('.').expect("!GetAtt Resource.Attribute");
                        json!({ "Fn::GetAtt": [res, attr] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): inner }),
            }
        }
    }
}

fn template() -> Json {
    let yaml: Yaml =
        serde_yaml::from_str(include_str!("../../template.yaml")).expect("template.yaml is YAML");
    yaml_to_json(&yaml)
}

/// A number written literally, or `!FindInMap [Map, !Ref Param, Key]` with `Param`'s default.
fn resolve_u64(tpl: &Json, v: &Json, what: &str) -> u64 {
    if let Some(n) = v.as_u64() {
        return n;
    }
    if let Some(s) = v.as_str() {
        return s
            .parse()
            .unwrap_or_else(|_| panic!("{what}: {s:?} is not a number"));
    }
    if let Some(args) = v.get("Fn::FindInMap").and_then(Json::as_array) {
        let [map, key, field] = args.as_slice() else {
            panic!("{what}: FindInMap needs 3 arguments: {v}");
        };
        let key = match key.get("Ref").and_then(Json::as_str) {
            Some(param) => param_default(tpl, param),
            None => json_str(key, what).to_string(),
        };
        let map = json_str(map, what);
        let field = json_str(field, what);
        return resolve_u64(tpl, &tpl["Mappings"][map][&key][field], what);
    }
    panic!("{what}: cannot resolve {v}");
}

/// A parameter's default, as CloudFormation passes it to `Ref` (a string).
fn param_default(tpl: &Json, name: &str) -> String {
    match &tpl["Parameters"][name]["Default"] {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        other => panic!("parameter {name} has no usable default: {other}"),
    }
}

fn resource<'a>(tpl: &'a Json, name: &str) -> &'a Json {
    let r = &tpl["Resources"][name];
    assert!(r.is_object(), "template.yaml has no resource {name}");
    &r["Properties"]
}

#[test]
fn c06_shipped_template_passes() {
    let tpl = template();
    let function = resource(&tpl, "ForwarderFunction");
    let retry_queue = resource(&tpl, "RetryQueue");
    let dlq = resource(&tpl, "DeadLetterQueue");
    let retry_queue_arn = json!({ "Fn::GetAtt": ["RetryQueue", "Arn"] });
    let dlq_arn = json!({ "Fn::GetAtt": ["DeadLetterQueue", "Arn"] });

    // The forwarder consumes the retry queue through exactly one SQS event.
    let sqs_events: Vec<&Json> = function["Events"]
        .as_object()
        .expect("ForwarderFunction has Events")
        .values()
        .filter(|e| e["Type"] == "SQS")
        .map(|e| &e["Properties"])
        .collect();
    assert_eq!(sqs_events.len(), 1, "one SQS event: {sqs_events:#?}");
    let esm = sqs_events[0];
    assert_eq!(
        esm["Queue"], retry_queue_arn,
        "the SQS event reads the retry queue"
    );

    let timeout = resolve_u64(&tpl, &function["Timeout"], "ForwarderFunction.Timeout");
    let schedule_default = param_default(&tpl, "RetrySchedule");
    let schedule: RetrySchedule = schedule_default
        .parse()
        .expect("RetrySchedule default parses as the forwarder parses it");
    let comma_steps = schedule_default.split(',').count();
    assert_eq!(schedule.len(), comma_steps);
    assert_eq!(
        schedule_default, DEFAULT_RETRY_SCHEDULE,
        "template default = product default"
    );

    let settings = ConsumerSettings {
        function_timeout_s: timeout,
        visibility_timeout_s: resolve_u64(
            &tpl,
            &retry_queue["VisibilityTimeout"],
            "RetryQueue.VisibilityTimeout",
        ),
        max_receive_count: resolve_u64(
            &tpl,
            &retry_queue["RedrivePolicy"]["maxReceiveCount"],
            "RetryQueue.RedrivePolicy.maxReceiveCount",
        ),
        // Absent means 0 for an SQS event source.
        batching_window_s: match &esm["MaximumBatchingWindowInSeconds"] {
            Json::Null => 0,
            v => resolve_u64(&tpl, v, "MaximumBatchingWindowInSeconds"),
        },
        function_response_types: esm["FunctionResponseTypes"]
            .as_array()
            .expect("the SQS event has FunctionResponseTypes")
            .iter()
            .map(|t| json_str(t, "FunctionResponseTypes item").to_string())
            .collect(),
        schedule_steps: comma_steps,
    };
    assert_eq!(
        check_sqs_consumer(&settings),
        Vec::<String>::new(),
        "{settings:#?}"
    );
    assert_eq!(
        settings.max_receive_count as usize,
        schedule.max_receive_count()
    );

    // maxReceiveCount comes from the ReceiveCounts mapping keyed by RetryScheduleSteps: the
    // parameter's default counts the default schedule, and every allowed value maps to n + 5.
    let steps_param = &tpl["Parameters"]["RetryScheduleSteps"];
    assert_eq!(
        param_default(&tpl, "RetryScheduleSteps"),
        comma_steps.to_string(),
        "RetryScheduleSteps default must equal the number of steps of RetrySchedule's default"
    );
    let (min, max) = (
        json_u64(&steps_param["MinValue"], "RetryScheduleSteps.MinValue"),
        json_u64(&steps_param["MaxValue"], "RetryScheduleSteps.MaxValue"),
    );
    for n in min..=max {
        let count = json_u64(
            &tpl["Mappings"]["ReceiveCounts"][n.to_string()]["MaxReceiveCount"],
            "ReceiveCounts entry",
        );
        assert_eq!(count, n + 5, "ReceiveCounts[{n}]");
    }

    // The retry queue dead-letters into the DLQ, which keeps messages longer (SQS keeps the
    // original enqueue time when it moves a message).
    assert_eq!(retry_queue["RedrivePolicy"]["deadLetterTargetArn"], dlq_arn);
    let dlq_retention = resolve_u64(&tpl, &dlq["MessageRetentionPeriod"], "DLQ retention");
    let retry_retention = resolve_u64(
        &tpl,
        &retry_queue["MessageRetentionPeriod"],
        "retry queue retention",
    );
    assert_eq!(dlq_retention, 1_209_600, "DLQ keeps messages 14 days");
    assert!(
        dlq_retention > retry_retention,
        "{dlq_retention} <= {retry_retention}"
    );

    // The forwarder's idea of its timeout matches the real one.
    let env = &function["Environment"]["Variables"];
    assert_eq!(
        resolve_u64(&tpl, &env["FUNCTION_TIMEOUT_S"], "FUNCTION_TIMEOUT_S"),
        timeout,
        "FUNCTION_TIMEOUT_S must equal Timeout"
    );
    assert_eq!(env["RETRY_QUEUE_URL"], json!({ "Ref": "RetryQueue" }));
    assert_eq!(env["DLQ_URL"], json!({ "Ref": "DeadLetterQueue" }));
    assert_eq!(env["RETRY_SCHEDULE"], json!({ "Ref": "RetrySchedule" }));

    // An invocation that fails for good leaves its event in the DLQ (PRODUCT.md §1).
    let invoke = &function["EventInvokeConfig"];
    assert_eq!(invoke["DestinationConfig"]["OnFailure"]["Type"], "SQS");
    assert_eq!(
        invoke["DestinationConfig"]["OnFailure"]["Destination"],
        dlq_arn
    );
    assert_eq!(invoke["MaximumRetryAttempts"], 2);
    assert_eq!(invoke["MaximumEventAgeInSeconds"], 21_600);
}

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
    assert_eq!(function["Architectures"], json!(["arm64"]));
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
                    "s3" => &[&bucket_arn, &objects_arn],
                    "logs" => &[&log_group_arn],
                    "secretsmanager" => &[&secret, &signing_secret],
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

// ------------------------------------------------------------------ alarms, dashboard, IAM

/// `!If [HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]`, as every alarm action list is.
fn alarm_topic_if_email() -> Json {
    json!({ "Fn::If": ["HasAlarmEmail", [{ "Ref": "AlarmTopic" }], { "Ref": "AWS::NoValue" }] })
}

/// Names of the template's resources of `kind` (e.g. `AWS::CloudWatch::Alarm`), sorted.
fn resources_of_type(tpl: &Json, kind: &str) -> Vec<String> {
    let mut names: Vec<String> = tpl["Resources"]
        .as_object()
        .expect("Resources is a mapping")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    names
}

/// One alarm as the template must define it: metric, dimension, statistic, period (s),
/// evaluation periods, threshold (in the metric's unit) and comparison.
struct AlarmSpec {
    name: &'static str,
    namespace: Json,
    metric: &'static str,
    dimension: (&'static str, Json),
    statistic: &'static str,
    period_s: u64,
    evaluation_periods: u64,
    threshold: u64,
    comparison: &'static str,
}

/// The alarms of issue 4 (DLQ depth and age, forwarder errors, the asynchronous path whose
/// on-failure destination is the DLQ itself, 410 Gone, the breaker, the retry queue's age).
/// Metric names: AWS Lambda developer guide ("Types of metrics for Lambda functions"), Amazon SQS
/// developer guide ("Available CloudWatch metrics for Amazon SQS"), and the functions' Embedded
/// Metric Format output (namespace parameter `MetricsNamespace`, dimension `Function`).
fn expected_alarms() -> Vec<AlarmSpec> {
    let sqs = || json!("AWS/SQS");
    let lambda = || json!("AWS/Lambda");
    let relay = || json!({ "Ref": "MetricsNamespace" });
    let dlq = || {
        (
            "QueueName",
            json!({ "Fn::GetAtt": ["DeadLetterQueue", "QueueName"] }),
        )
    };
    let forwarder = || ("FunctionName", json!({ "Ref": "ForwarderFunction" }));
    let relay_fn = || ("Function", json!({ "Ref": "ForwarderFunction" }));
    let spec = |name,
                namespace,
                metric,
                dimension,
                statistic,
                period_s,
                evaluation_periods,
                threshold,
                comparison| {
        AlarmSpec {
            name,
            namespace,
            metric,
            dimension,
            statistic,
            period_s,
            evaluation_periods,
            threshold,
            comparison,
        }
    };
    let ge = "GreaterThanOrEqualToThreshold";
    vec![
        spec(
            "DlqDepthAlarm",
            sqs(),
            "ApproximateNumberOfMessagesVisible",
            dlq(),
            "Maximum",
            300,
            1,
            1,
            ge,
        ),
        // 7 days in seconds.
        spec(
            "DlqAgeAlarm",
            sqs(),
            "ApproximateAgeOfOldestMessage",
            dlq(),
            "Maximum",
            300,
            1,
            604_800,
            ge,
        ),
        spec(
            "ForwarderErrorsAlarm",
            lambda(),
            "Errors",
            forwarder(),
            "Sum",
            300,
            1,
            1,
            ge,
        ),
        // 1 h in milliseconds (AsyncEventAge is in ms).
        spec(
            "ForwarderAsyncEventAgeAlarm",
            lambda(),
            "AsyncEventAge",
            forwarder(),
            "Maximum",
            300,
            1,
            3_600_000,
            ge,
        ),
        spec(
            "ForwarderAsyncEventsDroppedAlarm",
            lambda(),
            "AsyncEventsDropped",
            forwarder(),
            "Sum",
            300,
            1,
            1,
            ge,
        ),
        spec(
            "ForwarderDestinationFailuresAlarm",
            lambda(),
            "DestinationDeliveryFailures",
            forwarder(),
            "Sum",
            300,
            1,
            1,
            ge,
        ),
        spec(
            "WfmGoneAlarm",
            relay(),
            "Gone",
            relay_fn(),
            "Sum",
            300,
            1,
            1,
            ge,
        ),
        // Open in each of 5 one-minute periods.
        spec(
            "WfmBreakerOpenAlarm",
            relay(),
            "BreakerOpen",
            relay_fn(),
            "Maximum",
            60,
            5,
            1,
            ge,
        ),
        // 6 h in seconds.
        spec(
            "RetryQueueAgeAlarm",
            sqs(),
            "ApproximateAgeOfOldestMessage",
            (
                "QueueName",
                json!({ "Fn::GetAtt": ["RetryQueue", "QueueName"] }),
            ),
            "Maximum",
            300,
            1,
            21_600,
            "GreaterThanThreshold",
        ),
    ]
}

#[test]
fn every_alarm_is_the_expected_one_and_notifies_the_topic_when_an_email_is_set() {
    let tpl = template();
    assert_eq!(
        tpl["Conditions"]["HasAlarmEmail"],
        json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": "AlarmEmail" }, ""] }] })
    );
    assert_eq!(param_default(&tpl, "AlarmEmail"), "");
    let topic = &tpl["Resources"]["AlarmTopic"];
    assert_eq!(topic["Type"], "AWS::SNS::Topic");
    assert_eq!(topic["Condition"], "HasAlarmEmail");
    assert_eq!(
        topic["Properties"]["Subscription"],
        json!([{ "Protocol": "email", "Endpoint": { "Ref": "AlarmEmail" } }])
    );

    let expected = expected_alarms();
    let mut want_names: Vec<String> = expected.iter().map(|a| a.name.to_string()).collect();
    want_names.sort();
    assert_eq!(
        resources_of_type(&tpl, "AWS::CloudWatch::Alarm"),
        want_names
    );

    for a in &expected {
        let p = resource(&tpl, a.name);
        let name = a.name;
        // The action only exists with the topic; without AlarmEmail the alarm still shows state.
        assert_eq!(
            p["AlarmActions"],
            alarm_topic_if_email(),
            "{name}.AlarmActions"
        );
        assert_eq!(p["OKActions"], alarm_topic_if_email(), "{name}.OKActions");
        assert!(p["InsufficientDataActions"].is_null(), "{name}");
        assert!(
            p["AlarmDescription"]
                .as_str()
                .is_some_and(|d| d.starts_with("wfm-relay")),
            "{name} needs a description that names the relay"
        );
        assert_eq!(p["Namespace"], a.namespace, "{name}.Namespace");
        assert_eq!(p["MetricName"], a.metric, "{name}.MetricName");
        assert_eq!(
            p["Dimensions"],
            json!([{ "Name": a.dimension.0, "Value": a.dimension.1 }]),
            "{name}.Dimensions"
        );
        assert_eq!(p["Statistic"], a.statistic, "{name}.Statistic");
        assert_eq!(
            json_u64(&p["Period"], "Period"),
            a.period_s,
            "{name}.Period"
        );
        assert_eq!(
            json_u64(&p["EvaluationPeriods"], "EvaluationPeriods"),
            a.evaluation_periods,
            "{name}.EvaluationPeriods"
        );
        // Every evaluated period must breach (M of N with M = N), when M is given.
        if !p["DatapointsToAlarm"].is_null() {
            assert_eq!(p["DatapointsToAlarm"], p["EvaluationPeriods"], "{name}");
        }
        assert_eq!(
            json_u64(&p["Threshold"], "Threshold"),
            a.threshold,
            "{name}.Threshold"
        );
        assert_eq!(
            p["ComparisonOperator"], a.comparison,
            "{name}.ComparisonOperator"
        );
        // No data = nothing happened (an idle relay is healthy).
        assert_eq!(
            p["TreatMissingData"], "notBreaching",
            "{name}.TreatMissingData"
        );
    }

    // The DLQ is also the forwarder's on-failure destination, so DlqDepthAlarm covers it.
    let forwarder = resource(&tpl, "ForwarderFunction");
    assert_eq!(
        forwarder["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"],
        json!({ "Fn::GetAtt": ["DeadLetterQueue", "Arn"] })
    );
    // The alarms read the namespace the functions write to.
    assert_eq!(param_default(&tpl, "MetricsNamespace"), "WfmRelay");
}

/// Resolves `Fn::Sub` text as CloudFormation does, with a dummy value per variable: `${!X}` is
/// the literal `${X}`; `${X}` must name a parameter, a resource (`${Res}` or `${Res.Attr}`) or a
/// pseudo parameter, and becomes `dummy-X`. Panics on an unknown name.
fn sub_with_dummies(tpl: &Json, text: &str) -> String {
    const PSEUDO: [&str; 7] = [
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .unwrap_or_else(|| panic!("unterminated ${{ in Fn::Sub text at {:?}", &rest[start..]));
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else {
            let base = name.split('.').next().unwrap_or(name);
            assert!(
                PSEUDO.contains(&name)
                    || (!name.contains('.') && tpl["Parameters"].get(name).is_some())
                    || tpl["Resources"].get(base).is_some(),
                "Fn::Sub variable ${{{name}}} names no parameter, resource or pseudo parameter"
            );
            out.push_str("dummy-");
            out.push_str(name);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn sub_with_dummies_resolves_like_fn_sub() {
    let tpl = json!({
        "Parameters": { "P": {} },
        "Resources": { "R": {} }
    });
    assert_eq!(
        sub_with_dummies(&tpl, "a ${P} ${R.Arn} ${AWS::Region} ${!PROP('x')} b"),
        "a dummy-P dummy-R.Arn dummy-AWS::Region ${PROP('x')} b"
    );
}

#[test]
fn dashboard_body_is_json_and_shows_the_relay_metrics() {
    let tpl = template();
    assert_eq!(
        resources_of_type(&tpl, "AWS::CloudWatch::Dashboard"),
        vec!["Dashboard".to_string()]
    );
    let dashboard = resource(&tpl, "Dashboard");
    let body_text = json_str(
        &dashboard["DashboardBody"]["Fn::Sub"],
        "DashboardBody Fn::Sub",
    );
    let body: Json = serde_json::from_str(&sub_with_dummies(&tpl, body_text))
        .unwrap_or_else(|e| panic!("DashboardBody is not JSON after Fn::Sub: {e}"));
    let widgets = body["widgets"].as_array().expect("widgets is a list");

    // Every widget fits the 24-column grid; metric widgets name their region.
    for w in widgets {
        let x = json_u64(&w["x"], "x");
        let width = json_u64(&w["width"], "width");
        assert!(x + width <= 24, "widget outside the grid: {w}");
        assert!(json_u64(&w["height"], "height") > 0, "{w}");
        if w["type"] == "metric" {
            assert_eq!(w["properties"]["region"], "dummy-AWS::Region", "{w}");
        }
    }

    // The alarm widget shows every alarm of the template.
    let alarm_widget = widgets
        .iter()
        .find(|w| w["type"] == "alarm")
        .expect("an alarm widget");
    let mut shown: Vec<String> = alarm_widget["properties"]["alarms"]
        .as_array()
        .expect("alarms list")
        .iter()
        .map(|a| {
            json_str(a, "alarm ARN")
                .strip_prefix("dummy-")
                .and_then(|s| s.strip_suffix(".Arn"))
                .unwrap_or_else(|| panic!("alarm entry is not ${{Alarm.Arn}}: {a}"))
                .to_string()
        })
        .collect();
    shown.sort();
    assert_eq!(shown, resources_of_type(&tpl, "AWS::CloudWatch::Alarm"));

    // Plain metrics as "namespace metric dimension-value stat" (stat from the metric's options,
    // else the widget's), and search expressions.
    let mut metrics: Vec<String> = Vec::new();
    let mut expressions: Vec<String> = Vec::new();
    for w in widgets.iter().filter(|w| w["type"] == "metric") {
        let props = &w["properties"];
        for m in props["metrics"].as_array().expect("metrics list") {
            let items = m.as_array().expect("a metric is a list");
            match items.as_slice() {
                [Json::Object(o)] => {
                    expressions.push(json_str(&o["expression"], "expression").to_string());
                }
                [ns, name, _dim, value, rest @ ..] => {
                    let stat = rest
                        .first()
                        .and_then(|o| o["stat"].as_str())
                        .or(props["stat"].as_str())
                        .unwrap_or_else(|| panic!("no stat for {m}"));
                    metrics.push(format!(
                        "{} {} {} {stat}",
                        json_str(ns, "namespace"),
                        json_str(name, "metric"),
                        json_str(value, "dimension value")
                    ));
                }
                _ => panic!("unexpected metric entry {m}"),
            }
        }
    }
    let ns = "dummy-MetricsNamespace";
    let fwd = "dummy-ForwarderFunction";
    let rep = "dummy-ReplayerFunction";
    let retry = "dummy-RetryQueue.QueueName";
    let dlq = "dummy-DeadLetterQueue.QueueName";
    let want = [
        format!("{ns} Delivered {fwd} Sum"),
        format!("{ns} Retried {fwd} Sum"),
        format!("{ns} Parked {fwd} Sum"),
        format!("{ns} Gone {fwd} Sum"),
        format!("{ns} Delivered {rep} Sum"),
        format!("{ns} WfmLatency {fwd} p50"),
        format!("{ns} WfmLatency {fwd} p99"),
        format!("{ns} BreakerOpen {fwd} Maximum"),
        format!("AWS/SQS ApproximateNumberOfMessagesVisible {retry} Maximum"),
        format!("AWS/SQS ApproximateNumberOfMessagesNotVisible {retry} Maximum"),
        format!("AWS/SQS ApproximateNumberOfMessagesVisible {dlq} Maximum"),
        format!("AWS/SQS ApproximateAgeOfOldestMessage {retry} Maximum"),
        format!("AWS/SQS ApproximateAgeOfOldestMessage {dlq} Maximum"),
        format!("AWS/Lambda Errors {fwd} Sum"),
        format!("AWS/Lambda Throttles {fwd} Sum"),
        format!("AWS/Lambda Errors {rep} Sum"),
        format!("AWS/Lambda Throttles {rep} Sum"),
        format!("AWS/Lambda AsyncEventsDropped {fwd} Sum"),
        format!("AWS/Lambda AsyncEventAge {fwd} Maximum"),
    ];
    for w in &want {
        assert!(metrics.contains(w), "dashboard lacks {w}; has {metrics:#?}");
    }
    // Parked by reason: a search over the (Function, Reason) dimension set of each function.
    for function in [fwd, rep] {
        let search = format!(
            "SEARCH('{{\"{ns}\",Function,Reason}} MetricName=\"Parked\" Function=\"{function}\"', 'Sum', 300)"
        );
        assert!(
            expressions.contains(&search),
            "dashboard lacks {search}; has {expressions:#?}"
        );
    }
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

/// Both functions get the metrics namespace and the optional secrets; each role may read exactly
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
        // No other statement reaches Secrets Manager.
        let secret_statements = statements
            .iter()
            .filter(|s| s.to_string().contains("secretsmanager"))
            .count();
        assert_eq!(secret_statements, secrets.len(), "{role}");
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
