//! State codes: a table from what a Genesys event says about the agent (system presence,
//! presence definition id, routing status) to the WFM's own state and reason codes.
//!
//! Facts: Genesys Cloud system presences are Available, Away, Break, Busy, Idle, Meal, Meeting,
//! Offline, On Queue and Training; routing statuses are OFF_QUEUE, IDLE, INTERACTING,
//! NOT_RESPONDING and COMMUNICATING (Genesys Cloud Platform API, `PresenceDefinition` and
//! `RoutingStatus` models). Events spell system presences both as `On Queue` and `ON_QUEUE`
//! (tests/fixtures/genesys/README.md), so every comparison is on the normalised form
//! (upper case, spaces and hyphens as underscores). WFM RTA feeds map exactly these three
//! inputs to their own codes (FACTS.md §7.3).

use crate::error::ProfileError;
use serde::Deserialize;

/// The Genesys system presences, normalised (see [`normalise`]).
pub const SYSTEM_PRESENCES: &[&str] = &[
    "AVAILABLE",
    "AWAY",
    "BREAK",
    "BUSY",
    "IDLE",
    "MEAL",
    "MEETING",
    "OFFLINE",
    "ON_QUEUE",
    "TRAINING",
];

/// The Genesys routing statuses, normalised.
pub const ROUTING_STATUSES: &[&str] = &[
    "OFF_QUEUE",
    "IDLE",
    "INTERACTING",
    "NOT_RESPONDING",
    "COMMUNICATING",
];

/// Normalises a presence or routing status for comparison: `On Queue`, `on-queue` and
/// `ON_QUEUE` all become `ON_QUEUE`.
pub fn normalise(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// What one event says about the agent's state (all `None` for topics without a state, such
/// as analytics detail events).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventState {
    /// `presenceDefinition.systemPresence` as the event spells it (`eventBody.presenceDefinition`
    /// on `…presence` topics, `eventBody.presence.presenceDefinition` on `…activity`).
    pub system_presence: Option<String>,
    /// `presenceDefinition.id` (an organisation's own presence, e.g. "Lunch").
    pub presence_definition_id: Option<String>,
    /// `eventBody.routingStatus.status` (`…routingStatus` and `…activity` topics).
    pub routing_status: Option<String>,
}

impl EventState {
    /// True when the event carries any state input at all.
    pub fn has_state(&self) -> bool {
        self.system_presence.is_some()
            || self.presence_definition_id.is_some()
            || self.routing_status.is_some()
    }
}

/// A WFM state code with an optional reason code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateCode {
    /// The WFM's state code (non-empty).
    pub state: String,
    /// The WFM's reason code, if it has one.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One row of `state_codes` as written in the profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RowSpec {
    #[serde(default)]
    system_presence: Option<String>,
    #[serde(default)]
    presence_definition_id: Option<String>,
    #[serde(default)]
    routing_status: Option<String>,
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

/// A validated row: every criterion it names must match, and the event must carry each one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRow {
    /// Normalised system presence to match, if any.
    pub system_presence: Option<String>,
    /// Presence definition id to match exactly, if any.
    pub presence_definition_id: Option<String>,
    /// Normalised routing status to match, if any.
    pub routing_status: Option<String>,
    /// The code this row yields.
    pub code: StateCode,
}

impl StateRow {
    fn matches(&self, ev: &EventState) -> bool {
        fn want(criterion: &Option<String>, have: &Option<String>, norm: bool) -> bool {
            match (criterion, have) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(c), Some(h)) if norm => *c == normalise(h),
                (Some(c), Some(h)) => c == h,
            }
        }
        want(&self.system_presence, &ev.system_presence, true)
            && want(
                &self.presence_definition_id,
                &ev.presence_definition_id,
                false,
            )
            && want(&self.routing_status, &ev.routing_status, true)
    }
}

/// The validated state-code table: rows in order (the first match wins) and the default for
/// events that carry a state no row matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateTable {
    /// Rows, first match wins.
    pub rows: Vec<StateRow>,
    /// Code for a state-carrying event that no row matches; `None` leaves the state code null.
    pub default: Option<StateCode>,
}

impl StateTable {
    /// The code for an event: the first matching row, else the default for events that carry a
    /// state; `None` for events without a state.
    pub fn lookup(&self, ev: &EventState) -> Option<&StateCode> {
        if !ev.has_state() {
            return None;
        }
        self.rows
            .iter()
            .find(|r| r.matches(ev))
            .map(|r| &r.code)
            .or(self.default.as_ref())
    }

