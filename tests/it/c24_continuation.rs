//! C24 (tests/cases/C24.json): replay-archive continues from (object key, line) across deadlines
//! and follows ListObjectsV2 pages, so following `next` until it is absent sends every archived
//! letter at least once; a letter is sent twice only when its POST was in flight at a stop (same
//! Idempotency-Key). The replayer runs as Lambda runs it ([`Replayer::handle`] with a short
//! function timeout), against moto behind the AWS-rules layer (pages of 7 keys, continuation
//! tokens with `+`, `/`, `=`) and a WFM server that answers 200 after 10 ms.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use wfm_relay_aws::archive::{Archive, encode_jsonl_gz};
use wfm_relay_aws::queues::{QueueSettings, Queues};
use wfm_relay_aws::wfm::{WfmClient, WfmSettings};
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_local::aws_rules::{AwsRules, AwsRulesOptions};
use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};
use wfm_relay_replayer::{Action, Replayer, Report, Request, StopReason};

use crate::support::{Checked, Stack, StackOptions, case};

/// The function timeout of these runs (FUNCTION_TIMEOUT_S): short, so the deadline stops
/// replay-archive several times.
pub(crate) const FUNCTION_TIMEOUT_S: u64 = 8;

/// Letter `n` of a case: its `event_template` with id `…<n>` (12 digits) and
/// `eventBody.modifiedDate` = the template's time + `n` seconds, so each has its own
/// Idempotency-Key; parked as the forwarder parks it.
pub(crate) fn case_letter(template: &Value, n: usize) -> EnvelopeV1 {
    let mut ev = template.clone();
    let id = ev["id"].as_str().expect("template id");
    ev["id"] = Value::from(format!("{}{n:012}", &id[..id.len() - 12]));
    let base = ev["detail"]["eventBody"]["modifiedDate"]
        .as_str()
        .expect("modifiedDate")
        .to_owned();
    ev["detail"]["eventBody"]["modifiedDate"] = Value::from(plus_seconds(&base, n));
    let bytes = serde_json::to_vec(&ev).expect("json");
    let info = wfm_relay_core::event::parse_event(&bytes).expect("a valid event");
    let mut env = EnvelopeV1::new(&bytes, Some(&info));
    env.reason = Some(Reason::TransientExhausted);
    env.attempts = 14;
    env
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` plus `n` seconds, within the same day (n < 14 h here).
fn plus_seconds(t: &str, n: usize) -> String {
    let num = |r: std::ops::Range<usize>| -> usize {
        t.get(r).and_then(|s| s.parse().ok()).expect("a time field")
    };
    let secs = num(11..13) * 3600 + num(14..16) * 60 + num(17..19) + n;
    assert!(secs < 86_400, "stays within the day");
    format!(
        "{}{:02}:{:02}:{:02}{}",
        &t[..11],
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        &t[19..]
    )
}

/// The Idempotency-Key WFM receives for a letter.
pub(crate) fn key_of(env: &EnvelopeV1) -> String {
    let raw = env.event.as_deref().expect("inline event");
    wfm_relay_core::event::parse_event(raw.as_bytes())
        .expect("valid")
        .key
        .to_string()
}

/// Puts `objects` (key, bytes) into the stack's bucket, 16 at a time.
pub(crate) async fn put_all(stack: &Stack, objects: Vec<(String, Vec<u8>)>) {
    let archive = Archive::new(stack.aws.s3.clone(), stack.bucket.clone());
    for chunk in objects.chunks(16) {
        let mut puts = tokio::task::JoinSet::new();
        for (k, b) in chunk.iter().cloned() {
            let archive = archive.clone();
            puts.spawn(async move { archive.put(&k, b, "application/gzip").await });
        }
        for put in puts.join_all().await {
            put.expect("put an archive object");
        }
    }
}

/// A WFM server that answers every POST 200 after `delay`.
pub(crate) async fn wfm_after(delay: Duration) -> ScriptedWfm {
    ScriptedWfm::start(Script::Sequence(vec![Reply::status(200).delay(delay)]))
        .await
        .expect("WFM server")
}

/// A replayer on `stack` whose S3 client is `s3` (e.g. through a layer of its own).
fn replayer_with_s3(stack: &Stack, wfm_url: &str, s3: aws_sdk_s3::Client) -> Replayer {
    let timeout = FUNCTION_TIMEOUT_S.to_string();
    let cfg = stack.config(wfm_url, &[("FUNCTION_TIMEOUT_S", timeout.as_str())]);
    let wfm = WfmClient::new(&WfmSettings::from(&cfg)).expect("client");
    let queues = Queues::new(stack.aws.sqs.clone(), s3, QueueSettings::from(&cfg));
    Replayer::new(cfg, wfm, queues)
}

/// Invokes `req` as Lambda would with a deadline [`FUNCTION_TIMEOUT_S`] away, then each report's
/// `next` until there is none (at most `max` invocations). Every report is checked against
/// PRODUCT.md §6's identity; an intermediate one must have stopped at the deadline.
pub(crate) async fn follow_next(r: &Replayer, req: Request, max: usize) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut req = Some(req);
    while let Some(current) = req.take() {
        assert!(
            reports.len() < max,
            "next still present after {max} invocations"
        );
        let payload = serde_json::to_value(&current).expect("request JSON");
        let deadline = SystemTime::now() + Duration::from_secs(FUNCTION_TIMEOUT_S);
        let answer = r
            .handle(payload, deadline)
            .await
            .unwrap_or_else(|e| panic!("invocation error {e}"));
        let report: Report = serde_json::from_value(answer).expect("a report");
        let report = report.checked();
        if report.next.is_some() {
            assert_eq!(report.stopped, Some(StopReason::Deadline), "{report:?}");
        }
        assert_eq!(report.failed, 0, "a cut letter is never failed: {report:?}");
        req = report.next.clone();
        reports.push(report);
    }
    reports
}

/// How many times WFM saw each Idempotency-Key, and whether every POST was answered 200.
pub(crate) fn seen(wfm: &ScriptedWfm) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for p in wfm.requests() {
        let key = p
            .header("idempotency-key")
            .expect("Idempotency-Key")
            .to_owned();
        *seen.entry(key).or_insert(0) += 1;
    }
    seen
}

fn sum(reports: &[Report], f: impl Fn(&Report) -> usize) -> usize {
    reports.iter().map(f).sum()
}

/// A layer of its own in front of moto with ListObjectsV2 pages of `page` keys, and an S3
/// client through it.
async fn paged_s3(page: usize) -> (AwsRules, aws_sdk_s3::Client) {
    let moto = std::env::var("MOTO_ENDPOINT_URL")
        .expect("MOTO_ENDPOINT_URL (set by infra/test.sh through infra/moto.sh)");
    let opts = AwsRulesOptions {
        s3_page_size: page,
        ..AwsRulesOptions::default()
    };
    let layer = AwsRules::start(&moto, opts).await.expect("start the layer");
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(layer.url())
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    (layer, s3)
}

/// ListObjectsV2 calls of one uninterrupted listing of `prefix`, and the keys listed.
async fn listing(archive: &Archive, prefix: &str) -> (usize, Vec<String>) {
    let (mut calls, mut keys, mut token) = (0, Vec::new(), None::<String>);
    loop {
        let page = archive
            .list_page(prefix, None, token.as_deref())
            .await
            .expect("list");
        calls += 1;
        keys.extend(page.keys);
        match page.next_token {
            Some(t) => {
                assert!(t.contains('+') && t.contains('/') && t.contains('='), "{t}");
                token = Some(t);
            }
            None => break,
        }
    }
    (calls, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c24_following_next_replays_1205_objects_across_deadlines_and_list_pages() {
    let c = case("C24");
    let objects = usize::try_from(c["objects"].as_u64().expect("objects")).expect("small");
    assert_eq!(objects, 1205);
    let stack = Stack::create(StackOptions::default()).await;
    let prefix = "dead-letters/2026/03/02/";
    let letters: Vec<EnvelopeV1> = (1..=objects)
        .map(|n| case_letter(&c["event_template"], n))
        .collect();
    let mut puts: Vec<(String, Vec<u8>)> = letters
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let key = format!("{prefix}20260302T094000Z-c24-{}.jsonl.gz", i + 1);
            (key, encode_jsonl_gz(std::slice::from_ref(l)))
        })
        .collect();
    let manifest = serde_json::json!({"v": 1, "archived": objects}).to_string();
    puts.push((
        format!("{prefix}20260302T094000Z-c24-manifest.json"),
        manifest.into_bytes(),
    ));
    put_all(&stack, puts).await;

    let (_layer, s3) = paged_s3(7).await;
    let paged = Archive::new(s3.clone(), stack.bucket.clone());
    let (calls, listed) = listing(&paged, prefix).await;
    assert_eq!((calls, listed.len()), (173, 1206), "pages of 7");
    let whole = Archive::new(stack.aws.s3.clone(), stack.bucket.clone());
    let (calls, listed_whole) = listing(&whole, prefix).await;
    assert_eq!(
        (calls, listed_whole),
        (2, listed),
        "pages of 1000, same keys"
    );

    let wfm = wfm_after(Duration::from_millis(10)).await;
    let r = replayer_with_s3(&stack, &wfm.url(), s3);
    let req = Request {
        archive_key: Some(prefix.into()),
        ..Request::new(Action::ReplayArchive)
    };
    let reports = follow_next(&r, req, 400).await;

    // At least 1,205 × 10 ms of WFM time in windows of 8 s less the 3 s reserve: more than one.
    assert!(reports.len() >= 3, "{} invocations", reports.len());
    let seen = seen(&wfm);
    let want: Vec<String> = letters.iter().map(key_of).collect();
    for k in &want {
        assert!(seen.contains_key(k), "WFM never saw {k}");
    }
    assert_eq!(seen.len(), objects, "distinct Idempotency-Keys");
    assert!(wfm.requests().iter().all(|p| p.answered == Some(200)));
    let twice = seen.values().filter(|&&n| n > 1).count();
    assert!(seen.values().all(|&n| n <= 2), "sent at most twice");
    assert!(
        twice <= sum(&reports, |r| r.in_flight),
        "only letters in flight at a stop are sent again: {twice} twice"
    );
    assert_eq!(sum(&reports, |r| r.delivered), objects);
    assert_eq!(
        sum(&reports, |r| r.keys.len()),
        objects,
        "every object done once"
    );
    assert!(reports.iter().all(|r| r.corrupt.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c24_a_deadline_inside_1000_letter_objects_resumes_at_the_line() {
    let c = case("C24");
    let stack = Stack::create(StackOptions::default()).await;
    let prefix = "dead-letters/2026/03/03/";
    let letters: Vec<EnvelopeV1> = (1..=3000)
        .map(|n| case_letter(&c["event_template"], n))
        .collect();
    let puts = letters
        .chunks(1000)
        .enumerate()
        .map(|(i, chunk)| {
            let key = format!("{prefix}20260303T090000Z-c24-{}.jsonl.gz", i + 1);
            (key, encode_jsonl_gz(chunk))
        })
        .collect();
    put_all(&stack, puts).await;
    let (_layer, s3) = paged_s3(7).await;
    let wfm = wfm_after(Duration::from_millis(10)).await;
    let r = replayer_with_s3(&stack, &wfm.url(), s3);
    let req = Request {
        archive_key: Some(prefix.into()),
        concurrency: Some(1),
        ..Request::new(Action::ReplayArchive)
    };
    let reports = follow_next(&r, req, 400).await;

    // 3,000 × 10 ms of WFM time in windows of 5 s: every object is cut by a deadline.
    assert!(reports.len() >= 6, "{} invocations", reports.len());
    let resumed: Vec<_> = reports
        .iter()
        .filter_map(|r| r.next.as_ref()?.resume_at.as_deref())
        .collect();
    assert!(
        !resumed.is_empty(),
        "a stop inside an object resumes at its line"
    );
    assert!(resumed.iter().all(|p| p.line > 0 && p.line < 1000));
    let seen = seen(&wfm);
    assert_eq!(seen.len(), 3000, "distinct Idempotency-Keys");
    for k in letters.iter().map(key_of) {
        assert!(seen.contains_key(&k), "WFM never saw {k}");
    }
    let stops = reports.iter().filter(|r| r.next.is_some()).count();
    let twice = seen.values().filter(|&&n| n == 2).count();
    assert!(seen.values().all(|&n| n <= 2), "sent at most twice");
    assert!(
        twice <= sum(&reports, |r| r.in_flight) && twice <= stops,
        "at most the one letter in flight at each stop is sent again: {twice} twice, {stops} stops"
    );
    assert_eq!(
        sum(&reports, |r| r.delivered),
        3000,
        "no delivered letter is sent again"
    );
    assert_eq!(sum(&reports, |r| r.keys.len()), 3);
}
