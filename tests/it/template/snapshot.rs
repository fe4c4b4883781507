//! The scheduled snapshot in the template (issue 12): the `SnapshotSchedule` parameter (empty =
//! off) and the Genesys settings, the snapshot function and everything of it only when the
//! schedule is set, its least-privilege role (the queues, the lease object, invoking itself),
//! its asynchronous retries, its alarms and the output relayctl doctor reads.

use serde_json::{Value as Json, json};

use super::cfn::{param_default, resolve_u64, resource, template};

/// The statements of a role's inline policies, `Fn::If` branches kept as they are.
fn statements<'a>(tpl: &'a Json, role: &str) -> Vec<&'a Json> {
    resource(tpl, role)["Policies"]
        .as_array()
        .expect("Policies")
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .expect("Statement")
        })
        .collect()
}

fn by_sid<'a>(list: &[&'a Json], sid: &str) -> &'a Json {
    list.iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
}

#[test]
fn the_schedule_is_off_by_default_and_everything_of_it_hangs_on_its_condition() {
    let tpl = template();
    assert_eq!(param_default(&tpl, "SnapshotSchedule"), "");
    assert_eq!(param_default(&tpl, "SnapshotRatePerS"), "20");
    for p in [
        "GenesysDomain",
        "GenesysOrgId",
        "GenesysClientId",
        "GenesysClientSecretArn",
    ] {
        assert_eq!(param_default(&tpl, p), "", "{p}");
    }
    assert_eq!(
        tpl["Conditions"]["HasSnapshotSchedule"],
        json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": "SnapshotSchedule" }, ""] }] })
    );
    let mut conditional: Vec<&String> = tpl["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Condition"] == "HasSnapshotSchedule")
        .map(|(name, _)| name)
        .collect();
    conditional.sort();
    assert_eq!(
        conditional,
        [
            "SnapshotAsyncEventsDroppedAlarm",
            "SnapshotErrorsAlarm",
            "SnapshotFunction",
            "SnapshotLogGroup",
            "SnapshotRole",
            "SnapshotSkippedAlarm",
        ]
    );
    assert_eq!(
        tpl["Outputs"]["SnapshotFunctionName"],
        json!({
            "Condition": "HasSnapshotSchedule",
            "Description": "Name of the scheduled snapshot function (relayctl doctor's SNAPSHOT_FUNCTION); only with a SnapshotSchedule.",
            "Value": { "Ref": "SnapshotFunction" }
        })
    );
}