    pub(crate) fn build(
        rows: Vec<RowSpec>,
        default: Option<StateCode>,
    ) -> Result<Self, ProfileError> {
        let mut out = Vec::with_capacity(rows.len());
        for (i, r) in rows.into_iter().enumerate() {
            let at = |f: &str| format!("state_codes[{i}].{f}");
            let system_presence = r
                .system_presence
                .map(|v| known(&at("system_presence"), &v, SYSTEM_PRESENCES))
                .transpose()?;
            let routing_status = r
                .routing_status
                .map(|v| known(&at("routing_status"), &v, ROUTING_STATUSES))
                .transpose()?;
            if let Some(id) = &r.presence_definition_id
                && id.trim().is_empty()
            {
                return Err(ProfileError::field(
                    at("presence_definition_id"),
                    "must not be empty",
                ));
            }
            if system_presence.is_none()
                && r.presence_definition_id.is_none()
                && routing_status.is_none()
            {
                return Err(ProfileError::field(
                    format!("state_codes[{i}]"),
                    "a row needs at least one of system_presence, presence_definition_id, \
                     routing_status (use state_code_default for the rest)",
                ));
            }
            let code = code(&format!("state_codes[{i}]"), r.state, r.reason)?;
            out.push(StateRow {
                system_presence,
                presence_definition_id: r.presence_definition_id,
                routing_status,
                code,
            });
        }
        let default = default
            .map(|d| code("state_code_default", d.state, d.reason))
            .transpose()?;
        Ok(Self { rows: out, default })
    }
}

fn known(field: &str, value: &str, set: &[&str]) -> Result<String, ProfileError> {
    let n = normalise(value);
    if set.contains(&n.as_str()) {
        Ok(n)
    } else {
        Err(ProfileError::field(
            field,
            format!("unknown value {value:?} (one of {})", set.join(", ")),
        ))
    }
}

fn code(at: &str, state: String, reason: Option<String>) -> Result<StateCode, ProfileError> {
    if state.trim().is_empty() {
        return Err(ProfileError::field(
            format!("{at}.state"),
            "must not be empty",
        ));
    }
    if reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Err(ProfileError::field(
            format!("{at}.reason"),
            "must not be empty (omit it or use null)",
        ));
    }
    Ok(StateCode { state, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(sp: Option<&str>, pd: Option<&str>, rs: Option<&str>, state: &str) -> RowSpec {
        RowSpec {
            system_presence: sp.map(str::to_owned),
            presence_definition_id: pd.map(str::to_owned),
            routing_status: rs.map(str::to_owned),
            state: state.to_owned(),
            reason: None,
        }
    }

    fn ev(sp: Option<&str>, pd: Option<&str>, rs: Option<&str>) -> EventState {
        EventState {
            system_presence: sp.map(str::to_owned),
            presence_definition_id: pd.map(str::to_owned),
            routing_status: rs.map(str::to_owned),
        }
    }

    #[test]
    fn first_match_wins_and_combined_rows_need_both() {
        let t = StateTable::build(
            vec![
                row(Some("On Queue"), None, Some("INTERACTING"), "TALK"),
                row(None, Some("lunch-id"), None, "LUNCH"),
                row(Some("BREAK"), None, None, "BRK"),
                row(None, None, Some("idle"), "READY"),
            ],
            Some(StateCode {
                state: "OTHER".into(),
                reason: None,
            }),
        )
        .expect("valid");
        let cases: &[(EventState, Option<&str>)] = &[
            // activity: both present → the combined row
            (
                ev(Some("ON_QUEUE"), None, Some("INTERACTING")),
                Some("TALK"),
            ),
            // presence only: the combined row cannot match, no row for On Queue → default
            (ev(Some("On Queue"), None, None), Some("OTHER")),
            (ev(Some("Break"), Some("x"), None), Some("BRK")),
            (ev(Some("Meal"), Some("lunch-id"), None), Some("LUNCH")),
            (ev(None, None, Some("IDLE")), Some("READY")),
            (ev(None, None, None), None),
        ];
        for (e, want) in cases {
            assert_eq!(t.lookup(e).map(|c| c.state.as_str()), *want, "{e:?}");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let err = StateTable::build(
            vec![
                row(Some("Break"), None, None, "B"),
                row(None, None, Some("IDEL"), "I"),
            ],
            None,
        )
        .expect_err("invalid");
        assert_eq!(err.field.as_deref(), Some("state_codes[1].routing_status"));
        assert!(
            err.to_string()
                .starts_with("WFM_PROFILE: state_codes[1].routing_status: unknown value \"IDEL\"")
        );
        let err = StateTable::build(vec![row(None, None, None, "X")], None).expect_err("empty");
        assert_eq!(err.field.as_deref(), Some("state_codes[0]"));
        let err = StateTable::build(vec![row(Some("Away"), None, None, " ")], None)
            .expect_err("blank state");
        assert_eq!(err.field.as_deref(), Some("state_codes[0].state"));
    }
}
