//! The run's summary table, the lost events by name, and the verdict.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use wfm_relay_bench::hostile::Hostile;

use crate::evidence::{Accounting, Place};
use crate::ledger::Waiting;
use crate::recovery::Recovery;
use crate::run::Run;

/// When the run reached its milestones (since its start).
pub struct Timings {
    /// All EventBridge invocations answered.
    pub sent_at: Duration,
    /// Retry queue drained, event source mapping stopped.
    pub drained_at: Duration,
    /// End of the run.
    pub wall: Duration,
}

/// The Lambda processes at the end of the run.
pub struct Processes {
    /// How many ran.
    pub count: usize,
    /// Exits and panics, one line each (see `Lanes::problems`).
    pub problems: Vec<String>,
    /// Peak RSS per process (see `Lanes::peak_rss`).
    pub peak_rss: Vec<String>,
    /// Peak RSS of this harness, KiB.
    pub harness_rss_kib: u64,
}

/// Everything the summary reports.
pub struct Summary<'a> {
    /// The run.
    pub run: &'a Run,
    /// Where every event ended up.
    pub accounting: &'a Accounting,
    /// What the recovery did.
    pub recovery: &'a Recovery,
    /// Event indices deleted by `--inject-loss`.
    pub injected: &'a [usize],
    /// The Lambda processes.
    pub processes: &'a Processes,
    /// Milestones.
    pub timings: &'a Timings,
}

