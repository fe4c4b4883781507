//! The confirmation text: what a destructive request will do, from its dry-run report and the
//! replayer's configured targets. Pure, tested without AWS.

use crate::render::letters;
use std::fmt::Write as _;
use wfm_relay_core::redact::redacted_url;
use wfm_relay_core::replay::Filter;
use wfm_relay_replayer::{Action, Report, Request};

/// Where an action sends or writes, for the confirmation text (from the replayer's config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// `WFM_URL`.
    pub wfm_url: String,
    /// `DLQ_URL`.
    pub dlq_url: String,
    /// `RETRY_QUEUE_URL`.
    pub retry_queue_url: String,
    /// `ARCHIVE_BUCKET`, when set.
    pub archive_bucket: Option<String>,
    /// `ARCHIVE_PREFIX`.
    pub archive_prefix: String,
}

impl Targets {
    fn archive_url(&self) -> String {
        match &self.archive_bucket {
            Some(b) => format!("s3://{b}/{}/", self.archive_prefix),
            None => "S3 (ARCHIVE_BUCKET is not set)".into(),
        }
    }
}

/// A URL as the confirmation shows it: query values (a WFM URL may carry a credential there),
/// password and fragment redacted (case C27).
fn shown(url: &str) -> String {
    redacted_url(url)
}

/// The filter in words: `topic v2.users.*.presence, reason rejected`, or `all dead letters`.
pub fn filter_text(f: &Filter) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &f.topic {
        parts.push(format!("topic {t}"));
    }
    if let Some(u) = &f.user_id {
        parts.push(format!("user {u}"));
    }
    if let Some(r) = f.reason {
        parts.push(format!("reason {}", r.as_str()));
    }
    if let Some(s) = f.status {
        parts.push(format!("last status {s}"));
    }
    if let Some(from) = &f.from {
        parts.push(format!("event time from {from}"));
    }
    if let Some(to) = &f.to {
        parts.push(format!("event time before {to}"));
    }
    if parts.is_empty() {
        "all dead letters".into()
    } else {
        parts.join(", ")
    }
}

