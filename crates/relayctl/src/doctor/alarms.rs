//! The stack's CloudWatch alarms: each alarm template.yaml defines exists and notifies someone.
//! The template gives its alarms no `AlarmName`, so CloudFormation names them
//! `<stack>-<LogicalId>-<suffix>` (CloudFormation User Guide, "Name type") and `ALARM_PREFIX`
//! (the template's `AlarmPrefix` output) is `<stack>-`. Source of the facts: CloudWatch API
//! Reference, "DescribeAlarms" (`AlarmNamePrefix`, `ActionsEnabled`, `AlarmActions`).

use super::function::DoctorClients;
use super::gather::Unreachable;
use super::{Finding, Status};

/// Check id: every template alarm exists.
pub const EXIST: &str = "alarms.exist";
/// Check id: every alarm has its actions enabled and at least one alarm action.
pub const ACTIONS: &str = "alarms.actions";

/// The logical ids of template.yaml's unconditional `AWS::CloudWatch::Alarm` resources (a unit
/// test reads the template and keeps this list and [`SNAPSHOT_ALARMS`] equal to it).
pub const TEMPLATE_ALARMS: &[&str] = &[
    "DlqDepthAlarm",
    "DlqAgeAlarm",
    "ForwarderErrorsAlarm",
    "ForwarderAsyncEventAgeAlarm",
    "ForwarderAsyncEventsDroppedAlarm",
    "ForwarderDestinationFailuresAlarm",
    "WfmGoneAlarm",
    "WfmAuthConfigErrorAlarm",
    "WfmBreakerOpenAlarm",
    "RetryQueueAgeAlarm",
];

/// The alarms template.yaml defines only with the snapshot function (`Condition:
/// HasSnapshotSchedule`): expected when `SNAPSHOT_FUNCTION` names one.
pub const SNAPSHOT_ALARMS: &[&str] = &[
    "SnapshotErrorsAlarm",
    "SnapshotAsyncEventsDroppedAlarm",
    "SnapshotSkippedAlarm",
];

/// The alarms a stack has: [`TEMPLATE_ALARMS`], plus [`SNAPSHOT_ALARMS`] when it has a snapshot
/// function.
pub fn expected(with_snapshot: bool) -> Vec<&'static str> {
    let mut all = TEMPLATE_ALARMS.to_vec();
    if with_snapshot {
        all.extend_from_slice(SNAPSHOT_ALARMS);
    }
    all
}

/// What `DescribeAlarms` says of one metric alarm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alarm {
    /// `AlarmName`.
    pub name: String,
    /// `ActionsEnabled`.
    pub actions_enabled: bool,
    /// `AlarmActions` (ARNs: SNS topics, …).
    pub alarm_actions: Vec<String>,
}

/// The alarm of `logical_id` among `alarms`: named `<prefix><logical_id>-<suffix>` (or exactly
/// `<prefix><logical_id>`).
fn find<'a>(alarms: &'a [Alarm], prefix: &str, logical_id: &str) -> Option<&'a Alarm> {
    let base = format!("{prefix}{logical_id}");
    alarms
        .iter()
        .find(|a| a.name == base || a.name.starts_with(&format!("{base}-")))
}

/// The two alarm findings for the alarms found under `prefix` ([`expected`]`(with_snapshot)`).
/// A missing alarm is a fail (a warn under `local`: the demo has no alarms).
pub fn evaluate(prefix: &str, alarms: &[Alarm], local: bool, with_snapshot: bool) -> Vec<Finding> {
    let wanted = expected(with_snapshot);
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|id| find(alarms, prefix, id).is_none())
        .collect();
    let found: Vec<&Alarm> = wanted
        .iter()
        .filter_map(|id| find(alarms, prefix, id))
        .collect();
    let total = wanted.len();
    let missing_status = if local { Status::Warn } else { Status::Fail };
    let exist = if missing.is_empty() {
        Finding::pass(EXIST, format!("all {total} template alarms under {prefix}"))
    } else {
        Finding::bad(
            EXIST,
            missing_status,
            format!(
                "{} of {total} template alarms missing under `{prefix}`{}: {}",
                missing.len(),
                if local { " (not deployed locally)" } else { "" },
                missing.join(", ")
            ),
            "deploy the stack's template.yaml (its alarms), or fix ALARM_PREFIX (the stack's \
             AlarmPrefix output, `<stack>-`)",
        )
    };
    let silent: Vec<&str> = found
        .iter()
        .filter(|a| !a.actions_enabled || a.alarm_actions.is_empty())
        .map(|a| a.name.as_str())
        .collect();
    let actions = if found.is_empty() {
        Finding::bad(
            ACTIONS,
            missing_status,
            "no template alarm to check",
            "deploy the stack's alarms first (alarms.exist)",
        )
    } else if silent.is_empty() {
        Finding::pass(
            ACTIONS,
            format!(
                "{} alarms notify (actions enabled, an alarm action each)",
                found.len()
            ),
        )
    } else {
        Finding::bad(
            ACTIONS,
            Status::Fail,
            format!(
                "{} alarms notify nobody (actions disabled or no AlarmActions): {}",
                silent.len(),
                silent.join(", ")
            ),
            "deploy with AlarmEmail set (the template's AlarmTopic becomes every alarm's action), \
             and enable the actions (aws cloudwatch enable-alarm-actions --alarm-names …)",
        )
    };
    vec![exist, actions]
}

