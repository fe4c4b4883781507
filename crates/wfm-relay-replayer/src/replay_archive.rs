//! Replay-archive: POSTs the letters of archive objects (one key or every `.jsonl.gz` under a
//! prefix, in key order, ListObjectsV2 page by page) to WFM. Nothing is deleted.
//!
//! Continuation is (object key, line), PRODUCT.md §6: `next.start_after` is the last object
//! handled to its end, `next.resume_at` the object the stop fell inside and the lines of it
//! already handled. Lines are handled in order; the first letter whose POST the deadline cut
//! (`in_flight`) or never started (`not_reached`) is the first line `next` sends, so no letter is
//! left behind the continuation point (with more than one POST in flight, letters answered
//! after that one are sent again, with the same Idempotency-Key). An object that cannot be read
//! in full is listed in the report's `corrupt` with the lines read before the damage (those were
//! handled) and the action goes on with the next object.

use crate::pacer::Pacer;
use crate::replay::{ReplayCtx, ReplayOutcome, sendable};
use crate::request::{CorruptObject, ResumeAt};
use crate::{ReplayError, Replayer, Report, Request, StopReason};
use futures_util::StreamExt;
use std::time::SystemTime;
use tracing::warn;
use wfm_relay_aws::archive::{Archive, ObjectLines};
use wfm_relay_core::envelope::EnvelopeV1;

/// The suffix of archive objects (manifests and other keys under a prefix are skipped).
const OBJECT_SUFFIX: &str = ".jsonl.gz";

/// One replay-archive action under way: what it shares and where it stands.
struct ArchiveRun<'a> {
    req: &'a Request,
    ctx: ReplayCtx<'a>,
    limit: usize,
    /// The last object handled to its end (the next request's `start_after`).
    done_through: Option<String>,
    /// The object in progress and its lines handled (the next request's `resume_at`).
    resume: Option<Box<ResumeAt>>,
}

impl ArchiveRun<'_> {
    /// `key` is handled to its end.
    fn done(&mut self, key: &str) {
        self.done_through = Some(key.to_owned());
        self.resume = None;
    }

    /// The request that continues from here.
    fn next(&self) -> Request {
        Request {
            start_after: self.done_through.clone(),
            resume_at: self.resume.clone(),
            ..self.req.clone()
        }
    }
}

