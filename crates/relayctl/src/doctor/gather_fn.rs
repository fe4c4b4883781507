//! The AWS calls behind the forwarder's Lambda checks ([`lambda`]: ListEventSourceMappings,
//! GetFunctionEventInvokeConfig), the EventBridge checks ([`events`]: DescribeEventBus,
//! DescribeRule, ListTargetsByRule); the queue ARNs they compare with come from the queue
//! attributes read once ([`super::gather::QueueFacts::arns`]). Metadata only, nothing changed; a resource that does not exist is a finding
//! ([`Finding::missing`]), any other AWS error is [`Unreachable`].

use super::events;
use super::function::{DoctorClients, FunctionFacts};
use super::gather::Unreachable;
use super::lambda::{self, InvokeConfig, Mapping};
use super::targets::StackNames;
use super::{Finding, Status};

/// The forwarder as doctor found it.
#[derive(Debug, Clone, Copy)]
pub enum Forwarder<'a> {
    /// `FORWARDER_FUNCTION` is not set.
    Unset,
    /// No function of that name.
    Missing(&'a str),
    /// Deployed, with its configuration.
    Deployed(&'a FunctionFacts),
}

impl<'a> Forwarder<'a> {
    /// From the name (if set) and what `GetFunctionConfiguration` returned.
    pub fn from(name: Option<&'a str>, facts: Option<&'a FunctionFacts>) -> Self {
        match (name, facts) {
            (None, _) => Forwarder::Unset,
            (Some(_), Some(f)) => Forwarder::Deployed(f),
            (Some(n), None) => Forwarder::Missing(n),
        }
    }

    /// The finding for `check` when the forwarder is not deployed (`None` when it is).
    fn absent(self, check: &'static str, local: bool) -> Option<Finding> {
        match self {
            Forwarder::Deployed(_) => None,
            Forwarder::Unset => Some(unset(check, "FORWARDER_FUNCTION", local)),
            Forwarder::Missing(n) => Some(Finding::missing(
                check,
                &format!("function {n}"),
                local,
                "deploy the stack, or fix FORWARDER_FUNCTION",
            )),
        }
    }
}

/// `variable` is not set: a fail, or under `--local` a warn (the local stack has no such
/// resource).
fn unset(check: &'static str, variable: &str, local: bool) -> Finding {
    let status = if local { Status::Warn } else { Status::Fail };
    let detail = if local {
        format!("{variable} is not set: not deployed locally")
    } else {
        format!("{variable} is not set")
    };
    Finding::bad(
        check,
        status,
        detail,
        format!(
            "set {variable} (the stack's output of the same meaning) in the environment or \
             --env-file"
        ),
    )
}

/// The forwarder's event source mapping whose `EventSourceArn` is `retry_arn` (all pages).
pub async fn mapping(
    clients: &DoctorClients,
    function: &str,
    retry_arn: &str,
) -> Result<Option<Mapping>, Unreachable> {
    let mut marker: Option<String> = None;
    loop {
        let out = clients
            .lambda
            .list_event_source_mappings()
            .function_name(function)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| Unreachable {
                call: format!("ListEventSourceMappings (FORWARDER_FUNCTION {function})"),
                chain: format!("{e:?}"),
            })?;
        let found = out
            .event_source_mappings()
            .iter()
            .find(|m| m.event_source_arn() == Some(retry_arn));
        if let Some(m) = found {
            return Ok(Some(Mapping {
                uuid: m.uuid().unwrap_or_default().to_owned(),
                state: m.state().unwrap_or_default().to_owned(),
                response_types: m
                    .function_response_types()
                    .iter()
                    .map(|t| t.as_str().to_owned())
                    .collect(),
                max_concurrency: m.scaling_config().and_then(|c| c.maximum_concurrency()),
                batching_window_s: m.maximum_batching_window_in_seconds(),
            }));
        }
        match out.next_marker {
            Some(next) if !next.is_empty() => marker = Some(next),
            _ => return Ok(None),
        }
    }
}

