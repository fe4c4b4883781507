//! The replayer: how an on-call engineer recovers dead letters after a WFM outage
//! (PRODUCT.md §6). The same library serves the replayer Lambda (invoked by hand with a JSON
//! [`Request`]) and the operator CLI `relayctl`.
//!
//! Guarantees:
//! * A dead letter leaves the DLQ only after its delivery (2xx) or its archive (S3 PUT) or its
//!   move to the retry queue (SendMessage accepted) is confirmed.
//! * A failed replay leaves the letter in the DLQ with its history updated (attempts, last
//!   status, last error): the updated copy is sent first, the old message deleted after.
//! * Letters that do not match the filter are made visible again when the action ends.
//! * Every action stops before its deadline and reports what it did and the request to send next.
//!
//! The stages, one module each: [`Replayer::run`] here; `scan` (receive the DLQ page by page,
//! select, dispatch), `replay` (POST to WFM), `redrive` (back to the retry queue), `archive`
//! (S3 objects and the manifest), `replay_archive` (POST an archive's letters), `pacer`.

mod archive;
mod delete;
mod pacer;
pub mod plan;
mod redrive;
mod replay;
mod replay_archive;
pub mod request;
mod scan;
pub mod schedule;
pub mod snapshot;
pub mod snapshot_request;

pub use plan::{PageWork, Plan, SelectionWork};
pub use request::{Action, Mode, PeekedLetter, Report, Request, RequestError, Stats, StopReason};
pub use request::{CorruptObject, ResumeAt};
pub use snapshot::Snapshotter;
pub use snapshot_request::{SnapshotReport, SnapshotRequest, SnapshotTopic};
pub use wfm_relay_aws::relay::StartError;

use std::sync::Arc;
use std::time::SystemTime;
use tracing::{info, warn};
use wfm_relay_aws::archive::{Archive, ArchiveError};
use wfm_relay_aws::profile_source::ActiveProfile;
use wfm_relay_aws::queues::{QueueError, Queues, Received};
use wfm_relay_aws::relay::RelayParts;
use wfm_relay_aws::wfm::WfmClient;
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::deadline::{effective_deadline, time_left};
use wfm_relay_core::metrics::{self, Metrics};
use wfm_relay_core::replay::DeadLetter;

