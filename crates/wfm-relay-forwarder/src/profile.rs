//! The profile stage (issue 13): before the first POST of an event, the WFM output profile
//! (when one is configured) shapes its request; an event it cannot shape is parked at once with
//! `unmapped_agent` or `transform_failed` (never its batch). Once per invocation the profile's
//! agent table is re-read when its TTL has passed; a failed re-read counts `MappingStale`.

use crate::{Forwarder, HandlerError, Invocation, Tally, note};
use tracing::warn;
use wfm_relay_core::attempt::{Shape, Shaped, Unshapeable};
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_core::event::EventInfo;
use wfm_relay_core::metrics;

impl Forwarder {
    /// Re-reads the profile's agent table when due; counts `MappingStale` when that failed
    /// (the previous table stays in use, logged by the profile).
    pub(crate) async fn refresh_profile(&self, tally: &Tally) {
        if let Some(p) = &self.profile
            && p.refresh_if_due().await.is_some()
        {
            note(tally, |m| m.add(metrics::MAPPING_STALE, 1));
        }
    }

    /// What the profile makes of the event: `Ok(None)` without a profile.
    ///
    /// # Errors
    /// [`Unshapeable`] when the profile cannot produce a request for it.
    pub(crate) fn shape(
        &self,
        info: &EventInfo,
        raw: &[u8],
    ) -> Result<Option<Shaped>, Unshapeable> {
        self.profile
            .as_ref()
            .map(|p| p.shape(info, raw))
            .transpose()
    }

    /// Parks an event the profile cannot shape, its reason and `last_error` written.
    ///
    /// # Errors
    /// [`HandlerError::CannotPark`] when the DLQ did not take it.
    pub(crate) async fn park_unshapeable(
        &self,
        env: &mut EnvelopeV1,
        info: &EventInfo,
        refusal: &Unshapeable,
        inv: Invocation<'_>,
    ) -> Result<(), HandlerError> {
        warn!(event_id = %info.id, key = %info.key, user_id = info.user_id.as_deref().unwrap_or(""),
            topic = info.topic(), outcome = refusal.reason.as_str(), error = %refusal.message,
            "the WFM profile cannot shape the event; parking it");
        env.record_unshapeable(refusal);
        self.park(env, inv).await
    }
}
