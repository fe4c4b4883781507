//! The WFM output profile of a process (issue 13, PRODUCT.md §3, §10): read and validated at
//! start-up from `WFM_PROFILE` (`builtin:<name>`, `s3://bucket/key` or `ssm:/name`), with its
//! agent table from `WFM_PROFILE_MAPPING` / `WFM_PROFILE_USER_FIELDS` read before the first
//! poll and re-read when older than `WFM_PROFILE_MAPPING_TTL_S`.
//!
//! The forwarder, the replayer and relayctl build one [`ActiveProfile`] at start-up
//! ([`ActiveProfile::from_env`]); a profile, a variable or a table that cannot be read or
//! validated fails start-up with a message naming the variable and the field. Without
//! `WFM_PROFILE` there is none, and events go unchanged (today's behaviour exactly).
//!
//! Per event the delivery builder calls [`Shape::shape`] (pure, no I/O: the table in memory);
//! once per invocation the caller calls [`ActiveProfile::refresh_if_due`], which re-reads the
//! table when its TTL has passed. A failed re-read keeps the previous table: it is logged and
//! returned, for the caller's `MappingStale` metric.

use crate::lazy_aws::LazyAws;
use aws_sdk_s3::error::DisplayErrorContext;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use wfm_relay_core::attempt::{Shape, Shaped, Unshapeable};
use wfm_relay_core::event::{BodyMode, EventInfo};
use wfm_relay_profile::{
    Profile, ProfileError, ProfileLocation, ProfileSettings, Refresh, S3Object, SettingsError,
    TableError, TableKind, TableSlot, Tables,
};

/// Why start-up cannot use the configured profile. The text names the variable (and, for a
/// profile document, the field): `WFM_PROFILE: state_codes[3].routing_status: unknown value …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileStartError {
    /// A profile variable is malformed or contradicts another.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The profile document does not validate (the message names the field).
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The profile document or a table could not be read from S3 or SSM.
    #[error("{variable}: cannot read {location}: {message}")]
    Read {
        /// `WFM_PROFILE`, `WFM_PROFILE_MAPPING` or `WFM_PROFILE_USER_FIELDS`.
        variable: &'static str,
        /// `s3://bucket/key` or `ssm:/name`.
        location: String,
        /// The AWS error (never a secret).
        message: String,
    },
    /// The agent table does not parse (the message names the line or key).
    #[error(transparent)]
    Table(#[from] TableError),
}

/// Where the agent table is re-read from.
#[derive(Debug, Clone)]
struct TableObject {
    kind: TableKind,
    object: S3Object,
    aws: Arc<LazyAws>,
}

/// The profile in use and its agent table (kept fresh). `Send + Sync`: one per process,
/// shared by every delivery.
#[derive(Debug)]
pub struct ActiveProfile {
    profile: Profile,
    slot: Mutex<TableSlot>,
    table: Option<TableObject>,
    ttl: Duration,
}

impl ActiveProfile {
    /// A profile with fixed tables that are never re-read (tools, unit tests).
    pub fn fixed(profile: Profile, tables: Tables) -> Self {
        ActiveProfile {
            profile,
            slot: Mutex::new(TableSlot::new(tables, Instant::now())),
            table: None,
            ttl: Duration::MAX,
        }
    }

    /// Reads the profile variables from the environment; see [`ActiveProfile::from_lookup`].
    ///
    /// # Errors
    /// [`ProfileStartError`] naming the variable (and the field).
    pub async fn from_env(
        body_mode: BodyMode,
        aws: &Arc<LazyAws>,
    ) -> Result<Option<Arc<Self>>, ProfileStartError> {
        Self::from_lookup(|k| std::env::var(k).ok(), body_mode, aws).await
    }

