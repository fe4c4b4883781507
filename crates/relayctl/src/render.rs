//! Human output: plain aligned text from a replayer [`Report`] (`--json` prints the report
//! itself): stats tables, peeked letters, an action's counts, the progress line. Pure functions
//! returning `String`, so they are tested without AWS. The confirmation text is in
//! [`crate::preview`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use wfm_relay_replayer::{Action, PeekedLetter, Report, StopReason};

/// Rows shown per stats table; the rest are summed in one line (`--json` has them all).
pub const TABLE_ROWS: usize = 20;

/// The report for people: a table per count for `stats`, one block per letter for `peek`, the
/// counts, keys and `next` request for the other actions.
pub fn report_text(report: &Report) -> String {
    match report.action {
        Action::Stats => stats_text(report),
        Action::Peek => peek_text(report),
        _ => counts_text(report),
    }
}

/// `1` → `1 dead letter`, `2` → `2 dead letters`.
pub(crate) fn letters(n: usize) -> String {
    format!("{n} dead letter{}", if n == 1 { "" } else { "s" })
}

/// An age in seconds as on-call reads it: `45s`, `12m 5s`, `3h 12m`, `2d 4h`.
pub fn age(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn table(out: &mut String, heading: &str, counts: &BTreeMap<String, usize>) {
    let mut rows: Vec<(&String, &usize)> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown = &rows[..rows.len().min(TABLE_ROWS)];
    let width = shown
        .iter()
        .map(|(k, _)| k.chars().count())
        .chain([heading.len()])
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "\n{heading:<width$}  {:>7}", "LETTERS");
    for (k, n) in shown {
        let _ = writeln!(out, "{k:<width$}  {n:>7}");
    }
    if rows.len() > shown.len() {
        let rest = &rows[shown.len()..];
        let sum: usize = rest.iter().map(|(_, n)| **n).sum();
        let _ = writeln!(
            out,
            "… {} more ({sum} letters; --json lists all)",
            rest.len()
        );
    }
}

fn stats_text(r: &Report) -> String {
    let mut out = String::new();
    let Some(s) = &r.stats else {
        return counts_text(r);
    };
    let _ = write!(out, "DLQ depth {}", s.depth);
    match s.oldest_age_s {
        Some(a) => {
            let _ = writeln!(out, ", oldest {} (deleted at 14d)", age(a));
        }
        None => out.push('\n'),
    }
    let _ = writeln!(
        out,
        "matched {}; not matching the filter {}",
        r.matched, r.skipped
    );
    if r.matched > 0 {
        table(&mut out, "TOPIC", &s.by_topic);
        table(&mut out, "REASON", &s.by_reason);
        table(&mut out, "LAST STATUS", &s.by_status);
    }
    stopped_and_next(&mut out, r);
    out
}

fn dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("-")
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

fn letter_block(out: &mut String, p: &PeekedLetter) {
    let l = &p.letter;
    let shape = serde_json::to_value(p.shape)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let status = l.last_status.map(|s| s.to_string());
    let attempts = match (&l.first_attempt_at, &l.last_attempt_at) {
        (Some(first), Some(last)) => format!("{} (first {first}, last {last})", l.attempts),
        _ => l.attempts.to_string(),
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("event id", dash(l.event_id.as_deref()).to_owned()),
        ("topic", dash(l.topic.as_deref()).to_owned()),
        ("user", dash(l.user_id.as_deref()).to_owned()),
        ("reason", l.effective_reason().as_str().to_owned()),
        ("attempts", attempts),
        ("last status", dash(status.as_deref()).to_owned()),
        ("last error", one_line(dash(l.last_error.as_deref()), 200)),
        ("event time", dash(l.event_time.as_deref()).to_owned()),
    ];
    if let Some(nb) = &l.not_before {
        rows.push(("not before", nb.clone()));
    }
    if let Some(x) = l.excerpt.as_deref().filter(|x| !x.is_empty()) {
        rows.push(("WFM said", one_line(x, 200)));
    }
    if let Some(p) = &l.event_s3 {
        rows.push(("event in S3", format!("s3://{}/{}", p.bucket, p.key)));
    }
    if shape != "envelope" {
        rows.push(("stored as", shape));
    }
    let _ = writeln!(out, "\nmessage {}", p.message_id);
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<12} {v}");
    }
}

