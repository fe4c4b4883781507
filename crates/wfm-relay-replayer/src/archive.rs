//! Archive: writes dead letters to S3 as gzip JSON Lines (claim-checked events inlined), one
//! object per chunk of up to [`crate::ARCHIVE_CHUNK`], then deletes them from the DLQ; a
//! manifest lists the objects of a run. Object keys are
//! `{ARCHIVE_PREFIX}/{yyyy}/{mm}/{dd}/{run_id}-{n}.jsonl.gz` (UTC date of the write).

use crate::{Letter, Replayer, Report, Request, messages};
use std::time::SystemTime;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use tracing::warn;
use wfm_relay_aws::archive::encode_jsonl_gz;
use wfm_relay_aws::queues::Received;
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_core::timefmt::format_rfc3339;

/// The date folders of an archive key, e.g. `2026/03/02`.
const DATE_PATH: &[BorrowedFormatItem<'static>] = format_description!("[year]/[month]/[day]");
/// The time part of a run id, e.g. `20260302T090000Z`.
const RUN_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// The key of an archive object or manifest: `{prefix}/{yyyy}/{mm}/{dd}/{run_id}-{name}`.
pub(crate) fn archive_key(prefix: &str, at: OffsetDateTime, run_id: &str, name: &str) -> String {
    // Formatting a UTC date with these components cannot fail; the fallback only keeps the key
    // unique (the run id) if it ever did.
    let date = at.format(DATE_PATH).unwrap_or_default();
    format!("{prefix}/{date}/{run_id}-{name}")
}

/// A sortable run id: UTC time and a random suffix, e.g. `20260302T090000Z-1a2b3c4d`.
pub(crate) fn run_id() -> String {
    run_id_at(
        OffsetDateTime::now_utc(),
        &uuid::Uuid::new_v4().simple().to_string()[..8],
    )
}

fn run_id_at(at: OffsetDateTime, suffix: &str) -> String {
    let time = at.format(RUN_TIME).unwrap_or_default();
    format!("{time}-{suffix}")
}

impl Replayer {
    /// `archive`: writes one object of `chunk`, then deletes its letters (counted `archived`).
    /// Returns the messages to release (PUT failed, or not deleted).
    pub(crate) async fn archive_letters(
        &self,
        chunk: Vec<Letter>,
        report: &mut Report,
    ) -> Vec<Received> {
        let envs = self.inline_events(&chunk).await;
        let (left, deleted) = self.put_then_delete(chunk, &envs, report).await;
        report.archived += deleted;
        left
    }

    /// `replay --mode latest`: writes the superseded letters (reason `superseded`; counted in
    /// `superseded` once deleted, not `archived`), then deletes them. Returns the messages to
    /// release.
    pub(crate) async fn archive_superseded(
        &self,
        chunk: Vec<Letter>,
        report: &mut Report,
    ) -> Vec<Received> {
        let mut envs = self.inline_events(&chunk).await;
        for env in &mut envs {
            env.reason = Some(Reason::Superseded);
        }
        let (left, deleted) = self.put_then_delete(chunk, &envs, report).await;
        report.superseded += deleted;
        left
    }

    /// The letters' envelopes with claim-checked events read back and inlined (the pointer is
    /// kept when the event cannot be read).
    async fn inline_events(&self, chunk: &[Letter]) -> Vec<EnvelopeV1> {
        let mut envs = Vec::with_capacity(chunk.len());
        for l in chunk {
            let mut env = l.dead.env.clone();
            if env.event.is_none() {
                match self.queues.event_bytes(&env).await {
                    Ok(raw) => {
                        env.event = Some(String::from_utf8_lossy(&raw).into_owned());
                        env.event_s3 = None;
                    }
                    Err(e) => {
                        warn!(error = %e, "claim-checked event unreadable; archiving the pointer")
                    }
                }
            }
            envs.push(env);
        }
        envs
    }

    /// PUTs `envs` as the run's next object, then deletes `chunk` from the DLQ (only after the
    /// PUT). Returns the messages left (all of them when the PUT failed, counted `failed`; those
    /// written but not deleted, counted `delivered_not_deleted`) and how many were deleted.
    async fn put_then_delete(
        &self,
        chunk: Vec<Letter>,
        envs: &[EnvelopeV1],
        report: &mut Report,
    ) -> (Vec<Received>, usize) {
        let Some(archive) = &self.archive else {
            return (messages(chunk).collect(), 0);
        };
        let key = archive_key(
            &self.cfg.archive_prefix,
            OffsetDateTime::now_utc(),
            &report.run_id,
            &format!("{}.jsonl.gz", report.keys.len() + 1),
        );
        if let Err(e) = archive
            .put(&key, encode_jsonl_gz(envs), "application/gzip")
            .await
        {
            warn!(error = %e, "archive PUT failed; the dead letters stay in the DLQ");
            report.failed += chunk.len();
            return (messages(chunk).collect(), 0);
        }
        report.keys.push(key);
        let (deleted, left) = self.delete_confirmed(messages(chunk).collect()).await;
        report.delivered_not_deleted += left.len();
        (left, deleted)
    }

    /// Writes the run's manifest (`{run_id}-manifest.json`: filter, count, object keys); a
    /// failed PUT is logged (the objects are written).
    pub(crate) async fn write_manifest(&self, req: &Request, report: &Report) {
        let Some(archive) = &self.archive else { return };
        let key = archive_key(
            &self.cfg.archive_prefix,
            OffsetDateTime::now_utc(),
            &report.run_id,
            "manifest.json",
        );
        let manifest = serde_json::json!({
            "v": 1,
            "run_id": report.run_id,
            "written_at": format_rfc3339(SystemTime::now()),
            "filter": req.filter,
            "archived": report.archived,
            "keys": report.keys,
        });
        if let Err(e) = archive
            .put(&key, manifest.to_string().into_bytes(), "application/json")
            .await
        {
            warn!(error = %e, "manifest PUT failed (the archive objects are written)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keys_and_run_ids_carry_the_utc_date() {
        let at = datetime!(2026-03-02 09:05:07 UTC);
        assert_eq!(run_id_at(at, "1a2b3c4d"), "20260302T090507Z-1a2b3c4d");
        assert_eq!(
            archive_key(
                "dead-letters",
                at,
                "20260302T090507Z-1a2b3c4d",
                "1.jsonl.gz"
            ),
            "dead-letters/2026/03/02/20260302T090507Z-1a2b3c4d-1.jsonl.gz"
        );
        let early = datetime!(0999-01-09 00:00:00 UTC);
        assert_eq!(
            archive_key("p", early, "r", "manifest.json"),
            "p/0999/01/09/r-manifest.json"
        );
        assert_eq!(run_id().len(), "20260302T090507Z-1a2b3c4d".len());
    }
}
