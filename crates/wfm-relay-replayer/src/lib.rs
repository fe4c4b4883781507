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

pub mod request;

pub use request::{Action, Mode, PeekedLetter, Report, Request, Stats};

use futures_util::StreamExt;
use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};
use time::OffsetDateTime;
use tokio::sync::Mutex;
use tracing::{info, warn};
use wfm_relay_aws::archive::{Archive, ArchiveError, encode_jsonl_gz};
use wfm_relay_aws::queues::{BatchEntry, QueueError, Queues, Received};
use wfm_relay_aws::relay::RelayParts;
use wfm_relay_aws::wfm::WfmClient;
use wfm_relay_core::attempt::{Delivery, Verdict, verdict};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::deadline::time_left;
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_core::event::parse_event;
use wfm_relay_core::metrics::{self, Metrics};
use wfm_relay_core::replay::{DeadLetter, decode_dead_letter, select_latest};
use wfm_relay_core::timefmt::format_rfc3339;

/// Dead letters per archive object (PRODUCT.md §9: one S3 PUT per chunk of up to 1,000).
pub const ARCHIVE_CHUNK: usize = 1000;
/// Default POSTs in flight.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Why an action could not run (a WFM failure is not an error: it is counted in the report).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The request is invalid.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A queue call failed before anything could be done.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// An archive call failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

pub use wfm_relay_aws::relay::StartError;

/// A received dead letter.
struct Letter {
    msg: Received,
    dead: DeadLetter,
}

/// How one replay POST ended.
enum Sent {
    Delivered,
    Failed,
    Invalid,
}

