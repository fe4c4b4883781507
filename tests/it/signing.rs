//! Standard Webhooks signatures as the receiver sees them: every request the scripted WFM server
//! recorded is checked by the reference verifier (PyPI `standardwebhooks`, run as a separate
//! process by `tests/tools/verify_webhook.py`), for the forwarder and the replayer, with two
//! secrets configured (rotation).

use crate::support::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use wfm_relay_core::envelope::Reason;
use wfm_relay_local::wfm_server::Recorded;
use wfm_relay_replayer::{Action, Request};

/// The current secret and the one being rotated out, both 24 random-looking bytes.
pub const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const SECRET_B: &str = "whsec_c3VwZXItc2VjcmV0LWtleS0wMDAwMDAwMDE=";
/// A secret WFM does not share with us.
const SECRET_OTHER: &str = "whsec_b3RoZXItc2VjcmV0LWtleS0xMTExMTExMTE=";

/// The venv's Python (`WFM_RELAY_PYTHON`, exported by infra/test.sh), or `<repo>/.venv`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WFM_RELAY_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python"));
    assert!(
        p.exists(),
        "no Python with `standardwebhooks`: run the tests with infra/test.sh (it exports \
         WFM_RELAY_PYTHON)"
    );
    p
}

/// Runs the reference verifier on one request; `Ok(())` when it prints `ok`, else its output.
pub fn reference_verify(secret: &str, req: &Recorded, body: &[u8]) -> Result<(), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/verify_webhook.py");
    let header = |name: &str| req.header(name).unwrap_or_default().to_owned();
    let mut child = Command::new(python())
        .arg(script)
        .arg(secret)
        .arg(header("webhook-id"))
        .arg(header("webhook-timestamp"))
        .arg(header("webhook-signature"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the reference verifier");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("write body");
    let out = child.wait_with_output().expect("verifier finished");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match (out.status.code(), text.trim()) {
        (Some(0), "ok") => Ok(()),
        (Some(1), t) if t.starts_with("invalid:") => Err(t.to_owned()),
        _ => panic!("verifier failed to run ({:?}): {text}", out.status),
    }
}

/// Checks one recorded request the way a receiver would.
fn assert_signed(req: &Recorded) {
    let id = req.header("webhook-id").expect("webhook-id");
    assert_eq!(Some(id), req.header("idempotency-key"), "webhook-id = key");
    let ts: u64 = req
        .header("webhook-timestamp")
        .expect("webhook-timestamp")
        .parse()
        .expect("integer seconds");
    let sent = req
        .at
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert!(
        ts.abs_diff(sent) <= 1,
        "timestamp {ts} is the send time {sent}"
    );
    let sig = req.header("webhook-signature").expect("webhook-signature");
    assert_eq!(sig.split(' ').count(), 2, "one signature per secret: {sig}");
    assert!(sig.split(' ').all(|s| s.starts_with("v1,")), "{sig}");

    // Either secret alone verifies (the receiver may hold only the new or only the old one).
    reference_verify(SECRET_A, req, &req.body).expect("verifies with the current secret");
    reference_verify(SECRET_B, req, &req.body).expect("verifies with the previous secret");
    // Another secret, or one changed byte of the body, does not.
    let err = reference_verify(SECRET_OTHER, req, &req.body).expect_err("unknown secret");
    assert!(err.contains("No matching signature"), "{err}");
    let mut tampered = req.body.clone();
    let i = tampered
        .iter()
        .position(|b| b.is_ascii_digit())
        .expect("a digit to change");
    tampered[i] = if tampered[i] == b'9' {
        b'8'
    } else {
        tampered[i] + 1
    };
    let err = reference_verify(SECRET_A, req, &tampered).expect_err("tampered body");
    assert!(err.contains("No matching signature"), "{err}");
}

#[tokio::test]
async fn reference_verifier_accepts_our_signatures() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[503, 200]).await;
    let secrets = format!("{SECRET_A} {SECRET_B}");
    let extra = [("WFM_SIGNING_SECRETS", secrets.as_str())];

    // The forwarder: a transient answer, then delivered. Each attempt is signed anew.
    let fwd = stack.forwarder(&wfm.url(), &extra);
    let event = fixture("presence-break.json");
    let out = fwd.handle(&event, deadline()).await.expect("handled");
    assert_eq!(out, serde_json::json!({"outcome": "delivered"}));
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, event, "the exact bytes received are posted");
    for r in &reqs {
        assert_signed(r);
    }
    assert_eq!(
        reqs[0].header("webhook-id"),
        reqs[1].header("webhook-id"),
        "same id on every attempt"
    );

    // The replayer signs the same way.
    let parked = presence_event("e-sign-1", "user-sign", "2026-03-02T09:00:00.000Z");
    stack.park(&parked, Reason::TransientExhausted, 3).await;
    let r = stack.replayer(&wfm.url(), &extra);
    let rep = run_request(&r, &Request::new(Action::Replay))
        .await
        .expect("replay")
        .checked();
    assert_eq!(rep.delivered, 1);
    let reqs = wfm.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].header("x-replay"), Some("true"));
    assert_eq!(reqs[2].body, parked);
    assert_signed(&reqs[2]);
}

#[tokio::test]
async fn no_signature_headers_without_secrets() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let fwd = stack.forwarder(&wfm.url(), &[]);
    fwd.handle(&fixture("presence-break.json"), deadline())
        .await
        .expect("handled");
    let r = &wfm.requests()[0];
    for h in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert_eq!(r.header(h), None, "{h}");
    }
}
