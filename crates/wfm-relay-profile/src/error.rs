//! Errors: a profile that cannot be loaded, a table that cannot be read, an event the profile
//! cannot transform.

use std::fmt;

/// A profile that fails to load: the message names `WFM_PROFILE` and the field, e.g.
/// `WFM_PROFILE: state_codes[3].routing_status: unknown value "IDEL" (one of …)`.
///
/// Start-up fails with this message (PRODUCT.md §10: a profile is read and validated at
/// start-up by the forwarder, the replayer and relayctl).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProfileError {
    /// The field path inside the profile (`body.jq`, `state_codes[3].routing_status`), or
    /// `None` when the problem is the document or the location as a whole.
    pub field: Option<String>,
    /// What is wrong, for a person.
    pub message: String,
}

impl ProfileError {
    /// An error about one field of the profile.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An error about the profile as a whole (its location, its JSON syntax).
    pub fn whole(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "WFM_PROFILE: {field}: {}", self.message),
            None => write!(f, "WFM_PROFILE: {}", self.message),
        }
    }
}

/// A mapping or user-field table that cannot be parsed. The message names the variable the
/// table came from (`WFM_PROFILE_MAPPING` or `WFM_PROFILE_USER_FIELDS`) and the line or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct TableError {
    /// `WFM_PROFILE_MAPPING` or `WFM_PROFILE_USER_FIELDS`.
    pub variable: &'static str,
    /// What is wrong and where (`line 7: empty wfm_id`).
    pub message: String,
}

/// Why one event could not be transformed. Each variant parks the event with its own reason
/// token (PRODUCT.md §5); the `Display` text is the dead letter's `last_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The event's user id is missing from a good table, or the event has no user id, and the
    /// profile says `"unmapped": "park"`. Reason `unmapped_agent`; replayable once the mapping
    /// is fixed.
    #[error("unmapped agent: {}", unmapped_text(.user_id.as_deref(), .table))]
    UnmappedAgent {
        /// The Genesys user id that was looked up, if the event has one.
        user_id: Option<String>,
        /// Which table was consulted, for the message (`agent mapping table
        /// (WFM_PROFILE_MAPPING)`, …).
        table: &'static str,
    },
    /// The jq program failed, produced something other than what the profile declares, or the
    /// profile cannot be applied to this event. Reason `transform_failed`.
    #[error("transform failed: {0}")]
    TransformFailed(String),
}

impl TransformError {
    /// The dead-letter reason token for this error: `unmapped_agent` or `transform_failed`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnmappedAgent { .. } => "unmapped_agent",
            Self::TransformFailed(_) => "transform_failed",
        }
    }
}

fn unmapped_text(user_id: Option<&str>, table: &str) -> String {
    match user_id {
        Some(id) => format!("user id {id} is not in the {table}"),
        None => "the event has no user id".to_owned(),
    }
}

/// A profile variable with a bad value, or profile variables that contradict each other. The
/// message names the variable (`WFM_PROFILE_MAPPING: …`); start-up fails with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct SettingsError {
    /// The variable at fault.
    pub variable: &'static str,
    /// What is wrong.
    pub message: String,
}
