//! The CloudWatch alarms of the template: exactly the expected ones, each notifying the alarm
//! topic when an e-mail address is set.

use serde_json::{Value as Json, json};

use super::cfn::{json_u64, param_default, resource, resources_of_type, template};

/// `!If [HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]`, as every alarm action list is.
fn alarm_topic_if_email() -> Json {
    json!({ "Fn::If": ["HasAlarmEmail", [{ "Ref": "AlarmTopic" }], { "Ref": "AWS::NoValue" }] })
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
        // Destination auth (issue 11): the token endpoint refused our client.
        spec(
            "WfmAuthConfigErrorAlarm",
            relay(),
            "AuthConfigError",
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
        // The scheduled snapshot (issue 12): only with a SnapshotSchedule.
        spec(
            "SnapshotErrorsAlarm",
            lambda(),
            "Errors",
            ("FunctionName", json!({ "Ref": "SnapshotFunction" })),
            "Sum",
            300,
            1,
            1,
            ge,
        ),
        spec(
            "SnapshotAsyncEventsDroppedAlarm",
            lambda(),
            "AsyncEventsDropped",
            ("FunctionName", json!({ "Ref": "SnapshotFunction" })),
            "Sum",
            300,
            1,
            1,
            ge,
        ),
        // Two skipped ticks in an hour.
        spec(
            "SnapshotSkippedAlarm",
            relay(),
            "SnapshotSkipped",
            ("Function", json!({ "Ref": "SnapshotFunction" })),
            "Sum",
            3600,
            1,
            2,
            ge,
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
        // The snapshot alarms exist exactly when the snapshot function does.
        let condition = &tpl["Resources"][name]["Condition"];
        if name.starts_with("Snapshot") {
            assert_eq!(condition, "HasSnapshotSchedule", "{name}");
        } else {
            assert!(condition.is_null(), "{name}: {condition}");
        }
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
