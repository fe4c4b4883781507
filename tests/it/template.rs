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
            // `!If [HasAuthSecret, statement, NoValue]`: check the statement it may add.
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
                    "secretsmanager" => &[&secret],
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
