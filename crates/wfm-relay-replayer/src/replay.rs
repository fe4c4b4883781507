//! Replay: POSTs dead letters to WFM (bounded concurrency, paced), deletes the delivered ones
//! and rewrites the failed ones with their updated history; `latest` mode sends only the newest
//! state per user and topic and archives the superseded ones.

use crate::pacer::Pacer;
use crate::scan::{ScanCtx, ScanState};
use crate::{ARCHIVE_CHUNK, DEFAULT_CONCURRENCY, Letter, Replayer, Report, StopReason, messages};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::time::SystemTime;
use tracing::{info, warn};
use wfm_relay_aws::profile_source::ActiveProfile;
use wfm_relay_aws::queues::Received;
use wfm_relay_core::attempt::{AttemptResult, Delivery, Shape, TransportKind, Verdict, verdict};
use wfm_relay_core::deadline::time_left;
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_core::event::parse_event;
use wfm_relay_core::replay::select_latest;

/// Letters POSTed per page in `latest` mode (as many as one DLQ receive returns).
const LATEST_PAGE: usize = 10;

/// How one replay POST ended.
pub(crate) enum ReplayOutcome {
    /// WFM answered 2xx.
    Delivered,
    /// Not sent: the token endpoint refused our credentials
    /// ([`TransportKind::CredentialsRefused`]). Counted `failed` (the letter stays in the DLQ
    /// with its history updated) and as the metric `AuthConfigError`.
    CredentialsRefused,
    /// Not delivered (WFM refused, transport error, no time left); the letter's history is
    /// updated.
    Failed,
    /// The letter holds no valid event (or its claim-checked event is gone): it cannot be sent.
    Invalid,
    /// The deadline cut the POST's time budget below `WFM_TIMEOUT_MS` and it ended without an
    /// answer: the history is not rewritten, `next` sends it again.
    InFlight,
    /// No time was left for a POST: not sent, left as it was.
    NotReached,
    /// The WFM output profile cannot shape the event (`unmapped_agent`, `transform_failed`):
    /// not sent; the letter's reason and `last_error` are updated and it stays (`unsendable`).
    Unshapeable,
}

/// What every replay POST of one action shares.
pub(crate) struct ReplayCtx<'a> {
    /// The Lambda deadline (`None` from the CLI).
    pub(crate) deadline: Option<SystemTime>,
    /// The rate limit shared by all POSTs.
    pub(crate) pacer: &'a Pacer,
    /// POSTs in flight (default [`DEFAULT_CONCURRENCY`]).
    pub(crate) concurrency: Option<usize>,
}

impl ReplayCtx<'_> {
    /// POSTs in flight at once.
    pub(crate) fn in_flight(&self) -> usize {
        self.concurrency.unwrap_or(DEFAULT_CONCURRENCY)
    }
}

/// Whether a letter's inline event is a valid EventBridge event (a claim-checked one is assumed
/// so until it is read).
pub(crate) fn sendable(env: &EnvelopeV1) -> bool {
    env.event
        .as_deref()
        .is_none_or(|e| parse_event(e.as_bytes()).is_ok())
}

/// Whether `profile` shapes a letter's inline event (true without a profile, and for a
/// claim-checked or invalid event, which other checks count).
pub(crate) fn shapes(profile: Option<&ActiveProfile>, env: &EnvelopeV1) -> bool {
    let (Some(p), Some(event)) = (profile, env.event.as_deref()) else {
        return true;
    };
    parse_event(event.as_bytes()).is_ok_and(|info| p.shape(&info, event.as_bytes()).is_ok())
}

/// Splits a `latest` selection into the letters to send and the superseded ones
/// ([`select_latest`]).
pub(crate) fn split_latest(letters: Vec<Letter>) -> (Vec<Letter>, Vec<Letter>) {
    let envs: Vec<&EnvelopeV1> = letters.iter().map(|l| &l.dead.env).collect();
    let keep = select_latest(&envs);
    let (mut send, mut old) = (Vec::new(), Vec::new());
    for (l, k) in letters.into_iter().zip(keep) {
        if k { send.push(l) } else { old.push(l) }
    }
    (send, old)
}

impl Replayer {
    /// `latest` mode on the whole selection: archives the superseded letters (reason
    /// `superseded`), then replays the newest ones page by page until the deadline.
    pub(crate) async fn replay_latest(
        &self,
        collected: Vec<Letter>,
        cx: &ScanCtx<'_>,
        state: &mut ScanState,
        report: &mut Report,
    ) {
        let (send, mut old) = split_latest(collected);
        while !old.is_empty() {
            let n = old.len().min(ARCHIVE_CHUNK);
            let chunk: Vec<Letter> = old.drain(..n).collect();
            let left = self.archive_superseded(chunk, report).await;
            state.hold(left);
        }
        let mut send = send.into_iter();
        loop {
            let page: Vec<Letter> = send.by_ref().take(LATEST_PAGE).collect();
            if page.is_empty() {
                break;
            }
            if self.out_of_time(cx.replay.deadline) {
                report.stopped = Some(StopReason::Deadline);
                report.not_reached += page.len();
                state.hold(messages(page));
                continue;
            }
            let left = self
                .replay_page(page, &cx.replay, report, &mut state.rewritten)
                .await;
            state.hold(left);
            (cx.progress)(report);
        }
    }