fn peek_text(r: &Report) -> String {
    let mut out = format!("{} shown", letters(r.letters.len()));
    if let Some(n) = r.remaining.filter(|n| *n > 0) {
        let _ = write!(out, " ({n} in the DLQ)");
    }
    out.push('\n');
    for p in &r.letters {
        letter_block(&mut out, p);
    }
    stopped_and_next(&mut out, r);
    out
}

/// The counts that matter for an action; the other counts are shown when not zero.
fn primary(action: Action) -> &'static [&'static str] {
    match action {
        Action::Replay | Action::ReplayArchive => &["delivered", "failed"],
        Action::Redrive => &["redriven", "failed"],
        Action::Archive => &["archived", "failed"],
        Action::Stats | Action::Peek => &[],
    }
}

/// What a count means, for the counts whose name alone could mislead.
fn count_note(name: &str) -> &'static str {
    match name {
        "not deleted" => "  (delivered, not deleted from the DLQ: may replay again)",
        "in flight" => "  (cut short by the deadline: sent again by next)",
        "not reached" => "  (not handled before the stop: next continues)",
        _ => "",
    }
}

fn counts_text(r: &Report) -> String {
    let mut out = format!(
        "{}{} (run {})\n",
        r.action,
        if r.dry_run { " --dry-run" } else { "" },
        r.run_id
    );
    let rows = [
        ("matched", r.matched),
        ("delivered", r.delivered),
        ("failed", r.failed),
        ("skipped", r.skipped),
        ("unsendable", r.unsendable),
        ("superseded", r.superseded),
        ("archived", r.archived),
        ("redriven", r.redriven),
        ("not deleted", r.delivered_not_deleted),
        ("in flight", r.in_flight),
        ("not reached", r.not_reached),
    ];
    let main = primary(r.action);
    for (name, n) in rows {
        // A dry run counts matches only: its zero deliveries would read like a result.
        let primary = main.contains(&name) && !r.dry_run;
        if name == "matched" || primary || n > 0 {
            let _ = writeln!(out, "  {name:<11} {n:>7}{}", count_note(name));
        }
    }
    if r.dry_run && main.contains(&"delivered") {
        // What the real run would POST: the matches less those it cannot send (`unsendable`)
        // and, for `--mode latest`, those a newer state supersedes.
        let n = r
            .matched
            .saturating_sub(r.unsendable)
            .saturating_sub(r.superseded);
        let _ = writeln!(out, "  {:<11} {n:>7}", "would send");
    }
    // `remaining` is the DLQ's depth, which replay-archive does not touch.
    if !r.action.reads_archive() {
        match r.remaining {
            Some(n) => {
                let _ = writeln!(out, "  {:<11} {n:>7}", "remaining");
            }
            None => {
                let _ = writeln!(
                    out,
                    "  {:<11} unknown (the DLQ depth could not be read)",
                    "remaining"
                );
            }
        }
    }
    if r.failed > 0 {
        let _ = writeln!(out, "{}", failed_line(r.action, r.failed));
    }
    if !r.keys.is_empty() {
        let _ = writeln!(
            out,
            "{}:",
            if r.action.reads_archive() {
                "archive objects read"
            } else {
                "S3 objects written"
            }
        );
        for k in &r.keys {
            let _ = writeln!(out, "  {k}");
        }
    }
    corrupt_text(&mut out, r);
    stopped_and_next(&mut out, r);
    out
}