/// What a destructive request will do, from its dry-run report, e.g. "will replay 37 dead
/// letters to https://…; 12 superseded will be archived to s3://…/ and not sent". URLs are
/// shown redacted ([`redacted_url`]): no query value of `WFM_URL` reaches the terminal.
pub fn preview_text(req: &Request, dry: &Report, t: &Targets) -> String {
    let mut out = String::new();
    let sent = dry.matched.saturating_sub(dry.superseded);
    let _ = match req.action {
        Action::Replay => {
            let _ = write!(
                out,
                "will replay {} to {}",
                letters(sent),
                shown(&t.wfm_url)
            );
            if req.plan().reads_whole_selection {
                let _ = write!(
                    out,
                    "; {} superseded will be archived to {} and not sent",
                    dry.superseded,
                    t.archive_url()
                );
            }
            writeln!(out)
        }
        Action::Redrive => writeln!(
            out,
            "will move {} to the retry queue {}",
            letters(dry.matched),
            shown(&t.retry_queue_url)
        ),
        Action::Archive => writeln!(
            out,
            "will archive {} to {} and delete them from the DLQ",
            letters(dry.matched),
            t.archive_url()
        ),
        Action::ReplayArchive => writeln!(
            out,
            "will send {} archived event{} from {} archive object{} to {}",
            dry.matched,
            if dry.matched == 1 { "" } else { "s" },
            dry.keys.len(),
            if dry.keys.len() == 1 { "" } else { "s" },
            shown(&t.wfm_url)
        ),
        Action::Stats | Action::Peek => writeln!(out, "changes nothing"),
    };
    if req.plan().reads_archive {
        let _ = writeln!(
            out,
            "  from      {}{}",
            t.archive_bucket
                .as_deref()
                .map(|b| format!("s3://{b}/"))
                .unwrap_or_default(),
            req.archive_key.as_deref().unwrap_or("")
        );
    } else {
        let _ = writeln!(out, "  from      {}", shown(&t.dlq_url));
    }
    let _ = writeln!(out, "  selected  {}", filter_text(&req.filter));
    if let Some(l) = req.limit {
        let _ = writeln!(out, "  limit     {l}");
    }
    if req.plan().sends {
        let rate = req
            .rate_per_s
            .map_or_else(|| "no rate limit".to_owned(), |r| format!("at most {r}/s"));
        let _ = writeln!(
            out,
            "  pace      {rate}, {} in flight",
            req.concurrency
                .unwrap_or(wfm_relay_replayer::DEFAULT_CONCURRENCY)
        );
    }
    if let Some(why) = dry.stopped {
        let _ = writeln!(out, "  (the dry run stopped early: {why}; more may match)");
    }
    if !req.plan().reads_archive {
        let _ = writeln!(
            out,
            "  (counted just now; letters that arrive or change meanwhile are handled the same way)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfm_relay_replayer::Mode;

    fn targets() -> Targets {
        Targets {
            wfm_url: "https://wfm.example.com/api/status/update".into(),
            dlq_url: "https://sqs.eu-west-1.amazonaws.com/1/dlq".into(),
            retry_queue_url: "https://sqs.eu-west-1.amazonaws.com/1/retry".into(),
            archive_bucket: Some("relay-archive".into()),
            archive_prefix: "dead-letters".into(),
        }
    }

    #[test]
    fn replay_latest_preview_names_the_target_and_the_superseded() {
        let req = Request {
            mode: Mode::Latest,
            filter: Filter {
                topic: Some("v2.users.*.presence".into()),
                ..Filter::default()
            },
            ..Request::new(Action::Replay)
        };
        let dry = Report {
            action: Action::Replay,
            dry_run: true,
            matched: 49,
            superseded: 12,
            ..Report::default()
        };
        let text = preview_text(&req, &dry, &targets());
        assert!(
            text.starts_with(
                "will replay 37 dead letters to https://wfm.example.com/api/status/update; \
                 12 superseded will be archived to s3://relay-archive/dead-letters/ and not sent\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("selected  topic v2.users.*.presence\n"),
            "{text}"
        );
        assert!(text.contains("no rate limit, 4 in flight"), "{text}");
    }

    #[test]
    fn redrive_and_archive_previews() {
        let dry = Report {
            matched: 1,
            dry_run: true,
            ..Report::default()
        };
        let redrive = preview_text(&Request::new(Action::Redrive), &dry, &targets());
        assert!(
            redrive.starts_with(
                "will move 1 dead letter to the retry queue https://sqs.eu-west-1.amazonaws.com/1/retry"
            ),
            "{redrive}"
        );
        assert!(redrive.contains("selected  all dead letters"), "{redrive}");
        let archive = preview_text(&Request::new(Action::Archive), &dry, &targets());
        assert!(
            archive.starts_with(
                "will archive 1 dead letter to s3://relay-archive/dead-letters/ and delete them"
            ),
            "{archive}"
        );
    }

    #[test]
    fn c27_the_wfm_url_is_shown_with_its_query_redacted() {
        let t = Targets {
            wfm_url: "https://wfm.example.test/api/status?code=S3cr3tQueryKey123".into(),
            ..targets()
        };
        let dry = Report {
            matched: 2,
            dry_run: true,
            keys: vec!["dead-letters/a.jsonl.gz".into()],
            ..Report::default()
        };
        for action in [Action::Replay, Action::ReplayArchive] {
            let text = preview_text(&Request::new(action), &dry, &t);
            assert!(
                text.contains("https://wfm.example.test/api/status?code=REDACTED"),
                "{text}"
            );
            assert!(!text.contains("S3cr3tQueryKey123"), "{text}");
        }
    }
}