/// The forwarder's async invoke config; `Ok(None)` when it has none.
pub async fn invoke_config(
    clients: &DoctorClients,
    function: &str,
) -> Result<Option<InvokeConfig>, Unreachable> {
    match clients
        .lambda
        .get_function_event_invoke_config()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => Ok(Some(InvokeConfig {
            on_failure: out
                .destination_config()
                .and_then(|d| d.on_failure())
                .and_then(|o| o.destination())
                .map(str::to_owned),
            max_event_age_s: out.maximum_event_age_in_seconds(),
            max_retry_attempts: out.maximum_retry_attempts(),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Unreachable {
            call: format!("GetFunctionEventInvokeConfig (FORWARDER_FUNCTION {function})"),
            chain: format!("{e:?}"),
        }),
    }
}

/// The ARNs the Lambda checks compare with: the retry queue's and the DLQ's (`None` when the
/// URL is unset or the queue does not exist; the queue checks report that).
#[derive(Debug, Clone, Default)]
pub struct QueueArns {
    /// The retry queue's ARN.
    pub retry: Option<String>,
    /// The DLQ's ARN.
    pub dlq: Option<String>,
}

/// The forwarder's Lambda checks ([`lambda`]) and the mapping found (its batching window feeds
/// the visibility check).
pub async fn lambda_checks(
    clients: &DoctorClients,
    forwarder: Forwarder<'_>,
    arns: &QueueArns,
    local: bool,
) -> Result<(Vec<Finding>, Option<Mapping>), Unreachable> {
    let mapping_ids = [
        lambda::EVENT_SOURCE,
        lambda::BATCH_FAILURES,
        lambda::CONCURRENCY,
    ];
    let Forwarder::Deployed(facts) = forwarder else {
        let out = mapping_ids
            .iter()
            .chain(&[lambda::ON_FAILURE, lambda::EVENT_AGE])
            .filter_map(|c| forwarder.absent(c, local))
            .collect();
        return Ok((out, None));
    };
    let mut out = Vec::new();
    let found = match &arns.retry {
        Some(retry_arn) => mapping(clients, &facts.name, retry_arn).await?,
        None => None,
    };
    match (&found, &arns.retry) {
        (Some(m), _) => out.extend(lambda::mapping_checks(m)),
        (None, Some(_)) => out.extend(mapping_ids.iter().map(|c| {
            Finding::missing(
                c,
                &format!(
                    "an event source mapping of {} on the retry queue",
                    facts.name
                ),
                local,
                "add the retry queue as the forwarder's SQS event source (template: the \
                 RetryQueue event), or fix RETRY_QUEUE_URL",
            )
        })),
        (None, None) => out.extend(mapping_ids.iter().map(|c| {
            Finding::bad(
                c,
                Status::Fail,
                "no retry queue (RETRY_QUEUE_URL unset or not found) to find the forwarder's \
                 event source mapping with",
                "set RETRY_QUEUE_URL to the stack's retry queue",
            )
        })),
    }
    let config = invoke_config(clients, &facts.name).await?;
    out.push(match &arns.dlq {
        Some(dlq) => lambda::on_failure(config.as_ref(), dlq),
        None => Finding::bad(
            lambda::ON_FAILURE,
            Status::Fail,
            "no DLQ (DLQ_URL unset or not found) to compare the on-failure destination with",
            "set DLQ_URL to the stack's dead-letter queue",
        ),
    });
    out.push(lambda::event_age(config.as_ref()));
    Ok((out, found))
}

/// The EventBridge checks ([`events`]): the bus exists, the rule on it is enabled, it targets
/// the forwarder.
pub async fn eventbridge_checks(
    clients: &DoctorClients,
    names: &StackNames,
    forwarder: Forwarder<'_>,
    local: bool,
) -> Result<Vec<Finding>, Unreachable> {
    let (rule_bus, rule) = match &names.event_rule {
        Some(r) => {
            let (b, r) = events::rule_name(r);
            (b, Some(r))
        }
        None => (None, None),
    };
    let Some(bus) = names.event_bus.as_deref().or(rule_bus) else {
        return Ok(vec![
            unset(events::BUS, "EVENT_BUS", local),
            unset(events::RULE, "EVENT_BUS", local),
            unset(events::TARGET, "EVENT_BUS", local),
        ]);
    };
    let unreachable = |call: &str, e: String| Unreachable {
        call: format!("{call} (EVENT_BUS {bus})"),
        chain: e,
    };
    let ev = &clients.events;
    if let Err(e) = ev.describe_event_bus().name(bus).send().await {
        if e.as_service_error()
            .is_some_and(|s| s.is_resource_not_found_exception())
        {
            let what = format!("event bus {bus}");
            let fix = "deploy the stack (the partner event source's bus), or fix EVENT_BUS";
            return Ok(vec![
                Finding::missing(events::BUS, &what, local, fix),
                Finding::missing(events::RULE, &what, local, fix),
                Finding::missing(events::TARGET, &what, local, fix),
            ]);
        }
        return Err(unreachable("DescribeEventBus", format!("{e:?}")));
    }
    let mut out = vec![Finding::pass(
        events::BUS,
        format!("event bus {bus} exists"),
    )];
    let Some(rule) = rule else {
        out.push(unset(events::RULE, "EVENT_RULE", local));
        out.push(unset(events::TARGET, "EVENT_RULE", local));
        return Ok(out);
    };
    let described = match ev
        .describe_rule()
        .name(rule)
        .event_bus_name(bus)
        .send()
        .await
    {
        Ok(d) => d,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            let what = format!("rule {rule} on bus {bus}");
            let fix = "deploy the stack, or fix EVENT_RULE / EVENT_BUS";
            out.push(Finding::missing(events::RULE, &what, local, fix));
            out.push(Finding::missing(events::TARGET, &what, local, fix));
            return Ok(out);
        }
        Err(e) => return Err(unreachable("DescribeRule", format!("{e:?}"))),
    };
    out.push(events::rule_state(
        rule,
        bus,
        described.state().map(|s| s.as_str()),
    ));
    let Forwarder::Deployed(facts) = forwarder else {
        out.extend(forwarder.absent(events::TARGET, local));
        return Ok(out);
    };
    let mut targets = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ev
            .list_targets_by_rule()
            .rule(rule)
            .event_bus_name(bus)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| unreachable("ListTargetsByRule", format!("{e:?}")))?;
        targets.extend(page.targets().iter().map(|t| t.arn().to_owned()));
        match page.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    out.push(events::target(rule, &targets, &facts.arn));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_forwarder_fails_or_warns_under_local() {
        let facts = FunctionFacts::default();
        assert_eq!(
            Forwarder::from(Some("f"), Some(&facts)).absent(lambda::ON_FAILURE, false),
            None
        );
        let unset = Forwarder::from(None, None).absent(lambda::ON_FAILURE, false);
        let unset = unset.expect("a finding");
        assert_eq!(unset.status, Status::Fail);
        assert_eq!(unset.detail, "FORWARDER_FUNCTION is not set");
        let local = Forwarder::Unset.absent(lambda::ON_FAILURE, true);
        assert_eq!(local.map(|f| f.status), Some(Status::Warn));
        let gone = Forwarder::from(Some("f"), None).absent(events::TARGET, false);
        let gone = gone.expect("a finding");
        assert_eq!((gone.check, gone.status), (events::TARGET, Status::Fail));
        assert_eq!(gone.detail, "function f: not found");
    }
}
