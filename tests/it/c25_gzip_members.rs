//! C25 (tests/cases/C25.json): replay-archive reads every gzip member and every line of an
//! archive object (two members joined, no final `\n`, a trailing blank line), and a truncated
//! object is reported in `corrupt` with the lines read before the damage (those replayed, the
//! partial last line never sent) while the action goes on with the other objects of the prefix.

use std::collections::HashSet;
use std::io::Write;

use wfm_relay_aws::archive::encode_jsonl_gz;
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_replayer::{Action, Report, Request};

use crate::c24_continuation::{case_letter, key_of, put_all, seen};
use crate::support::{Stack, StackOptions, case, run_request};

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).expect("to a Vec");
    gz.finish().expect("to a Vec")
}

fn lines(letters: &[EnvelopeV1]) -> String {
    letters.iter().map(|l| l.to_json() + "\n").collect()
}

/// The four objects of the case, letters `offset + 1 ..= offset + 1000` each.
struct Objects {
    a: Vec<u8>,
    b: Vec<u8>,
    c: Vec<u8>,
    d: Vec<u8>,
}

fn objects(template: &serde_json::Value) -> (Objects, Vec<Vec<EnvelopeV1>>) {
    let batch = |o: usize| -> Vec<EnvelopeV1> {
        (1..=1000)
            .map(|n| case_letter(template, o * 1000 + n))
            .collect()
    };
    let all: Vec<Vec<EnvelopeV1>> = (0..4).map(batch).collect();
    let mut a = encode_jsonl_gz(&all[0][..600]);
    a.extend(encode_jsonl_gz(&all[0][600..]));
    let b = gzip(lines(&all[1]).trim_end_matches('\n'));
    let c = gzip(&(lines(&all[2]) + "\n"));
    let b_of_d = gzip(lines(&all[3]).trim_end_matches('\n'));
    let d = b_of_d[..b_of_d.len() - 17].to_vec();
    (Objects { a, b, c, d }, all)
}

fn keys(letters: &[EnvelopeV1]) -> HashSet<String> {
    letters.iter().map(key_of).collect()
}

async fn replay(stack: &Stack, wfm_url: &str, key: &str) -> Report {
    let r = stack.replayer(wfm_url, &[]);
    let req = Request {
        archive_key: Some(key.into()),
        ..Request::new(Action::ReplayArchive)
    };
    run_request(&r, &req)
        .await
        .unwrap_or_else(|e| panic!("a report, not an invocation error: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c25_every_gzip_member_and_line_and_a_corrupt_object_is_reported() {
    let c = case("C25");
    let stack = Stack::create(StackOptions::default()).await;
    let (o, all) = objects(&c["event_template"]);
    let one = "dead-letters/2026/03/02/one/";
    let mixed = "dead-letters/2026/03/02/mixed/";
    let name = |p: &str, n: &str| format!("{p}20260302T094000Z-c25-{n}.jsonl.gz");
    put_all(
        &stack,
        vec![
            (name(one, "a"), o.a.clone()),
            (name(one, "b"), o.b),
            (name(one, "c"), o.c.clone()),
            (name(one, "d"), o.d.clone()),
            (name(mixed, "1"), o.a),
            (name(mixed, "2"), o.d),
            (name(mixed, "3"), o.c),
        ],
    )
    .await;

    // A, B, C: each object alone replays exactly its 1,000 letters.
    for (i, n) in ["a", "b", "c"].into_iter().enumerate() {
        let wfm = crate::support::wfm(&[200]).await;
        let key = name(one, n);
        let rep = replay(&stack, &wfm.url(), &key).await;
        assert_eq!(
            (rep.matched, rep.delivered, rep.failed),
            (1000, 1000, 0),
            "{n}"
        );
        assert_eq!((rep.keys.clone(), rep.corrupt.len()), (vec![key], 0), "{n}");
        let seen = seen(&wfm);
        assert_eq!(
            seen.keys().cloned().collect::<HashSet<_>>(),
            keys(&all[i]),
            "{n}"
        );
        assert!(seen.values().all(|&k| k == 1), "{n}: each once");
        assert!(rep.next.is_none());
    }

    // D: the lines decoded in full are replayed and counted; the object is corrupt, not done.
    let wfm = crate::support::wfm(&[200]).await;
    let d_key = name(one, "d");
    let rep = replay(&stack, &wfm.url(), &d_key).await;
    assert!(rep.keys.is_empty(), "not among the completed objects");
    assert_eq!(rep.corrupt.len(), 1, "{rep:?}");
    let bad = &rep.corrupt[0];
    let read = bad.lines_read;
    assert_eq!(bad.key, d_key);
    assert!((900..1000).contains(&read), "lines read {read}");
    assert!(
        bad.error
            .starts_with(&format!("unreadable after line {read}: ")),
        "{}",
        bad.error
    );
    assert_eq!((rep.matched, rep.delivered, rep.failed), (read, read, 0));
    let sent: HashSet<String> = seen(&wfm).into_keys().collect();
    assert_eq!(
        sent,
        keys(&all[3][..read]),
        "the partial last line is never sent"
    );
    assert!(rep.next.is_none(), "nothing left to continue");

    // A prefix with D between good objects: the objects before and after it are replayed.
    let wfm = crate::support::wfm(&[200]).await;
    let rep = replay(&stack, &wfm.url(), mixed).await;
    assert_eq!(rep.keys, vec![name(mixed, "1"), name(mixed, "3")]);
    assert_eq!(
        rep.corrupt
            .iter()
            .map(|c| (c.key.clone(), c.lines_read))
            .collect::<Vec<_>>(),
        vec![(name(mixed, "2"), read)]
    );
    assert_eq!((rep.matched, rep.delivered), (2000 + read, 2000 + read));
    let mut want = keys(&all[0]);
    want.extend(keys(&all[2]));
    want.extend(keys(&all[3][..read]));
    assert_eq!(seen(&wfm).into_keys().collect::<HashSet<_>>(), want);
}
