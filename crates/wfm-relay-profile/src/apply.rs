//! The run-time transform: one event in, the request body, headers and path out.

use crate::error::TransformError;
use crate::jq::{self, Val};
use crate::profile::{KeySource, Profile, Unmapped, WhenNoTable, WithoutState};
use crate::state::EventState;
use crate::table::{AgentTable, TableKind};
use crate::template::Var;
use std::borrow::Cow;
use std::time::UNIX_EPOCH;
use wfm_relay_core::event::EventInfo;
use wfm_relay_core::timefmt::format_rfc3339;

/// The tables a profile reads at run time (loaded before the first poll, re-read by the caller
/// when older than `WFM_PROFILE_MAPPING_TTL_S`; a failed re-read keeps the previous value).
#[derive(Debug, Clone, Default)]
pub struct Tables {
    /// The agent table of [`Profile::table_kind`], if one is configured.
    pub agents: Option<AgentTable>,
}

/// `source` prefix of events made by a Genesys state snapshot (PRODUCT.md §6).
pub const SNAPSHOT_SOURCE_PREFIX: &str = "wfm-relay.snapshot/";

/// What to send for one event. The caller keeps computing the Idempotency-Key, `X-Event-Time`,
/// `X-Event-Id` and the archive from the *original* event; signatures cover [`Self::body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformed<'a> {
    /// The request body: the original bytes (borrowed) or the jq output (compact JSON).
    pub body: Cow<'a, [u8]>,
    /// Extra headers of the profile (empty for events forwarded unchanged).
    pub headers: &'a [(String, String)],
    /// The rendered URL path to append to `WFM_URL` ([`crate::join_url`]); `None` = `WFM_URL`.
    pub path: Option<String>,
    /// The agent key used, if any (for logs).
    pub agent_key: Option<String>,
    /// The WFM state code used, if any (for logs).
    pub state_code: Option<String>,
}

impl Transformed<'_> {
    /// The URL to POST to: `wfm_url` with [`Self::path`] appended ([`crate::join_url`]), or
    /// `wfm_url` itself.
    pub fn url(&self, wfm_url: &str) -> String {
        match &self.path {
            Some(p) => crate::join_url(wfm_url, p),
            None => wfm_url.to_owned(),
        }
    }
}

impl Profile {
    /// Transforms one event. `raw` is the original event bytes, `info` what
    /// [`wfm_relay_core::event::parse_event`] read from them.
    ///
    /// # Errors
    /// [`TransformError::UnmappedAgent`] (reason `unmapped_agent`) and
    /// [`TransformError::TransformFailed`] (reason `transform_failed`, the text says what
    /// failed). Never panics on any input.
    pub fn apply<'a>(
        &'a self,
        raw: &'a [u8],
        info: &EventInfo,
        tables: &Tables,
    ) -> Result<Transformed<'a>, TransformError> {
        let failed = TransformError::TransformFailed;
        let needs_event = self.body.is_some()
            || self.without_state != WithoutState::Transform
            || !self.states.rows.is_empty()
            || self.states.default.is_some();
        let (event, state) = if needs_event {
            let event = jaq_json::read::parse_single(raw)
                .map_err(|e| failed(format!("event is not readable by jq: {e}")))?;
            let state = event_state(&event);
            (Some(event), state)
        } else {
            (None, EventState::default())
        };
        if needs_event && !state.has_state() {
            match self.without_state {
                WithoutState::Transform => {}
                WithoutState::ForwardOriginal => {
                    return Ok(Transformed {
                        body: Cow::Borrowed(raw),
                        headers: &[],
                        path: None,
                        agent_key: None,
                        state_code: None,
                    });
                }
                WithoutState::Park => {
                    return Err(failed(format!(
                        "topic {} carries no agent state, and profile {} sends agent states only",
                        info.topic(),
                        self.name
                    )));
                }
            }
        }
        let agent_key = self.agent_key(info, tables)?;
        let code = self.states.lookup(&state);
        let body = match (&self.body, event) {
            (Some(b), Some(event)) => {
                let input = input_object(event, info, &state, agent_key.as_deref(), code);
                let out = b.program.run(input).map_err(failed)?;
                Cow::Owned(jq::to_body(&out, b.result).map_err(failed)?)
            }
            _ => Cow::Borrowed(raw),
        };
        let path = self
            .path
            .as_ref()
            .map(|t| {
                t.render(|v| match v {
                    Var::AgentKey => agent_key.clone(),
                    Var::UserId => info.user_id.clone(),
                    Var::StateCode => code.map(|c| c.state.clone()),
                })
            })
            .transpose()
            .map_err(failed)?;
        Ok(Transformed {
            body,
            headers: &self.headers,
            path,
            agent_key,
            state_code: code.map(|c| c.state.clone()),
        })
    }

    fn agent_key(
        &self,
        info: &EventInfo,
        tables: &Tables,
    ) -> Result<Option<String>, TransformError> {
        let user_id = info.user_id.as_deref();
        let (key, table) = match (&self.agent_key.source, &tables.agents) {
            (KeySource::UserId, _) => (user_id.map(str::to_owned), "event"),
            (source, Some(t)) => {
                let kind = match source {
                    KeySource::UserField(_) => TableKind::UserFields,
                    _ => TableKind::Mapping,
                };
                (
                    user_id.and_then(|u| t.get(u)).map(str::to_owned),
                    kind.describe(),
                )
            }
            (_, None) if self.agent_key.when_no_table == WhenNoTable::UserId => {
                (user_id.map(str::to_owned), "event")
            }
            (_, None) => {
                let kind = self.table_kind().unwrap_or(TableKind::Mapping);
                return Err(TransformError::TransformFailed(format!(
                    "profile {} needs the {}, and none is loaded",
                    self.name,
                    kind.describe()
                )));
            }
        };
        match (key, self.agent_key.unmapped) {
            (Some(k), _) => Ok(Some(k)),
            (None, Unmapped::Forward) => Ok(None),
            (None, Unmapped::Park) => Err(TransformError::UnmappedAgent {
                user_id: user_id.map(str::to_owned),
                table,
            }),
        }
    }
}