impl Summary<'_> {
    /// Whether the run passes: nothing lost, no checkpoint failure, no `Idempotency-Key`
    /// mismatch, no process problem, no ledger claim beyond the retry queue's depth, and
    /// delivered + parked + archived + queued (waiting or not) ≥ sent.
    pub fn ok(&self) -> bool {
        let a = self.accounting;
        a.lost.is_empty()
            && self.run.check_failures.load(Ordering::SeqCst) == 0
            && a.evidence.key_mismatches == 0
            && self.processes.problems.is_empty()
            && a.overclaimed == 0
            && a.accounted() >= self.run.n()
    }

    /// Prints the summary table, up to 20 lost events (those deleted by `--inject-loss` marked
    /// `(deleted by --inject-loss)`) and the `RESULT:` line; returns [`Summary::ok`].
    pub fn print(&self) -> bool {
        let (run, a, rec, p, t) = (
            self.run,
            self.accounting,
            self.recovery,
            self.processes,
            self.timings,
        );
        let (ev, c, n) = (&a.evidence, &run.counters, run.n());
        println!();
        println!("## Chaos run summary ({})", run.fam.run_hex());
        println!();
        println!("| | |");
        println!("|---|---|");
        let row = |k: &str, v: String| println!("| {k} | {v} |");
        row("events sent (EventBridge invocations)", n.to_string());
        row(
            "invocations answered",
            a.answered
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        row(
            "parked by the EventBridge invocation",
            fmt_map(&wfm_relay_local::harness::lock(&c.parked_inline)),
        );
        row(
            "invocation errors (retried as Lambda async does)",
            format!(
                "{} errors, {} on-failure records written to the DLQ",
                c.invoke_errors.load(Ordering::SeqCst),
                c.on_failure_records.load(Ordering::SeqCst)
            ),
        );
        row(
            "retry-queue batches (event source mapping)",
            format!(
                "{} batches, {} records, {} listed for retry, {} failed as a whole",
                c.batches.load(Ordering::SeqCst),
                c.batch_records.load(Ordering::SeqCst),
                c.batch_listed.load(Ordering::SeqCst),
                c.batch_failed_whole.load(Ordering::SeqCst)
            ),
        );
        row(
            "**delivered** (distinct X-Event-Id answered 2xx)",
            ev.delivered.to_string(),
        );
        row(
            "  inline (in the EventBridge invocation)",
            a.inline.to_string(),
        );
        row("  from the retry queue", a.via_queue.to_string());
        row(
            "  by the replayer",
            format!(
                "{} ({} replay POSTs answered 2xx in {:.1} s)",
                a.via_replay,
                rec.replayed,
                rec.replay_time.as_secs_f64()
            ),
        );
        row(
            "parked in the DLQ before replay, by reason",
            fmt_map(&rec.parked_by_reason),
        );
        row(
            "**queued, waiting for Retry-After** (retry queue: `not_before` ahead, or hidden > 15 min)",
            waiting_row(&a.waiting),
        );
        row(
            "still in the retry queue, not waiting",
            a.queued_other().to_string(),
        );
        row("still in the DLQ", a.dlq_depth.to_string());
        row("archived", a.archived.to_string());
        row(
            "delivered + parked (DLQ + archived) + queued waiting + queued other",
            format!(
                "{} + {} + {} + {} = {} (sent {n})",
                ev.delivered,
                a.dlq_depth + a.archived,
                a.waiting.len(),
                a.queued_other(),
                a.accounted()
            ),
        );
        if a.overclaimed > 0 {
            row(
                "**ledger claims beyond the retry queue's depth**",
                format!("**{}**", a.overclaimed),
            );
        }
        if run.args.hostile() {
            row("hostile mix, where each kind ended up", hostile_row(a));
        }
        row(
            "WFM requests",
            format!(
                "{} ({} answered 2xx, {} no answer (hang / reset); by status {})",
                ev.requests,
                ev.ok_2xx,
                ev.no_answer,
                ev.by_status
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        row(
            "repeated POSTs (same X-Event-Id again)",
            format!(
                "{}, {} with a different Idempotency-Key",
                ev.repeated_posts, ev.key_mismatches
            ),
        );
        row(
            "duplicate deliveries (2xx for an event already delivered)",
            ev.duplicate_deliveries.to_string(),
        );
        if !self.injected.is_empty() {
            row(
                "deliberately deleted (--inject-loss)",
                self.injected.len().to_string(),
            );
        }
        row(
            "**lost** (in none of delivered / retry queue / DLQ / archive)",
            format!("**{}**", a.lost.len()),
        );
        row(
            "checkpoint failures",
            run.check_failures.load(Ordering::SeqCst).to_string(),
        );
        row(
            "Lambda processes",
            if p.problems.is_empty() {
                format!("{} ran to the end, no panic", p.count)
            } else {
                p.problems.join("; ")
            },
        );
        row("peak RSS of the Lambda processes", p.peak_rss.join(", "));
        row(
            "peak RSS of this harness (incl. the WFM stand-in's request log)",
            format!("{:.0} MiB", p.harness_rss_kib as f64 / 1024.0),
        );
        row(
            "wall time",
            format!(
                "{:.1} s (sending {:.1} s, drained at {:.1} s)",
                t.wall.as_secs_f64(),
                t.sent_at.as_secs_f64(),
                t.drained_at.as_secs_f64()
            ),
        );
        println!();
        for i in a.lost.iter().take(20) {
            let why = if self.injected.contains(i) {
                " (deleted by --inject-loss)"
            } else {
                ""
            };
            println!("LOST: event #{i} id {}{why}", run.fam.id(*i));
        }
        if a.lost.len() > 20 {
            println!("LOST: … and {} more", a.lost.len() - 20);
        }
        for w in a.waiting.iter().take(20) {
            let i = w.event_id.as_deref().and_then(|id| run.fam.index_of(id));
            println!(
                "WAITING: event #{} id {} {}",
                i.map_or_else(|| "?".to_owned(), |i| i.to_string()),
                w.event_id.as_deref().unwrap_or("(none)"),
                w.until
            );
        }
        if a.waiting.len() > 20 {
            println!("WAITING: … and {} more", a.waiting.len() - 20);
        }
        let ok = self.ok();
        println!(
            "{}",
            if ok {
                "RESULT: PASS — every event accounted for"
            } else {
                "RESULT: FAIL"
            }
        );
        ok
    }
}

/// The waiting messages: how many, and the range of their times.
fn waiting_row(waiting: &[Waiting]) -> String {
    match (waiting.first(), waiting.last()) {
        (Some(first), Some(last)) => format!(
            "{} (earliest {}, latest {}; listed below as WAITING)",
            waiting.len(),
            first.until,
            last.until
        ),
        _ => "0".to_owned(),
    }
}

/// Per kind of the hostile mix: `<kind>: <n> sent (<place> <n>, …)`.
fn hostile_row(a: &Accounting) -> String {
    let mut by_kind: BTreeMap<&'static str, BTreeMap<Place, usize>> = BTreeMap::new();
    for (i, place) in a.places.iter().enumerate() {
        let kind = Hostile::of(i);
        if kind != Hostile::Plain {
            *by_kind
                .entry(kind.label())
                .or_default()
                .entry(*place)
                .or_default() += 1;
        }
    }
    by_kind
        .iter()
        .map(|(kind, places)| {
            let sent: usize = places.values().sum();
            let places: Vec<String> = places
                .iter()
                .map(|(p, n)| format!("{} {n}", p.label()))
                .collect();
            format!("{kind}: {sent} sent ({})", places.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `BTreeMap` as `k n, k n`, or `-`.
fn fmt_map(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_print_as_pairs_or_a_dash() {
        assert_eq!(fmt_map(&BTreeMap::new()), "-");
        let m = BTreeMap::from([("rejected".to_owned(), 2), ("gone".to_owned(), 1)]);
        assert_eq!(fmt_map(&m), "gone 1, rejected 2");
    }
}
