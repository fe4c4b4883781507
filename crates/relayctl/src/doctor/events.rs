//! The EventBridge checks, from what `DescribeEventBus`, `DescribeRule` and `ListTargetsByRule`
//! return (Amazon EventBridge API Reference: a rule's `State` is `ENABLED`, `DISABLED` or
//! `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`; a target's `Arn`). Pure: the gathering is in
//! [`super::gather_fn`].

use super::{Finding, Status};

/// Check id: the partner event bus exists.
pub const BUS: &str = "eventbridge.bus";
/// Check id: the rule exists on that bus and is enabled.
pub const RULE: &str = "eventbridge.rule";
/// Check id: the rule targets the forwarder.
pub const TARGET: &str = "eventbridge.target";

/// The rule's name and, when given, its bus: CloudFormation's `Ref` of a rule on a custom bus
/// (the stack's `EventRuleName` output) is `bus-name|rule-name` (AWS CloudFormation User Guide,
/// `AWS::Events::Rule`, return values); a plain name has no bus part.
pub fn rule_name(event_rule: &str) -> (Option<&str>, &str) {
    match event_rule.split_once('|') {
        Some((bus, rule)) => (Some(bus), rule),
        None => (None, event_rule),
    }
}

/// The rule's state: `ENABLED` (or enabled with CloudTrail management events) passes; anything
/// else fails, as the forwarder then receives no event.
pub fn rule_state(rule: &str, bus: &str, state: Option<&str>) -> Finding {
    match state {
        Some(s) if s.starts_with("ENABLED") => {
            Finding::pass(RULE, format!("rule {rule} on bus {bus} is {s}"))
        }
        other => Finding::bad(
            RULE,
            Status::Fail,
            format!(
                "rule {rule} on bus {bus} is {}: Genesys Cloud's events reach no forwarder \
                 (EventBridge drops them)",
                other.unwrap_or("in no state")
            ),
            format!("enable it: aws events enable-rule --name {rule} --event-bus-name {bus}"),
        ),
    }
}

/// The rule must target the forwarder (`forwarder_arn`, or a qualified ARN of it: `…:alias`).
pub fn target(rule: &str, targets: &[String], forwarder_arn: &str) -> Finding {
    let qualified = format!("{forwarder_arn}:");
    let hit = targets
        .iter()
        .find(|t| *t == forwarder_arn || t.starts_with(&qualified));
    match hit {
        Some(t) => Finding::pass(TARGET, format!("rule {rule} targets the forwarder {t}")),
        None => Finding::bad(
            TARGET,
            Status::Fail,
            format!(
                "rule {rule} does not target the forwarder {forwarder_arn} (targets: {})",
                if targets.is_empty() {
                    "none".to_owned()
                } else {
                    targets.join(", ")
                }
            ),
            "add the forwarder as the rule's target (template: the PartnerBus event), or fix \
             EVENT_RULE / FORWARDER_FUNCTION",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FWD: &str = "arn:aws:lambda:us-east-1:1:function:fwd";

    #[test]
    fn the_outputs_rule_name_may_carry_its_bus() {
        assert_eq!(rule_name("partner|wfm-rule"), (Some("partner"), "wfm-rule"));
        assert_eq!(rule_name("wfm-rule"), (None, "wfm-rule"));
    }

    #[test]
    fn an_enabled_rule_passes_and_a_disabled_one_fails() {
        assert_eq!(rule_state("r", "b", Some("ENABLED")).status, Status::Pass);
        let off = rule_state("r", "b", Some("DISABLED"));
        assert_eq!(off.status, Status::Fail);
        assert!(off.detail.contains("is DISABLED"), "{}", off.detail);
        assert!(
            off.fix
                .as_deref()
                .unwrap_or("")
                .contains("enable-rule --name r")
        );
        assert_eq!(rule_state("r", "b", None).status, Status::Fail);
    }

    #[test]
    fn the_rule_must_target_the_forwarder() {
        assert_eq!(target("r", &[FWD.to_owned()], FWD).status, Status::Pass);
        assert_eq!(
            target("r", &[format!("{FWD}:live")], FWD).status,
            Status::Pass
        );
        let elsewhere = target("r", &[format!("{FWD}2")], FWD);
        assert_eq!(elsewhere.status, Status::Fail);
        assert!(elsewhere.detail.contains("fwd2"), "{}", elsewhere.detail);
        let none = target("r", &[], FWD);
        assert_eq!(none.status, Status::Fail);
        assert!(none.detail.contains("targets: none"));
    }
}
