//! The stack's resource names, as the template's Outputs give them (names, not ARNs), from the
//! environment or `--env-file`. Pure: the caller passes the lookup.

/// The variables doctor reads, in the order of issue 14 item 4.
pub const VARIABLES: &[&str] = &[
    "FORWARDER_FUNCTION",
    "REPLAYER_FUNCTION",
    "SNAPSHOT_FUNCTION",
    "EVENT_BUS",
    "EVENT_RULE",
    "RETRY_QUEUE_URL",
    "DLQ_URL",
    "ARCHIVE_BUCKET",
    "ALARM_PREFIX",
];

/// What doctor checks: each name is `None` when its variable is unset or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackNames {
    /// `FORWARDER_FUNCTION`: the forwarder's function name.
    pub forwarder_function: Option<String>,
    /// `REPLAYER_FUNCTION`: the replayer's function name.
    pub replayer_function: Option<String>,
    /// `SNAPSHOT_FUNCTION` (optional: only stacks with snapshots have one).
    pub snapshot_function: Option<String>,
    /// `EVENT_BUS`: the partner event bus name.
    pub event_bus: Option<String>,
    /// `EVENT_RULE`: the EventBridge rule name.
    pub event_rule: Option<String>,
    /// `RETRY_QUEUE_URL`: the retry queue's URL.
    pub retry_queue_url: Option<String>,
    /// `DLQ_URL`: the dead-letter queue's URL.
    pub dlq_url: Option<String>,
    /// `ARCHIVE_BUCKET`: the archive bucket's name.
    pub archive_bucket: Option<String>,
    /// `ALARM_PREFIX`: the prefix of the stack's alarm names.
    pub alarm_prefix: Option<String>,
}

impl StackNames {
    /// Reads [`VARIABLES`] through `var` (empty values count as unset).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        StackNames {
            forwarder_function: get("FORWARDER_FUNCTION"),
            replayer_function: get("REPLAYER_FUNCTION"),
            snapshot_function: get("SNAPSHOT_FUNCTION"),
            event_bus: get("EVENT_BUS"),
            event_rule: get("EVENT_RULE"),
            retry_queue_url: get("RETRY_QUEUE_URL"),
            dlq_url: get("DLQ_URL"),
            archive_bucket: get("ARCHIVE_BUCKET"),
            alarm_prefix: get("ALARM_PREFIX"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_variables_and_blank_is_unset() {
        let env = |k: &str| match k {
            "RETRY_QUEUE_URL" => Some(" http://q/retry ".to_owned()),
            "DLQ_URL" => Some("http://q/dlq".to_owned()),
            "SNAPSHOT_FUNCTION" => Some(String::new()),
            "ARCHIVE_BUCKET" => Some("wfm-archive".to_owned()),
            _ => None,
        };
        let n = StackNames::from_lookup(env);
        assert_eq!(n.retry_queue_url.as_deref(), Some("http://q/retry"));
        assert_eq!(n.dlq_url.as_deref(), Some("http://q/dlq"));
        assert_eq!(n.archive_bucket.as_deref(), Some("wfm-archive"));
        assert_eq!(n.snapshot_function, None);
        assert_eq!(n.forwarder_function, None);
        assert_eq!(VARIABLES.len(), 9);
    }
}