#[test]
fn the_snapshot_function_runs_on_its_schedule_with_the_genesys_settings() {
    let tpl = template();
    let meta = &tpl["Resources"]["SnapshotFunction"]["Metadata"];
    assert_eq!(meta["BuildProperties"]["Binary"], "wfm-relay-snapshot");
    let f = resource(&tpl, "SnapshotFunction");
    assert_eq!(
        f["FunctionName"],
        json!({ "Fn::Sub": "${AWS::StackName}-snapshot" })
    );
    let timeout = resolve_u64(&tpl, &f["Timeout"], "SnapshotFunction.Timeout");
    assert_eq!(timeout, 900);
    assert!(
        f["ReservedConcurrentExecutions"].is_null(),
        "the lease serialises runs"
    );
    let env = &f["Environment"]["Variables"];
    assert_eq!(
        resolve_u64(&tpl, &env["FUNCTION_TIMEOUT_S"], "FUNCTION_TIMEOUT_S"),
        timeout
    );
    assert_eq!(env["ARCHIVE_BUCKET"], json!({ "Ref": "ArchiveBucket" }));
    assert_eq!(env["RETRY_QUEUE_URL"], json!({ "Ref": "RetryQueue" }));
    assert_eq!(env["DLQ_URL"], json!({ "Ref": "DeadLetterQueue" }));
    // The replayer's snapshot action and the snapshot function read the same settings
    // (PRODUCT.md §10, genesys/settings.rs).
    let replayer = &resource(&tpl, "ReplayerFunction")["Environment"]["Variables"];
    for (var, param, condition) in [
        ("GENESYS_DOMAIN", "GenesysDomain", "HasGenesysDomain"),
        ("GENESYS_ORG_ID", "GenesysOrgId", "HasGenesysOrgId"),
        ("GENESYS_CLIENT_ID", "GenesysClientId", "HasGenesysClientId"),
        (
            "GENESYS_CLIENT_SECRET_ARN",
            "GenesysClientSecretArn",
            "HasGenesysSecret",
        ),
    ] {
        let want = json!({ "Fn::If": [condition, { "Ref": param }, { "Ref": "AWS::NoValue" }] });
        assert_eq!(env[var], want, "SnapshotFunction.{var}");
        assert_eq!(replayer[var], want, "ReplayerFunction.{var}");
    }
    for e in [env, replayer] {
        assert_eq!(
            e["SNAPSHOT_RATE_PER_S"],
            json!({ "Ref": "SnapshotRatePerS" })
        );
    }
    assert_eq!(
        f["Events"],
        json!({ "Schedule": { "Type": "Schedule", "Properties": {
            "Schedule": { "Ref": "SnapshotSchedule" },
            "Description": "wfm-relay scheduled Genesys Cloud state snapshot.",
            "RetryPolicy": { "MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600 }
        } } })
    );
    // A failed part is retried (the same run: the same lease), never dropped without a metric.
    assert_eq!(
        f["EventInvokeConfig"],
        json!({ "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600 })
    );
    assert_eq!(
        f["LoggingConfig"]["LogGroup"],
        json!({ "Ref": "SnapshotLogGroup" })
    );
    assert_eq!(
        resource(&tpl, "SnapshotLogGroup")["LogGroupName"],
        json!({ "Fn::Sub": "/aws/lambda/${AWS::StackName}-snapshot" })
    );
}

#[test]
fn the_snapshot_role_reaches_the_queues_the_lease_and_itself_only() {
    let tpl = template();
    let f = resource(&tpl, "SnapshotFunction");
    assert_eq!(f["Role"], json!({ "Fn::GetAtt": ["SnapshotRole", "Arn"] }));
    let all = statements(&tpl, "SnapshotRole");
    let plain: Vec<&Json> = all
        .iter()
        .copied()
        .filter(|s| s.get("Fn::If").is_none())
        .collect();
    let sids: Vec<&str> = plain.iter().filter_map(|s| s["Sid"].as_str()).collect();
    assert_eq!(
        sids,
        [
            "RetryQueue",
            "DeadLetterQueue",
            "ClaimChecks",
            "SnapshotLease",
            "InvokeSelf",
            "Logs"
        ]
    );
    for (sid, queue) in [
        ("RetryQueue", "RetryQueue"),
        ("DeadLetterQueue", "DeadLetterQueue"),
    ] {
        let s = by_sid(&plain, sid);
        assert_eq!(
            s["Action"],
            json!(["sqs:SendMessage", "sqs:GetQueueAttributes"])
        );
        assert_eq!(s["Resource"], json!({ "Fn::GetAtt": [queue, "Arn"] }));
    }
    let lease = by_sid(&plain, "SnapshotLease");
    assert_eq!(
        lease["Action"],
        json!(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
    );
    assert_eq!(
        lease["Resource"],
        json!({ "Fn::Sub": format!("${{ArchiveBucket.Arn}}/{}",
            wfm_relay_replayer::schedule::lease::LEASE_KEY) })
    );
    // Its own ARN from its fixed name: no dependency cycle, no other function.
    let invoke = by_sid(&plain, "InvokeSelf");
    assert_eq!(invoke["Action"], "lambda:InvokeFunction");
    assert_eq!(
        invoke["Resource"],
        json!({ "Fn::Sub":
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-snapshot" })
    );
    assert_eq!(
        by_sid(&plain, "Logs")["Resource"],
        json!({ "Fn::GetAtt": ["SnapshotLogGroup", "Arn"] })
    );
    // Never a receive or delete on a queue: the snapshot only sends.
    let text = serde_json::to_string(&all).expect("json");
    for action in ["sqs:ReceiveMessage", "sqs:DeleteMessage", "s3:ListBucket"] {
        assert!(!text.contains(action), "{action} in SnapshotRole");
    }
}
