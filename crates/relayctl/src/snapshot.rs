//! `relayctl snapshot` (issue 12, PRODUCT.md §6): the replayer's `snapshot` action run from a
//! laptop — every selected agent's presence and routing status read from the Genesys Cloud API
//! and sent through the forwarder's delivery path — with the same settings as the Lambda
//! (`GENESYS_*`, `SNAPSHOT_RATE_PER_S` and the WFM / queue settings), a progress line, a
//! confirmation before a send, and the report as text or `--json`.
//!
//! From a laptop there is no deadline, so a run ends by itself; a part that stops on a Genesys
//! error that is worth trying again answers `next`, which is followed while it makes progress.

use crate::app::{Exit, confirm, fail, init_logging, print_error, progress_bar};
use crate::errors::AwsSettings;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use wfm_relay_core::redact::redacted_url;
use wfm_relay_replayer::{SnapshotReport, SnapshotRequest, SnapshotTopic, Snapshotter};

const SELECT_HELP: &str = "Selection (at most one kind; none = every active user)";

/// `relayctl snapshot`'s flags.
#[derive(Debug, Clone, Default, Args)]
pub struct SnapshotArgs {
    /// Only this Genesys user id (repeat the flag for more).
    #[arg(long = "user-id", value_name = "ID", help_heading = SELECT_HELP)]
    pub user_ids: Vec<String>,
    /// Only members of this Genesys group id (repeatable).
    #[arg(long = "group", value_name = "GROUP_ID", help_heading = SELECT_HELP,
        conflicts_with_all = ["user_ids", "queues", "divisions"])]
    pub groups: Vec<String>,
    /// Only members of this Genesys queue id (repeatable).
    #[arg(long = "queue", value_name = "QUEUE_ID", help_heading = SELECT_HELP,
        conflicts_with_all = ["user_ids", "divisions"])]
    pub queues: Vec<String>,
    /// Only active users of this Genesys division id (repeatable; read from the users pages,
    /// no extra call).
    #[arg(long = "division", value_name = "DIVISION_ID", help_heading = SELECT_HELP,
        conflicts_with = "user_ids")]
    pub divisions: Vec<String>,
    /// Only this topic (repeatable; default both).
    #[arg(long = "topic", value_enum, value_name = "TOPIC")]
    pub topics: Vec<TopicArg>,
    /// Read Genesys and build the events; send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `--topic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TopicArg {
    /// `v2.users.<id>.presence`.
    Presence,
    /// `v2.users.<id>.routingStatus`.
    #[value(name = "routing_status", alias = "routingStatus")]
    RoutingStatus,
}

impl From<TopicArg> for SnapshotTopic {
    fn from(t: TopicArg) -> Self {
        match t {
            TopicArg::Presence => SnapshotTopic::Presence,
            TopicArg::RoutingStatus => SnapshotTopic::RoutingStatus,
        }
    }
}

impl SnapshotArgs {
    /// The replayer's snapshot request (the Lambda's `{"action":"snapshot", …}` payload).
    pub fn to_request(&self) -> SnapshotRequest {
        SnapshotRequest {
            user_ids: self.user_ids.clone(),
            groups: self.groups.clone(),
            queues: self.queues.clone(),
            divisions: self.divisions.clone(),
            topics: self.topics.iter().map(|t| (*t).into()).collect(),
            dry_run: self.dry_run,
            ..SnapshotRequest::all()
        }
    }
}

/// `total` with `part` added: counts, Genesys calls and durations summed; `stopped` and `next`
/// are the part's (the last one's); the run id is the first part's.
pub fn merged(total: &SnapshotReport, part: &SnapshotReport) -> SnapshotReport {
    let first = total.run_id.is_empty();
    SnapshotReport {
        v: part.v,
        action: part.action.clone(),
        run_id: if first {
            part.run_id.clone()
        } else {
            total.run_id.clone()
        },
        dry_run: part.dry_run,
        agents: total.agents + part.agents,
        events: total.events + part.events,
        delivered: total.delivered + part.delivered,
        queued: total.queued + part.queued,
        parked: total.parked + part.parked,
        not_sent: total.not_sent + part.not_sent,
        unreadable: total.unreadable + part.unreadable,
        genesys_calls: total.genesys_calls + part.genesys_calls,
        genesys_429: total.genesys_429 + part.genesys_429,
        duration_ms: total.duration_ms + part.duration_ms,
        stopped: part.stopped.clone(),
        next: part.next.clone(),
    }
}

