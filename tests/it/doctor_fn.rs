//! `relayctl doctor`'s Lambda, EventBridge and TLS checks (issue 14, item 4) against the wired
//! stack of tests/it/support/doctor_stack.rs: the forwarder's deployed settings feed the queue
//! checks, its event source mapping, async invoke config, the EventBridge bus / rule / target and
//! WFM's TLS chain each pass as the template wires them and fail (or warn) when broken.

use crate::support::doctor_stack::{
    ALL_CHECKS, DoctorRun, SCHEDULE, WFM_PATH, WiredStack, assert_only, doctor,
};
use crate::support::https::tls_fixture;
use crate::support::unique;
use aws_sdk_eventbridge::types::RuleState;
use aws_sdk_lambda::types::{FunctionResponseType, ScalingConfig};

/// `vars` with `key` set to `value` (replaced or added).
fn with(
    vars: &[(&'static str, String)],
    key: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    let mut v: Vec<_> = vars.iter().filter(|(k, _)| *k != key).cloned().collect();
    v.push((key, value.to_owned()));
    v
}

/// Only `failing` fail (exit 4), the rest pass.
fn fails_only(r: &DoctorRun, failing: &[&str], what: &str) {
    assert_only(r, &ALL_CHECKS, failing, "fail", what);
    assert_eq!(r.code, 4, "{what}: {}", r.stderr);
}

#[tokio::test]
async fn doctor_reads_the_deployed_forwarder_and_finds_each_broken_lambda_and_eventbridge_setting()
{
    let s = WiredStack::create().await;
    let vars = s.vars();
    let r = doctor(&["--strict"], &vars);
    assert_only(&r, &ALL_CHECKS, &[], "pass", "the wired stack");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let redrive = r.detail("retry-queue.redrive");
    assert!(
        redrive.contains(&format!(
            "(deployed RETRY_SCHEDULE {SCHEDULE} of {})",
            s.forwarder
        )),
        "{redrive}"
    );
    let visibility = r.detail("retry-queue.visibility");
    assert!(
        visibility.contains(&format!("timeout: deployed Timeout of {}", s.forwarder))
            && visibility.contains(&format!(
                "batching window of event source mapping {}",
                s.mapping
            )),
        "{visibility}"
    );
    assert!(
        r.detail("forwarder.concurrency")
            .contains("MaximumConcurrency 5 (template: 5)")
    );
    assert!(r.detail("eventbridge.target").contains(&s.forwarder_arn));
    let tls = r.detail("wfm.tls");
    assert!(
        tls.contains("token=REDACTED") && !tls.contains("hunter2"),
        "{tls}"
    );
    assert!(tls.contains("trusted chain (HTTP 200 to HEAD)"), "{tls}");
    let seen = s.wfm.seen();
    assert_eq!(seen.len(), 1, "one probe: {seen:?}");
    assert_eq!(seen[0].line, "HEAD /wfm/events HTTP/1.1", "no query sent");
    assert!(!seen[0].headers.contains("authorization"), "{:?}", seen[0]);
    let h = &seen[0].headers;
    assert!(
        !h.contains("content-length") || h.contains("content-length: 0"),
        "no body: {h}"
    );

    // A local RETRY_SCHEDULE does not count when the forwarder is deployed.
    let r = doctor(&[], &with(&vars, "RETRY_SCHEDULE", "30s"));
    assert_only(&r, &ALL_CHECKS, &[], "pass", "local RETRY_SCHEDULE ignored");

    // The deployed schedule disagrees with maxReceiveCount 14, then the deployed timeout with
    // the visibility timeout, then the mapping's batching window does.
    s.configure_forwarder("30s,2m,10m", 60).await;
    let r = doctor(&[], &vars);
    fails_only(
        &r,
        &["retry-queue.redrive"],
        "deployed RETRY_SCHEDULE of 3 steps",
    );
    assert!(
        r.detail("retry-queue.redrive")
            .contains("3 schedule steps (deployed RETRY_SCHEDULE 30s,2m,10m"),
        "{}",
        r.detail("retry-queue.redrive")
    );
    s.configure_forwarder(SCHEDULE, 61).await;
    let r = doctor(&[], &vars);
    fails_only(&r, &["retry-queue.visibility"], "deployed Timeout 61 s");
    assert!(r.detail("retry-queue.visibility").contains("= 366 s"));
    s.configure_forwarder(SCHEDULE, 60).await;
    s.update_mapping(|u| u.maximum_batching_window_in_seconds(5))
        .await;
    let r = doctor(&[], &vars);
    fails_only(&r, &["retry-queue.visibility"], "batching window 5 s");
    assert!(r.detail("retry-queue.visibility").contains("= 365 s"));
    s.update_mapping(|u| u.maximum_batching_window_in_seconds(0))
        .await;

    // The event source mapping: no ReportBatchItemFailures, no MaximumConcurrency, disabled.
    s.update_mapping(|u| u.set_function_response_types(Some(vec![])))
        .await;
    fails_only(
        &doctor(&[], &vars),
        &["forwarder.batch-failures"],
        "no ReportBatchItemFailures",
    );
    s.rewire_mapping().await;
    s.update_mapping(|u| u.scaling_config(ScalingConfig::builder().build()))
        .await;
    fails_only(
        &doctor(&[], &vars),
        &["forwarder.concurrency"],
        "no MaximumConcurrency",
    );
    s.rewire_mapping().await;
    s.update_mapping(|u| u.enabled(false)).await;
    let r = doctor(&[], &vars);
    fails_only(&r, &["forwarder.event-source"], "disabled mapping");
    assert!(r.detail("forwarder.event-source").contains("is Disabled"));
    s.rewire_mapping().await;

    // The async invoke config: no destination, another queue, none at all; a shorter age warns.
    s.put_invoke_config(None, 21600).await;
    fails_only(
        &doctor(&[], &vars),
        &["forwarder.on-failure"],
        "no on-failure destination",
    );
    s.put_invoke_config(Some(&s.other_arn), 21600).await;
    let r = doctor(&[], &vars);
    fails_only(&r, &["forwarder.on-failure"], "on-failure to another queue");
    assert!(r.detail("forwarder.on-failure").contains(&s.other_arn));
    s.delete_invoke_config().await;
    fails_only(
        &doctor(&[], &vars),
        &["forwarder.on-failure"],
        "no invoke config",
    );
    s.put_invoke_config(Some(&s.dlq_arn), 3600).await;
    let r = doctor(&[], &vars);
    assert_only(
        &r,
        &ALL_CHECKS,
        &["forwarder.event-age"],
        "warn",
        "event age 1 h",
    );
    assert_eq!(r.code, 0, "a warning alone exits 0");
    assert_eq!(doctor(&["--strict"], &vars).code, 5);
    s.put_invoke_config(Some(&s.dlq_arn), 21600).await;

    // EventBridge: the rule disabled, the rule without the forwarder, the bus missing.
    s.set_rule_enabled(false).await;
    let r = doctor(&[], &vars);
    fails_only(&r, &["eventbridge.rule"], "rule disabled");
    assert!(r.detail("eventbridge.rule").contains("is DISABLED"));
    s.set_rule_enabled(true).await;
    s.remove_target().await;
    let r = doctor(&[], &vars);
    fails_only(&r, &["eventbridge.target"], "rule without the forwarder");
    assert!(r.detail("eventbridge.target").contains("targets: none"));
    s.put_target(&s.forwarder_arn).await;
    let r = doctor(&[], &with(&vars, "EVENT_BUS", &unique("dr-no-bus")));
    fails_only(
        &r,
        &["eventbridge.bus", "eventbridge.rule", "eventbridge.target"],
        "bus missing",
    );
    // The stack's EventRuleName output on a custom bus reads `bus|rule`.
    let piped = format!("{}|{}", s.bus, s.rule);
    let r = doctor(&[], &with(&vars, "EVENT_RULE", &piped));
    assert_only(&r, &ALL_CHECKS, &[], "pass", "EVENT_RULE bus|rule");

    let r = doctor(&["--strict"], &vars);
    assert_only(&r, &ALL_CHECKS, &[], "pass", "repaired");
    assert_eq!(r.code, 0);
}

#[tokio::test]
async fn wfm_answers_tls_with_a_trusted_chain_or_the_check_says_why_not() {
    let s = WiredStack::create().await;
    let vars = s.vars();

    // WFM_URL wins over the forwarder's; plain http:// is a warn (exit 5 with --strict).
    let plain = with(&vars, "WFM_URL", "http://127.0.0.1:9/wfm?token=hunter2");
    let r = doctor(&[], &plain);
    assert_only(&r, &ALL_CHECKS, &["wfm.tls"], "warn", "http:// WFM_URL");
    assert_eq!(r.code, 0);
    let tls = r.detail("wfm.tls");
    assert!(
        tls.contains("(WFM_URL) is plain http://") && !tls.contains("hunter2"),
        "{tls}"
    );
    assert_eq!(doctor(&["--strict"], &plain).code, 5);

    // A chain signed by a CA this machine does not trust: a fail with the TLS error.
    let other_ca = tls_fixture("other-ca.pem").to_string_lossy().into_owned();
    let r = doctor(&[], &with(&vars, "SSL_CERT_FILE", &other_ca));
    fails_only(&r, &["wfm.tls"], "untrusted CA");
    let tls = r.detail("wfm.tls");
    assert!(
        tls.contains("TLS handshake failed") && !tls.contains("hunter2"),
        "{tls}"
    );
    assert!(tls.to_ascii_lowercase().contains("certificate"), "{tls}");
    let seen = s.wfm.seen().len();
    assert_eq!(seen, 0, "no HTTP request over an untrusted chain");

    // Its CA in SSL_CERT_FILE: a pass (the forwarder's WFM_URL, as deployed).
    let r = doctor(&[], &vars);
    assert_only(&r, &ALL_CHECKS, &[], "pass", "trusted CA");
    assert!(
        r.detail("wfm.tls")
            .contains(&format!("function {}", s.forwarder))
    );

    // Nothing listening: a fail saying what to check.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let r = doctor(
        &[],
        &with(&vars, "WFM_URL", &format!("https://127.0.0.1:{port}/wfm")),
    );
    fails_only(&r, &["wfm.tls"], "nothing listening");
    assert!(
        r.detail("wfm.tls").contains("no connection"),
        "{}",
        r.detail("wfm.tls")
    );
}

#[tokio::test]
async fn without_a_deployed_forwarder_local_values_stand_in_only_under_local() {
    let s = WiredStack::create().await;
    let gone = with(&s.vars(), "FORWARDER_FUNCTION", &unique("dr-not-deployed"));
    let forwarder_checks = [
        "forwarder.event-source",
        "forwarder.batch-failures",
        "forwarder.concurrency",
        "forwarder.on-failure",
        "forwarder.event-age",
        "eventbridge.target",
        "wfm.tls",
        // h27: the secrets of every function and the forwarder's profile.
        "secrets.exist",
        "secrets.role-policy",
        "profile",
        "profile.tables",
    ];
    // Under --local: the forwarder's checks warn, the queue checks use the local defaults.
    let r = doctor(&["--local"], &gone);
    assert_only(
        &r,
        &ALL_CHECKS,
        &forwarder_checks,
        "warn",
        "--local, not deployed",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.detail("retry-queue.redrive")
            .contains("not deployed locally"),
        "{}",
        r.detail("retry-queue.redrive")
    );
    assert_eq!(doctor(&["--local", "--strict"], &gone).code, 5);
    let short = with(&gone, "RETRY_SCHEDULE", "30s,2m,10m");
    let r = doctor(&["--local"], &short);
    assert_eq!(r.code, 4);
    assert!(
        r.detail("retry-queue.redrive")
            .contains("local RETRY_SCHEDULE 30s,2m,10m")
    );

    // Without --local: nothing deployed to compare with, so those fail too.
    let r = doctor(&[], &gone);
    let mut failing = forwarder_checks.to_vec();
    failing.extend(["retry-queue.redrive", "retry-queue.visibility"]);
    fails_only(&r, &failing, "not deployed");
    assert!(
        r.detail("retry-queue.redrive")
            .contains("no deployed RETRY_SCHEDULE")
    );
}

/// moto holds every setting doctor reads, as the builder set it, and the builder's repairs put
/// them back: the wiring the doctor tests rely on, read through the same APIs doctor calls.
#[tokio::test]
async fn the_wired_stack_holds_what_doctor_reads() {
    let s = WiredStack::create().await;
    let lambda = &s.fns.lambda;
    let conf = lambda
        .get_function_configuration()
        .function_name(&s.forwarder)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetFunctionConfiguration: {e:?}"));
    assert_eq!(conf.function_arn.as_deref(), Some(s.forwarder_arn.as_str()));
    assert_eq!(conf.role.as_deref(), Some(s.role_arn.as_str()));
    assert_eq!(conf.timeout, Some(60));
    let env = conf
        .environment
        .and_then(|e| e.variables)
        .unwrap_or_default();
    assert_eq!(
        env.get("RETRY_SCHEDULE").map(String::as_str),
        Some(SCHEDULE)
    );
    assert_eq!(
        env.get("WFM_URL").cloned(),
        Some(s.wfm.url(WFM_PATH)),
        "{env:?}"
    );

    let mappings = lambda
        .list_event_source_mappings()
        .function_name(&s.forwarder)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListEventSourceMappings: {e:?}"))
        .event_source_mappings
        .unwrap_or_default();
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    let m = &mappings[0];
    assert_eq!(m.uuid.as_deref(), Some(s.mapping.as_str()));
    assert_eq!(m.event_source_arn.as_deref(), Some(s.retry_arn.as_str()));
    assert_eq!(m.state.as_deref(), Some("Enabled"));
    assert_eq!(m.maximum_batching_window_in_seconds, Some(0));
    assert_eq!(
        m.function_response_types(),
        [FunctionResponseType::ReportBatchItemFailures]
    );
    assert_eq!(
        m.scaling_config
            .as_ref()
            .and_then(|c| c.maximum_concurrency),
        Some(5)
    );
    s.update_mapping(|u| u.enabled(false)).await;
    let state = |uuid: &str| {
        let lambda = lambda.clone();
        let uuid = uuid.to_owned();
        async move {
            lambda
                .get_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GetEventSourceMapping: {e:?}"))
                .state
        }
    };
    assert_eq!(state(&s.mapping).await.as_deref(), Some("Disabled"));
    s.rewire_mapping().await;
    assert_eq!(state(&s.mapping).await.as_deref(), Some("Enabled"));

    let invoke = |lambda: aws_sdk_lambda::Client, name: String| async move {
        lambda
            .get_function_event_invoke_config()
            .function_name(name)
            .send()
            .await
    };
    let c = invoke(lambda.clone(), s.forwarder.clone())
        .await
        .unwrap_or_else(|e| panic!("GetFunctionEventInvokeConfig: {e:?}"));
    assert_eq!(c.maximum_event_age_in_seconds, Some(21600));
    assert_eq!(
        c.destination_config
            .and_then(|d| d.on_failure)
            .and_then(|o| o.destination),
        Some(s.dlq_arn.clone())
    );
    s.put_invoke_config(Some(&s.other_arn), 3600).await;
    let c = invoke(lambda.clone(), s.forwarder.clone())
        .await
        .unwrap_or_else(|e| panic!("GetFunctionEventInvokeConfig: {e:?}"));
    assert_eq!(c.maximum_event_age_in_seconds, Some(3600), "replaced");
    s.delete_invoke_config().await;
    let gone = invoke(lambda.clone(), s.forwarder.clone()).await;
    assert!(
        gone.as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{gone:?}"
    );

    let events = &s.fns.events;
    let rule = events
        .describe_rule()
        .name(&s.rule)
        .event_bus_name(&s.bus)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeRule: {e:?}"));
    assert_eq!(rule.state, Some(RuleState::Enabled));
    let targets = || async {
        events
            .list_targets_by_rule()
            .rule(&s.rule)
            .event_bus_name(&s.bus)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListTargetsByRule: {e:?}"))
            .targets
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.arn)
            .collect::<Vec<_>>()
    };
    assert_eq!(targets().await, vec![s.forwarder_arn.clone()]);
    s.remove_target().await;
    assert_eq!(targets().await, Vec::<String>::new());

    // Reconfigured: moto keeps the new schedule and timeout.
    s.configure_forwarder("30s,2m,10m", 61).await;
    let conf = lambda
        .get_function_configuration()
        .function_name(&s.forwarder)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetFunctionConfiguration: {e:?}"));
    assert_eq!(conf.timeout, Some(61));

    // The HTTPS stand-in answers a client that trusts the test CA, and records the request.
    let ca = std::fs::read(crate::support::https::tls_fixture("ca.pem")).expect("ca.pem");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("CA PEM")])
        .build()
        .expect("client");
    let status = client
        .head(s.wfm.url("/wfm/events"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("HEAD the stand-in: {e:?}"))
        .status();
    assert_eq!(status.as_u16(), 200);
    let seen = s.wfm.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].line, "HEAD /wfm/events HTTP/1.1");
}
