//! URLs as they may be shown (case C27). A WFM URL may carry a credential in its query
//! (`?code=…`, as some WFM APIs expect), in its user-info (`https://user:password@host`) or in
//! its fragment. Logs, error texts, dead letters, archives, reports, metrics and relayctl's
//! output show a URL only through [`redacted_url`]; the request itself still carries the URL
//! unchanged. Pure, and works on text that does not parse as a URL (a configuration error
//! shows the value it rejects).

/// What replaces each hidden value.
pub const REDACTED: &str = "REDACTED";

/// `url` with every query value, the user-info password and the fragment replaced by
/// [`REDACTED`]; parameter names, scheme, host, port and path stay, so people can still tell
/// which endpoint it is. A query item without `=` is a value and is replaced whole.
///
/// `https://wfm.example.test/api/status?code=S3cr3t&v=2` →
/// `https://wfm.example.test/api/status?code=REDACTED&v=REDACTED`;
/// `https://u:pw@h/p#tok` → `https://u:REDACTED@h/p#REDACTED`.
pub fn redacted_url(url: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, _)) => (r, Some(REDACTED)),
        None => (url, None),
    };
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let mut out = redact_user_info(base);
    if let Some(q) = query {
        out.push('?');
        let items: Vec<String> = q
            .split('&')
            .map(|item| match item.split_once('=') {
                Some((name, _)) => format!("{name}={REDACTED}"),
                None if item.is_empty() => String::new(),
                None => REDACTED.to_owned(),
            })
            .collect();
        out.push_str(&items.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// `scheme://user:password@host/path` → `scheme://user:REDACTED@host/path`.
fn redact_user_info(base: &str) -> String {
    let (scheme, after) = match base.split_once("://") {
        Some((s, a)) => (Some(s), a),
        None => (None, base),
    };
    let (authority, path) = match after.find('/') {
        Some(i) => after.split_at(i),
        None => (after, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((info, host)) => match info.split_once(':') {
            Some((user, _)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{info}@{host}"),
        },
        None => authority.to_owned(),
    };
    match scheme {
        Some(s) => format!("{s}://{authority}{path}"),
        None => format!("{authority}{path}"),
    }
}

/// A URL that may carry a credential (`WFM_URL`): `Debug` and `Display` show it only through
/// [`redacted_url`], so a configuration struct printed with `{:?}` never leaks the query;
/// [`SensitiveUrl::expose`] gives the full text for the request itself.
#[derive(Clone, PartialEq, Eq)]
pub struct SensitiveUrl(String);

impl SensitiveUrl {
    /// Wraps `url` (any text; it is not parsed here).
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL exactly as configured, query and credentials included: only for sending.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SensitiveUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redacted_url(&self.0))
    }
}

impl std::fmt::Display for SensitiveUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redacted_url(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check() {
        let cases = [
            // C27's example.
            (
                "https://wfm.example.test/api/status?code=S3cr3tQueryKey123",
                "https://wfm.example.test/api/status?code=REDACTED",
            ),
            (
                "http://127.0.0.1:4000/api/status?code=S3cr3t&v=2&flag",
                "http://127.0.0.1:4000/api/status?code=REDACTED&v=REDACTED&REDACTED",
            ),
            (
                "https://wfm.example.com/api/status/update",
                "https://wfm.example.com/api/status/update",
            ),
            ("https://h/p?", "https://h/p?"),
            ("https://h/p?a=1&&b=", "https://h/p?a=REDACTED&&b=REDACTED"),
            ("https://h/p#access_token=x", "https://h/p#REDACTED"),
            (
                "https://user:pw@h:8443/p?k=v#f",
                "https://user:REDACTED@h:8443/p?k=REDACTED#REDACTED",
            ),
            ("https://user@h/p", "https://user@h/p"),
            // Not a URL at all (a rejected configuration value): still redacted.
            ("ftp//x?key=s3cr3t", "ftp//x?key=REDACTED"),
            ("", ""),
        ];
        for (url, want) in cases {
            assert_eq!(redacted_url(url), want, "{url}");
        }
    }

    #[test]
    fn the_secret_never_survives() {
        for url in [
            "https://w/a?code=S3cr3t",
            "https://w/a?S3cr3t",
            "https://x:S3cr3t@w/a",
            "https://w/a#S3cr3t",
            "https://w/a?x=1#S3cr3t?y=S3cr3t",
        ] {
            assert!(!redacted_url(url).contains("S3cr3t"), "{url}");
        }
    }

    #[test]
    fn a_rejected_wfm_url_is_shown_redacted() {
        let env = [
            (
                "WFM_URL",
                "ftp://wfm.example.test/api/status?code=S3cr3tQueryKey123",
            ),
            ("RETRY_QUEUE_URL", "http://q/retry"),
            ("DLQ_URL", "http://q/dlq"),
        ];
        let e = crate::config::ForwarderConfig::from_lookup(|k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect_err("not https");
        let text = e.to_string();
        assert!(
            text.contains("ftp://wfm.example.test/api/status?code=REDACTED"),
            "{text}"
        );
        assert!(!text.contains("S3cr3tQueryKey123"), "{text}");
    }

    #[test]
    fn sensitive_url_hides_its_query_in_debug_and_display() {
        let u = SensitiveUrl::new("https://wfm.example.test/s?code=S3cr3t");
        assert_eq!(
            format!("{u:?}"),
            "\"https://wfm.example.test/s?code=REDACTED\""
        );
        assert_eq!(u.to_string(), "https://wfm.example.test/s?code=REDACTED");
        assert_eq!(u.expose(), "https://wfm.example.test/s?code=S3cr3t");
    }
}
