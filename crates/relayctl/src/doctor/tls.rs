//! WFM's TLS check: does WFM's URL answer TLS with a chain this machine trusts? The URL is
//! `WFM_URL` when set, else the forwarder's `WFM_URL` (GetFunctionConfiguration); it is only ever
//! shown redacted ([`redacted_url`]). An `http://` URL is a warn (no TLS to check); an `https://`
//! one gets one `HEAD` with no body, no query and no credentials (never an event), through
//! the WFM client's own TLS configuration (`wfm_relay_aws::tls::reqwest_builder`: the roots of
//! `SSL_CERT_FILE` when set, else `SSL_CERT_DIR` / the platform bundle, read once).
//! Any HTTP answer means the handshake succeeded.

use super::function::FunctionFacts;
use super::{Finding, Status};
use std::time::Duration;
use wfm_relay_core::redact::redacted_url;

/// Check id: WFM answers TLS with a trusted chain.
pub const CHECK: &str = "wfm.tls";

/// How long the probe waits to connect, then for the whole answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole probe's limit.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// WFM's URL and where it came from (for the finding's detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WfmTarget {
    /// The URL (with its query: never print it, use [`redacted_url`]).
    pub url: String,
    /// `WFM_URL` or `the forwarder's WFM_URL (function NAME)`.
    pub source: String,
}

/// Picks the URL: `env_url` (the local `WFM_URL`) first, else the deployed forwarder's. `Err`
/// is the finding when there is none (`forwarder`: the function's name when set, and its facts
/// when it is deployed).
pub fn target(
    env_url: Option<&str>,
    forwarder: Option<(&str, Option<&FunctionFacts>)>,
    local: bool,
) -> Result<WfmTarget, Finding> {
    if let Some(u) = env_url.map(str::trim).filter(|u| !u.is_empty()) {
        return Ok(WfmTarget {
            url: u.to_owned(),
            source: "WFM_URL".to_owned(),
        });
    }
    match forwarder {
        Some((name, Some(facts))) => match facts.var("WFM_URL") {
            Some(u) => Ok(WfmTarget {
                url: u.to_owned(),
                source: format!("the forwarder's WFM_URL (function {name})"),
            }),
            None => Err(Finding::bad(
                CHECK,
                Status::Fail,
                format!("the forwarder {name} has no WFM_URL in its environment"),
                "redeploy with the WfmUrl parameter",
            )),
        },
        Some((name, None)) => Err(Finding::missing(
            CHECK,
            &format!("WFM_URL unset and forwarder {name}"),
            local,
            "set WFM_URL, or deploy the forwarder (FORWARDER_FUNCTION)",
        )),
        None => Err(Finding::missing(
            CHECK,
            "WFM_URL and FORWARDER_FUNCTION unset, so WFM's URL",
            local,
            "set WFM_URL or FORWARDER_FUNCTION",
        )),
    }
}

/// What the probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// An HTTP answer (any status): the TLS handshake succeeded.
    Answered(u16),
    /// The TLS handshake failed (untrusted chain, wrong name, expired, not TLS at all).
    Tls(String),
    /// No connection (refused, DNS, unreachable) or no answer in time.
    Connect(String),
}

/// The finding for `target`'s probe result (`None`: not probed, the URL is not `https://`).
pub fn evaluate(target: &WfmTarget, probe: Option<&Probe>) -> Finding {
    let shown = redacted_url(&target.url);
    let from = &target.source;
    let scheme = target
        .url
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase());
    match (scheme.as_deref(), probe) {
        (Some("http"), _) => Finding::bad(
            CHECK,
            Status::Warn,
            format!("{shown} ({from}) is plain http://: events and credentials travel unencrypted"),
            "use WFM's https:// URL (a local WFM stand-in may stay http://)",
        ),
        (Some("https"), Some(Probe::Answered(status))) => Finding::pass(
            CHECK,
            format!("{shown} ({from}) answers TLS with a trusted chain (HTTP {status} to HEAD)"),
        ),
        (Some("https"), Some(Probe::Tls(e))) => Finding::bad(
            CHECK,
            Status::Fail,
            format!("{shown} ({from}): TLS handshake failed: {e}"),
            "WFM's certificate chain is not trusted here (or not for this host name): ask WFM \
             for a certificate from a public CA, or fix the URL's host; a private CA goes in \
             SSL_CERT_FILE",
        ),
        (Some("https"), Some(Probe::Connect(e))) => Finding::bad(
            CHECK,
            Status::Fail,
            format!("{shown} ({from}): no connection: {e}"),
            "check the URL's host and port, DNS, and that WFM allows this network (firewall, \
             allow-list)",
        ),
        _ => Finding::bad(
            CHECK,
            Status::Fail,
            format!("{shown} ({from}) is not an http(s):// URL"),
            "set WFM_URL to WFM's https:// endpoint",
        ),
    }
}

