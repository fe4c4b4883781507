//! The bad-input corpus (`tests/corpus/`, indexed in its README.md, expected outcomes in
//! `expect.json`): every file goes (a) to the forwarder's EventBridge entry as the payload, (b) as
//! the body of one SQS record next to one valid record, to the forwarder's SQS entry, and (c) to
//! the replayer's dead-letter decoder. WFM answers 200 to everything.
//!
//! Per input: no panic (the handler returns), no whole-batch failure (the valid record is
//! delivered and not listed), nothing lost (exactly one of: a POST of the input bytes, or one DLQ
//! letter whose decoded `event` is the input, lossy for invalid UTF-8), and the manifest's
//! outcome. One moto stack serves the whole corpus; the DLQ is drained after each input.
//!
//! `.gen` files are markers: the test builds the input (`{"generate": kind, ...}`), so the
//! repository holds no multi-megabyte files.

use crate::support::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::wfm_server::ScriptedWfm;

/// One row of `tests/corpus/expect.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// EventBridge entry: `delivered`, a reason token, or `batch` (the file is an SQS payload).
    eventbridge: String,
    /// SQS entry (the file as one record's body): `delivered`, a reason token, or `listed`.
    sqs: String,
    /// Replayer decoder: the shape (`unreadable`, `raw_event`, `envelope`, `lambda_failure`).
    replayer: String,
    /// A substring of `last_error` of the parked letter (EventBridge entry; SQS entry too unless
    /// `sqs_why` is given).
    #[serde(default)]
    why: Option<String>,
    /// A substring of `last_error` of the letter the SQS entry parks.
    #[serde(default)]
    sqs_why: Option<String>,
    /// `inner`: the SQS entry works on the envelope's `event`, not on the body itself.
    #[serde(default)]
    sqs_event: Option<String>,
    /// Where the decoded letter's `event` comes from: the body (default), `inner` (the
    /// envelope's `event`), `requestPayload` (Lambda's record), `none` (claim check, no `event`).
    #[serde(default)]
    replayer_event: Option<String>,
    /// The decoded letter's effective reason, when the shape alone does not fix it.
    #[serde(default)]
    replayer_reason: Option<String>,
    /// For `eventbridge: batch`: what the SQS payload yields.
    #[serde(default)]
    batch: Option<BatchExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchExpect {
    /// POSTs to WFM.
    posts: usize,
    /// DLQ letters (all `invalid_event`).
    parked: usize,
    /// `itemIdentifier`s of the partial batch response.
    listed: Vec<String>,
}

fn corpus_dir() -> String {
    format!("{}/corpus", env!("CARGO_MANIFEST_DIR"))
}

fn base_event(id: &str) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": "v2.users.{id}.presence",
        "source": "aws.partner/genesys.com/cloud/11111111-2222-3333-4444-555555555555/wfm-relay",
        "account": "123456789012",
        "time": "2025-03-04T09:15:02Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "topicName": "v2.users.aaaaaaaa-0000-4000-8000-0000000000a1.presence",
            "version": "2",
            "eventBody": {
                "source": "PURECLOUD",
                "presenceDefinition": {"id": "e08eaf1b-0000-4000-8000-0000000000b1", "systemPresence": "Break"},
                "primary": true,
                "message": "",
                "modifiedDate": "2025-03-04T09:15:01.874Z"
            },
            "metadata": {"CorrelationId": "c0ffee00-0000-4000-8000-0000000000c1"},
            "timestamp": "2025-03-04T09:15:01.912Z"
        }
    })
}

/// Builds the input a `.gen` marker describes.
fn generate(spec: &Value) -> Vec<u8> {
    let kind = spec["generate"].as_str().expect("generate kind");
    let n = |k: &str| spec[k].as_u64().expect("size") as usize;
    match kind {
        "huge_valid" => {
            let mut e = base_event("gen-huge-valid");
            let pad = n("bytes") - serde_json::to_vec(&e).expect("json").len();
            e["detail"]["eventBody"]["message"] = Value::String("x".repeat(pad));
            serde_json::to_vec(&e).expect("json")
        }
        "huge_detail_string" => {
            let mut e = base_event("gen-huge-detail-string");
            let pad = n("bytes") - serde_json::to_vec(&e).expect("json").len();
            e["detail"] = Value::String("y".repeat(pad));
            serde_json::to_vec(&e).expect("json")
        }
        "deep_event_body" => {
            let d = n("depth");
            let text = serde_json::to_string(&base_event("gen-deep-event-body")).expect("json");
            let body = format!("{}{}", "[".repeat(d), "]".repeat(d));
            let start = text.find("\"eventBody\":").expect("eventBody") + "\"eventBody\":".len();
            let end = text.find(",\"metadata\"").expect("metadata");
            format!("{}{body}{}", &text[..start], &text[end..]).into_bytes()
        }
        "deep_top" => {
            let d = n("depth");
            format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes()
        }
        other => panic!("unknown generator {other}"),
    }
}

