//! WFM output profiles: turn a Genesys Cloud event into the request one WFM product expects —
//! its agent key, its state codes, its body — as data, not code (issue 13, PRODUCT.md §3, §10).
//!
//! Pure: no I/O, no tokio, no AWS. The caller reads the profile document and the agent table
//! (from `builtin:`, S3 or SSM) and hands the bytes to this crate; see the README of this crate
//! for the wiring.
//!
//! # Use
//! ```
//! use wfm_relay_profile::{Profile, Tables};
//! let profile = Profile::builtin("agent-state")?;
//! let raw = include_bytes!("../../../tests/fixtures/genesys/presence-break.json");
//! let info = wfm_relay_core::event::parse_event(raw).expect("valid event");
//! let out = profile.apply(raw, &info, &Tables::default()).expect("transformed");
//! assert_eq!(
//!     std::str::from_utf8(&out.body).expect("utf-8"),
//!     r#"{"agent_id":"aaaaaaaa-0000-4000-8000-0000000000a1","state":"BREAK","reason":"e08eaf1b-0000-4000-8000-0000000000b1","timestamp":"2025-03-04T09:15:01.874Z","source":"genesys"}"#
//! );
//! # Ok::<(), wfm_relay_profile::ProfileError>(())
//! ```
//!
//! # The profile document (JSON)
//! ```json
//! {
//!   "name": "my-wfm",
//!   "agent_key": {"from": "mapping", "when_no_table": "fail", "unmapped": "park"},
//!   "state_codes": [
//!     {"system_presence": "On Queue", "routing_status": "INTERACTING", "state": "TALK"},
//!     {"presence_definition_id": "e08eaf1b-…", "state": "LUNCH", "reason": "L1"},
//!     {"routing_status": "IDLE", "state": "READY"},
//!     {"system_presence": "Break", "state": "BREAK"}
//!   ],
//!   "state_code_default": {"state": "OTHER"},
//!   "events_without_state": "forward_original",
//!   "body": {"jq": "{agent: .agent_key, code: .state_code, at: .state_time}", "result": "object"},
//!   "headers": {"X-Source": "genesys"},
//!   "path": "/agents/{agent_key}/state"
//! }
//! ```
//! * `agent_key.from`: `user_id` (the Genesys user id), `mapping` (the table at
//!   `WFM_PROFILE_MAPPING`), or `user_field` with `field` (the table at
//!   `WFM_PROFILE_USER_FIELDS`); `when_no_table`: `fail` (start-up fails without the table) or
//!   `user_id`; `unmapped`: `park` (reason `unmapped_agent`) or `forward` (agent key null).
//!   Without `agent_key` the key is the user id and nothing is ever parked for it.
//! * `state_codes`: rows in order, the first match wins; every criterion a row names must match
//!   and the event must carry it, so a row naming a presence *and* a routing status matches only
//!   `…activity` events (no per-agent state is stored). System presences and routing statuses
//!   compare case-insensitively (`On Queue` = `ON_QUEUE`); unknown values fail the load.
//!   `state_code_default` applies to events that carry a state no row matches.
//! * `events_without_state` (e.g. analytics detail events): `transform` (default), or
//!   `forward_original` (sent exactly as without a profile), or `park` (`transform_failed`).
//! * `body`: a jq program (jaq) and the kind its single output must be (`object` — default —,
//!   `array`, `any`). Without `body` the original event bytes are sent.
//! * `headers`: extra static headers (not the ones wfm-relay sets). `path`: appended to
//!   `WFM_URL`, placeholders `{agent_key}`, `{user_id}`, `{state_code}` (percent-encoded).
//!
//! # The input object of the jq program
//! | member | value |
//! |---|---|
//! | `event` | the whole EventBridge event |
//! | `detail` | `event.detail` |
//! | `eventBody` | `event.detail.eventBody`, or null |
//! | `topic` | `detail.topicName`, else `detail-type` (`v2.users.<id>.presence`) |
//! | `user_id` | the Genesys user id (from the topic, else `eventBody.userId`), or null |
//! | `agent_key` | the mapped agent key, or null (unmapped and forwarded) |
//! | `state_code`, `reason_code` | from `state_codes`, or null |
//! | `system_presence`, `presence_definition_id`, `routing_status` | as the event carries them, or null |
//! | `state_time` | the state time (PRODUCT.md §2), RFC 3339 UTC with ms (`2025-03-04T09:15:01.874Z`), or null |
//! | `state_time_ms` | the same instant in Unix epoch milliseconds, or null |
//! | `snapshot` | true when `source` starts with `wfm-relay.snapshot/` (a state snapshot event) |
//!
//! # What the transform never touches
//! The Idempotency-Key, `X-Event-Id`, `X-Event-Time` and the archive stay those of the
//! original event; the caller computes them from `raw` as without a profile. Signatures are
//! computed over [`Transformed::body`], the bytes actually sent.

pub mod apply;
pub mod builtin;
pub mod error;
pub mod jq;
pub mod profile;
pub mod refresh;
pub mod settings;
pub mod shape;
pub mod state;
pub mod table;
pub mod template;

pub use apply::{SNAPSHOT_SOURCE_PREFIX, Tables, Transformed};
pub use builtin::{BUILTINS, ProfileLocation};
pub use error::{ProfileError, SettingsError, TableError, TransformError};
pub use profile::Profile;
pub use refresh::{Refresh, TableSlot};
pub use settings::{ProfileSettings, S3Object};
pub use state::StateCode;
pub use table::{AgentTable, TableKind};
pub use template::{join_url, redact_query};
