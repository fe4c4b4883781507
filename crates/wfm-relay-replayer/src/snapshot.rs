//! The `snapshot` action (PRODUCT.md §6): every selected agent's presence and routing status,
//! read from the Genesys Cloud API, sent as snapshot events through the forwarder's own
//! EventBridge entry — guards (`ALLOWED_SOURCES`, `MAX_EVENT_AGE` from `detail.timestamp`),
//! circuit breaker, inline attempts, retry queue, dead-letter queue with reasons, signatures,
//! auth — at `SNAPSHOT_RATE_PER_S` events per second. It never POSTs by itself.
//!
//! Design (ARCHITECTURE.md, "Snapshots"): page by page; before each event the deadline is
//! checked, and a run that would pass it stops with `next` carrying the Genesys page and the
//! agents of it already handled (`resume`), so a 20,000-agent snapshot is a chain of
//! invocations, never one past its deadline. The next page is read while the current one is
//! handed over (`snapshot/deliver.rs`; at `SNAPSHOT_RATE_PER_S=0` several agents at once): the
//! Genesys reads, paced at the API's rate limit, set the pace.

use crate::snapshot_request::{SnapshotCursor, SnapshotReport, SnapshotRequest};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use tracing::{info, warn};
use wfm_relay_aws::genesys::{GenesysClient, GenesysError, Selection};
use wfm_relay_core::deadline::time_left;
use wfm_relay_core::snapshot::SnapshotContext;
use wfm_relay_forwarder::Forwarder;

mod deliver;
use deliver::{Pacer, RunParts};

/// Default `SNAPSHOT_RATE_PER_S`: 20 events per second.
pub const DEFAULT_SNAPSHOT_RATE_PER_S: f64 = 20.0;

/// Time kept free before the deadline for the last event's delivery attempt and queueing on
/// top of `DEADLINE_RESERVE_MS`: the WFM timeout is the forwarder's to bound, so this is 1 s.
const EVENT_MARGIN: Duration = Duration::from_secs(1);

/// Reads `SNAPSHOT_RATE_PER_S` (events per second, `0` = no limit).
///
/// # Errors
/// A sentence naming the variable when it is not a number ≥ 0.
pub fn rate_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<f64, String> {
    match get("SNAPSHOT_RATE_PER_S").filter(|v| !v.trim().is_empty()) {
        None => Ok(DEFAULT_SNAPSHOT_RATE_PER_S),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r >= 0.0)
            .ok_or_else(|| format!("SNAPSHOT_RATE_PER_S: `{v}` is not a number ≥ 0")),
    }
}

/// The snapshot runner: the Genesys client, the forwarder that delivers, the event context.
pub struct Snapshotter {
    genesys: GenesysClient,
    forwarder: Forwarder,
    org_id: Mutex<Option<String>>,
    account: String,
    region: String,
    rate_per_s: f64,
}

impl std::fmt::Debug for Snapshotter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshotter")
            .field("genesys", &self.genesys)
            .field("rate_per_s", &self.rate_per_s)
            .finish_non_exhaustive()
    }
}

/// How one event ended in the forwarder.
enum Handed {
    Delivered,
    Queued,
    Parked,
    NotSent,
}

impl Snapshotter {
    /// A runner over `genesys` delivering through `forwarder`. `org_id` is `GENESYS_ORG_ID`
    /// (`None`: read once from `GET /api/v2/organizations/me`); `account` and `region` go into
    /// each event; `rate_per_s` is `SNAPSHOT_RATE_PER_S` (0 = no limit).
    pub fn new(
        genesys: GenesysClient,
        forwarder: Forwarder,
        org_id: Option<String>,
        account: String,
        region: String,
        rate_per_s: f64,
    ) -> Self {
        Snapshotter {
            genesys,
            forwarder,
            org_id: Mutex::new(org_id),
            account,
            region,
            rate_per_s,
        }
    }

    /// The time left before `deadline` for handing over one more event.
    fn left(&self, deadline: Option<SystemTime>) -> Duration {
        match deadline {
            None => Duration::MAX,
            Some(d) => time_left(
                d,
                self.forwarder.config().deadline_reserve + EVENT_MARGIN,
                SystemTime::now(),
            ),
        }
    }

    fn until(&self, deadline: Option<SystemTime>) -> Instant {
        let left = self.left(deadline).min(Duration::from_secs(86_400 * 365));
        self.genesys.now() + left
    }

