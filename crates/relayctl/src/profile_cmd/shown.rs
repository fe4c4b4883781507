//! The request `relayctl profile test` shows: what the WFM client would send for a
//! [`Delivery`] (`wfm_relay_aws::wfm`, PRODUCT.md §3), with the URL's query redacted and the
//! credentials and signatures named, never shown. Pure.

use serde_json::{Map, Value};
use std::fmt::Write as _;
use wfm_relay_core::attempt::{Delivery, Unshapeable};
use wfm_relay_core::auth::AuthMode;
use wfm_relay_core::redact::redacted_url;

/// The `User-Agent` the WFM client sends (the workspace shares one version).
pub const USER_AGENT: &str = concat!("wfm-relay/", env!("CARGO_PKG_VERSION"));

/// What stands for `WFM_URL` when it is not set.
pub const NO_WFM_URL: &str = "<WFM_URL>";

/// How the request is authenticated and signed, as far as it can be told without a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `WFM_AUTH_MODE` (or its default).
    pub mode: AuthMode,
    /// `WFM_API_KEY_HEADER` in `api_key` mode.
    pub api_key_header: Option<String>,
    /// The variable that names the signing secrets, when signing is configured.
    pub signing: Option<&'static str>,
}

/// One request as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownRequest {
    /// The URL, query values, password and fragment redacted ([`redacted_url`]).
    pub url: String,
    /// The headers in the order the client sets them; secret values replaced by a note.
    pub headers: Vec<(String, String)>,
    /// The body bytes exactly as they would be sent.
    pub body: Vec<u8>,
}

impl ShownRequest {
    /// The request for `d` to `wfm_url` (`None`: [`NO_WFM_URL`]) with `creds`.
    pub fn new(d: &Delivery, wfm_url: Option<&str>, creds: &Credentials) -> Self {
        let base = wfm_url.unwrap_or(NO_WFM_URL);
        let url = match &d.path {
            Some(p) => wfm_relay_profile::join_url(base, p),
            None => base.to_owned(),
        };
        let mut h: Vec<(String, String)> = Vec::new();
        let mut add = |n: &str, v: &str| h.push((n.to_owned(), v.to_owned()));
        add("Content-Type", "application/json");
        add("User-Agent", USER_AGENT);
        add("Idempotency-Key", &d.key);
        add("X-Event-Id", &d.event_id);
        add("X-Genesys-Topic", &d.detail_type);
        add("X-Attempt", &d.attempt.to_string());
        if let Some(t) = &d.event_time {
            add("X-Event-Time", t);
        }
        if let Some(t) = &d.published_time {
            add("X-Genesys-Timestamp", t);
        }
        if d.replay {
            add("X-Replay", "true");
        }
        if d.snapshot {
            add("X-Snapshot", "true");
        }
        for (n, v) in &d.headers {
            add(n, v);
        }
        let hidden = format!("<from WFM_AUTH_MODE={}, not shown>", creds.mode.as_str());
        match (creds.mode, &creds.api_key_header) {
            (AuthMode::None, _) => {}
            (AuthMode::ApiKey, Some(name)) => add(name, &hidden),
            _ => add("Authorization", &hidden),
        }
        if let Some(var) = creds.signing {
            add("webhook-id", &d.key);
            add("webhook-timestamp", "<the send time, Unix seconds>");
            add("webhook-signature", &format!("<from {var}, not shown>"));
        }
        ShownRequest {
            url: redacted_url(&url),
            headers: h,
            body: d.body.to_vec(),
        }
    }

    /// `POST <url>`, one `Name: value` line per header, a blank line, the body, a newline.
    pub fn text(&self) -> String {
        let mut out = format!("POST {}\n", self.url);
        for (n, v) in &self.headers {
            let _ = writeln!(out, "{n}: {v}");
        }
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(&self.body));
        out.push('\n');
        out
    }

    /// `{"url": …, "headers": {name: value}, "body": …}`: the body as JSON when it is JSON
    /// (it always is for events and jq bodies), else as a string.
    pub fn json(&self) -> Value {
        let headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect();
        let body = serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into_owned()));
        serde_json::json!({"url": self.url, "headers": headers, "body": body})
    }
}

/// An event the profile cannot shape, as shown: `unmapped_agent: <message>`.
pub fn refusal_text(u: &Unshapeable) -> String {
    format!("{}: {}\n", u.reason.as_str(), u.message)
}

/// An event the profile cannot shape, as JSON: `{"reason": …, "message": …}`.
pub fn refusal_json(u: &Unshapeable) -> Value {
    serde_json::json!({"reason": u.reason.as_str(), "message": u.message})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> Delivery {
        Delivery {
            body: br#"{"a":1}"#.to_vec().into(),
            key: "k".repeat(64),
            event_id: "e1".into(),
            event_time: Some("2025-03-04T09:15:01.874Z".into()),
            published_time: None,
            detail_type: "v2.users.u1.presence".into(),
            attempt: 2,
            replay: true,
            snapshot: false,
            path: Some("/agents/a1/state".into()),
            headers: vec![("X-Source".into(), "genesys".into())],
        }
    }

    #[test]
    fn secrets_are_named_and_the_query_redacted() {
        let creds = Credentials {
            mode: AuthMode::ApiKey,
            api_key_header: Some("X-Api-Key".into()),
            signing: Some("WFM_SIGNING_SECRETS"),
        };
        let s = ShownRequest::new(
            &delivery(),
            Some("https://wfm.example.test/api?code=S3cr3t"),
            &creds,
        );
        assert_eq!(
            s.url,
            "https://wfm.example.test/api/agents/a1/state?code=REDACTED"
        );
        let text = s.text();
        assert!(
            text.starts_with("POST https://wfm.example.test/api/agents/a1/state?code=REDACTED\n")
        );
        assert!(
            text.contains("\nX-Replay: true\nX-Source: genesys\n"),
            "{text}"
        );
        assert!(
            text.contains("\nX-Api-Key: <from WFM_AUTH_MODE=api_key, not shown>\n"),
            "{text}"
        );
        assert!(text.contains("\nwebhook-signature: <from WFM_SIGNING_SECRETS, not shown>\n"));
        assert!(text.ends_with("\n\n{\"a\":1}\n"), "{text}");
        assert!(!text.contains("S3cr3t"));
        let j = s.json();
        assert_eq!(j["body"], serde_json::json!({"a": 1}));
        assert_eq!(j["headers"]["X-Attempt"], "2");
    }

    #[test]
    fn no_auth_no_url() {
        let creds = Credentials {
            mode: AuthMode::None,
            api_key_header: None,
            signing: None,
        };
        let s = ShownRequest::new(&delivery(), None, &creds);
        assert_eq!(s.url, "<WFM_URL>/agents/a1/state");
        assert!(
            !s.headers
                .iter()
                .any(|(n, _)| n == "Authorization" || n.starts_with("webhook"))
        );
        let bearer = Credentials {
            mode: AuthMode::Bearer,
            ..creds
        };
        let s = ShownRequest::new(&delivery(), None, &bearer);
        assert!(s.headers.contains(&(
            "Authorization".into(),
            "<from WFM_AUTH_MODE=bearer, not shown>".into()
        )));
    }
}