/// Lists the metric alarms whose names start with `prefix` (DescribeAlarms, every page).
///
/// # Errors
/// [`Unreachable`] for any AWS error.
pub async fn describe(clients: &DoctorClients, prefix: &str) -> Result<Vec<Alarm>, Unreachable> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Unreachable {
                call: format!("DescribeAlarms (ALARM_PREFIX {prefix})"),
                chain: format!("{e:?}"),
            })?;
        out.extend(page.metric_alarms().iter().map(|a| Alarm {
            name: a.alarm_name().unwrap_or_default().to_owned(),
            actions_enabled: a.actions_enabled().unwrap_or(false),
            alarm_actions: a.alarm_actions().to_vec(),
        }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// The alarm checks: [`describe`] then [`evaluate`] (`with_snapshot`: the stack has a snapshot
/// function, so its alarms are expected too); `ALARM_PREFIX` unset is a fail (a warn under
/// `local`).
///
/// # Errors
/// [`Unreachable`] for any AWS error.
pub async fn checks(
    clients: &DoctorClients,
    prefix: Option<&str>,
    local: bool,
    with_snapshot: bool,
) -> Result<Vec<Finding>, Unreachable> {
    let Some(prefix) = prefix else {
        let status = if local { Status::Warn } else { Status::Fail };
        let fix =
            "set ALARM_PREFIX (the stack's AlarmPrefix output, `<stack>-`), or give --stack NAME";
        return Ok(vec![
            Finding::bad(EXIST, status, "ALARM_PREFIX is not set", fix),
            Finding::bad(ACTIONS, status, "ALARM_PREFIX is not set", fix),
        ]);
    };
    Ok(evaluate(
        prefix,
        &describe(clients, prefix).await?,
        local,
        with_snapshot,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(id: &str, enabled: bool, actions: &[&str]) -> Alarm {
        Alarm {
            name: format!("wfm-relay-{id}-1A2B3C"),
            actions_enabled: enabled,
            alarm_actions: actions.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_list_is_the_templates_alarms() {
        let tpl = include_str!("../../../../template.yaml");
        let lines: Vec<&str> = tpl.lines().collect();
        let mut in_template: Vec<&str> = lines
            .windows(2)
            .filter(|w| w[1].trim() == "Type: AWS::CloudWatch::Alarm")
            .filter_map(|w| w[0].trim().strip_suffix(':'))
            .collect();
        in_template.sort_unstable();
        let mut listed = expected(true);
        listed.sort_unstable();
        assert_eq!(listed, in_template);
        let conditional: Vec<&str> = lines
            .windows(3)
            .filter(|w| {
                w[1].trim() == "Type: AWS::CloudWatch::Alarm"
                    && w[2].trim() == "Condition: HasSnapshotSchedule"
            })
            .filter_map(|w| w[0].trim().strip_suffix(':'))
            .collect();
        assert_eq!(conditional, SNAPSHOT_ALARMS);
        assert_eq!(expected(false), TEMPLATE_ALARMS);
    }

    #[test]
    fn every_alarm_must_exist_and_notify() {
        let topic = ["arn:aws:sns:us-east-1:123456789012:wfm-relay-AlarmTopic"];
        let all: Vec<Alarm> = TEMPLATE_ALARMS
            .iter()
            .map(|id| alarm(id, true, &topic))
            .collect();
        let f = evaluate("wfm-relay-", &all, false, false);
        assert_eq!(
            f.iter().map(|f| f.status).collect::<Vec<_>>(),
            [Status::Pass; 2]
        );
        assert_eq!(f[0].check, EXIST);
        assert_eq!(
            f[1].detail,
            "10 alarms notify (actions enabled, an alarm action each)"
        );

        // "DlqAgeAlarm" must not be taken for "DlqAgeAlarmX"; another stack's alarms do not count.
        let mut broken: Vec<Alarm> = all[1..].to_vec();
        broken.push(Alarm {
            name: "wfm-relay-DlqDepthAlarmX-1".into(),
            ..all[0].clone()
        });
        broken[0].alarm_actions.clear();
        broken[1].actions_enabled = false;
        let f = evaluate("wfm-relay-", &broken, false, false);
        assert_eq!(f[0].status, Status::Fail);
        assert!(f[0].detail.ends_with(": DlqDepthAlarm"), "{}", f[0].detail);
        assert_eq!(f[1].status, Status::Fail);
        assert!(
            f[1].detail
                .contains("wfm-relay-DlqAgeAlarm-1A2B3C, wfm-relay-ForwarderErrorsAlarm-1A2B3C"),
            "{}",
            f[1].detail
        );
        let f = evaluate("other-", &all, false, false);
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(f[1].status, Status::Fail);
        let f = evaluate("wfm-relay-", &[], true, false);
        assert_eq!(
            f.iter().map(|f| f.status).collect::<Vec<_>>(),
            [Status::Warn; 2]
        );
    }

    #[test]
    fn a_stack_with_a_snapshot_function_needs_its_alarms_too() {
        let topic = ["arn:aws:sns:us-east-1:123456789012:wfm-relay-AlarmTopic"];
        let base: Vec<Alarm> = TEMPLATE_ALARMS
            .iter()
            .map(|id| alarm(id, true, &topic))
            .collect();
        let f = evaluate("wfm-relay-", &base, false, true);
        assert_eq!(f[0].check, EXIST);
        assert_eq!(f[0].status, Status::Fail);
        assert!(
            f[0].detail.starts_with("3 of 13 template alarms missing"),
            "{}",
            f[0].detail
        );
        assert!(
            f[0].detail.contains("SnapshotSkippedAlarm"),
            "{}",
            f[0].detail
        );
        let mut all = base.clone();
        all.extend(SNAPSHOT_ALARMS.iter().map(|id| alarm(id, true, &topic)));
        let f = evaluate("wfm-relay-", &all, false, true);
        assert_eq!((f[0].status, f[1].status), (Status::Pass, Status::Pass));
        assert_eq!(f[0].detail, "all 13 template alarms under wfm-relay-");
    }
}