    async fn org(&self, until: Instant) -> Result<String, GenesysError> {
        if let Some(o) = self
            .org_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Ok(o);
        }
        let o = self.genesys.org_id(until).await?;
        *self
            .org_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(o.clone());
        Ok(o)
    }

    async fn hand(&self, bytes: &[u8], deadline: Option<SystemTime>) -> Handed {
        // From the CLI there is no Lambda deadline: each event gets the function timeout.
        let d = deadline
            .unwrap_or_else(|| SystemTime::now() + self.forwarder.config().function_timeout);
        let (result, _metrics) = self.forwarder.handle_measured(bytes, d).await;
        match result {
            Ok(v) => match v.get("outcome").and_then(serde_json::Value::as_str) {
                Some("delivered") => Handed::Delivered,
                Some("queued") => Handed::Queued,
                Some(_) => Handed::Parked,
                None => Handed::NotSent,
            },
            Err(e) => {
                warn!(error = %e, "snapshot event neither delivered, queued nor parked");
                Handed::NotSent
            }
        }
    }

    /// Runs one part of a snapshot. `deadline` is the Lambda deadline (`None` from the CLI);
    /// `progress` gets the report after each page. Never fails: a Genesys error stops the run
    /// and is reported in `stopped` (with `next` when it is worth trying again).
    pub async fn run(
        &self,
        req: &SnapshotRequest,
        deadline: Option<SystemTime>,
        progress: &(dyn Fn(&SnapshotReport) + Sync),
    ) -> SnapshotReport {
        let started = Instant::now();
        let base = self.genesys.stats();
        let mut report = SnapshotReport {
            v: 1,
            action: "snapshot".to_owned(),
            run_id: req
                .run_id
                .clone()
                .unwrap_or_else(|| format!("snapshot-{}", uuid::Uuid::new_v4().simple())),
            dry_run: req.dry_run,
            ..SnapshotReport::default()
        };
        let selection = match req.selection() {
            Ok(s) => s,
            Err(m) => {
                report.stopped = Some(format!("invalid request: {m}"));
                return report;
            }
        };
        let stop = match self
            .pages(req, &selection, deadline, &mut report, progress)
            .await
        {
            Ok(None) => None,
            Ok(Some(at)) => Some(("deadline".to_owned(), Some(at))),
            Err((e, at)) => {
                let again = (!e.is_fatal()).then_some(at);
                Some((e.to_string(), again))
            }
        };
        if let Some((why, at)) = stop {
            warn!(stopped = %why, "snapshot stopped before the end");
            report.stopped = Some(why);
            report.next = at.filter(|_| !req.dry_run).map(|resume| SnapshotRequest {
                resume: Some(resume),
                run_id: Some(report.run_id.clone()),
                ..req.clone()
            });
        }
        let stats = self.genesys.stats();
        report.genesys_calls = stats.calls - base.calls;
        report.genesys_429 = stats.rate_limited - base.rate_limited;
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        info!(run_id = %report.run_id, agents = report.agents, events = report.events,
            delivered = report.delivered, queued = report.queued, parked = report.parked,
            not_sent = report.not_sent, genesys_calls = report.genesys_calls,
            genesys_429 = report.genesys_429, "snapshot done");
        report
    }

    /// The page loop: `Ok(None)` at the end, `Ok(Some(cursor))` when the deadline stopped it,
    /// `Err((error, cursor))` when Genesys did. Page `k + 1` is read while page `k` is handed
    /// over (the read waits for its slot under the Genesys rate limit anyway); when the
    /// deadline stops page `k`, the page read ahead is dropped (the continuation reads it again).
    async fn pages(
        &self,
        req: &SnapshotRequest,
        selection: &Selection,
        deadline: Option<SystemTime>,
        report: &mut SnapshotReport,
        progress: &(dyn Fn(&SnapshotReport) + Sync),
    ) -> Result<Option<SnapshotCursor>, (GenesysError, SnapshotCursor)> {
        let mut at = req.resume.unwrap_or_default();
        let org_id = self.org(self.until(deadline)).await.map_err(|e| (e, at))?;
        let ctx = SnapshotContext {
            org_id,
            account: self.account.clone(),
            region: self.region.clone(),
            run_id: report.run_id.clone(),
        };
        let run = RunParts {
            req,
            ctx: &ctx,
            deadline,
        };
        let pacer = Pacer::new(self.rate_per_s);
        let mut read = self
            .genesys
            .page(selection, at.cursor, self.until(deadline))
            .await;
        loop {
            let page = match read {
                Ok(p) => p,
                Err(GenesysError::OutOfTime) => return Ok(Some(at)),
                Err(e) => return Err((e, at)),
            };
            for p in &page.problems {
                warn!(user_id = %p.user_id, problem = %p.problem, "Genesys user unreadable; no snapshot event");
            }
            report.unreadable += page.problems.len();
            let ahead = async {
                match page.next {
                    Some(c) => Some((
                        c,
                        self.genesys.page(selection, c, self.until(deadline)).await,
                    )),
                    None => None,
                }
            };
            let (stopped, ahead) = tokio::join!(
                self.deliver_page(&run, &page, at.skip, report, &pacer),
                ahead
            );
            if let Some(i) = stopped {
                return Ok(Some(SnapshotCursor { skip: i, ..at }));
            }
            progress(report);
            match ahead {
                Some((c, next)) => {
                    at = SnapshotCursor { cursor: c, skip: 0 };
                    read = next;
                }
                None => return Ok(None),
            }
        }
    }
}