/// The exit code of a snapshot that ran: 1 when it stopped before the end (`stopped`, e.g. a
/// missing Genesys permission); 3 when a sent snapshot left events parked or not sent, or users
/// unreadable; else 0 (a dry run's `not_sent` is what it is for).
pub fn snapshot_exit(r: &SnapshotReport) -> Exit {
    if r.stopped.is_some() {
        Exit::Error
    } else if !r.dry_run && r.parked + r.not_sent + r.unreadable > 0 {
        Exit::Failed
    } else {
        Exit::Done
    }
}

/// The events' outcomes by name, in the order both texts show them (the user problems last).
fn outcomes(r: &SnapshotReport) -> [(&'static str, usize); 5] {
    [
        ("delivered", r.delivered),
        ("queued", r.queued),
        ("parked", r.parked),
        ("not sent", r.not_sent),
        ("unreadable", r.unreadable),
    ]
}

/// The progress line: `agents 7 · events 14 · delivered 12 · queued 2`.
pub fn snapshot_progress_text(r: &SnapshotReport) -> String {
    let mut parts = vec![
        format!("agents {}", r.agents),
        format!("events {}", r.events),
    ];
    for (name, n) in outcomes(r) {
        if n > 0 {
            parts.push(format!("{name} {n}"));
        }
    }
    parts.join(" · ")
}

/// The report for people: the counts, the Genesys calls, why it stopped and its `next`.
pub fn snapshot_text(r: &SnapshotReport) -> String {
    let mut out = String::new();
    let dry = if r.dry_run {
        " (dry run: nothing sent)"
    } else {
        ""
    };
    let _ = writeln!(out, "snapshot {}{dry}", r.run_id);
    let _ = writeln!(out, "agents      {:>7}", r.agents);
    let _ = writeln!(out, "events      {:>7}", r.events);
    for (name, n) in outcomes(r) {
        let _ = writeln!(out, "  {name:<10}{n:>7}");
    }
    let _ = writeln!(
        out,
        "Genesys calls {} (429: {}) · {:.1}s",
        r.genesys_calls,
        r.genesys_429,
        // Display only: a millisecond count far below f64's exact range.
        f64::from(u32::try_from(r.duration_ms).unwrap_or(u32::MAX)) / 1000.0
    );
    if r.queued > 0 {
        let _ = writeln!(
            out,
            "queued events are in the retry queue: the forwarder's schedule delivers them"
        );
    }
    if r.parked > 0 {
        let _ = writeln!(
            out,
            "parked events are in the DLQ with their reason: see `relayctl stats`"
        );
    }
    if let Some(why) = &r.stopped {
        let _ = writeln!(out, "stopped before the end: {why}");
    }
    if let Some(next) = &r.next {
        let text = serde_json::to_string(next).unwrap_or_default();
        let _ = writeln!(out, "continue with the replayer payload: {text}");
    }
    out
}

/// Runs `req` to its end: each part's `next` is followed while the part read agents (a part
/// that read none and answers `next` again would loop: the run stops with that `next`).
pub async fn follow(
    snap: &Snapshotter,
    first: SnapshotRequest,
    progress: &(dyn Fn(&SnapshotReport) + Sync),
) -> SnapshotReport {
    let mut total = SnapshotReport::default();
    let mut req = first;
    loop {
        let before = total.clone();
        let part = snap
            .run(&req, None, &|r| progress(&merged(&before, r)))
            .await;
        let moved = part.agents > 0;
        total = merged(&total, &part);
        match &total.next {
            Some(n) if moved => req = n.clone(),
            _ => return total,
        }
    }
}

async fn run_parts(snap: &Snapshotter, req: &SnapshotRequest, bar: &ProgressBar) -> SnapshotReport {
    bar.reset();
    bar.set_prefix(if req.dry_run {
        "snapshot --dry-run"
    } else {
        "snapshot"
    });
    bar.set_message("reading Genesys…");
    follow(snap, req.clone(), &|r| {
        bar.set_message(snapshot_progress_text(r));
    })
    .await
}

fn print_snapshot_report(report: &SnapshotReport, json: bool) -> Result<(), String> {
    let text = if json {
        let mut s = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        s.push('\n');
        s
    } else {
        snapshot_text(report)
    };
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| format!("cannot write the report: {e}")),
    }
}

