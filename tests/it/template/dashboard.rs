//! The CloudWatch dashboard of the template: its body is JSON once `Fn::Sub` is resolved, and it
//! shows the relay's metrics.

use serde_json::Value as Json;

use super::cfn::{json_str, json_u64, resource, resources_of_type, sub_with_dummies, template};

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

    // The alarm widget shows every unconditional alarm of the template.
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
    // A conditional alarm (the snapshot's, only with a SnapshotSchedule) cannot be named by the
    // unconditional dashboard: every other alarm is shown.
    let unconditional: Vec<String> = resources_of_type(&tpl, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|a| tpl["Resources"][a.as_str()]["Condition"].is_null())
        .collect();
    assert_eq!(shown, unconditional);

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