/// A corpus file name and its input bytes.
type CorpusFile = (String, Vec<u8>);

/// Every corpus file (README.md and expect.json aside) with its input bytes.
fn load_corpus() -> (Vec<CorpusFile>, BTreeMap<String, Expect>) {
    let dir = corpus_dir();
    let manifest: BTreeMap<String, Expect> =
        serde_json::from_slice(&std::fs::read(format!("{dir}/expect.json")).expect("expect.json"))
            .expect("expect.json decodes");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("corpus dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf-8 name");
        if name == "README.md" || name == "expect.json" {
            continue;
        }
        let bytes = std::fs::read(format!("{dir}/{name}")).expect("read corpus file");
        let input = if name.ends_with(".gen") {
            generate(&serde_json::from_slice(&bytes).expect("marker JSON"))
        } else {
            bytes
        };
        files.push((name, input));
    }
    files.sort();
    (files, manifest)
}

/// A DLQ letter, with the claim-checked event read back from S3.
struct Letter {
    env: EnvelopeV1,
    event: Option<String>,
}

/// Receives and deletes every message of the DLQ; reads a claim-checked event back through
/// `Queues::event_bytes` (a pointer whose object is gone gives no event).
async fn drain_dlq(stack: &Stack) -> Vec<Letter> {
    let queues = stack.queues();
    let mut out = Vec::new();
    for m in stack.drain(&stack.dlq_url).await {
        let env: EnvelopeV1 = serde_json::from_str(&m.body).expect("DLQ envelope");
        let event = match queues.event_bytes(&env).await {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(_) => None,
        };
        out.push(Letter { env, event });
    }
    out
}

/// One Lambda SQS record.
fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("rh-{id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1741079702000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:wfm-relay-retry",
        "awsRegion": "us-east-1"
    })
}

/// Runs the handler in its own task so that a panic is reported, not fatal to the whole run.
async fn run_handler(fwd: &Arc<Forwarder>, payload: Vec<u8>) -> Result<Value, String> {
    let fwd = Arc::clone(fwd);
    let task = tokio::spawn(async move { fwd.handle(&payload, deadline()).await });
    match task.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("handler returned Err: {e}")),
        Err(e) if e.is_panic() => Err("handler PANICKED".into()),
        Err(e) => Err(format!("handler task failed: {e}")),
    }
}