/// The confirmation text from a dry run's report. `wfm_url` is shown with its query values,
/// user info and fragment redacted ([`redacted_url`], case C27).
pub fn snapshot_preview(dry: &SnapshotReport, wfm_url: &str) -> String {
    format!(
        "This sends {} snapshot events ({} agents, read just now) to WFM at {} through the \
         delivery path (retries, retry queue, dead-letter queue).\n",
        dry.events,
        dry.agents,
        redacted_url(wfm_url)
    )
}

/// `relayctl snapshot`: confirmation (a dry run first, unless `--dry-run` or `--yes`), the run,
/// the report, the exit code ([`snapshot_exit`]).
pub fn run(args: &SnapshotArgs, json: bool, yes: bool) -> ExitCode {
    let req = args.to_request();
    if let Err(e) = req.selection() {
        return fail(Exit::Usage, e);
    }
    let ask = !req.dry_run && !yes;
    if ask && !io::stdin().is_terminal() {
        return fail(
            Exit::Usage,
            "refusing to send a snapshot without confirmation: stdin is not a terminal. Check \
             what it would send with --dry-run, then run it again with --yes.",
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(Exit::Error, format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run_snapshot(&req, json, ask)).into()
}

async fn run_snapshot(req: &SnapshotRequest, json: bool, ask: bool) -> Exit {
    let bar = progress_bar(json);
    init_logging(&bar);
    let snap = match Snapshotter::from_env().await {
        Ok(s) => s,
        Err(e) => {
            bar.finish_and_clear();
            let conf = wfm_relay_aws::aws::load_sdk_config().await;
            let env = |k: &str| std::env::var(k).ok();
            let aws = AwsSettings::from_lookup(env, conf.region().map(ToString::to_string));
            print_error(&anyhow::Error::from(e), false, &aws);
            return Exit::Error;
        }
    };
    if ask {
        let dry_req = SnapshotRequest {
            dry_run: true,
            ..req.clone()
        };
        let dry = run_parts(&snap, &dry_req, &bar).await;
        if dry.stopped.is_some() || dry.events == 0 {
            bar.finish_and_clear();
            if dry.stopped.is_none() {
                eprintln!("relayctl: no agent matches; nothing to send");
            }
            return print_then(&dry, json);
        }
        let wfm_url = std::env::var("WFM_URL").unwrap_or_default();
        if !confirm(&bar, &snapshot_preview(&dry, &wfm_url)) {
            bar.finish_and_clear();
            eprintln!("relayctl: nothing sent");
            return Exit::Usage;
        }
    }
    let report = run_parts(&snap, req, &bar).await;
    bar.finish_and_clear();
    print_then(&report, json)
}

/// Prints the report; its exit code, or 1 when it cannot be written.
fn print_then(report: &SnapshotReport, json: bool) -> Exit {
    if let Some(why) = &report.stopped {
        eprintln!("relayctl: the snapshot stopped before the end: {why}");
    }
    match print_snapshot_report(report, json) {
        Ok(()) => snapshot_exit(report),
        Err(e) => {
            eprintln!("relayctl: {e}");
            Exit::Error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(agents: usize, delivered: usize, parked: usize) -> SnapshotReport {
        SnapshotReport {
            v: 1,
            action: "snapshot".into(),
            run_id: format!("r{agents}"),
            agents,
            events: delivered + parked,
            delivered,
            parked,
            genesys_calls: 2,
            duration_ms: 10,
            ..SnapshotReport::default()
        }
    }

    #[test]
    fn flags_map_to_the_request() {
        let args = SnapshotArgs {
            queues: vec!["q1".into()],
            topics: vec![TopicArg::RoutingStatus],
            dry_run: true,
            ..SnapshotArgs::default()
        };
        let want = SnapshotRequest {
            queues: vec!["q1".into()],
            topics: vec![SnapshotTopic::RoutingStatus],
            dry_run: true,
            ..SnapshotRequest::all()
        };
        assert_eq!(args.to_request(), want);
        assert_eq!(
            serde_json::to_string(&want).expect("json"),
            r#"{"v":1,"action":"snapshot","queues":["q1"],"topics":["routing_status"],"dry_run":true}"#
        );
    }

    #[test]
    fn the_command_line_parses_and_refuses() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(std::iter::once("relayctl").chain(args.iter().copied()))
        };
        let cli = parse(&[
            "snapshot",
            "--user-id",
            "u1",
            "--user-id",
            "u2",
            "--topic",
            "routing_status",
            "--topic",
            "presence",
            "--json",
        ])
        .expect("parses");
        let Some(crate::cli::Command::Snapshot(a)) = &cli.command else {
            panic!("{cli:?}");
        };
        assert_eq!(a.user_ids, ["u1", "u2"]);
        assert_eq!(a.topics, [TopicArg::RoutingStatus, TopicArg::Presence]);
        assert!(cli.json && !a.dry_run);
        assert!(cli.request_source().is_err(), "not a dead-letter request");
        for bad in [
            &["snapshot", "--group", "g", "--queue", "q"][..],
            &["snapshot", "--user-id", "u", "--queue", "q"],
            &["snapshot", "--division", "d", "--user-id", "u"],
            &["snapshot", "--division", "d", "--group", "g"],
            &["snapshot", "--queue", "q", "--division", "d"],
            &["snapshot", "--topic", "conversations"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn division_flags_map_to_the_request() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "relayctl",
            "snapshot",
            "--division",
            "d1",
            "--division",
            "d2",
            "--dry-run",
        ])
        .expect("parses");
        let Some(crate::cli::Command::Snapshot(a)) = &cli.command else {
            panic!("{cli:?}");
        };
        let req = a.to_request();
        assert_eq!(
            serde_json::to_string(&req).expect("json"),
            r#"{"v":1,"action":"snapshot","divisions":["d1","d2"],"dry_run":true}"#
        );
        assert_eq!(
            req.selection(),
            Ok(wfm_relay_aws::genesys::Selection::Divisions(vec![
                "d1".to_owned(),
                "d2".to_owned()
            ]))
        );
    }

    #[test]
    fn parts_add_up_and_keep_the_first_run_id() {
        let a = merged(&SnapshotReport::default(), &part(3, 6, 0));
        let mut last = part(2, 3, 1);
        last.stopped = Some("deadline".into());
        let t = merged(&a, &last);
        assert_eq!(
            (t.agents, t.events, t.delivered, t.parked, t.genesys_calls),
            (5, 10, 9, 1, 4)
        );
        assert_eq!((t.run_id.as_str(), t.duration_ms), ("r3", 20));
        assert_eq!(t.stopped.as_deref(), Some("deadline"));
        assert!(t.identity_holds());
    }

    #[test]
    fn outcomes_map_to_exit_codes() {
        let code = |r: &SnapshotReport| snapshot_exit(r) as u8;
        assert_eq!(code(&part(3, 6, 0)), 0);
        assert_eq!(code(&part(3, 5, 1)), 3, "parked");
        let not_sent = SnapshotReport {
            not_sent: 2,
            events: 2,
            ..SnapshotReport::default()
        };
        assert_eq!(code(&not_sent), 3);
        let dry = SnapshotReport {
            dry_run: true,
            ..not_sent.clone()
        };
        assert_eq!(code(&dry), 0, "a dry run sends nothing by design");
        let stopped = SnapshotReport {
            stopped: Some("403: add directory:user:view".into()),
            ..SnapshotReport::default()
        };
        assert_eq!(code(&stopped), 1);
    }

    #[test]
    fn texts_show_the_counts() {
        let r = part(3, 5, 1);
        assert_eq!(
            snapshot_progress_text(&r),
            "agents 3 · events 6 · delivered 5 · parked 1"
        );
        let text = snapshot_text(&r);
        assert!(text.starts_with("snapshot r3\n"), "{text}");
        assert!(text.contains("  parked          1\n"), "{text}");
        assert!(text.contains("Genesys calls 2 (429: 0) · 0.0s"), "{text}");
        assert!(text.contains("relayctl stats"), "{text}");
        assert!(snapshot_preview(&r, "https://wfm/x").contains("6 snapshot events (3 agents"));
        let shown = snapshot_preview(&r, "https://wfm.example/in?key=s3cr3t");
        assert!(!shown.contains("s3cr3t"), "C27: {shown}");
    }
}