/// The error and its sources, one line (`url` parts dropped by reqwest's `without_url`).
fn chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// One `HEAD` to `url` without its query, fragment and user-info. `Err` when `url` does not
/// parse (shown redacted).
pub async fn probe(url: &str) -> Result<Probe, String> {
    let mut u = reqwest::Url::parse(url)
        .map_err(|e| format!("`{}` is not a valid URL: {e}", redacted_url(url)))?;
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let builder = wfm_relay_aws::tls::reqwest_builder()
        .map_err(|e| format!("cannot load the TLS roots: {e}"))?;
    let client = builder
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(PROBE_TIMEOUT)
        .http1_only()
        .build()
        .map_err(|e| format!("cannot start the TLS client: {}", chain(e)))?;
    Ok(match client.head(u).send().await {
        Ok(r) => Probe::Answered(r.status().as_u16()),
        Err(e) => {
            let timeout = e.is_timeout();
            let text = chain(e);
            let lower = text.to_ascii_lowercase();
            if !timeout
                && ["certificate", "tls", "handshake", "corrupt message"]
                    .iter()
                    .any(|k| lower.contains(k))
            {
                Probe::Tls(text)
            } else {
                Probe::Connect(text)
            }
        }
    })
}

/// The check: picks the URL ([`target`]), probes it when it is `https://` ([`probe`]) and
/// evaluates the result ([`evaluate`]).
pub async fn check(
    env_url: Option<&str>,
    forwarder: Option<(&str, Option<&FunctionFacts>)>,
    local: bool,
) -> Finding {
    let t = match target(env_url, forwarder, local) {
        Ok(t) => t,
        Err(f) => return f,
    };
    if !t.url.to_ascii_lowercase().starts_with("https://") {
        return evaluate(&t, None);
    }
    match probe(&t.url).await {
        Ok(p) => evaluate(&t, Some(&p)),
        Err(message) => Finding::bad(
            CHECK,
            Status::Fail,
            format!("{message} ({})", t.source),
            "set WFM_URL to WFM's https:// endpoint",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(url: Option<&str>) -> FunctionFacts {
        FunctionFacts {
            name: "fwd".into(),
            environment: url
                .map(|u| ("WFM_URL".to_owned(), u.to_owned()))
                .into_iter()
                .collect(),
            ..FunctionFacts::default()
        }
    }

    #[test]
    fn the_url_is_wfm_url_else_the_forwarders() {
        let f = facts(Some("https://wfm.example/in?k=s3cret"));
        let t = target(Some(" https://local/x "), Some(("fwd", Some(&f))), false).expect("set");
        assert_eq!(
            (t.url.as_str(), t.source.as_str()),
            ("https://local/x", "WFM_URL")
        );
        let t = target(None, Some(("fwd", Some(&f))), false).expect("deployed");
        assert_eq!(t.url, "https://wfm.example/in?k=s3cret");
        assert!(t.source.contains("function fwd"), "{}", t.source);
        let none = target(None, Some(("fwd", Some(&facts(None)))), true).expect_err("no URL");
        assert_eq!(none.status, Status::Fail);
        let gone = target(None, Some(("fwd", None)), false).expect_err("missing");
        assert_eq!(gone.status, Status::Fail);
        let local = target(None, Some(("fwd", None)), true).expect_err("missing");
        assert_eq!(local.status, Status::Warn);
        assert_eq!(
            target(None, None, false).expect_err("unset").status,
            Status::Fail
        );
    }

    #[test]
    fn findings_never_show_the_query() {
        let t = |u: &str| WfmTarget {
            url: u.to_owned(),
            source: "WFM_URL".to_owned(),
        };
        let plain = evaluate(&t("http://127.0.0.1:9/e?token=s3cret"), None);
        assert_eq!(plain.status, Status::Warn);
        assert!(!plain.detail.contains("s3cret"), "{}", plain.detail);
        assert!(plain.detail.contains("token=REDACTED"), "{}", plain.detail);
        let secure = t("https://wfm.example/e?token=s3cret");
        let ok = evaluate(&secure, Some(&Probe::Answered(405)));
        assert_eq!(ok.status, Status::Pass);
        assert!(ok.detail.contains("HTTP 405"), "{}", ok.detail);
        let bad = evaluate(
            &secure,
            Some(&Probe::Tls(
                "invalid peer certificate: UnknownIssuer".into(),
            )),
        );
        assert_eq!(bad.status, Status::Fail);
        assert!(bad.detail.contains("UnknownIssuer") && !bad.detail.contains("s3cret"));
        assert!(bad.fix.as_deref().unwrap_or("").contains("SSL_CERT_FILE"));
        let down = evaluate(&secure, Some(&Probe::Connect("connection refused".into())));
        assert_eq!(down.status, Status::Fail);
        assert!(down.fix.as_deref().unwrap_or("").contains("host and port"));
        assert_eq!(evaluate(&t("ftp://x/"), None).status, Status::Fail);
    }
}
