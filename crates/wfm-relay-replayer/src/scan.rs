//! The scan: receives the DLQ page by page, selects the matching letters and hands each page to
//! its stage (stats, peek, replay, redrive, archive); what needs the whole selection (`latest`,
//! the last archive chunk) runs when the queue has come round. Every message not consumed is
//! held (invisible) until the end, then released.

use crate::pacer::Pacer;
use crate::plan::{PageWork, Plan, SelectionWork};
use crate::replay::{ReplayCtx, sendable, shapes, split_latest};
use crate::{ARCHIVE_CHUNK, Letter, PeekedLetter, ReplayError, Replayer, Report};
use crate::{Request, Stats, StopReason, messages};
use std::collections::HashSet;
use std::time::SystemTime;
use wfm_relay_aws::profile_source::ActiveProfile;
use wfm_relay_aws::queues::Received;
use wfm_relay_core::replay::decode_dead_letter;

/// SQS's largest receive.
const PAGE: i32 = 10;

/// What a scan works with: the request, the replay context (deadline, pacer, concurrency) and
/// the progress callback.
pub(crate) struct ScanCtx<'a> {
    /// The request being run.
    pub(crate) req: &'a Request,
    /// Its plan.
    pub(crate) plan: &'a Plan,
    /// Deadline, pacer and concurrency of the replay POSTs.
    pub(crate) replay: ReplayCtx<'a>,
    /// Called with the report so far after each page.
    pub(crate) progress: &'a (dyn Fn(&Report) + Sync),
    /// The WFM output profile, if any (a dry run counts the letters it cannot shape).
    pub(crate) profile: Option<&'a ActiveProfile>,
}

/// What one scan of the DLQ has gathered so far.
#[derive(Default)]
pub(crate) struct ScanState {
    /// Message ids received in this run: a second sighting means the queue has come round.
    seen: HashSet<String>,
    /// Copies this run wrote back (failed replays with updated history): held, not retried.
    pub(crate) rewritten: HashSet<String>,
    /// Messages to make visible again when the action ends.
    held: Vec<Received>,
    /// Matching letters kept for the work on the whole selection (dry runs, `latest`, archive).
    collected: Vec<Letter>,
    /// `stats`: the counts so far.
    stats: Stats,
    /// `SentTimestamp` of the oldest matching letter.
    oldest: Option<SystemTime>,
}

impl ScanState {
    /// Keeps `msgs` invisible until the action ends.
    pub(crate) fn hold(&mut self, msgs: impl IntoIterator<Item = Received>) {
        self.held.extend(msgs);
    }

    /// Sorts one received page: the matching, sendable letters are returned; every other message
    /// is held and counted (`skipped`, `unsendable`). The flag is true when the queue has come
    /// round (a message seen before in this run).
    fn select(
        &mut self,
        page: Vec<Received>,
        cx: &ScanCtx<'_>,
        limit: usize,
        report: &mut Report,
    ) -> (Vec<Letter>, bool) {
        let mut cycled = false;
        let mut matched = Vec::new();
        for msg in page {
            if self.rewritten.contains(&msg.message_id) {
                self.held.push(msg);
                continue;
            }
            if !self.seen.insert(msg.message_id.clone()) {
                // Seen already in this run: the queue has come round; stop here.
                cycled = true;
                self.held.push(msg);
                continue;
            }
            let dead = decode_dead_letter(&msg.body);
            if report.matched >= limit || !cx.req.filter.matches(&dead.env) {
                report.skipped += 1;
                self.held.push(msg);
                continue;
            }
            report.matched += 1;
            if let Some(t) = msg.sent_at {
                self.oldest = Some(self.oldest.map_or(t, |o| o.min(t)));
            }
            // A dry run also counts what the profile cannot shape; the real run finds it when it
            // tries and updates the letter's reason (`replay::deliver`).
            let unshapeable = cx.req.dry_run && !shapes(cx.profile, &dead.env);
            if cx.plan.sends && (!sendable(&dead.env) || unshapeable) {
                // Counted the same in a dry run and in the real one: it cannot be sent.
                report.unsendable += 1;
                self.held.push(msg);
                continue;
            }
            matched.push(Letter { msg, dead });
        }
        (matched, cycled)
    }
}