/// Paces POSTs to at most `rate` per second.
struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pacer {
    fn new(rate_per_s: Option<f64>) -> Self {
        Pacer {
            interval: rate_per_s.map(|r| Duration::from_secs_f64(1.0 / r)),
            next: Mutex::new(Instant::now()),
        }
    }
    async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// The replayer: configuration (the forwarder's variables), WFM client, queues, archive.
#[derive(Debug)]
pub struct Replayer {
    cfg: ForwarderConfig,
    wfm: WfmClient,
    queues: Queues,
    archive: Option<Archive>,
}

impl Replayer {
    /// Builds the replayer from its parts; the archive is `ARCHIVE_BUCKET` when configured.
    pub fn new(cfg: ForwarderConfig, wfm: WfmClient, queues: Queues) -> Self {
        let archive = cfg
            .archive_bucket
            .clone()
            .map(|b| Archive::new(queues.s3().clone(), b));
        Replayer {
            cfg,
            wfm,
            queues,
            archive,
        }
    }

    /// Reads the same environment as the forwarder (PRODUCT.md §10) and builds the clients.
    ///
    /// # Errors
    /// [`StartError`] naming the variable at fault.
    pub async fn from_env() -> Result<Self, StartError> {
        let parts = RelayParts::from_env().await?;
        Ok(Replayer::new(parts.cfg, parts.wfm, parts.queues))
    }

    /// The configuration in use.
    pub fn config(&self) -> &ForwarderConfig {
        &self.cfg
    }

    fn out_of_time(&self, deadline: Option<SystemTime>) -> bool {
        deadline
            .is_some_and(|d| time_left(d, self.cfg.deadline_reserve, SystemTime::now()).is_zero())
    }

    /// Visibility for held messages: until the deadline plus a minute, or 15 min without one.
    fn hold_s(&self, deadline: Option<SystemTime>) -> i32 {
        let secs = deadline
            .and_then(|d| d.duration_since(SystemTime::now()).ok())
            .map_or(900, |d| d.as_secs() + 60);
        i32::try_from(secs.min(43_200)).unwrap_or(43_200)
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
        req.validate().map_err(ReplayError::Invalid)?;
        let needs_bucket = req.action == Action::Archive
            || req.action == Action::ReplayArchive
            || (req.action == Action::Replay && req.mode == Mode::Latest && !req.dry_run);
        if needs_bucket && self.archive.is_none() {
            return Err(ReplayError::Invalid(format!(
                "{} needs ARCHIVE_BUCKET to be configured",
                req.action.as_str()
            )));
        }
        let mut report = Report {
            v: 1,
            action: req.action.as_str().to_owned(),
            run_id: run_id(),
            dry_run: req.dry_run,
            ..Report::default()
        };
        if req.action == Action::ReplayArchive {
            self.replay_archive(req, deadline, &mut report, progress)
                .await?;
        } else {
            self.scan(req, deadline, &mut report, progress).await?;
        }
        report.remaining = self
            .queues
            .dlq()
            .depth()
            .await
            .map(|d| d.total())
            .unwrap_or(0);
        let continuable = !matches!(req.action, Action::Peek | Action::Stats) && !req.dry_run;
        if continuable
            && report.stopped.is_some()
            && (report.remaining > 0 || req.action == Action::ReplayArchive)
        {
            report.next = Some(match (&report.next, req.action) {
                (Some(n), _) => n.clone(),
                _ => req.clone(),
            });
        } else {
            report.next = None;
        }
        info!(action = %report.action, matched = report.matched, delivered = report.delivered,
            failed = report.failed, archived = report.archived, redriven = report.redriven,
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

    /// Receives the DLQ page by page and applies the action to the matching letters.
    async fn scan(
        &self,
        req: &Request,
        deadline: Option<SystemTime>,
        report: &mut Report,
        progress: &(dyn Fn(&Report) + Sync),
    ) -> Result<(), ReplayError> {
        let limit = req.limit.unwrap_or(if req.action == Action::Peek {
            10
        } else {
            usize::MAX
        });
        let dlq = self.queues.dlq();
        let mut seen: HashSet<String> = HashSet::new();
        // Copies this run wrote back (failed replays with updated history): held, not retried.
        let mut rewritten: HashSet<String> = HashSet::new();
        let mut held: Vec<Received> = Vec::new();
        let mut collected: Vec<Letter> = Vec::new();
        let mut stats = Stats::default();
        let mut oldest: Option<SystemTime> = None;
        let pacer = Pacer::new(req.rate_per_s);
        let mut empty_polls = 0;
        loop {
            if self.out_of_time(deadline) {
                report.stopped = Some("deadline".into());
                break;
            }
            if report.matched >= limit {
                report.stopped = Some("limit".into());
                break;
            }
            let page = dlq
                .receive(
                    10,
                    self.hold_s(deadline),
                    if empty_polls == 0 { 0 } else { 1 },
                )
                .await?;
            if page.is_empty() {
                empty_polls += 1;
                if empty_polls >= 2 {
                    break;
                }
                continue;
            }
            empty_polls = 0;
            let mut cycled = false;
            let mut matched_page = Vec::new();
            for msg in page {
                if rewritten.contains(&msg.message_id) {
                    held.push(msg);
                    continue;
                }
                if !seen.insert(msg.message_id.clone()) {
                    // Seen already in this run: the queue has come round; stop here.
                    cycled = true;
                    held.push(msg);
                    continue;
                }
                let dead = decode_dead_letter(&msg.body);
                if report.matched >= limit || !req.filter.matches(&dead.env) {
                    report.skipped += 1;
                    held.push(msg);
                    continue;
                }
                report.matched += 1;
                if let Some(t) = msg.sent_at {
                    oldest = Some(oldest.map_or(t, |o| o.min(t)));
                }
                if req.action == Action::Replay && !sendable(&dead.env) {
                    // Counted the same in a dry run and in the real one: it cannot be sent.
                    report.unsendable += 1;
                    held.push(msg);
                    continue;
                }
                matched_page.push(Letter { msg, dead });
            }
            match (req.action, req.dry_run, req.mode) {
                (Action::Stats, ..) => {
                    for l in &matched_page {
                        tally(&mut stats, &l.dead.env);
                    }
                    held.extend(matched_page.into_iter().map(|l| l.msg));
                }
                (Action::Peek, ..) => {
                    for l in matched_page {
                        report.letters.push(PeekedLetter {
                            message_id: l.msg.message_id.clone(),
                            shape: l.dead.shape,
                            letter: l.dead.env.clone(),
                        });
                        held.push(l.msg);
                    }
                }
                (_, true, _) => {
                    // Dry run: count what would be done, change nothing.
                    collected.extend(matched_page);
                }
                (Action::Replay, false, Mode::History) => {
                    let failed = self
                        .replay_page(
                            matched_page,
                            deadline,
                            &pacer,
                            report,
                            req.concurrency,
                            &mut rewritten,
                        )
                        .await;
                    held.extend(failed);
                }
                (Action::Replay, false, Mode::Latest) | (Action::Archive, false, _) => {
                    collected.extend(matched_page);
                    if req.action == Action::Archive && collected.len() >= ARCHIVE_CHUNK {
                        let chunk: Vec<Letter> = collected.drain(..ARCHIVE_CHUNK).collect();
                        let left = self.archive_chunk(chunk, None, report).await;
                        held.extend(left);
                    }
                }
                (Action::Redrive, false, _) => {
                    let left = self.redrive_page(matched_page, report).await;
                    held.extend(left);
                }
                (Action::ReplayArchive, ..) => {}
            }
            progress(report);
            if cycled {
                break;
            }
        }
        // Work that needs the whole selection.
        match (req.action, req.dry_run, req.mode) {
            (Action::Replay, true, Mode::Latest) => {
                let envs: Vec<&EnvelopeV1> = collected.iter().map(|l| &l.dead.env).collect();
                report.superseded = select_latest(&envs).iter().filter(|k| !**k).count();
                held.extend(collected.into_iter().map(|l| l.msg));
            }
            (_, true, _) => held.extend(collected.into_iter().map(|l| l.msg)),
            (Action::Replay, false, Mode::Latest) => {
                let envs: Vec<&EnvelopeV1> = collected.iter().map(|l| &l.dead.env).collect();
                let keep = select_latest(&envs);
                let (mut send, mut old) = (Vec::new(), Vec::new());
                for (l, k) in collected.into_iter().zip(keep) {
                    if k { send.push(l) } else { old.push(l) }
                }
                report.superseded = old.len();
                while !old.is_empty() {
                    let n = old.len().min(ARCHIVE_CHUNK);
                    let chunk: Vec<Letter> = old.drain(..n).collect();
                    held.extend(
                        self.archive_chunk(chunk, Some(Reason::Superseded), report)
                            .await,
                    );
                }
                for page in chunks(send, 10) {
                    if self.out_of_time(deadline) {
                        report.stopped = Some("deadline".into());
                        held.extend(page.into_iter().map(|l| l.msg));
                        continue;
                    }
                    held.extend(
                        self.replay_page(
                            page,
                            deadline,
                            &pacer,
                            report,
                            req.concurrency,
                            &mut rewritten,
                        )
                        .await,
                    );
                    progress(report);
                }
            }
            (Action::Archive, false, _) => {
                if !collected.is_empty() {
                    held.extend(self.archive_chunk(collected, None, report).await);
                }
                if !report.keys.is_empty() {
                    self.write_manifest(req, report).await;
                }
            }
            _ => {}
        }
        let held_refs: Vec<&Received> = held.iter().collect();
        dlq.release(&held_refs).await;
        if req.action == Action::Stats {
            stats.depth = dlq.depth().await.map(|d| d.total()).unwrap_or(0);
            stats.oldest_age_s = oldest
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .map(|d| d.as_secs());
            report.stats = Some(stats);
        }
        Ok(())
    }

    /// POSTs a page of letters (bounded concurrency and rate), deletes the delivered ones,
    /// rewrites the failed ones with their history. Returns messages to release.
    async fn replay_page(
        &self,
        page: Vec<Letter>,
        deadline: Option<SystemTime>,
        pacer: &Pacer,
        report: &mut Report,
        concurrency: Option<usize>,
        rewritten: &mut HashSet<String>,
    ) -> Vec<Received> {
        let results: Vec<(Letter, Sent)> = futures_util::stream::iter(page)
            .map(|mut l| async {
                let sent = self.deliver(&mut l.dead.env, deadline, pacer).await;
                (l, sent)
            })
            .buffer_unordered(concurrency.unwrap_or(DEFAULT_CONCURRENCY))
            .collect()
            .await;
        let mut delivered = Vec::new();
        let mut release = Vec::new();
        for (l, sent) in results {
            match sent {
                Sent::Delivered => {
                    report.delivered += 1;
                    delivered.push(l.msg);
                }
                Sent::Invalid => {
                    report.unsendable += 1;
                    release.push(l.msg);
                }
                Sent::Failed => {
                    report.failed += 1;
                    // Keep the history: the updated copy first, then the old message goes.
                    match self.queues.dlq().park(&l.dead.env).await {
                        Ok(copy) => {
                            rewritten.insert(copy.message_id);
                            let deleted = self.queues.dlq().delete_batch(&[&l.msg]).await;
                            if deleted.is_empty() {
                                release.push(l.msg);
                            }
                        }
                        Err(e) => {
                            warn!(error = %e, "could not rewrite a failed dead letter; it stays as it was");
                            release.push(l.msg);
                        }
                    }
                }
            }
        }
        let refs: Vec<&Received> = delivered.iter().collect();
        self.queues.dlq().delete_batch(&refs).await;
        release
    }

    /// One replay POST of `env`, updating its history.
    async fn deliver(
        &self,
        env: &mut EnvelopeV1,
        deadline: Option<SystemTime>,
        pacer: &Pacer,
    ) -> Sent {
        let raw = match self.queues.event_bytes(env).await {
            Ok(raw) => raw,
            Err(e) if e.is_permanent() => return Sent::Invalid,
            Err(e) => {
                warn!(error = %e, "cannot read a claim-checked event");
                return Sent::Failed;
            }
        };
        let Ok(info) = parse_event(&raw) else {
            return Sent::Invalid;
        };
        pacer.wait().await;
        let attempt = env.attempts.saturating_add(1);
        let timeout = match deadline {
            Some(d) => {
                self.cfg
                    .timeout
                    .min(time_left(d, self.cfg.deadline_reserve, SystemTime::now()))
            }
            None => self.cfg.timeout,
        };
        if timeout.is_zero() {
            return Sent::Failed;
        }
        let d = Delivery::for_event(&info, &raw, self.cfg.body_mode, attempt, true);
        let res = self.wfm.post(&d, timeout).await;
        let now = SystemTime::now();
        env.attempts = attempt;
        env.record_attempt(now);
        // The core decides, as for live delivery; a Retry-After becomes `not_before` (no sleep).
        let v = verdict(&res, &self.cfg.transient, self.cfg.retry_after_cap, now);
        info!(event_id = %info.id, key = %info.key, user_id = info.user_id.as_deref().unwrap_or(""),
            topic = info.topic(), attempt, status = res.status(), outcome = "replay",
            verdict = v.outcome(), "WFM attempt");
        if let Verdict::Delivered { .. } = v {
            return Sent::Delivered;
        }
        env.record_replay(&v, now);
        Sent::Failed
    }

    /// Moves letters to the retry queue; returns the messages to release (not moved).
    async fn redrive_page(&self, page: Vec<Letter>, report: &mut Report) -> Vec<Received> {
        let entries = page
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut env = l.dead.env.clone();
                env.reason = None;
                env.not_before = None;
                BatchEntry {
                    id: i.to_string(),
                    body: env.to_json(),
                    delay_s: 0,
                }
            })
            .collect();
        let out = self.queues.retry().send_batch(entries).await;
        let mut moved = Vec::new();
        let mut release = Vec::new();
        for (i, l) in page.into_iter().enumerate() {
            if out.sent.contains(&i.to_string()) {
                moved.push(l.msg);
            } else {
                report.failed += 1;
                release.push(l.msg);
            }
        }
        let refs: Vec<&Received> = moved.iter().collect();
        report.redriven += self.queues.dlq().delete_batch(&refs).await.len();
        release
    }

    /// Writes one archive object (claim-checked events inlined), then deletes its letters.
    /// Returns the messages to release when the PUT failed.
    async fn archive_chunk(
        &self,
        chunk: Vec<Letter>,
        reason: Option<Reason>,
        report: &mut Report,
    ) -> Vec<Received> {
        let Some(archive) = &self.archive else {
            return chunk.into_iter().map(|l| l.msg).collect();
        };
        let mut envs = Vec::with_capacity(chunk.len());
        for l in &chunk {
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
            if reason.is_some() {
                env.reason = reason;
            }
            envs.push(env);
        }
        let now = OffsetDateTime::now_utc();
        let key = format!(
            "{}/{:04}/{:02}/{:02}/{}-{}.jsonl.gz",
            self.cfg.archive_prefix,
            now.year(),
            u8::from(now.month()),
            now.day(),
            report.run_id,
            report.keys.len() + 1
        );
        if let Err(e) = archive
            .put(&key, encode_jsonl_gz(&envs), "application/gzip")
            .await
        {
            warn!(error = %e, "archive PUT failed; the dead letters stay in the DLQ");
            report.failed += chunk.len();
            return chunk.into_iter().map(|l| l.msg).collect();
        }
        report.keys.push(key);
        let msgs: Vec<&Received> = chunk.iter().map(|l| &l.msg).collect();
        let deleted = self.queues.dlq().delete_batch(&msgs).await;
        if reason != Some(Reason::Superseded) {
            report.archived += deleted.len();
        }
        chunk
            .into_iter()
            .filter(|l| !deleted.contains(&l.msg.message_id))
            .map(|l| l.msg)
            .collect()
    }

    async fn write_manifest(&self, req: &Request, report: &Report) {
        let Some(archive) = &self.archive else { return };
        let now = OffsetDateTime::now_utc();
        let key = format!(
            "{}/{:04}/{:02}/{:02}/{}-manifest.json",
            self.cfg.archive_prefix,
            now.year(),
            u8::from(now.month()),
            now.day(),
            report.run_id
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

    /// Replays the letters of archive objects to WFM. Nothing is deleted.
    async fn replay_archive(
        &self,
        req: &Request,
        deadline: Option<SystemTime>,
        report: &mut Report,
        progress: &(dyn Fn(&Report) + Sync),
    ) -> Result<(), ReplayError> {
        let Some(archive) = &self.archive else {
            return Ok(());
        };
        let key = req.archive_key.clone().unwrap_or_default();
        let keys: Vec<String> = if key.ends_with(".jsonl.gz") {
            vec![key]
        } else {
            archive
                .list(&key, req.start_after.as_deref())
                .await?
                .into_iter()
                .filter(|k| k.ends_with(".jsonl.gz"))
                .collect()
        };
        let pacer = Pacer::new(req.rate_per_s);
        let limit = req.limit.unwrap_or(usize::MAX);
        for k in keys {
            if self.out_of_time(deadline) || report.matched >= limit {
                report.stopped = Some(
                    if report.matched >= limit {
                        "limit"
                    } else {
                        "deadline"
                    }
                    .into(),
                );
                break;
            }
            let letters = archive.read_letters(&k).await?;
            let selected: Vec<EnvelopeV1> = letters
                .into_iter()
                .filter(|e| req.filter.matches(e))
                .collect();
            report.matched += selected.len();
            let (selected, unsendable): (Vec<EnvelopeV1>, Vec<EnvelopeV1>) =
                selected.into_iter().partition(sendable);
            report.unsendable += unsendable.len();
            if !req.dry_run {
                let results: Vec<Sent> = futures_util::stream::iter(selected)
                    .map(|mut env| {
                        let pacer = &pacer;
                        async move { self.deliver(&mut env, deadline, pacer).await }
                    })
                    .buffer_unordered(req.concurrency.unwrap_or(DEFAULT_CONCURRENCY))
                    .collect()
                    .await;
                for r in results {
                    match r {
                        Sent::Delivered => report.delivered += 1,
                        Sent::Failed => report.failed += 1,
                        Sent::Invalid => report.unsendable += 1,
                    }
                }
            }
            report.keys.push(k.clone());
            let mut next = req.clone();
            next.start_after = Some(k);
            report.next = Some(next);
            progress(report);
        }
        Ok(())
    }
}

/// Whether a letter's inline event is a valid EventBridge event (a claim-checked one is assumed
/// so until it is read).
fn sendable(env: &EnvelopeV1) -> bool {
    env.event
        .as_deref()
        .is_none_or(|e| parse_event(e.as_bytes()).is_ok())
}

fn tally(stats: &mut Stats, env: &EnvelopeV1) {
    *stats
        .by_topic
        .entry(env.topic.clone().unwrap_or_else(|| "none".into()))
        .or_default() += 1;
    *stats
        .by_reason
        .entry(env.effective_reason().as_str().to_owned())
        .or_default() += 1;
    *stats
        .by_status
        .entry(
            env.last_status
                .map_or_else(|| "none".to_owned(), |s| s.to_string()),
        )
        .or_default() += 1;
}

fn chunks<T>(v: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for x in v {
        cur.push(x);
        if cur.len() == n {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A sortable run id: UTC time and a random suffix, e.g. `20260302T090000Z-1a2b3c4d`.
fn run_id() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// The metrics of one action: `Delivered`, `Failed`, `Archived` (Count), and the action name as
/// the `Action` property (not a dimension).
pub fn report_metrics(namespace: &str, function: &str, report: &Report) -> Metrics {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let mut m = Metrics::replayer(namespace, function);
    m.add(metrics::DELIVERED, count(report.delivered));
    m.add(metrics::FAILED, count(report.failed));
    m.add(metrics::ARCHIVED, count(report.archived));
    m.property("Action", report.action.clone());
    m
}

use wfm_relay_aws::telemetry::emit_metrics;
/// The JSON log subscriber both Lambdas use ([`wfm_relay_aws::telemetry::init_tracing`]).
pub use wfm_relay_aws::telemetry::init_tracing;