    /// POSTs a page of letters (bounded concurrency and rate), deletes the delivered ones,
    /// rewrites the failed ones with their history. Returns messages to release.
    pub(crate) async fn replay_page(
        &self,
        page: Vec<Letter>,
        ctx: &ReplayCtx<'_>,
        report: &mut Report,
        rewritten: &mut HashSet<String>,
    ) -> Vec<Received> {
        let results: Vec<(Letter, ReplayOutcome)> = futures_util::stream::iter(page)
            .map(|mut l| async {
                let sent = self.deliver(&mut l.dead.env, ctx.deadline, ctx.pacer).await;
                (l, sent)
            })
            .buffer_unordered(ctx.in_flight())
            .collect()
            .await;
        let mut delivered = Vec::new();
        let mut release = Vec::new();
        for (l, sent) in results {
            match sent {
                ReplayOutcome::Delivered => delivered.push(l.msg),
                ReplayOutcome::Invalid => {
                    report.unsendable += 1;
                    release.push(l.msg);
                }
                ReplayOutcome::InFlight => {
                    report.in_flight += 1;
                    release.push(l.msg);
                }
                ReplayOutcome::NotReached => {
                    report.not_reached += 1;
                    release.push(l.msg);
                }
                ReplayOutcome::Failed | ReplayOutcome::CredentialsRefused => {
                    report.count_failed(&sent);
                    if let Some(msg) = self.rewrite_failed(l, rewritten).await {
                        release.push(msg);
                    }
                }
                ReplayOutcome::Unshapeable => {
                    report.unsendable += 1;
                    if let Some(msg) = self.rewrite_failed(l, rewritten).await {
                        release.push(msg);
                    }
                }
            }
        }
        let (deleted, kept) = self.delete_confirmed(delivered).await;
        report.delivered += deleted;
        // Not released: delivered already, it stays hidden until the hold ends (fewer repeats).
        report.delivered_not_deleted += kept.len();
        release
    }

    /// Keeps a failed letter's history: the updated copy is sent first, then the old message
    /// goes. Returns the old message when it stays (to release it).
    async fn rewrite_failed(&self, l: Letter, rewritten: &mut HashSet<String>) -> Option<Received> {
        match self.queues.dlq().park(&l.dead.env).await {
            Ok(copy) => {
                rewritten.insert(copy.message_id);
                let (_, mut kept) = self.delete_confirmed(vec![l.msg]).await;
                kept.pop()
            }
            Err(e) => {
                warn!(error = %e, "could not rewrite a failed dead letter; it stays as it was");
                Some(l.msg)
            }
        }
    }

    /// One replay POST of `env`, updating its history.
    pub(crate) async fn deliver(
        &self,
        env: &mut EnvelopeV1,
        deadline: Option<SystemTime>,
        pacer: &Pacer,
    ) -> ReplayOutcome {
        let raw = match self.queues.event_bytes(env).await {
            Ok(raw) => raw,
            Err(e) if e.is_permanent() => return ReplayOutcome::Invalid,
            Err(e) => {
                warn!(error = %e, "cannot read a claim-checked event");
                return ReplayOutcome::Failed;
            }
        };
        let Ok(info) = parse_event(&raw) else {
            return ReplayOutcome::Invalid;
        };
        let shaped = match self
            .profile
            .as_ref()
            .map(|p| p.shape(&info, &raw))
            .transpose()
        {
            Ok(s) => s,
            Err(refusal) => {
                warn!(event_id = %info.id, key = %info.key, outcome = refusal.reason.as_str(),
                    error = %refusal.message, "the WFM profile cannot shape the event; it stays in the DLQ");
                env.record_unshapeable(&refusal);
                return ReplayOutcome::Unshapeable;
            }
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
            return ReplayOutcome::NotReached;
        }
        let d = Delivery::for_event_shaped(
            &info,
            &raw,
            self.cfg.body_mode,
            attempt,
            true,
            shaped.as_ref(),
        );
        let res = self.wfm.post(&d, timeout).await;
        // Without credentials nothing was sent: a plain failure, never `in_flight`.
        let kind = no_credentials(&res);
        if timeout < self.cfg.timeout && res.status().is_none() && kind.is_none() {
            warn!(event_id = %info.id, attempt, "replay POST cut short by the deadline; in flight");
            return ReplayOutcome::InFlight;
        }
        let now = SystemTime::now();
        env.attempts = attempt;
        env.record_attempt(now);
        // The core decides, as for live delivery; a Retry-After becomes `not_before` (no sleep).
        let v = verdict(&res, &self.cfg.transient, self.cfg.retry_after_cap, now);
        info!(event_id = %info.id, key = %info.key, user_id = info.user_id.as_deref().unwrap_or(""),
            topic = info.topic(), attempt, status = res.status(), outcome = "replay",
            verdict = v.outcome(), "WFM attempt");
        if let Verdict::Delivered { .. } = v {
            return ReplayOutcome::Delivered;
        }
        env.record_replay(&v, now);
        match kind {
            Some(TransportKind::CredentialsRefused) => ReplayOutcome::CredentialsRefused,
            _ => ReplayOutcome::Failed,
        }
    }
}

/// The kind of a result that was not sent for want of credentials
/// ([`TransportKind::Credentials`] or [`TransportKind::CredentialsRefused`]), `None` otherwise.
fn no_credentials(res: &AttemptResult) -> Option<TransportKind> {
    match res {
        AttemptResult::Transport {
            kind: k @ (TransportKind::Credentials | TransportKind::CredentialsRefused),
            ..
        } => Some(*k),
        _ => None,
    }
}

impl Report {
    /// Counts a failed replay: `failed`, and `auth_config_errors` when the token endpoint
    /// refused our credentials.
    pub(crate) fn count_failed(&mut self, outcome: &ReplayOutcome) {
        self.failed += 1;
        if matches!(outcome, ReplayOutcome::CredentialsRefused) {
            self.auth_config_errors += 1;
        }
    }
}
