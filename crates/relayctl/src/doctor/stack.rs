//! `relayctl doctor --stack NAME`: the names of [`super::targets::VARIABLES`] from a deployed
//! CloudFormation stack instead of the environment. A variable that is set (environment or
//! `--env-file`) wins over the stack's value.
//!
//! Sources: CloudFormation API Reference, "ListStackResources" (paginated; used rather than
//! DescribeStackResources, which returns at most 100 resources) and "DescribeStacks" (Outputs,
//! Parameters). A resource's physical id is its name for `AWS::Lambda::Function` and
//! `AWS::S3::Bucket`, its URL for `AWS::SQS::Queue`, and `<bus>|<rule>` or `<rule>` for an
//! `AWS::Events::Rule`.

use super::function::DoctorClients;
use super::gather::Unreachable;
use std::collections::BTreeMap;

/// template.yaml's logical ids → the variables their physical ids fill.
pub const RESOURCES: &[(&str, &str)] = &[
    ("ForwarderFunction", "FORWARDER_FUNCTION"),
    ("ReplayerFunction", "REPLAYER_FUNCTION"),
    ("SnapshotFunction", "SNAPSHOT_FUNCTION"),
    // The rule SAM generates for ForwarderFunction's `PartnerBus` event.
    ("ForwarderFunctionPartnerBus", "EVENT_RULE"),
    ("RetryQueue", "RETRY_QUEUE_URL"),
    ("DeadLetterQueue", "DLQ_URL"),
    ("ArchiveBucket", "ARCHIVE_BUCKET"),
];

/// What doctor read of the stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackFacts {
    /// The stack's name.
    pub name: String,
    /// `(LogicalResourceId, PhysicalResourceId)` of every resource.
    pub resources: Vec<(String, String)>,
    /// `(OutputKey, OutputValue)`.
    pub outputs: Vec<(String, String)>,
    /// `(ParameterKey, ParameterValue)`.
    pub parameters: Vec<(String, String)>,
}

/// The variables the stack gives: [`RESOURCES`]; `EVENT_BUS` from the `EventBusName` output,
/// else the `PartnerEventBusName` parameter; `ALARM_PREFIX` from the `AlarmPrefix` output, else
/// `<stack>-` (CloudFormation's names of alarms without `AlarmName`).
pub fn names(stack: &StackFacts) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    for (logical, variable) in RESOURCES {
        if let Some((_, physical)) = stack.resources.iter().find(|(l, _)| l == logical) {
            let value = match *variable {
                "EVENT_RULE" => physical.rsplit('|').next().unwrap_or(physical),
                _ => physical.as_str(),
            };
            if !value.is_empty() {
                out.insert(*variable, value.to_owned());
            }
        }
    }
    let find = |list: &[(String, String)], key: &str| {
        list.iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    if let Some(bus) = find(&stack.outputs, "EventBusName")
        .or_else(|| find(&stack.parameters, "PartnerEventBusName"))
    {
        out.insert("EVENT_BUS", bus);
    }
    out.insert(
        "ALARM_PREFIX",
        find(&stack.outputs, "AlarmPrefix").unwrap_or_else(|| format!("{}-", stack.name)),
    );
    out
}

/// A lookup that gives a set variable first, then the stack's value; also returns the
/// variables the environment overrode (for the note doctor prints).
pub fn overlay<'a>(
    env: impl Fn(&str) -> Option<String> + 'a,
    stack: &'a BTreeMap<&'static str, String>,
) -> (impl Fn(&str) -> Option<String> + 'a, Vec<&'static str>) {
    let set = move |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let overridden = stack.keys().copied().filter(|k| set(k).is_some()).collect();
    let lookup = move |k: &str| set(k).or_else(|| stack.get(k).cloned());
    (lookup, overridden)
}

/// Why the stack could not be read.
#[derive(Debug)]
pub enum StackError {
    /// DescribeStacks says there is no such stack.
    NotFound(String),
    /// Any other AWS error.
    Unreachable(Unreachable),
}