impl Replayer {
    /// Visibility for held messages: until the deadline plus a minute, or 15 min without one.
    fn hold_s(&self, deadline: Option<SystemTime>) -> i32 {
        let secs = deadline
            .and_then(|d| d.duration_since(SystemTime::now()).ok())
            .map_or(900, |d| d.as_secs() + 60);
        i32::try_from(secs.min(43_200)).unwrap_or(43_200)
    }

    /// Receives the DLQ page by page and applies the action to the matching letters.
    pub(crate) async fn scan(
        &self,
        req: &Request,
        plan: &Plan,
        deadline: Option<SystemTime>,
        report: &mut Report,
        progress: &(dyn Fn(&Report) + Sync),
    ) -> Result<(), ReplayError> {
        let limit = req.effective_limit();
        let pacer = Pacer::new(req.rate_per_s);
        let cx = ScanCtx {
            req,
            plan,
            replay: ReplayCtx {
                deadline,
                pacer: &pacer,
                concurrency: req.concurrency,
            },
            progress,
            profile: self.profile.as_deref(),
        };
        let mut state = ScanState::default();
        let mut empty_polls = 0;
        loop {
            if self.out_of_time(deadline) {
                report.stopped = Some(StopReason::Deadline);
                break;
            }
            if report.matched >= limit {
                report.stopped = Some(StopReason::Limit);
                break;
            }
            let page = self
                .receive_page(self.hold_s(deadline), if empty_polls == 0 { 0 } else { 1 })
                .await?;
            if page.is_empty() {
                empty_polls += 1;
                if empty_polls >= 2 {
                    break;
                }
                continue;
            }
            empty_polls = 0;
            let (matched, cycled) = state.select(page, &cx, limit, report);
            self.page_work(&cx, matched, &mut state, report).await;
            progress(report);
            if cycled {
                break;
            }
        }
        self.selection_work(&cx, &mut state, report).await;
        self.release(&state.held).await;
        if plan.page == PageWork::Tally {
            let mut stats = std::mem::take(&mut state.stats);
            // `stats.depth` keeps its number type (the wire contract); `remaining` says
            // `null` when the depth is unknown.
            stats.depth = self.dlq_depth().await.unwrap_or(0);
            stats.oldest_age_s = state
                .oldest
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .map(|d| d.as_secs());
            report.stats = Some(stats);
        }
        Ok(())
    }

    /// One page of the DLQ, held invisible for `hold_s`.
    async fn receive_page(&self, hold_s: i32, wait_s: i32) -> Result<Vec<Received>, ReplayError> {
        Ok(self.queues.dlq().receive(PAGE, hold_s, wait_s).await?)
    }

    /// Makes the held messages visible again.
    async fn release(&self, held: &[Received]) {
        let held_refs: Vec<&Received> = held.iter().collect();
        self.queues.dlq().release(&held_refs).await;
    }

    /// The action's work on one page of matching letters.
    async fn page_work(
        &self,
        cx: &ScanCtx<'_>,
        page: Vec<Letter>,
        state: &mut ScanState,
        report: &mut Report,
    ) {
        match cx.plan.page {
            PageWork::Tally => {
                for l in &page {
                    state.stats.tally(&l.dead.env);
                }
                state.hold(messages(page));
            }
            PageWork::Peek => {
                for l in page {
                    report.letters.push(PeekedLetter {
                        message_id: l.msg.message_id.clone(),
                        shape: l.dead.shape,
                        letter: l.dead.env.clone(),
                    });
                    state.held.push(l.msg);
                }
            }
            PageWork::Hold => state.hold(messages(page)),
            PageWork::Collect => state.collected.extend(page),
            PageWork::Archive => {
                state.collected.extend(page);
                if state.collected.len() >= ARCHIVE_CHUNK {
                    let chunk: Vec<Letter> = state.collected.drain(..ARCHIVE_CHUNK).collect();
                    let left = self.archive_letters(chunk, report).await;
                    state.hold(left);
                }
            }
            PageWork::Replay => {
                let failed = self
                    .replay_page(page, &cx.replay, report, &mut state.rewritten)
                    .await;
                state.hold(failed);
            }
            PageWork::Redrive => {
                let left = self.redrive_page(page, report).await;
                state.hold(left);
            }
        }
    }