/// Where the `n` failed letters of `action` are now: a DLQ action leaves them in the DLQ with
/// their history updated; replay-archive deletes nothing, so they are still in the archive.
pub fn failed_line(action: Action, n: usize) -> String {
    let (them, its) = if n == 1 {
        ("it", "its")
    } else {
        ("them", "their")
    };
    if action.reads_archive() {
        format!(
            "{n} archived letter{} failed: not delivered, still in the archive (replay-archive \
             deletes nothing); send {them} again with the same --key",
            if n == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{} failed: still in the DLQ, with {its} history updated; see {them} with `relayctl \
             peek`",
            letters(n)
        )
    }
}

/// What a confirmed action says when its dry run matched nothing (replay-archive reads the
/// archive, not the DLQ).
pub fn nothing_matches_line(action: Action) -> &'static str {
    if action.reads_archive() {
        "no archived letter matches; nothing to do"
    } else {
        "no dead letter matches; nothing to do"
    }
}

/// The archive objects replay-archive could not read in full: key, lines read, error.
fn corrupt_text(out: &mut String, r: &Report) {
    if r.corrupt.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "archive objects not read in full (their lines before the damage were handled):"
    );
    for c in &r.corrupt {
        let _ = writeln!(out, "  {}  lines read {}: {}", c.key, c.lines_read, c.error);
    }
}

fn stopped_and_next(out: &mut String, r: &Report) {
    // peek and stats leave every letter in place: their `next` would show the same letters
    // again, and a peek always stops at its limit.
    let reads_only = r.action.reads_only();
    match r.stopped {
        Some(StopReason::Limit) if r.action == Action::Peek => {}
        Some(StopReason::Limit) if r.action == Action::Stats => {
            let _ = writeln!(
                out,
                "stopped early: limit (the counts cover the first matches only)"
            );
        }
        Some(why) => {
            let _ = writeln!(out, "stopped early: {why}");
        }
        None => {}
    }
    if let Some(next) = r.next.as_ref().filter(|_| !reads_only) {
        let json = serde_json::to_string(next).unwrap_or_default();
        let _ = writeln!(out, "next: {json}");
        let _ = writeln!(
            out,
            "  (to continue, save it as next.json and run `relayctl --request-file next.json`)"
        );
    }
}