    /// Reads the profile variables from `lookup`, the profile document (compiled in, from S3
    /// with `aws`'s S3 client, or from SSM with a client on `aws`'s configuration) and its
    /// agent table (from S3), and validates them. `Ok(None)` without `WFM_PROFILE`.
    ///
    /// `body_mode` is `WFM_BODY`: a profile with a jq `body` replaces the body, so a
    /// `WFM_BODY` other than `event` would be ignored, and is refused instead.
    ///
    /// # Errors
    /// [`ProfileStartError`] naming the variable (and the field).
    pub async fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        body_mode: BodyMode,
        aws: &Arc<LazyAws>,
    ) -> Result<Option<Arc<Self>>, ProfileStartError> {
        let Some(settings) = ProfileSettings::from_lookup(lookup)? else {
            return Ok(None);
        };
        let profile = read_profile(&settings.profile, aws).await?;
        if profile.body.is_some() && body_mode != BodyMode::Event {
            return Err(ProfileError::field(
                "body",
                format!(
                    "the profile's jq body replaces the request body, so WFM_BODY={} would be \
                     ignored: unset WFM_BODY (its program sees .detail and .eventBody)",
                    match body_mode {
                        BodyMode::Detail => "detail",
                        _ => "eventBody",
                    }
                ),
            )
            .into());
        }
        let table = settings.table_for(&profile)?.map(|object| TableObject {
            kind: profile.table_kind().unwrap_or(TableKind::Mapping),
            object: object.clone(),
            aws: Arc::clone(aws),
        });
        let agents = match &table {
            Some(t) => Some(read_table(&profile, t).await?),
            None => None,
        };
        let tables = Tables { agents };
        profile.check_tables(&tables)?;
        tracing::info!(profile = %profile.name, table = table.as_ref().map(|t| t.kind.variable()),
            "WFM output profile loaded");
        Ok(Some(Arc::new(ActiveProfile {
            profile,
            slot: Mutex::new(TableSlot::new(tables, Instant::now())),
            table,
            ttl: settings.table_ttl,
        })))
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The tables in use now.
    pub fn tables(&self) -> Arc<Tables> {
        self.lock().current()
    }

    /// Re-reads the agent table when it is older than `WFM_PROFILE_MAPPING_TTL_S`. Returns the
    /// error of a failed re-read (the previous table stays in use; logged here, counted
    /// `MappingStale` by the caller), else `None`.
    pub async fn refresh_if_due(&self) -> Option<String> {
        let table = self.table.as_ref()?;
        if !self.lock().due(Instant::now(), self.ttl) {
            return None;
        }
        let read = read_table(&self.profile, table)
            .await
            .map_err(|e| e.to_string());
        match self.lock().refresh(Instant::now(), read) {
            Refresh::Updated => {
                tracing::info!(table = table.kind.variable(), "agent table re-read");
                None
            }
            Refresh::KeptPrevious { error, stale_for } => {
                tracing::warn!(table = table.kind.variable(), error = %error,
                    stale_for_s = stale_for.as_secs(), outcome = "mapping_stale",
                    "cannot re-read the agent table; the previous one stays in use");
                Some(error)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TableSlot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shape for ActiveProfile {
    fn shape(&self, info: &EventInfo, raw: &[u8]) -> Result<Shaped, Unshapeable> {
        let tables = self.tables();
        self.profile.shape(raw, info, &tables)
    }
}

/// The profile document named by `WFM_PROFILE`, parsed and validated (also used by
/// `relayctl profile test` for its `--profile`).
///
/// # Errors
/// [`ProfileStartError`] naming `WFM_PROFILE` (and the field).
/// A builtin profile makes no AWS client; S3 and SSM come from `aws` (made at that first use).
pub async fn read_profile(
    location: &ProfileLocation,
    aws: &LazyAws,
) -> Result<Profile, ProfileStartError> {
    let bytes = match location {
        ProfileLocation::Builtin(name) => return Ok(Profile::builtin(name)?),
        ProfileLocation::S3 { bucket, key } => {
            let object = S3Object {
                bucket: bucket.clone(),
                key: key.clone(),
            };
            get_object(aws.s3().await, &object, "WFM_PROFILE").await?
        }
        ProfileLocation::Ssm(name) => {
            let read_error = |message: String| ProfileStartError::Read {
                variable: "WFM_PROFILE",
                location: format!("ssm:{name}"),
                message,
            };
            aws_sdk_ssm::Client::new(aws.sdk_config().await)
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| read_error(DisplayErrorContext(&e).to_string()))?
                .parameter
                .and_then(|p| p.value)
                .ok_or_else(|| read_error("the parameter has no value".into()))?
                .into_bytes()
        }
    };
    Ok(Profile::from_json(&bytes)?)
}

/// The agent table of `profile` read once from `object` (`kind` names its variable in errors),
/// never re-read: for tools such as `relayctl profile test`.
///
/// # Errors
/// [`ProfileStartError`] naming the table's variable: the object cannot be read, or its
/// content does not parse.
pub async fn read_table_once(
    profile: &Profile,
    kind: TableKind,
    object: &S3Object,
    s3: &aws_sdk_s3::Client,
) -> Result<wfm_relay_profile::AgentTable, ProfileStartError> {
    let bytes = get_object(s3, object, kind.variable()).await?;
    Ok(profile.parse_table(&bytes)?)
}

/// The agent table of `profile` from its S3 object, parsed.
async fn read_table(
    profile: &Profile,
    t: &TableObject,
) -> Result<wfm_relay_profile::AgentTable, ProfileStartError> {
    let bytes = get_object(t.aws.s3().await, &t.object, t.kind.variable()).await?;
    Ok(profile.parse_table(&bytes)?)
}

async fn get_object(
    s3: &aws_sdk_s3::Client,
    object: &S3Object,
    variable: &'static str,
) -> Result<Vec<u8>, ProfileStartError> {
    let read_error = |message: String| ProfileStartError::Read {
        variable,
        location: format!("s3://{}/{}", object.bucket, object.key),
        message,
    };
    let out = s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|e| read_error(DisplayErrorContext(&e).to_string()))?;
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| read_error(e.to_string()))?;
    Ok(body.into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_profile_shapes_with_its_tables() {
        let raw = include_bytes!("../../../tests/fixtures/genesys/presence-break.json");
        let info = wfm_relay_core::event::parse_event(raw).expect("valid");
        let p = ActiveProfile::fixed(
            Profile::builtin("agent-state").expect("builtin"),
            Tables::default(),
        );
        let s = p.shape(&info, raw).expect("shaped");
        assert_eq!(
            s.body.as_deref(),
            Some(&br#"{"agent_id":"aaaaaaaa-0000-4000-8000-0000000000a1","state":"BREAK","reason":"e08eaf1b-0000-4000-8000-0000000000b1","timestamp":"2025-03-04T09:15:01.874Z","source":"genesys"}"#[..])
        );
        assert_eq!(p.profile().name, "agent-state");
    }

    #[test]
    fn start_errors_name_the_variable() {
        let e = ProfileStartError::Read {
            variable: "WFM_PROFILE_MAPPING",
            location: "s3://b/k.csv".into(),
            message: "NoSuchKey".into(),
        };
        assert_eq!(
            e.to_string(),
            "WFM_PROFILE_MAPPING: cannot read s3://b/k.csv: NoSuchKey"
        );
        let e = ProfileStartError::from(ProfileError::field("body.jq", "syntax"));
        assert_eq!(e.to_string(), "WFM_PROFILE: body.jq: syntax");
    }
}