    /// The action's work on the whole selection, once the scan has ended.
    async fn selection_work(&self, cx: &ScanCtx<'_>, state: &mut ScanState, report: &mut Report) {
        let collected = std::mem::take(&mut state.collected);
        match cx.plan.selection {
            SelectionWork::Release => state.hold(messages(collected)),
            SelectionWork::CountSuperseded => {
                let (send, old) = split_latest(collected);
                report.superseded = old.len();
                state.hold(messages(send).chain(messages(old)));
            }
            SelectionWork::ReplayLatest => {
                self.replay_latest(collected, cx, state, report).await;
            }
            SelectionWork::ArchiveRest => {
                if !collected.is_empty() {
                    let left = self.archive_letters(collected, report).await;
                    state.hold(left);
                }
                if !report.keys.is_empty() {
                    self.write_manifest(cx.req, report).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;
    use wfm_relay_core::envelope::EnvelopeV1;
    use wfm_relay_core::event::parse_event;
    use wfm_relay_core::replay::Filter;

    const PRESENCE: &str = include_str!("../../../tests/fixtures/genesys/presence-break.json");
    const USER: &str = "aaaaaaaa-0000-4000-8000-0000000000a1";

    fn msg(id: &str, body: String) -> Received {
        Received {
            message_id: id.into(),
            receipt_handle: format!("h-{id}"),
            body,
            sent_at: None,
        }
    }

    fn ids(letters: &[Letter]) -> Vec<&str> {
        letters.iter().map(|l| l.msg.message_id.as_str()).collect()
    }

    #[test]
    fn select_sorts_a_page_into_work_held_and_counted() {
        let req = Request {
            filter: Filter {
                user_id: Some(USER.into()),
                ..Filter::default()
            },
            limit: Some(3),
            ..Request::new(Action::Replay)
        };
        let plan = req.plan();
        let pacer = Pacer::new(None);
        let cx = ScanCtx {
            req: &req,
            plan: &plan,
            replay: ReplayCtx {
                deadline: None,
                pacer: &pacer,
                concurrency: None,
            },
            progress: &|_| {},
            profile: None,
        };
        let ours = EnvelopeV1::new(
            PRESENCE.as_bytes(),
            parse_event(PRESENCE.as_bytes()).ok().as_ref(),
        );
        let mut other_user = ours.clone();
        other_user.user_id = Some("someone-else".into());
        let mut broken = EnvelopeV1::new(b"not an event", None);
        broken.user_id = Some(USER.into());
        let mut state = ScanState::default();
        state.rewritten.insert("copy".into());
        let mut report = Report::default();
        let page = vec![
            msg("a", ours.to_json()),
            msg("b", other_user.to_json()),
            msg("c", broken.to_json()),
            msg("copy", ours.to_json()),
            msg("d", PRESENCE.to_owned()),
        ];
        let (work, cycled) = state.select(page, &cx, req.effective_limit(), &mut report);
        assert_eq!(
            ids(&work),
            ["a", "d"],
            "a raw EventBridge event is replayed too"
        );
        assert!(!cycled);
        assert_eq!(
            (report.matched, report.skipped, report.unsendable),
            (3, 1, 1),
            "b does not match, c cannot be sent, the rewritten copy is not counted"
        );
        let held: Vec<&str> = state.held.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(held, ["b", "c", "copy"]);

        // The queue has come round (a seen again); e matches but the limit is reached.
        let (work, cycled) = state.select(
            vec![msg("a", ours.to_json()), msg("e", ours.to_json())],
            &cx,
            req.effective_limit(),
            &mut report,
        );
        assert!(work.is_empty() && cycled);
        assert_eq!((report.matched, report.skipped), (3, 2));
        assert_eq!(state.held.len(), 5, "nothing is dropped");
    }
}