/// Reads the state inputs from a parsed event: `eventBody.presenceDefinition` (presence
/// topics, snapshots) or `eventBody.presence.presenceDefinition` (activity), and
/// `eventBody.routingStatus.status`.
fn event_state(event: &Val) -> EventState {
    let body = jq::get(event, "detail").and_then(|d| jq::get(d, "eventBody"));
    let Some(body) = body else {
        return EventState::default();
    };
    let def = jq::get(body, "presenceDefinition")
        .or_else(|| jq::get(body, "presence").and_then(|p| jq::get(p, "presenceDefinition")));
    let text = |v: Option<&Val>| v.and_then(jq::as_str).map(str::to_owned);
    EventState {
        system_presence: text(def.and_then(|d| jq::get(d, "systemPresence"))),
        presence_definition_id: text(def.and_then(|d| jq::get(d, "id"))),
        routing_status: text(jq::get(body, "routingStatus").and_then(|r| jq::get(r, "status"))),
    }
}

/// The input object the jq program sees (documented in the crate docs).
fn input_object(
    event: Val,
    info: &EventInfo,
    state: &EventState,
    agent_key: Option<&str>,
    code: Option<&crate::StateCode>,
) -> Val {
    let detail = jq::get(&event, "detail").cloned().unwrap_or_default();
    let event_body = jq::get(&detail, "eventBody").cloned().unwrap_or_default();
    let ms = info
        .state_time
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| isize::try_from(d.as_millis()).ok());
    let fields: [(&str, Val); 14] = [
        ("event", event),
        ("detail", detail),
        ("eventBody", event_body),
        ("topic", Val::from(info.topic().to_owned())),
        ("user_id", jq::opt_str(info.user_id.as_deref())),
        ("agent_key", jq::opt_str(agent_key)),
        ("state_code", jq::opt_str(code.map(|c| c.state.as_str()))),
        (
            "reason_code",
            jq::opt_str(code.and_then(|c| c.reason.as_deref())),
        ),
        (
            "system_presence",
            jq::opt_str(state.system_presence.as_deref()),
        ),
        (
            "presence_definition_id",
            jq::opt_str(state.presence_definition_id.as_deref()),
        ),
        (
            "routing_status",
            jq::opt_str(state.routing_status.as_deref()),
        ),
        (
            "state_time",
            jq::opt_str(info.state_time.map(format_rfc3339).as_deref()),
        ),
        ("state_time_ms", ms.map_or(Val::Null, Val::from)),
        (
            "snapshot",
            Val::from(info.source.starts_with(SNAPSHOT_SOURCE_PREFIX)),
        ),
    ];
    Val::obj(
        fields
            .into_iter()
            .map(|(k, v)| (Val::from(k.to_owned()), v))
            .collect(),
    )
}
