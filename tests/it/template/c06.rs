//! C06 — the deployment settings of the SQS retry consumer (cases/README.md, PRODUCT.md §4, §7).
//!
//! `check_sqs_consumer` is a pure checker of the settings that decide whether a failed retry is
//! kept or silently lost. It must reject the bad configuration of `cases/C06.json`, and the
//! shipped `template.yaml` must pass it (plus a few checks of the DLQ wiring).

use serde_json::{Value as Json, json};
use wfm_relay_core::policy::{DEFAULT_RETRY_SCHEDULE, RetrySchedule};

use super::cfn::{
    json_str, json_u64, param_default, resolve_u64, resolve_u64_with, resource, template,
};

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

#[test]
fn c06_bad_config_is_rejected() {
    let case: Json =
        serde_json::from_str(include_str!("../../cases/C06.json")).expect("C06.json is JSON");
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

    // maxReceiveCount follows from RetrySchedule itself (no second parameter to keep in sync):
    // for a schedule of 1, 3 and 20 steps too, it is steps + 5.
    let max_receive = &retry_queue["RedrivePolicy"]["maxReceiveCount"];
    assert!(
        tpl["Parameters"]["RetryScheduleSteps"].is_null(),
        "no RetryScheduleSteps parameter: the count comes from RetrySchedule"
    );
    assert!(
        json_str(&tpl["Transform"][0], "Transform[0]") == "AWS::LanguageExtensions",
        "Fn::Length needs the AWS::LanguageExtensions transform first: {}",
        tpl["Transform"]
    );
    for schedule in ["30s", "1m,2m,3m", &vec!["1m"; 20].join(",")] {
        let steps = u64::try_from(schedule.split(',').count()).expect("a small count");
        let params = |p: &str| (p == "RetrySchedule").then(|| schedule.to_string());
        assert_eq!(
            resolve_u64_with(&tpl, max_receive, &params, "maxReceiveCount"),
            steps + 5,
            "RetrySchedule={schedule}"
        );
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