/// The progress line: the counts so far that are not zero (`matched` always).
pub fn progress_text(r: &Report) -> String {
    let mut parts = vec![format!("matched {}", r.matched)];
    for (name, n) in [
        ("delivered", r.delivered),
        ("failed", r.failed),
        ("superseded", r.superseded),
        ("archived", r.archived),
        ("redriven", r.redriven),
        ("not deleted", r.delivered_not_deleted),
        ("in flight", r.in_flight),
        ("not reached", r.not_reached),
        ("skipped", r.skipped),
        ("unsendable", r.unsendable),
    ] {
        if n > 0 {
            parts.push(format!("{name} {n}"));
        }
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfm_relay_core::envelope::{EnvelopeV1, Reason};
    use wfm_relay_core::replay::Shape;
    use wfm_relay_replayer::Request;
    use wfm_relay_replayer::Stats;

    #[test]
    fn progress_line_shows_non_zero_counts() {
        let r = Report {
            matched: 37,
            delivered: 30,
            failed: 2,
            ..Report::default()
        };
        assert_eq!(progress_text(&r), "matched 37 · delivered 30 · failed 2");
        assert_eq!(progress_text(&Report::default()), "matched 0");
        let honest = Report {
            delivered_not_deleted: 1,
            in_flight: 2,
            not_reached: 4,
            ..r
        };
        assert_eq!(
            progress_text(&honest),
            "matched 37 · delivered 30 · failed 2 · not deleted 1 · in flight 2 · not reached 4"
        );
    }

    #[test]
    fn the_summary_names_delivered_not_deleted() {
        let r = Report {
            action: Action::Replay,
            run_id: "r".into(),
            matched: 10,
            delivered: 8,
            failed: 1,
            delivered_not_deleted: 1,
            remaining: Some(2),
            ..Report::default()
        };
        let text = report_text(&r);
        assert!(
            text.contains(
                "  not deleted       1  (delivered, not deleted from the DLQ: may replay again)\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("in flight"),
            "zero counts are not shown: {text}"
        );
    }

    #[test]
    fn an_unknown_depth_is_said_and_next_still_shown() {
        let report = Report {
            action: Action::Redrive,
            run_id: "r".into(),
            matched: 1,
            redriven: 1,
            remaining: None,
            stopped: Some(StopReason::Limit),
            next: Some(Request::new(Action::Redrive)),
            ..Report::default()
        };
        let text = report_text(&report);
        assert!(
            text.contains("  remaining   unknown (the DLQ depth could not be read)\n"),
            "{text}"
        );
        assert!(
            text.contains("next: {\"v\":1,\"action\":\"redrive\"}\n"),
            "{text}"
        );
    }

    #[test]
    fn ages() {
        for (s, want) in [
            (0, "0s"),
            (45, "45s"),
            (725, "12m 5s"),
            (11_520, "3h 12m"),
            (187_200, "2d 4h"),
        ] {
            assert_eq!(age(s), want, "{s}");
        }
    }

    #[test]
    fn stats_tables_sort_by_count_and_cap_rows() {
        let mut by_topic = BTreeMap::new();
        for i in 0..25 {
            by_topic.insert(format!("v2.users.u{i:02}.presence"), 1);
        }
        by_topic.insert("v2.users.zz.presence".into(), 9);
        let report = Report {
            action: Action::Stats,
            matched: 34,
            stats: Some(Stats {
                depth: 36,
                oldest_age_s: Some(11_520),
                by_topic,
                by_reason: [("transient_exhausted".to_owned(), 34)].into(),
                by_status: [("503".to_owned(), 30), ("none".to_owned(), 4)].into(),
            }),
            ..Report::default()
        };
        let text = report_text(&report);
        assert!(
            text.starts_with("DLQ depth 36, oldest 3h 12m (deleted at 14d)\nmatched 34;"),
            "{text}"
        );
        let topic_rows: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("TOPIC"))
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(topic_rows[0], "v2.users.zz.presence         9", "{text}");
        assert_eq!(topic_rows.len(), TABLE_ROWS + 1, "{text}");
        assert_eq!(
            topic_rows[TABLE_ROWS],
            "… 6 more (6 letters; --json lists all)"
        );
        assert!(
            text.contains("\nLAST STATUS  LETTERS\n503               30\nnone               4\n"),
            "{text}"
        );
    }

    #[test]
    fn peek_block_shows_the_letter() {
        let mut letter = EnvelopeV1::new(b"{}", None);
        letter.event_id = Some("e-1".into());
        letter.topic = Some("v2.users.u1.presence".into());
        letter.user_id = Some("u1".into());
        letter.attempts = 9;
        letter.last_status = Some(503);
        letter.last_error = Some("HTTP 503\nupstream".into());
        letter.reason = Some(Reason::TransientExhausted);
        let report = Report {
            action: Action::Peek,
            remaining: Some(40),
            stopped: Some(StopReason::Limit),
            next: Some(Request::new(Action::Peek)),
            letters: vec![PeekedLetter {
                message_id: "m-1".into(),
                shape: Shape::LambdaFailure,
                letter,
            }],
            ..Report::default()
        };
        let text = report_text(&report);
        for want in [
            "1 dead letter shown (40 in the DLQ)\n",
            "\nmessage m-1\n",
            "  event id     e-1\n",
            "  reason       transient_exhausted\n",
            "  attempts     9\n",
            "  last status  503\n",
            "  last error   HTTP 503 upstream\n",
            "  event time   -\n",
            "  stored as    lambda_failure\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        // A peek leaves the letters in place: a `next` would show the same ones again.
        assert!(
            !text.contains("next:") && !text.contains("stopped"),
            "{text}"
        );
    }

    #[test]
    fn action_report_shows_counts_keys_and_next() {
        let report = Report {
            action: Action::Archive,
            run_id: "20260302T090000Z-1a2b3c4d".into(),
            matched: 12,
            archived: 10,
            failed: 2,
            remaining: Some(2),
            keys: vec!["dead-letters/2026/03/02/20260302T090000Z-1a2b3c4d-1.jsonl.gz".into()],
            stopped: Some(StopReason::Limit),
            next: Some(Request {
                limit: Some(12),
                ..Request::new(Action::Archive)
            }),
            ..Report::default()
        };
        let text = report_text(&report);
        assert_eq!(
            text,
            "archive (run 20260302T090000Z-1a2b3c4d)
  matched          12
  failed            2
  archived         10
  remaining         2
2 dead letters failed: still in the DLQ, with their history updated; see them with `relayctl peek`
S3 objects written:
  dead-letters/2026/03/02/20260302T090000Z-1a2b3c4d-1.jsonl.gz
stopped early: limit
next: {\"v\":1,\"action\":\"archive\",\"limit\":12}
  (to continue, save it as next.json and run `relayctl --request-file next.json`)
"
        );
    }

    #[test]
    fn the_failed_line_says_where_the_letters_are() {
        assert_eq!(
            failed_line(Action::Replay, 1),
            "1 dead letter failed: still in the DLQ, with its history updated; see it with \
             `relayctl peek`"
        );
        assert_eq!(
            failed_line(Action::Redrive, 3),
            "3 dead letters failed: still in the DLQ, with their history updated; see them with \
             `relayctl peek`"
        );
        assert_eq!(
            failed_line(Action::ReplayArchive, 1),
            "1 archived letter failed: not delivered, still in the archive (replay-archive \
             deletes nothing); send it again with the same --key"
        );
        let report = Report {
            action: Action::ReplayArchive,
            run_id: "r".into(),
            matched: 2,
            failed: 1,
            unsendable: 1,
            ..Report::default()
        };
        let text = report_text(&report);
        assert!(!text.contains("DLQ"), "{text}");
        assert!(
            text.contains("\n1 archived letter failed: not delivered, still in the archive"),
            "{text}"
        );
        assert_eq!(
            nothing_matches_line(Action::ReplayArchive),
            "no archived letter matches; nothing to do"
        );
        assert_eq!(
            nothing_matches_line(Action::Archive),
            "no dead letter matches; nothing to do"
        );
    }

    #[test]
    fn a_dry_run_replay_says_how_many_letters_it_would_send() {
        let report = Report {
            action: Action::Replay,
            run_id: "r".into(),
            dry_run: true,
            matched: 6,
            unsendable: 1,
            superseded: 2,
            ..Report::default()
        };
        let text = report_text(&report);
        assert!(text.contains("\n  would send        3\n"), "{text}");
        let archive = Report {
            action: Action::Archive,
            dry_run: true,
            matched: 6,
            ..report.clone()
        };
        assert!(!report_text(&archive).contains("would send"));
        let real = Report {
            dry_run: false,
            ..report
        };
        assert!(!report_text(&real).contains("would send"));
    }

    #[test]
    fn replay_archive_report_lists_corrupt_objects() {
        let report = Report {
            action: Action::ReplayArchive,
            run_id: "r".into(),
            matched: 1998,
            delivered: 1998,
            keys: vec!["dead-letters/a.jsonl.gz".into()],
            corrupt: vec![wfm_relay_replayer::CorruptObject {
                key: "dead-letters/d.jsonl.gz".into(),
                lines_read: 998,
                error: "unreadable after line 998: corrupt deflate stream".into(),
            }],
            ..Report::default()
        };
        let text = report_text(&report);
        assert!(
            text.ends_with(
                "archive objects read:
  dead-letters/a.jsonl.gz
archive objects not read in full (their lines before the damage were handled):
  dead-letters/d.jsonl.gz  lines read 998: unreadable after line 998: corrupt deflate stream
"
            ),
            "{text}"
        );
    }
}