impl Replayer {
    /// Replays the letters of archive objects to WFM. Nothing is deleted.
    ///
    /// # Errors
    /// [`ReplayError::Archive`] when ListObjectsV2 fails; a damaged or unreadable object is
    /// listed in the report's `corrupt`, not an error.
    pub(crate) async fn replay_archive(
        &self,
        req: &Request,
        deadline: Option<SystemTime>,
        report: &mut Report,
        progress: &(dyn Fn(&Report) + Sync),
    ) -> Result<(), ReplayError> {
        let Some(archive) = &self.archive else {
            return Ok(());
        };
        let pacer = Pacer::new(req.rate_per_s);
        let mut run = ArchiveRun {
            req,
            ctx: ReplayCtx {
                deadline,
                pacer: &pacer,
                concurrency: req.concurrency,
            },
            limit: req.effective_limit(),
            done_through: req.start_after.clone(),
            resume: req.resume_at.clone(),
        };
        let key = req.archive_key.clone().unwrap_or_default();
        if key.ends_with(OBJECT_SUFFIX) {
            // Boxed (here and below): the nested futures (object, stream, POST, SDK calls)
            // would exceed rustc's query depth when the binary lays out its main future.
            Box::pin(self.archive_object(archive, &key, &mut run, report)).await;
            progress(report);
        } else {
            let mut token: Option<String> = None;
            'pages: loop {
                if let Some(stop) = self.stop_reason(&run, report) {
                    report.stopped = Some(stop);
                    break;
                }
                let page = archive
                    .list_page(&key, req.start_after.as_deref(), token.as_deref())
                    .await?;
                for k in page.keys.iter().filter(|k| k.ends_with(OBJECT_SUFFIX)) {
                    let go_on = Box::pin(self.archive_object(archive, k, &mut run, report)).await;
                    progress(report);
                    if !go_on {
                        break 'pages;
                    }
                }
                match page.next_token {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
        }
        if report.stopped.is_some() {
            report.next = Some(run.next());
        }
        Ok(())
    }

    /// Why the action must stop before its next object, if it must.
    fn stop_reason(&self, run: &ArchiveRun<'_>, report: &Report) -> Option<StopReason> {
        if report.matched >= run.limit {
            Some(StopReason::Limit)
        } else if self.out_of_time(run.ctx.deadline) {
            Some(StopReason::Deadline)
        } else {
            None
        }
    }

    /// Handles the lines of object `key` after the continuation point. Returns whether the
    /// action goes on with the next object (false: it stopped, `report.stopped` says why).
    async fn archive_object(
        &self,
        archive: &Archive,
        key: &str,
        run: &mut ArchiveRun<'_>,
        report: &mut Report,
    ) -> bool {
        if let Some(stop) = self.stop_reason(run, report) {
            report.stopped = Some(stop);
            return false;
        }
        let skip = run
            .resume
            .as_ref()
            .filter(|r| r.key == key)
            .map_or(0, |r| r.line);
        let read = match archive.read_object(key).await {
            Ok(read) => read,
            Err(e) => {
                warn!(key, error = %e, "cannot read an archive object; listed as corrupt");
                report.corrupt.push(CorruptObject {
                    key: key.to_owned(),
                    lines_read: 0,
                    error: e.to_string(),
                });
                run.done(key);
                return true;
            }
        };
        let (picked, limit_line) = pick(&read, skip, run, report);
        let cut_line = self.send_lines(picked, run, report).await;
        if let Some(line) = cut_line.or(limit_line) {
            report.stopped = Some(if cut_line.is_some() {
                StopReason::Deadline
            } else {
                StopReason::Limit
            });
            run.resume = (line > 1).then(|| {
                Box::new(ResumeAt {
                    key: key.to_owned(),
                    line: line - 1,
                })
            });
            return false;
        }
        match read.problem() {
            Some(error) => {
                warn!(key, lines_read = read.lines_read, error = %error,
                    "archive object not read in full; its lines before the damage were replayed");
                report.corrupt.push(CorruptObject {
                    key: key.to_owned(),
                    lines_read: read.lines_read,
                    error,
                });
            }
            None => report.keys.push(key.to_owned()),
        }
        run.done(key);
        true
    }

    /// POSTs the picked letters in line order (bounded concurrency, paced) and counts each
    /// outcome. Returns the first line the deadline left unhandled (`in_flight` or
    /// `not_reached`), if any. A dry run sends nothing.
    async fn send_lines(
        &self,
        picked: Vec<(usize, EnvelopeV1)>,
        run: &ArchiveRun<'_>,
        report: &mut Report,
    ) -> Option<usize> {
        let (send, unsendable): (Vec<_>, Vec<_>) =
            picked.into_iter().partition(|(_, e)| sendable(e));
        report.unsendable += unsendable.len();
        if run.req.dry_run {
            return None;
        }
        let ctx = &run.ctx;
        let outcomes: Vec<(usize, ReplayOutcome)> = futures_util::stream::iter(send)
            .map(|(line, mut env)| async move {
                if self.out_of_time(ctx.deadline) {
                    return (line, ReplayOutcome::NotReached);
                }
                (line, self.deliver(&mut env, ctx.deadline, ctx.pacer).await)
            })
            .buffered(ctx.in_flight())
            .collect()
            .await;
        let mut cut = None;
        for (line, outcome) in outcomes {
            match outcome {
                ReplayOutcome::Delivered => report.delivered += 1,
                ReplayOutcome::Failed | ReplayOutcome::CredentialsRefused => {
                    report.count_failed(&outcome);
                }
                ReplayOutcome::Invalid | ReplayOutcome::Unshapeable => report.unsendable += 1,
                ReplayOutcome::InFlight => {
                    report.in_flight += 1;
                    cut.get_or_insert(line);
                }
                ReplayOutcome::NotReached => {
                    report.not_reached += 1;
                    cut.get_or_insert(line);
                }
            }
        }
        cut
    }
}

/// The letters of `read` after line `skip` that match the request's filter, in line order, each
/// counted `matched`, until the limit: then also the line the limit stopped at. Lines that are
/// not dead letters are left to the object's `corrupt` entry.
fn pick(
    read: &ObjectLines,
    skip: usize,
    run: &ArchiveRun<'_>,
    report: &mut Report,
) -> (Vec<(usize, EnvelopeV1)>, Option<usize>) {
    let mut picked = Vec::new();
    for l in read.lines.iter().filter(|l| l.line > skip) {
        let Ok(env) = &l.letter else { continue };
        if !run.req.filter.matches(env) {
            continue;
        }
        if report.matched >= run.limit {
            return (picked, Some(l.line));
        }
        report.matched += 1;
        picked.push((l.line, env.clone()));
    }
    (picked, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;
    use wfm_relay_aws::archive::ArchiveLine;

    fn letter(n: u32) -> EnvelopeV1 {
        let mut e = EnvelopeV1::new(b"{}", None);
        e.attempts = n;
        e
    }

    fn lines(numbers: &[usize]) -> ObjectLines {
        ObjectLines {
            lines: numbers
                .iter()
                .map(|&n| ArchiveLine {
                    line: n,
                    letter: if n == 4 {
                        Err("not JSON".into())
                    } else {
                        Ok(letter(u32::try_from(n).expect("small")))
                    },
                })
                .collect(),
            lines_read: numbers.last().copied().unwrap_or(0),
            damage: None,
        }
    }

    #[test]
    fn lines_after_the_continuation_point_are_picked_up_to_the_limit() {
        let pacer = Pacer::new(None);
        let req = Request {
            archive_key: Some("dead-letters/".into()),
            limit: Some(3),
            ..Request::new(Action::ReplayArchive)
        };
        let run = ArchiveRun {
            req: &req,
            ctx: ReplayCtx {
                deadline: None,
                pacer: &pacer,
                concurrency: None,
            },
            limit: 3,
            done_through: Some("dead-letters/a.jsonl.gz".into()),
            resume: None,
        };
        let read = lines(&[1, 2, 4, 5, 7, 8]);
        let mut report = Report::default();
        let (picked, limit_line) = pick(&read, 1, &run, &mut report);
        let got: Vec<usize> = picked.iter().map(|(l, _)| *l).collect();
        assert_eq!(
            got,
            vec![2, 5, 7],
            "line 1 handled before, line 4 not a letter"
        );
        assert_eq!((limit_line, report.matched), (Some(8), 3));
        let mut report = Report::default();
        let (picked, limit_line) = pick(&read, 7, &run, &mut report);
        assert_eq!((picked.len(), limit_line, report.matched), (1, None, 1));
    }

    #[test]
    fn next_carries_the_last_object_done_and_the_lines_handled() {
        let pacer = Pacer::new(None);
        let req = Request {
            archive_key: Some("dead-letters/".into()),
            resume_at: Some(Box::new(ResumeAt {
                key: "dead-letters/a.jsonl.gz".into(),
                line: 10,
            })),
            ..Request::new(Action::ReplayArchive)
        };
        let mut run = ArchiveRun {
            req: &req,
            ctx: ReplayCtx {
                deadline: None,
                pacer: &pacer,
                concurrency: None,
            },
            limit: usize::MAX,
            done_through: None,
            resume: req.resume_at.clone(),
        };
        assert_eq!(run.next(), req, "stopped before anything: the same point");
        run.done("dead-letters/a.jsonl.gz");
        run.resume = Some(Box::new(ResumeAt {
            key: "dead-letters/b.jsonl.gz".into(),
            line: 412,
        }));
        let next = run.next();
        assert_eq!(next.start_after.as_deref(), Some("dead-letters/a.jsonl.gz"));
        assert_eq!(
            serde_json::to_value(&next).expect("ser")["resume_at"],
            serde_json::json!({"key": "dead-letters/b.jsonl.gz", "line": 412})
        );
    }
}
