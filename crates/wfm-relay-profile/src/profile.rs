//! The profile document (JSON) and its validation at load.

use crate::error::{ProfileError, TableError};
use crate::jq::{Program, ResultKind};
use crate::state::{RowSpec, StateCode, StateTable};
use crate::table::{AgentTable, TableKind};
use crate::template::{PathTemplate, Var, check_header};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Where the agent key comes from (`agent_key.from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The Genesys user id itself.
    UserId,
    /// The mapping table at `WFM_PROFILE_MAPPING`.
    Mapping,
    /// A field of the Genesys user, through the table at `WFM_PROFILE_USER_FIELDS`.
    UserField(String),
}

/// What happens to an unmapped agent (`agent_key.unmapped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Unmapped {
    /// Park the event with reason `unmapped_agent` (the default when `agent_key` is given).
    #[default]
    Park,
    /// Send it with the agent key null.
    Forward,
}

/// What a mapping profile does when no table is configured (`agent_key.when_no_table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WhenNoTable {
    /// The table is required: start-up fails without it (the default).
    #[default]
    Fail,
    /// Use the Genesys user id as the agent key.
    UserId,
}

/// What happens to an event that carries no agent state (`events_without_state`), such as an
/// analytics detail event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WithoutState {
    /// Apply the profile anyway; the state code is null (the default).
    #[default]
    Transform,
    /// Send the original event exactly as without a profile: original bytes, no extra
    /// headers, no path.
    ForwardOriginal,
    /// Park it with reason `transform_failed` (for WFM APIs that take agent states only).
    Park,
}