fn listed(v: &Value) -> Vec<String> {
    v["batchItemFailures"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["itemIdentifier"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The `event` member of an envelope-shaped input.
fn inner_event(input: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(input).ok()?;
    v["event"].as_str().map(str::to_owned)
}

/// Checks one parked letter against the expected reason, event text and `why`.
fn check_parked(
    what: &str,
    letters: &[Letter],
    reason: &str,
    event: &str,
    why: Option<&str>,
    errs: &mut Vec<String>,
) {
    if letters.len() != 1 {
        errs.push(format!(
            "{what}: want 1 DLQ letter ({reason}), got {}",
            letters.len()
        ));
        return;
    }
    let l = &letters[0];
    let got = l.env.effective_reason();
    if got.as_str() != reason {
        errs.push(format!("{what}: reason {} != {reason}", got.as_str()));
    }
    if l.event.as_deref() != Some(event) {
        errs.push(format!(
            "{what}: DLQ event differs from the input ({} vs {} chars)",
            l.event.as_ref().map_or(0, |e| e.len()),
            event.len()
        ));
    }
    let last_error = l.env.last_error.as_deref().unwrap_or("");
    if last_error.is_empty() {
        errs.push(format!("{what}: parked without last_error"));
    }
    if let Some(why) = why
        && !last_error.contains(why)
    {
        errs.push(format!("{what}: last_error {last_error:?} lacks {why:?}"));
    }
}

/// The one stack, WFM server and forwarder of the corpus run.
struct Rig {
    stack: Stack,
    wfm: ScriptedWfm,
    fwd: Arc<Forwarder>,
}

/// (a) The file as the EventBridge entry's payload.
async fn eventbridge_entry(
    rig: &Rig,
    name: &str,
    input: &[u8],
    exp: &Expect,
    errs: &mut Vec<String>,
) -> String {
    let what = format!("{name} [eventbridge]");
    let before = rig.wfm.requests().len();
    let res = run_handler(&rig.fwd, input.to_vec()).await;
    let posts: Vec<Vec<u8>> = rig.wfm.requests()[before..]
        .iter()
        .map(|r| r.body.clone())
        .collect();
    let letters = drain_dlq(&rig.stack).await;
    let v = match res {
        Ok(v) => v,
        Err(e) => {
            errs.push(format!("{what}: {e}"));
            return "ERROR".into();
        }
    };
    let lossy = String::from_utf8_lossy(input).into_owned();
    if exp.eventbridge == "batch" {
        let b = exp.batch.as_ref().expect("batch expectations");
        let records: Vec<Box<RawValue>> =
            serde_json::from_slice::<HashMap<String, Box<RawValue>>>(input)
                .ok()
                .and_then(|m| serde_json::from_str(m.get("Records")?.get()).ok())
                .unwrap_or_default();
        let bodies: Vec<String> = records
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(r.get()).ok())
            .filter_map(|r| r["body"].as_str().map(str::to_owned))
            .collect();
        if listed(&v) != b.listed || v.get("outcome").is_some() {
            errs.push(format!("{what}: response {v}, want listed {:?}", b.listed));
        }
        if posts.len() != b.posts || letters.len() != b.parked {
            errs.push(format!(
                "{what}: {} POSTs / {} parked, want {} / {}",
                posts.len(),
                letters.len(),
                b.posts,
                b.parked
            ));
        }
        for p in &posts {
            if !bodies.iter().any(|b| b.as_bytes() == p.as_slice()) {
                errs.push(format!("{what}: a POST body is no record's body"));
            }
        }
        for l in &letters {
            let e = l.event.clone().unwrap_or_default();
            let known = bodies.contains(&e)
                || records.iter().any(|r| r.get() == e)
                || (e.is_empty() && records.iter().any(|r| !r.get().contains("\"body\":\"")));
            if !known || l.env.effective_reason().as_str() != "invalid_event" {
                errs.push(format!(
                    "{what}: parked letter {e:.80?} ({}) is neither a record nor its body",
                    l.env.effective_reason().as_str()
                ));
            }
        }
        return format!(
            "batch: {} posted, {} parked, {} listed",
            posts.len(),
            letters.len(),
            b.listed.len()
        );
    }
    if v != json!({"outcome": exp.eventbridge}) {
        errs.push(format!("{what}: response {v}, want {}", exp.eventbridge));
    }
    if exp.eventbridge == "delivered" {
        if posts.len() != 1 || posts[0] != input || !letters.is_empty() {
            errs.push(format!(
                "{what}: want exactly one POST of the input bytes, got {} POSTs (equal: {}) and {} DLQ letters",
                posts.len(),
                posts.first().is_some_and(|p| p == input),
                letters.len()
            ));
        }
    } else {
        if !posts.is_empty() {
            errs.push(format!("{what}: parked input was POSTed too"));
        }
        check_parked(
            &what,
            &letters,
            &exp.eventbridge,
            &lossy,
            exp.why.as_deref(),
            errs,
        );
    }
    exp.eventbridge.clone()
}

/// (b) The file (lossy text: SQS bodies are strings) as one record's body, next to a valid one.
async fn sqs_entry(
    rig: &Rig,
    n: usize,
    name: &str,
    input: &[u8],
    exp: &Expect,
    errs: &mut Vec<String>,
) -> String {
    let what = format!("{name} [sqs]");
    let body = String::from_utf8_lossy(input).into_owned();
    let good_id = format!("corpus-good-{n}");
    let good = presence_event(
        &good_id,
        "aaaaaaaa-0000-4000-8000-00000000c0de",
        "2026-03-02T09:00:00.000Z",
    );
    let good_text = String::from_utf8(good.clone()).expect("utf-8");
    let payload = serde_json::to_vec(&json!({
        "Records": [sqs_record("bad-1", &body), sqs_record("good-1", &good_text)]
    }))
    .expect("json");
    let before = rig.wfm.requests().len();
    let res = run_handler(&rig.fwd, payload).await;
    let requests = rig.wfm.requests()[before..].to_vec();
    let letters = drain_dlq(&rig.stack).await;
    let v = match res {
        Ok(v) => v,
        Err(e) => {
            errs.push(format!("{what}: {e}"));
            return "ERROR".into();
        }
    };
    let want_listed: Vec<String> = if exp.sqs == "listed" {
        vec!["bad-1".into()]
    } else {
        Vec::new()
    };
    if listed(&v) != want_listed {
        errs.push(format!("{what}: response {v}, want listed {want_listed:?}"));
    }
    let (good_posts, bad_posts): (Vec<_>, Vec<_>) = requests
        .iter()
        .partition(|r| r.header("x-event-id") == Some(good_id.as_str()));
    if good_posts.len() != 1 || good_posts[0].body != good {
        errs.push(format!(
            "{what}: the valid record was not delivered once ({} POSTs)",
            good_posts.len()
        ));
    }
    if exp.sqs_event.as_deref() == Some("pointer") {
        // A claim check whose object is gone: parked at once with its pointer, never POSTed.
        let want: EnvelopeV1 = serde_json::from_slice(input).expect("envelope input");
        let ok = bad_posts.is_empty()
            && letters.len() == 1
            && letters[0].env.effective_reason().as_str() == exp.sqs
            && letters[0].env.event_s3 == want.event_s3
            && letters[0]
                .env
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains(exp.sqs_why.as_deref().unwrap_or("")));
        if !ok {
            errs.push(format!(
                "{what}: want the pointer parked as {}, got {} POSTs and {} DLQ letters",
                exp.sqs,
                bad_posts.len(),
                letters.len()
            ));
        }
        return exp.sqs.clone();
    }
    let event = match exp.sqs_event.as_deref() {
        Some("inner") => inner_event(input).expect("envelope input has an event"),
        _ => body.clone(),
    };
    match exp.sqs.as_str() {
        "delivered" => {
            if bad_posts.len() != 1 || bad_posts[0].body != event.as_bytes() || !letters.is_empty()
            {
                errs.push(format!(
                    "{what}: want one POST of the event, got {} POSTs and {} DLQ letters",
                    bad_posts.len(),
                    letters.len()
                ));
            }
        }
        "listed" => {
            if !bad_posts.is_empty() || !letters.is_empty() {
                errs.push(format!(
                    "{what}: listed record has {} POSTs and {} DLQ letters",
                    bad_posts.len(),
                    letters.len()
                ));
            }
        }
        reason => {
            if !bad_posts.is_empty() {
                errs.push(format!("{what}: parked record was POSTed too"));
            }
            let why = exp.sqs_why.as_deref().or(exp.why.as_deref());
            check_parked(&what, &letters, reason, &event, why, errs);
        }
    }
    exp.sqs.clone()
}

/// (c) The file (lossy text) as a dead letter read by the replayer.
fn replayer_decoder(name: &str, input: &[u8], exp: &Expect, errs: &mut Vec<String>) -> String {
    let what = format!("{name} [replayer]");
    let body = String::from_utf8_lossy(input).into_owned();
    let decoded = std::panic::catch_unwind(|| wfm_relay_core::replay::decode_dead_letter(&body));
    let Ok(letter) = decoded else {
        errs.push(format!("{what}: decoder PANICKED"));
        return "ERROR".into();
    };
    let shape = serde_json::to_value(letter.shape).expect("shape");
    if shape != json!(exp.replayer) {
        errs.push(format!("{what}: shape {shape}, want {}", exp.replayer));
    }
    let want_event = match exp.replayer_event.as_deref() {
        None => Some(body.clone()),
        Some("inner") => inner_event(input),
        Some("requestPayload") => serde_json::from_str::<HashMap<String, Box<RawValue>>>(&body)
            .ok()
            .and_then(|m| m.get("requestPayload").map(|p| p.get().to_owned())),
        Some("none") => None,
        Some(other) => panic!("unknown replayer_event {other}"),
    };
    if letter.env.event != want_event {
        errs.push(format!(
            "{what}: decoded event differs from the expected text"
        ));
    }
    let want_reason = exp
        .replayer_reason
        .as_deref()
        .or(match exp.replayer.as_str() {
            "unreadable" => Some("invalid_event"),
            _ => None,
        });
    if let Some(r) = want_reason
        && letter.env.effective_reason().as_str() != r
    {
        errs.push(format!(
            "{what}: reason {}, want {r}",
            letter.env.effective_reason().as_str()
        ));
    }
    exp.replayer.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_input_is_delivered_or_parked_never_lost() {
    let (files, manifest) = load_corpus();
    assert!(files.len() >= 50, "corpus has {} files", files.len());
    let names: Vec<&String> = files.iter().map(|(n, _)| n).collect();
    let unlisted: Vec<&&String> = names
        .iter()
        .filter(|n| !manifest.contains_key(n.as_str()))
        .collect();
    let missing: Vec<&String> = manifest.keys().filter(|k| !names.contains(k)).collect();
    assert!(
        unlisted.is_empty() && missing.is_empty(),
        "expect.json out of date: files without a row {unlisted:?}, rows without a file {missing:?}"
    );
    let readme = std::fs::read_to_string(format!("{}/README.md", corpus_dir())).expect("README");
    for n in &names {
        assert!(
            readme.contains(&format!("`{n}`")),
            "README.md has no line for {n}"
        );
    }

    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = Arc::new(stack.forwarder(&wfm.url(), &[]));
    let rig = Rig { stack, wfm, fwd };
    let mut errs = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for (n, (name, input)) in files.iter().enumerate() {
        let exp = &manifest[name];
        let a = eventbridge_entry(&rig, name, input, exp, &mut errs).await;
        let b = sqs_entry(&rig, n, name, input, exp, &mut errs).await;
        let c = replayer_decoder(name, input, exp, &mut errs);
        *tally
            .entry(format!("eventbridge {}", a.split(':').next().unwrap_or("")))
            .or_default() += 1;
        *tally.entry(format!("sqs {b}")).or_default() += 1;
        *tally.entry(format!("replayer {c}")).or_default() += 1;
    }
    assert_eq!(
        rig.stack.depth(&rig.stack.retry_url).await,
        0,
        "nothing went to the retry queue"
    );
    assert!(
        errs.is_empty(),
        "{} corpus failures over {} inputs:\n{}\noutcomes: {tally:?}",
        errs.len(),
        files.len(),
        errs.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayer_replays_or_keeps_every_corpus_letter() {
    use std::collections::HashSet;
    use wfm_relay_replayer::{Action, Request};
    let (files, _) = load_corpus();
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    // Every text a replay may legitimately POST: the letter itself, an envelope's `event`, a
    // Lambda record's `requestPayload`.
    let mut texts: HashSet<String> = HashSet::new();
    let (mut sent, mut refused) = (0usize, Vec::new());
    for (name, input) in &files {
        let body = String::from_utf8_lossy(input).into_owned();
        let put = stack
            .aws
            .sqs
            .send_message()
            .queue_url(&stack.dlq_url)
            .message_body(&body)
            .send()
            .await;
        if put.is_err() {
            // SQS refuses empty bodies, U+0000 and bodies over MaximumMessageSize: such a letter
            // cannot exist in a DLQ.
            refused.push(name.clone());
            continue;
        }
        sent += 1;
        texts.extend(inner_event(input));
        texts.extend(
            serde_json::from_str::<HashMap<String, Box<RawValue>>>(&body)
                .ok()
                .and_then(|m| m.get("requestPayload").map(|p| p.get().to_owned())),
        );
        texts.insert(body);
    }
    assert!(sent >= 50, "{sent} letters sent, refused: {refused:?}");
    let r = Arc::new(stack.replayer(&wfm.url(), &[]));
    let task = tokio::spawn(async move { run_request(&r, &Request::new(Action::Replay)).await });
    let rep = task
        .await
        .expect("the replay does not panic")
        .expect("the replay reports")
        .checked();
    let posts = wfm.requests();
    assert_eq!(posts.len(), rep.delivered, "{rep:?}");
    assert!(rep.delivered >= 1, "{rep:?}");
    assert!(
        posts
            .iter()
            .all(|p| texts.contains(String::from_utf8_lossy(&p.body).as_ref())),
        "every POST is a corpus event"
    );
    assert_eq!(
        rep.delivered + rep.remaining.expect("the DLQ depth is read"),
        sent,
        "every letter is delivered or still in the DLQ: {rep:?}"
    );
}