/// Reads the stack's outputs, parameters and resources (every page).
///
/// # Errors
/// [`StackError::NotFound`] when there is no such stack (CloudFormation answers
/// `ValidationError … does not exist`), else [`StackError::Unreachable`].
pub async fn read(clients: &DoctorClients, name: &str) -> Result<StackFacts, StackError> {
    let cf = &clients.cloudformation;
    let described = match cf.describe_stacks().stack_name(name).send().await {
        Ok(d) => d,
        Err(e) => {
            let chain = format!("{e:?}");
            return Err(if chain.contains("does not exist") {
                StackError::NotFound(name.to_owned())
            } else {
                StackError::Unreachable(Unreachable {
                    call: format!("DescribeStacks (--stack {name})"),
                    chain,
                })
            });
        }
    };
    let Some(stack) = described.stacks().first() else {
        return Err(StackError::NotFound(name.to_owned()));
    };
    let pair = |k: Option<&str>, v: Option<&str>| {
        (
            k.unwrap_or_default().to_owned(),
            v.unwrap_or_default().to_owned(),
        )
    };
    let mut facts = StackFacts {
        name: stack.stack_name().unwrap_or(name).to_owned(),
        resources: Vec::new(),
        outputs: stack
            .outputs()
            .iter()
            .map(|o| pair(o.output_key(), o.output_value()))
            .collect(),
        parameters: stack
            .parameters()
            .iter()
            .map(|p| pair(p.parameter_key(), p.parameter_value()))
            .collect(),
    };
    let mut token: Option<String> = None;
    loop {
        let page = cf
            .list_stack_resources()
            .stack_name(name)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                StackError::Unreachable(Unreachable {
                    call: format!("ListStackResources (--stack {name})"),
                    chain: format!("{e:?}"),
                })
            })?;
        facts.resources.extend(
            page.stack_resource_summaries()
                .iter()
                .map(|r| pair(r.logical_resource_id(), r.physical_resource_id())),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(facts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn the_stack_gives_the_names_and_set_variables_win() {
        let facts = StackFacts {
            name: "wfm-relay".into(),
            resources: pairs(&[
                ("ForwarderFunction", "wfm-relay-ForwarderFunction-AB12"),
                ("ReplayerFunction", "wfm-relay-ReplayerFunction-CD34"),
                (
                    "ForwarderFunctionPartnerBus",
                    "aws.partner/genesys.com/x|wfm-relay-Rule-EF",
                ),
                (
                    "RetryQueue",
                    "https://sqs.us-east-1.amazonaws.com/1/wfm-relay-RetryQueue-1",
                ),
                (
                    "DeadLetterQueue",
                    "https://sqs.us-east-1.amazonaws.com/1/wfm-relay-Dlq-2",
                ),
                ("ArchiveBucket", "wfm-relay-archivebucket-3"),
                ("ForwarderRole", "wfm-relay-ForwarderRole-4"),
            ]),
            outputs: Vec::new(),
            parameters: pairs(&[("PartnerEventBusName", "aws.partner/genesys.com/x")]),
        };
        let n = names(&facts);
        assert_eq!(n["FORWARDER_FUNCTION"], "wfm-relay-ForwarderFunction-AB12");
        assert_eq!(n["EVENT_RULE"], "wfm-relay-Rule-EF");
        assert_eq!(n["EVENT_BUS"], "aws.partner/genesys.com/x");
        assert_eq!(n["ALARM_PREFIX"], "wfm-relay-");
        assert_eq!(
            n["DLQ_URL"],
            "https://sqs.us-east-1.amazonaws.com/1/wfm-relay-Dlq-2"
        );
        assert!(!n.contains_key("SNAPSHOT_FUNCTION"));
        assert_eq!(n.len(), 8);

        let with_outputs = StackFacts {
            outputs: pairs(&[("EventBusName", "bus-out"), ("AlarmPrefix", "custom-")]),
            ..facts
        };
        let n = names(&with_outputs);
        assert_eq!(n["EVENT_BUS"], "bus-out");
        assert_eq!(n["ALARM_PREFIX"], "custom-");

        let env = |k: &str| match k {
            "DLQ_URL" => Some("http://local/dlq".to_owned()),
            "ARCHIVE_BUCKET" => Some(" ".to_owned()),
            _ => None,
        };
        let (lookup, overridden) = overlay(env, &n);
        assert_eq!(lookup("DLQ_URL").as_deref(), Some("http://local/dlq"));
        assert_eq!(
            lookup("ARCHIVE_BUCKET").as_deref(),
            Some("wfm-relay-archivebucket-3")
        );
        assert_eq!(lookup("SNAPSHOT_FUNCTION"), None);
        assert_eq!(overridden, ["DLQ_URL"]);
    }
}