/// Dead letters per archive object (PRODUCT.md §9: one S3 PUT per chunk of up to 1,000).
pub const ARCHIVE_CHUNK: usize = 1000;
/// Default POSTs in flight.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Why an action could not run (a WFM failure is not an error: it is counted in the report).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The request is invalid, or needs a bucket that is not configured.
    #[error("invalid request: {0}")]
    Invalid(#[from] RequestError),
    /// A queue call failed before anything could be done.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// An archive call failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A Lambda payload that is not a [`Request`] (unknown action or member, wrong type).
    #[error("invalid request: {0}")]
    NotARequest(#[source] serde_json::Error),
    /// The report could not be written as JSON.
    #[error("cannot write the report as JSON: {0}")]
    Encode(#[source] serde_json::Error),
}

/// A received dead letter.
pub(crate) struct Letter {
    /// The SQS message (receipt handle, id, sent time).
    pub(crate) msg: Received,
    /// Its decoded envelope.
    pub(crate) dead: DeadLetter,
}

/// The SQS messages of `letters`, e.g. to hold or release them.
pub(crate) fn messages(letters: Vec<Letter>) -> impl Iterator<Item = Received> {
    letters.into_iter().map(|l| l.msg)
}

/// The replayer: configuration (the forwarder's variables), WFM client, queues, archive.
#[derive(Debug)]
pub struct Replayer {
    cfg: ForwarderConfig,
    wfm: WfmClient,
    queues: Queues,
    archive: Option<Archive>,
    /// The WFM output profile (`WFM_PROFILE`), if one is configured: a replay applies the
    /// profile current at replay time.
    profile: Option<Arc<ActiveProfile>>,
}

impl Replayer {
    /// Builds the replayer from its parts; the archive is `ARCHIVE_BUCKET` when configured.
    pub fn new(cfg: ForwarderConfig, wfm: WfmClient, queues: Queues) -> Self {
        let archive = cfg
            .archive_bucket
            .clone()
            .map(|b| Archive::lazy(std::sync::Arc::clone(queues.aws()), b));
        Replayer {
            cfg,
            wfm,
            queues,
            archive,
            profile: None,
        }
    }

    /// Uses `profile` (a WFM output profile, read at start-up) for every replay POST; `None`
    /// sends events unchanged.
    pub fn with_profile(mut self, profile: Option<Arc<ActiveProfile>>) -> Self {
        self.profile = profile;
        self
    }

    /// Reads the same environment as the forwarder (PRODUCT.md §10) and builds the clients.
    ///
    /// # Errors
    /// [`StartError`] naming the variable at fault.
    pub async fn from_env() -> Result<Self, StartError> {
        let parts = RelayParts::from_env().await?;
        let profile = ActiveProfile::from_env(parts.cfg.body_mode, parts.queues.aws()).await?;
        Ok(Replayer::new(parts.cfg, parts.wfm, parts.queues).with_profile(profile))
    }

    /// The configuration in use.
    pub fn config(&self) -> &ForwarderConfig {
        &self.cfg
    }

    fn out_of_time(&self, deadline: Option<SystemTime>) -> bool {
        deadline
            .is_some_and(|d| time_left(d, self.cfg.deadline_reserve, SystemTime::now()).is_zero())
    }

    /// Handles one Lambda invocation: decodes `payload` as a [`Request`], runs it against the
    /// invocation's deadline (`runtime_deadline` is Lambda's; one already past counts as absent,
    /// [`effective_deadline`]) and answers the [`Report`] as JSON.
    ///
    /// # Errors
    /// [`ReplayError::NotARequest`] for a payload that is not a request, and the errors of
    /// [`Replayer::run`]; the invocation then fails with the message.
    pub async fn handle(
        &self,
        payload: serde_json::Value,
        runtime_deadline: SystemTime,
    ) -> Result<serde_json::Value, ReplayError> {
        let deadline = effective_deadline(
            runtime_deadline,
            SystemTime::now(),
            self.cfg.function_timeout,
        );
        let req: Request = serde_json::from_value(payload).map_err(ReplayError::NotARequest)?;
        let report = self.run(&req, Some(deadline), &|_| {}).await?;
        serde_json::to_value(report).map_err(ReplayError::Encode)
    }

    /// Runs one action. `deadline` is the Lambda deadline (`None` from the CLI); `progress` is
    /// called with the report so far after each page of dead letters.
    ///
    /// # Errors
    /// [`ReplayError`] when the request is invalid or the DLQ / archive cannot be read at all.
    pub async fn run(
        &self,
        req: &Request,
        deadline: Option<SystemTime>,
        progress: &(dyn Fn(&Report) + Sync),
    ) -> Result<Report, ReplayError> {
        req.validate()?;
        if let Some(p) = &self.profile {
            // A failed re-read keeps the previous table (logged by the profile).
            let _ = p.refresh_if_due().await;
        }
        let plan = req.plan();
        if plan.needs_bucket && self.archive.is_none() {
            return Err(RequestError::NeedsBucket(req.command_text()).into());
        }
        let mut report = Report {
            v: 1,
            action: req.action,
            run_id: archive::run_id(),
            dry_run: req.dry_run,
            ..Report::default()
        };
        if plan.reads_archive {
            self.replay_archive(req, deadline, &mut report, progress)
                .await?;
        } else {
            self.scan(req, &plan, deadline, &mut report, progress)
                .await?;
        }
        report.remaining = match self.dlq_depth().await {
            Ok(n) => Some(n),
            Err(e) => {
                warn!(error = %e, "cannot read the DLQ depth; remaining is unknown");
                None
            }
        };
        report.next = next_request(&plan, req, &report);
        if !report.identity_holds() {
            warn!(
                matched = report.matched,
                accounted = report.accounted(),
                "report counts do not add up to matched (PRODUCT.md §6)"
            );
        }
        info!(action = %report.action, matched = report.matched, delivered = report.delivered,
            delivered_not_deleted = report.delivered_not_deleted, in_flight = report.in_flight,
            not_reached = report.not_reached, failed = report.failed, archived = report.archived, redriven = report.redriven,
            remaining = report.remaining, "replayer action done");
        if let Some(function) = &self.cfg.function_name {
            // Inside a Lambda runtime only: relayctl runs the same code and keeps stdout clean.
            emit_metrics(&report_metrics(
                &self.cfg.metrics_namespace,
                function,
                &report,
            ));
        }
        Ok(report)
    }

    /// Messages in the DLQ (visible + in flight + delayed).
    async fn dlq_depth(&self) -> Result<usize, QueueError> {
        self.queues.dlq().depth().await.map(|d| d.total())
    }
}

/// The request that continues `req`: when it is continuable and stopped early (or left letters
/// `in_flight` / `not_reached`) with work left,
/// the `next` a stage set (replay-archive: its (object key, line) point) or `req` itself. An unknown
/// DLQ depth (`remaining: null`) counts as work left: a failed read never drops `next`.
fn next_request(plan: &Plan, req: &Request, report: &Report) -> Option<Request> {
    let work_left = plan.reads_archive || report.remaining != Some(0);
    // A POST cut short or a letter not reached is work left even when the scan did not stop.
    let unfinished = report.in_flight + report.not_reached > 0;
    (plan.continuable && (report.stopped.is_some() || unfinished) && work_left)
        .then(|| report.next.clone().unwrap_or_else(|| req.clone()))
}

/// The metrics of one action: `Delivered`, `Failed`, `Archived` (Count), `AuthConfigError`
/// (Count, only when the token endpoint refused our credentials), and the action name as the
/// `Action` property (not a dimension).
pub fn report_metrics(namespace: &str, function: &str, report: &Report) -> Metrics {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let mut m = Metrics::replayer(namespace, function);
    m.add(metrics::DELIVERED, count(report.delivered));
    m.add(metrics::FAILED, count(report.failed));
    m.add(metrics::ARCHIVED, count(report.archived));
    if report.auth_config_errors > 0 {
        m.add(metrics::AUTH_CONFIG_ERROR, count(report.auth_config_errors));
    }
    m.property("Action", report.action.as_str());
    m
}

use wfm_relay_aws::telemetry::emit_metrics;
/// The JSON log subscriber both Lambdas use ([`wfm_relay_aws::telemetry::init_tracing`]).
pub use wfm_relay_aws::telemetry::init_tracing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_kept_when_work_is_left_or_unknown() {
        let req = Request {
            limit: Some(1),
            ..Request::new(Action::Replay)
        };
        let stopped = |remaining| Report {
            action: Action::Replay,
            stopped: Some(StopReason::Limit),
            remaining,
            ..Report::default()
        };
        let next = |r: &Report| next_request(&req.plan(), &req, r);
        assert_eq!(next(&stopped(Some(2))), Some(req.clone()));
        assert_eq!(
            next(&stopped(None)),
            Some(req.clone()),
            "a failed depth read keeps next"
        );
        assert_eq!(next(&stopped(Some(0))), None, "nothing left");
        let finished = Report {
            stopped: None,
            ..stopped(None)
        };
        assert_eq!(next(&finished), None, "not stopped early");
        let cut = Report {
            in_flight: 1,
            ..finished.clone()
        };
        assert_eq!(
            next(&cut),
            Some(req.clone()),
            "a POST cut short is sent again"
        );
        let dry = Request {
            dry_run: true,
            ..req.clone()
        };
        assert_eq!(next_request(&dry.plan(), &dry, &stopped(None)), None);
        let archive = Request {
            archive_key: Some("dead-letters/".into()),
            ..Request::new(Action::ReplayArchive)
        };
        let mut after = archive.clone();
        after.start_after = Some("dead-letters/2026/03/02/r-1.jsonl.gz".into());
        let read = Report {
            next: Some(after.clone()),
            ..stopped(Some(0))
        };
        assert_eq!(
            next_request(&archive.plan(), &archive, &read),
            Some(after),
            "replay-archive continues whatever the DLQ holds"
        );
    }
}