/// Why the snapshot runner could not start; names the variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotStartError {
    /// The forwarder's configuration or clients.
    #[error(transparent)]
    Relay(#[from] wfm_relay_aws::relay::StartError),
    /// A Genesys or snapshot setting.
    #[error(transparent)]
    Config(#[from] wfm_relay_core::config::ConfigError),
    /// The Genesys client (its secret could not be read).
    #[error("Genesys client: {0}")]
    Genesys(#[from] GenesysError),
}

/// The AWS account id in an SQS queue URL `https://sqs.<region>.amazonaws.com/<account>/<name>`
/// (`000000000000` when the URL has none, e.g. an emulator's).
pub fn account_of_queue_url(url: &str) -> String {
    url.split('/')
        .rev()
        .nth(1)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("000000000000")
        .to_owned()
}

impl Snapshotter {
    /// Reads the forwarder's environment (PRODUCT.md §10) and the Genesys and snapshot
    /// settings (`GENESYS_*`, `SNAPSHOT_RATE_PER_S`), reads the Genesys client secret (from
    /// Secrets Manager / SSM when so configured), loads the WFM profile (`WFM_PROFILE` and its
    /// tables, the forwarder's own loading) and builds the clients.
    ///
    /// # Errors
    /// [`SnapshotStartError`] naming the variable at fault.
    pub async fn from_env() -> Result<Self, SnapshotStartError> {
        let get = |k: &str| std::env::var(k).ok();
        let settings = wfm_relay_aws::genesys::GenesysSettings::from_lookup(get)?;
        let rate =
            rate_from_lookup(get).map_err(|message| wfm_relay_core::config::ConfigError {
                variable: "SNAPSHOT_RATE_PER_S",
                message,
            })?;
        let parts = wfm_relay_aws::relay::RelayParts::from_env().await?;
        let fetcher =
            wfm_relay_aws::secrets::AwsSecretFetcher::new(parts.queues.aws().sdk_config().await);
        let genesys = GenesysClient::connect(&settings, Some(&fetcher)).await?;
        let account = account_of_queue_url(&parts.cfg.retry_queue_url);
        let region = get("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned());
        // The forwarder's own profile loading (`WFM_PROFILE`, its tables): snapshot events go
        // through the same profile as live events.
        let profile = wfm_relay_aws::profile_source::ActiveProfile::from_env(
            parts.cfg.body_mode,
            parts.queues.aws(),
        )
        .await
        .map_err(wfm_relay_aws::relay::StartError::from)?;
        let forwarder = Forwarder::new(parts.cfg, parts.wfm, parts.queues).with_profile(profile);
        Ok(Snapshotter::new(
            genesys,
            forwarder,
            settings.org_id,
            account,
            region,
            rate,
        ))
    }

    /// Handles one Lambda invocation whose payload is a [`SnapshotRequest`]; answers the
    /// [`SnapshotReport`] as JSON.
    ///
    /// # Errors
    /// A sentence when the payload is not a snapshot request or the report cannot be written.
    pub async fn handle(
        &self,
        payload: serde_json::Value,
        runtime_deadline: SystemTime,
    ) -> Result<serde_json::Value, String> {
        let deadline = wfm_relay_core::deadline::effective_deadline(
            runtime_deadline,
            SystemTime::now(),
            self.forwarder.config().function_timeout,
        );
        let req: SnapshotRequest =
            serde_json::from_value(payload).map_err(|e| format!("invalid request: {e}"))?;
        let report = self.run(&req, Some(deadline), &|_| {}).await;
        serde_json::to_value(report).map_err(|e| format!("cannot write the report: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_account() {
        let none = |_: &str| None;
        assert_eq!(rate_from_lookup(none), Ok(20.0));
        assert_eq!(rate_from_lookup(|_| Some("0".to_owned())), Ok(0.0));
        assert!(rate_from_lookup(|_| Some("-1".to_owned())).is_err());
        assert_eq!(
            account_of_queue_url("https://sqs.eu-west-1.amazonaws.com/123456789012/retry"),
            "123456789012"
        );
        assert_eq!(
            account_of_queue_url("http://127.0.0.1:5000/q"),
            "000000000000"
        );
    }
}
