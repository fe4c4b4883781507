//! The profile as the delivery builder's hook ([`wfm_relay_core::attempt::Shape`]): one event
//! in, the [`Shaped`] request parts out, or the reason it is parked with.

use crate::apply::Tables;
use crate::error::TransformError;
use crate::profile::Profile;
use bytes::Bytes;
use std::borrow::Cow;
use wfm_relay_core::attempt::{Shaped, Unshapeable};
use wfm_relay_core::envelope::Reason;
use wfm_relay_core::event::EventInfo;

impl From<TransformError> for Unshapeable {
    /// `unmapped_agent` or `transform_failed`, with the error's text as `last_error`.
    fn from(e: TransformError) -> Self {
        let reason = match e {
            TransformError::UnmappedAgent { .. } => Reason::UnmappedAgent,
            TransformError::TransformFailed(_) => Reason::TransformFailed,
        };
        Unshapeable {
            reason,
            message: e.to_string(),
        }
    }
}

impl Profile {
    /// [`Profile::apply`] as request parts: a jq body becomes [`Shaped::body`]; the original
    /// bytes (a profile without `body`, or an event forwarded unchanged) leave it `None`, so
    /// `WFM_BODY` chooses the body as without a profile.
    ///
    /// # Errors
    /// [`Unshapeable`] with reason `unmapped_agent` or `transform_failed`.
    pub fn shape(
        &self,
        raw: &[u8],
        info: &EventInfo,
        tables: &Tables,
    ) -> Result<Shaped, Unshapeable> {
        let t = self.apply(raw, info, tables)?;
        Ok(Shaped {
            body: match t.body {
                Cow::Owned(b) => Some(Bytes::from(b)),
                Cow::Borrowed(_) => None,
            },
            headers: t.headers.to_vec(),
            path: t.path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AgentTable;

    const BREAK: &[u8] = include_bytes!("../../../tests/fixtures/genesys/presence-break.json");
    const DETAIL: &[u8] =
        include_bytes!("../../../tests/fixtures/genesys/user-end-detail-event.json");

    fn info(raw: &[u8]) -> EventInfo {
        wfm_relay_core::event::parse_event(raw).expect("valid fixture")
    }

    #[test]
    fn bodies_paths_and_reasons() {
        let assembled = Profile::builtin("assembled").expect("builtin");
        let table = AgentTable::parse_mapping(
            b"user_id,wfm_id\naaaaaaaa-0000-4000-8000-0000000000a1,asm-1\n",
        )
        .expect("table");
        let tables = Tables {
            agents: Some(table),
        };
        let s = assembled
            .shape(BREAK, &info(BREAK), &tables)
            .expect("shaped");
        assert_eq!(s.path.as_deref(), Some("/v0/agents/state/bulk"));
        assert!(
            s.body
                .is_some_and(|b| b.starts_with(br#"{"states":[{"agent_id":"asm-1""#))
        );
        // Not in the table: unmapped_agent, naming the user id and the table.
        let empty = Tables {
            agents: Some(AgentTable::parse_mapping(b"user_id,wfm_id\n").expect("empty")),
        };
        let u = assembled
            .shape(BREAK, &info(BREAK), &empty)
            .expect_err("unmapped");
        assert_eq!(u.reason, Reason::UnmappedAgent);
        assert_eq!(
            u.message,
            "unmapped agent: user id aaaaaaaa-0000-4000-8000-0000000000a1 is not in the agent \
             mapping table (WFM_PROFILE_MAPPING)"
        );
        // An event without a state, under a profile that sends states only.
        let d = assembled
            .shape(DETAIL, &info(DETAIL), &tables)
            .expect_err("no state");
        assert_eq!(d.reason, Reason::TransformFailed);
        assert!(
            d.message.starts_with("transform failed: topic "),
            "{}",
            d.message
        );
        // genesys: the original bytes, WFM_BODY's choice.
        let g = Profile::builtin("genesys").expect("builtin");
        assert_eq!(
            g.shape(BREAK, &info(BREAK), &Tables::default()),
            Ok(Shaped::default())
        );
    }
}