/// The agent-key rule of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentKey {
    /// Where the key comes from.
    pub source: KeySource,
    /// What to do without a table (mapping and user-field sources).
    pub when_no_table: WhenNoTable,
    /// What to do with an unmapped agent.
    pub unmapped: Unmapped,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentKeySpec {
    from: FromSpec,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    when_no_table: Option<WhenNoTable>,
    #[serde(default)]
    unmapped: Unmapped,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum FromSpec {
    UserId,
    Mapping,
    UserField,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodySpec {
    jq: String,
    #[serde(default)]
    result: ResultKind,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    agent_key: Option<AgentKeySpec>,
    #[serde(default)]
    state_codes: Vec<RowSpec>,
    #[serde(default)]
    state_code_default: Option<StateCode>,
    #[serde(default)]
    events_without_state: WithoutState,
    #[serde(default)]
    body: Option<BodySpec>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    path: Option<String>,
}

/// The jq body of a profile.
#[derive(Debug)]
pub struct Body {
    /// The compiled program.
    pub program: Program,
    /// What its output must be.
    pub result: ResultKind,
}

/// A loaded, validated WFM output profile. Build one with [`Profile::from_json`] or
/// [`Profile::builtin`]; apply it with [`Profile::apply`](crate::Profile::apply).
///
/// `Send + Sync`: one profile serves every concurrent delivery of a process.
#[derive(Debug)]
pub struct Profile {
    /// `name` from the document (`genesys`, `agent-state`, …), for logs.
    pub name: String,
    /// The agent-key rule.
    pub agent_key: AgentKey,
    /// The state-code table.
    pub states: StateTable,
    /// What happens to events that carry no agent state.
    pub without_state: WithoutState,
    /// The jq body; `None` sends the original event bytes.
    pub body: Option<Body>,
    /// Extra headers, in name order.
    pub headers: Vec<(String, String)>,
    /// The URL path template, appended to `WFM_URL` ([`crate::join_url`]).
    pub path: Option<PathTemplate>,
}

impl Profile {
    /// Parses and validates a profile document (JSON).
    ///
    /// # Errors
    /// A [`ProfileError`] naming the field: unknown or mistyped fields (with their path, e.g.
    /// `state_codes[2].stat`), unknown presence or routing values, a jq compile error
    /// (`body.jq`), a bad header or path template, contradictory agent-key settings.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ProfileError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path == "." || path == "?" {
                ProfileError::whole(format!("not a valid profile: {inner}"))
            } else {
                ProfileError::field(path, inner)
            }
        })?;
        Self::from_spec(spec)
    }

    fn from_spec(spec: Spec) -> Result<Self, ProfileError> {
        if spec.name.trim().is_empty() {
            return Err(ProfileError::field("name", "must not be empty"));
        }
        let agent_key = agent_key(spec.agent_key)?;
        let states = StateTable::build(spec.state_codes, spec.state_code_default)?;
        let body = spec
            .body
            .map(|b| {
                let program =
                    Program::compile(&b.jq).map_err(|e| ProfileError::field("body.jq", e))?;
                Ok::<_, ProfileError>(Body {
                    program,
                    result: b.result,
                })
            })
            .transpose()?;
        let mut seen = std::collections::BTreeSet::new();
        for (k, v) in &spec.headers {
            check_header(k, v)?;
            if !seen.insert(k.to_ascii_lowercase()) {
                return Err(ProfileError::field(
                    format!("headers.{k}"),
                    "given twice (header names ignore case)",
                ));
            }
        }
        let path = spec.path.as_deref().map(PathTemplate::parse).transpose()?;
        if let Some(p) = &path
            && p.uses(Var::AgentKey)
            && agent_key.unmapped == Unmapped::Forward
        {
            return Err(ProfileError::field(
                "path",
                "uses {agent_key}, but agent_key.unmapped is `forward` (the key can be null)",
            ));
        }
        Ok(Self {
            name: spec.name,
            agent_key,
            states,
            without_state: spec.events_without_state,
            body,
            headers: spec.headers.into_iter().collect(),
            path,
        })
    }

    /// The table this profile reads agent keys from, if any: the caller reads the object named
    /// by [`TableKind::variable`] and passes the bytes to [`Profile::parse_table`].
    pub fn table_kind(&self) -> Option<TableKind> {
        match self.agent_key.source {
            KeySource::UserId => None,
            KeySource::Mapping => Some(TableKind::Mapping),
            KeySource::UserField(_) => Some(TableKind::UserFields),
        }
    }

    /// True when start-up must fail without the table ([`WhenNoTable::Fail`]).
    pub fn table_required(&self) -> bool {
        self.table_kind().is_some() && self.agent_key.when_no_table == WhenNoTable::Fail
    }

    /// Parses this profile's table from its bytes (CSV or JSON, see [`crate::table`]).
    ///
    /// # Errors
    /// [`TableError`] naming the table's variable; a profile without a table gets an empty one.
    pub fn parse_table(&self, bytes: &[u8]) -> Result<AgentTable, TableError> {
        match &self.agent_key.source {
            KeySource::UserId => Ok(AgentTable::default()),
            KeySource::Mapping => AgentTable::parse_mapping(bytes),
            KeySource::UserField(f) => AgentTable::parse_user_fields(bytes, f),
        }
    }

    /// Start-up check: a profile whose table is required has one.
    ///
    /// # Errors
    /// `WFM_PROFILE: agent_key.from: … needs WFM_PROFILE_MAPPING …` when it is missing.
    pub fn check_tables(&self, tables: &crate::Tables) -> Result<(), ProfileError> {
        match self.table_kind() {
            Some(kind) if self.table_required() && tables.agents.is_none() => {
                Err(ProfileError::field(
                    "agent_key.from",
                    format!(
                        "profile {} reads agent keys from the {}, but {} is not set",
                        self.name,
                        kind.describe(),
                        kind.variable()
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

fn agent_key(spec: Option<AgentKeySpec>) -> Result<AgentKey, ProfileError> {
    let Some(spec) = spec else {
        return Ok(AgentKey {
            source: KeySource::UserId,
            when_no_table: WhenNoTable::Fail,
            unmapped: Unmapped::Forward,
        });
    };
    let source = match (spec.from, spec.field) {
        (FromSpec::UserField, Some(f)) if !f.trim().is_empty() => KeySource::UserField(f),
        (FromSpec::UserField, _) => {
            return Err(ProfileError::field(
                "agent_key.field",
                "required (and non-empty) with `from: user_field`, e.g. \"username\"",
            ));
        }
        (_, Some(_)) => {
            return Err(ProfileError::field(
                "agent_key.field",
                "only allowed with `from: user_field`",
            ));
        }
        (FromSpec::UserId, None) => KeySource::UserId,
        (FromSpec::Mapping, None) => KeySource::Mapping,
    };
    if source == KeySource::UserId && spec.when_no_table.is_some() {
        return Err(ProfileError::field(
            "agent_key.when_no_table",
            "only allowed with `from: mapping` or `from: user_field`",
        ));
    }
    Ok(AgentKey {
        source,
        when_no_table: spec.when_no_table.unwrap_or_default(),
        unmapped: spec.unmapped,
    })
}
